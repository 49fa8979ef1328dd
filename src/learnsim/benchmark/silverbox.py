"""The Silverbox benchmark protocol (nonlinearbenchmark.org), as described in shared/data/silverbox/README.md.

Train on the estimation part only; free-run each test set from its first 50 measured outputs, driven by its
whole input; report RMSE(y[50:], y_sim[50:]) in mV. Nothing here models the system: the model is whatever
run config the user gives, and the free run uses the generic ``simulate``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from learnsim.errors import DataError

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


def load_silverbox(path: str | Path) -> dict[str, np.ndarray]:
    """Read SNLS80mV.csv into {'u': V1, 'y': V2} (volts); checks the row count of the protocol."""
    import pyarrow.csv as pacsv

    path = Path(path)
    if path.is_dir():
        path = path / "SNLS80mV.csv"
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected the Silverbox SNLS80mV.csv)")
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
    result = model.simulate(x0, external, sim_steps=end - start - warmup)
    state = next(f for f in model.schema.states if f.column == output_column)
    simulated = result.inputs[state.name][0, L:, 0].double().cpu().numpy()
    error = simulated - signals[output_column][start + warmup : end]
    return math.sqrt(float(np.mean(error**2))), simulated


def _column(values: np.ndarray) -> np.ndarray:
    return values.reshape(1, -1, 1)  # (B=1, T, 1); simulate converts to the model's dtype and device
