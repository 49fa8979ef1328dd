"""How far a nearly perfect model of each example system drifts in a free run: a floor for the accuracy
targets.

Each system's own physics is run again over its recorded inputs (the controller's torques and forces are
replayed open loop, as ``simulate`` replays recorded inputs), with one small error at a time:

- ``state 1e-3``: the initial state off by 0.1% of each coordinate's spread, the physics exact;
- ``accel 1%``: every acceleration 1% too large (a model with a 1% gain error, like a 1% mass error);
- ``accel 0.1%``: the same with 0.1%.

The table gives nRMSE (RMSE / spread of the recording, mean over positions and velocities, angles wrapped)
over the first 1, 10, 50 and all steps of every episode of the benchmark's dataset (seed 100, the system's
default size). Where a 1% error already gives a large full-episode figure, the system is chaotic under its
recorded inputs and a free run's full-episode error says more about that than about the model.

    python benchmarks/predictability.py [--systems arm,cartpole,cart_double_pendulum,paddle_ball,hopper,friction,oscillator,pendulum]
"""

from __future__ import annotations

import argparse
import importlib

import numpy as np

from learnsim.data.examples import example_defaults, mechanics
from learnsim.features import wrap_angle

HORIZONS = (1, 10, 50, None)  # None: the whole episode
PERTURBATIONS = {"state 1e-3": ("state", 1e-3), "accel 1%": ("accel", 0.01), "accel 0.1%": ("accel", 0.001)}


def runs(system: str, seed: int = 100) -> dict:
    """The recorded episodes and each perturbed replay: {'truth' | perturbation: {'q', 'v': (E, T, n)}},
    and 'angles': (n,) bool, which coordinates the system wraps."""
    module = importlib.import_module(f"learnsim.data.examples.{system}")
    defaults = example_defaults(system)
    results: dict = {}
    original = mechanics.record

    def record(acceleration, control, q, v, steps, dt, substeps=1, angles=None):
        inputs: dict[int, np.ndarray] = {}

        def logged(k, q_now, v_now):  # the inputs each frame applied, to replay them open loop
            inputs[k] = control(k, q_now, v_now)
            return inputs[k]

        results["truth"] = original(acceleration, logged, q, v, steps, dt, substeps, angles)
        results["angles"] = np.zeros(q.shape[1], dtype=bool) if angles is None else np.asarray(angles)
        replay = mechanics.open_loop(np.stack([inputs[k] for k in range(steps + 1)], axis=1))
        spread_q = results["truth"]["q"].reshape(-1, q.shape[1]).std(0)
        for name, (kind, size) in PERTURBATIONS.items():
            q0 = q + size * spread_q if kind == "state" else q
            gain = 1 + size if kind == "accel" else 1.0

            def scaled(q_, v_, u_, gain=gain):
                return gain * acceleration(q_, v_, u_)

            results[name] = original(scaled, replay, q0, v, steps, dt, substeps, angles)
        return results["truth"]

    module.record = record
    try:
        module.generate(np.random.default_rng(seed), defaults["episodes"], defaults["steps"], defaults["dt"])
    finally:
        module.record = original
    return results


def nrmse(truth: dict, run: dict, angles: np.ndarray, horizon: int | None) -> float:
    """Mean over positions and velocities of RMSE over the first ``horizon`` rows / spread of the truth."""
    figures = []
    for key in ("q", "v"):
        error = run[key] - truth[key]
        if key == "q":
            error = np.where(angles, wrap_angle(error), error)
        error = error[:, :horizon]
        spread = truth[key].reshape(-1, error.shape[2]).std(0)
        figures.extend(np.sqrt((error**2).mean((0, 1))) / spread)
    return float(np.mean(figures))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--systems", default="arm,cartpole,cart_double_pendulum,paddle_ball,hopper,friction,oscillator,pendulum")
    args = parser.parse_args()
    print(f"{'system':<11} {'perturbation':<12} " + " ".join(f"{'@' + str(h or 'full'):>8}" for h in HORIZONS))
    for system in args.systems.split(","):
        results = runs(system)
        angles = results["angles"]
        for name in PERTURBATIONS:
            cells = [nrmse(results["truth"], results[name], angles, h) for h in HORIZONS]
            print(f"{system:<11} {name:<12} " + " ".join(f"{c:>8.4f}" for c in cells))


if __name__ == "__main__":
    main()
