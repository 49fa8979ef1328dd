"""Driven damped pendulum: alpha = u - (g / l) sin(theta) - c omega, theta wrapped to [-pi, pi)."""

from __future__ import annotations

import numpy as np

from learnsim.data.examples.excitation import excitation
from learnsim.data.examples.mechanics import open_loop, record
from learnsim.features import Input, Output

DEFAULTS = {"episodes": 64, "steps": 500, "dt": 0.01}


def generate(
    rng: np.random.Generator, episodes: int, steps: int, dt: float, scale: float = 1.0
) -> dict[str, np.ndarray]:
    u = excitation(rng, episodes, steps + 1, dt, amplitude=6.0 * scale)
    theta, omega = rng.uniform(-np.pi, np.pi, (episodes, 1)), rng.uniform(-2, 2, (episodes, 1))

    def acceleration(theta, omega, u):
        return u - 9.81 * np.sin(theta) - 0.3 * omega

    rows = record(acceleration, open_loop(u[..., None]), theta, omega, steps, dt, angles=np.array([True]))
    names = ("theta", "omega", "alpha", "torque")
    return {name: rows[key][..., 0].reshape(-1) for name, key in zip(names, "qvau", strict=True)}


def features() -> dict:
    return {
        "outputs": [Output("alpha_prediction", dataset_feature="alpha")],
        "inputs": [
            Input("omega", parent="alpha_prediction", relation="derivative"),
            Input("theta", parent="omega", relation="derivative", angle=True),
            Input("torque"),
        ],
    }
