"""Two cascaded water tanks with overflow: a small process recording, in the spirit of the cascaded-tanks
benchmark (one short recording, the upper tank's level never measured, a slow multisine input).

A pump (input u, volts) fills the upper tank; it drains through an orifice into the lower tank, which drains
out. Torricelli outflow: x1' = -a1 sqrt(x1) + b u, x2' = a1 sqrt(x1) - a2 sqrt(x2) (levels in sensor volts).
A tank full at 10 V overflows: half of the upper tank's overflow pours into the lower tank, the lower
tank's is lost. Only the lower level y is recorded (with 0.02 V sensor noise), every 4 s, integrated at
0.1 s. Episodes start from rest-ish levels; the input is a random-phase multisine of 0-0.015 Hz around 5 V.
"""

from __future__ import annotations

import numpy as np

from learnsim.features import Input, Output

DEFAULTS = {"episodes": 1, "steps": 1024, "dt": 4.0}
SUBSTEPS = 40
A1, A2, B, FULL, SPILL, NOISE = 0.05, 0.045, 0.0245, 10.0, 0.5, 0.02


def multisine(rng: np.random.Generator, episodes: int, steps: int, dt: float, scale: float) -> np.ndarray:
    """(episodes, steps) pump voltage: 5 V plus a random-phase multisine up to 0.015 Hz, kept in [0, 10]."""
    t = np.arange(steps) * dt
    lines = np.arange(1, max(int(0.015 * steps * dt), 2) + 1) / (steps * dt)  # (K,) frequencies, Hz
    phases = rng.uniform(0, 2 * np.pi, (episodes, len(lines), 1))
    wave = np.sin(2 * np.pi * lines[:, None] * t + phases).sum(1)  # (E, T)
    wave /= wave.std(axis=1, keepdims=True)
    return np.clip(5.0 + 1.3 * scale * wave, 0.0, 10.0)


def generate(
    rng: np.random.Generator, episodes: int, steps: int, dt: float, scale: float = 1.0
) -> dict[str, np.ndarray]:
    u = multisine(rng, episodes, steps, dt, scale)
    x1 = rng.uniform(2.0, 6.0, episodes)
    x2 = rng.uniform(2.0, 6.0, episodes)
    h = dt / SUBSTEPS
    y = np.empty((episodes, steps))
    for k in range(steps):
        for _ in range(SUBSTEPS):
            flow = A1 * np.sqrt(np.maximum(x1, 0.0))
            x1 = x1 + h * (B * u[:, k] - flow)
            spill = np.maximum(x1 - FULL, 0.0)
            x1 = x1 - spill
            x2 = np.minimum(x2 + h * (flow - A2 * np.sqrt(np.maximum(x2, 0.0))) + SPILL * spill, FULL)
        y[:, k] = x2
    y = y + rng.normal(0.0, NOISE, y.shape)
    return {"u": u.reshape(-1), "y": y.reshape(-1)}


def features() -> dict:
    return {"outputs": [Output("dy")], "inputs": [Input("y", parent="dy", relation="delta"), Input("u")]}
