"""Driven damped Duffing oscillator: a = u - 2 zeta w v - w^2 x - beta x^3 (zeta 0.1, w 2, beta 1.5)."""

from __future__ import annotations

import numpy as np

from learnsim.data.examples.excitation import excitation
from learnsim.data.examples.mechanics import open_loop, record
from learnsim.features import Input, Output

DEFAULTS = {"episodes": 64, "steps": 500, "dt": 0.01}


def generate(
    rng: np.random.Generator, episodes: int, steps: int, dt: float, scale: float = 1.0
) -> dict[str, np.ndarray]:
    u = excitation(rng, episodes, steps + 1, dt, amplitude=4.0 * scale)
    x, v = rng.uniform(-1, 1, (episodes, 1)), rng.uniform(-1, 1, (episodes, 1))

    def acceleration(x, v, u):
        return u - 2 * 0.1 * 2.0 * v - 2.0**2 * x - 1.5 * x**3

    rows = record(acceleration, open_loop(u[..., None]), x, v, steps, dt)
    names = ("position", "velocity", "acceleration", "control_input")
    return {name: rows[key][..., 0].reshape(-1) for name, key in zip(names, "qvau", strict=True)}


def features() -> dict:
    return {
        "outputs": [Output("acceleration_prediction", dataset_feature="acceleration")],
        "inputs": [
            Input("velocity", parent="acceleration_prediction", relation="derivative"),
            Input("position", parent="velocity", relation="derivative"),
            Input("control_input"),
        ],
    }
