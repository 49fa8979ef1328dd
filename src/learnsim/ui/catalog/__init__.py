"""What the web app shows, read from the same files the CLI writes under ``$LEARNSIM_HOME`` (never a copy),
one module per kind of object: runs, datasets, models, studies, and the overview over all of them. Every
function returns plain JSON-able values."""

from learnsim.store.versions import learnsim_home
from learnsim.ui.catalog.datasets import dataset_detail, dataset_series, downsample
from learnsim.ui.catalog.models import MAX_SIMULATED_STEPS, model_detail, simulate_episode
from learnsim.ui.catalog.overview import lineage, objects
from learnsim.ui.catalog.runs import list_runs, run_detail, run_id, run_path, run_summary
from learnsim.ui.catalog.studies import list_studies, study_detail

__all__ = [
    "MAX_SIMULATED_STEPS",
    "dataset_detail",
    "dataset_series",
    "downsample",
    "learnsim_home",
    "lineage",
    "list_runs",
    "list_studies",
    "model_detail",
    "objects",
    "run_detail",
    "run_id",
    "run_path",
    "run_summary",
    "simulate_episode",
    "study_detail",
]
