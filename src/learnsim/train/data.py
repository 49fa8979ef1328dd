"""A run's data: the training dataset (and, when the config names them, separate validation and test
datasets) loaded at their exact versions, checked against the model, split without leakage and put on the
device as one ``WindowedData``.

With no separate datasets the training dataset is split three ways (see ``learnsim.data.splits``). A named
validation dataset replaces the validation split, a named test dataset the test split; the training dataset
then gives only what is left.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from learnsim.data.splits import Split, split_rows
from learnsim.data.validate import validate_dataset
from learnsim.data.windows import WindowedData
from learnsim.errors import ConfigError
from learnsim.store.datasets import load_dataset
from learnsim.store.versions import parse_reference


@dataclass
class RunData:
    """references: role ('train', 'val', 'test') -> {'name', 'version'} of each dataset used; dataset: the
    training ``Dataset`` (the recipe is resolved from it alone); data: every row on the device."""

    references: dict[str, dict]
    dataset: object
    data: WindowedData


def load_run_datasets(config) -> dict:
    """role -> ``Dataset`` at the version the config names (latest when it names none)."""
    references = {"train": config.dataset, "val": config.validation_dataset, "test": config.test_dataset}
    return {role: load_dataset(*parse_reference(ref)) for role, ref in references.items() if ref is not None}


def split_run_data(config, datasets: dict, device: torch.device) -> RunData:
    """Validate every dataset against the model config, split the training dataset into what the separate
    datasets do not provide, and stack everything into one ``WindowedData``."""
    tc, mc = config.training, config.model
    for role, dataset in datasets.items():
        validate_dataset(dataset, mc).raise_for_errors()
        if dataset.dt != datasets["train"].dt:
            raise ConfigError(
                f"{'validation' if role == 'val' else role} dataset {dataset.source} is sampled every {dataset.dt:g} s "
                f"but the training dataset {datasets['train'].source} every {datasets['train'].dt:g} s"
            )
    main = datasets["train"]
    ratio = 1.0 if "val" in datasets else tc.train_val_split_ratio
    test_size = 0 if "test" in datasets else tc.test_dataset_size
    split_seed = tc.seed if tc.split_seed is None else tc.split_seed
    split = split_rows(main.episode_bounds(), ratio, test_size, mc.sequence_length, split_seed)
    parts = [WindowedData.build(main, mc, split, device)]
    for role in ("val", "test"):
        if role in datasets:
            bounds = datasets[role].episode_bounds()
            own = Split(
                **{r: bounds if r == role else [] for r in ("train", "val", "test")},
                by="episode",
                seed=split_seed,
            )
            parts.append(WindowedData.build(datasets[role], mc, own, device))
    data = WindowedData.concatenate(parts) if len(parts) > 1 else parts[0]
    if len(data.starts["train"]) == 0 or len(data.starts["val"]) == 0:
        raise ConfigError(
            "the split leaves no training or no validation windows; lower test_dataset_size or "
            "change train_val_split_ratio"
        )
    references = {role: {"name": ds.store_name, "version": ds.store_version} for role, ds in datasets.items()}
    return RunData(references, main, data)
