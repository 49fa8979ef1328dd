"""The local store under ``LEARNSIM_HOME``: immutable, content-addressed versions of datasets and models."""

from learnsim.store.datasets import delete_dataset, list_datasets, load_dataset, save_dataset
from learnsim.store.versions import learnsim_home, parse_reference

__all__ = [
    "delete_dataset",
    "learnsim_home",
    "list_datasets",
    "load_dataset",
    "parse_reference",
    "save_dataset",
]
