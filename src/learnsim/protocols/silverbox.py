"""The Silverbox benchmark protocol (nonlinearbenchmark.org), as described in shared/data/silverbox/README.md.

Train on the estimation part only; free-run each test set from its first 50 measured outputs, driven by its
whole input; report RMSE(y[50:], y_sim[50:]) in mV. Nothing here models the system: the model is whatever
run config the user gives, and the free run uses the generic ``simulate``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from learnsim.errors import DataError, OutsideTrainingRangeWarning

SAMPLING_FREQUENCY = 1e7 / 2**14  # Hz
DT = 1.0 / SAMPLING_FREQUENCY  # 1.6384 ms
N_ROWS = 131_072
WARMUP = 50
TRAIN = (40_650, 105_712)  # [40650, 127400) cut to its first 75%
TESTS = {
    "multisine": (105_712, 127_400),
    "arrow full": (100, 40_575),
    "arrow no-extrap": (100, 100 + 32_000),
}
PUBLISHED_MV = {  # simulation RMSE in mV: multisine, arrow full, arrow no-extrap
    "linear state space": (6.96, 14.4, 6.58),
    "MLP NARX": (2.80, 5.18, 2.40),
    "RNN": (1.64, 4.88, 1.73),
    "GRU": (1.49, 2.80, 0.947),
    "LSTM": (1.50, 2.68, 0.960),
    "polynomial NARX": (0.640, 2.25, 0.571),
    "GP NARX": (0.301, 0.60, 0.259),
    "best published (SUBNET; PNLSS on arrow full)": (0.36, 0.26, 0.32),
}


# The public file's checksum (a header and 131,072 rows: V1 input and V2 output in volts).
SHA256 = "ae62d5a91230c10f76e6dd02c8a4fac3c9d4d8a95fbf50e87cb0c4885003e0f1"


def load_silverbox(path: str | Path) -> dict[str, np.ndarray]:
    """Read SNLS80mV.csv into {'u': V1, 'y': V2} (volts); checks the row count of the protocol."""
    import pyarrow.csv as pacsv

    path = Path(path)
    if path.is_dir():
        path = path / "SNLS80mV.csv"
    if not path.is_file():
        raise DataError(
            f"{path}: no such file (expected the Silverbox benchmark's SNLS80mV.csv, from nonlinearbenchmark.org; "
            f"sha256 {SHA256})"
        )
    table = pacsv.read_csv(path)
    if not {"V1", "V2"} <= set(table.column_names):
        raise DataError(f"{path}: expected columns V1 (input) and V2 (output), found {table.column_names}")
    u = table.column("V1").to_numpy().astype(np.float64)
    y = table.column("V2").to_numpy().astype(np.float64)
    if len(u) != N_ROWS:
        raise DataError(f"{path}: {len(u)} data rows; the protocol's indices need {N_ROWS}")
    return {"u": u, "y": y}


def free_run_rmse(
    model, signals: dict[str, np.ndarray], start: int, end: int, output_column: str, warmup: int = WARMUP
) -> tuple[float, np.ndarray]:
    """Free-run ``model`` on rows [start, end): its history is rows [start + warmup - L, start + warmup) of
    the recorded signals (so only the first ``warmup`` measured outputs are used), external inputs are
    recorded for the whole range. Returns (RMSE of ``output_column`` over rows start + warmup .. end - 1,
    the simulated output of those rows)."""
    L = model.config.sequence_length
    if L > warmup:
        raise ValueError(f"sequence_length {L} exceeds the {warmup} measured outputs the protocol allows")
    history = slice(start + warmup - L, start + warmup)
    x0 = {f.name: _column(signals[f.column][history]) for f in model.schema.states}
    external = {f.name: _column(signals[f.column][history.start : end]) for f in model.schema.externals}
    with (
        warnings.catch_warnings()
    ):  # the arrow test leaves the range by design: the RMSE table says how it went
        warnings.simplefilter("ignore", OutsideTrainingRangeWarning)
        result = model.simulate(x0, external, horizon=end - start - warmup)
    state = next(f for f in model.schema.states if f.column == output_column)
    simulated = result.inputs[state.name][0, L:, 0].double().cpu().numpy()
    error = simulated - signals[output_column][start + warmup : end]
    return math.sqrt(float(np.mean(error**2))), simulated


def _column(values: np.ndarray) -> np.ndarray:
    return values.reshape(1, -1, 1)  # (B=1, T, 1); simulate converts to the model's dtype and device


def default_config() -> Path:
    """The generic recipe's run config, shipped inside the package (works from any directory)."""
    from importlib.resources import files

    return Path(str(files("learnsim.protocols") / "configs" / "silverbox.yaml"))


def run_silverbox(
    data: str | Path,
    config_path: str | Path | None = None,
    overrides: list[str] | None = None,
    run_dir: str | Path | None = None,
    monitor: bool = True,
) -> dict:
    """Train the run config on the estimation part and score the three test sets; returns the results.

    The estimation data is saved as the config's ``dataset`` name (one recording, u and y columns); the
    config's own split settings carve validation out of it. Results go to ``benchmark.json`` in the run
    directory and are printed beside the published numbers.
    """
    import time

    import torch

    from learnsim.config_io import read_yaml_mapping
    from learnsim.data.dataset import Dataset
    from learnsim.durable import write_json
    from learnsim.store.datasets import save_dataset
    from learnsim.store.versions import parse_reference
    from learnsim.train import load_run_config, train

    started = time.perf_counter()
    signals = load_silverbox(data)
    run_config = read_yaml_mapping(config_path or default_config(), "dataset, model and training sections")
    # the protocol's test sets are separate recordings: the estimation data is for training and validation
    run_config.setdefault("training", {}).setdefault("test_dataset_size", 0)
    config = load_run_config(data=run_config, overrides=overrides)
    name, _ = parse_reference(config.dataset)
    a, b = TRAIN
    source = f"{data} rows [{a}, {b})"  # the recording's file, and the estimation rows taken from it
    meta = save_dataset(name, Dataset({"u": signals["u"][a:b], "y": signals["y"][a:b]}, DT, source=source))
    config = config.model_copy(update={"dataset": f"{name}@{meta['version']}"})
    result = train(config, run_dir, monitor=monitor)
    model = result.model.cpu().eval()
    output = next(f.column for f in model.schema.states)
    scores = {}
    with torch.no_grad():
        for test, (start, end) in TESTS.items():
            rmse, _ = free_run_rmse(model, signals, start, end, output)
            scores[test] = rmse * 1000.0
    seconds = time.perf_counter() - started
    results = {
        "rmse_mv": scores,
        "seconds": seconds,
        "run_dir": str(result.run_dir),
        "model": f"{result.model_name}@{result.model_version}",
        "threads": torch.get_num_threads(),
    }
    write_json(Path(result.run_dir) / "benchmark.json", results)
    print_table(scores, seconds)
    return results


def print_table(scores: dict[str, float], seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Silverbox free-run simulation RMSE (mV); learnsim run took {seconds / 60:.1f} min")
    table.add_column("model")
    for test in TESTS:
        table.add_column(test, justify="right")
    table.add_row("[bold]learnsim (this run)[/]", *(f"[bold]{scores[t]:.3f}[/]" for t in TESTS))
    for model, values in PUBLISHED_MV.items():
        table.add_row(model, *(f"{v:g}" for v in values))
    Console().print(table)
