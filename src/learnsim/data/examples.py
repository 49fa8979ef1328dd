"""Built-in example systems with random excitation, so the quickstart and tests need no download.

Both are integrated with semi-implicit Euler at the dataset's own ``dt`` (acceleration from the state at t,
v[t+1] = v[t] + a dt, x[t+1] = x[t] + v[t+1] dt): exactly the update the Onyx-style derivative chain
simulates, so a perfect acceleration model reproduces the recorded trajectories. Row t+1 holds the
acceleration that took row t to row t+1 (the target convention of ``learnsim.data.windows``).
"""

from __future__ import annotations

import numpy as np

from learnsim.data.dataset import Dataset
from learnsim.features import Input, Output, wrap_angle

EXAMPLE_SYSTEMS = ("oscillator", "pendulum")


def excitation(
    rng: np.random.Generator, episodes: int, steps: int, dt: float, amplitude: float
) -> np.ndarray:
    """(episodes, steps) input: random multisine (0.05-2 Hz) plus random steps held 0.5-3 s."""
    t = np.arange(steps) * dt
    freqs = rng.uniform(0.05, 2.0, size=(episodes, 6, 1))
    phases = rng.uniform(0, 2 * np.pi, size=(episodes, 6, 1))
    weights = rng.uniform(0.0, 1.0, size=(episodes, 6, 1))
    u = (weights * np.sin(2 * np.pi * freqs * t + phases)).sum(1) / 3.0
    for e in range(episodes):
        k = 0
        while k < steps:
            hold = int(rng.uniform(0.5, 3.0) / dt)
            u[e, k : k + hold] += rng.normal(0.0, 0.7)
            k += hold
    return amplitude * u


def example_dataset(
    system: str = "oscillator", episodes: int = 64, steps: int = 500, dt: float = 0.01, seed: int = 0
) -> Dataset:
    """Generate ``episodes`` trajectories of ``steps`` rows of an example system.

    oscillator: driven damped Duffing oscillator, a = u - 2 zeta w x' - w^2 x - beta x^3, columns position,
        velocity, acceleration, control_input.
    pendulum: driven damped pendulum, alpha = u - (g / l) sin(theta) - c omega, theta wrapped to [-pi, pi),
        columns theta, omega, alpha, torque.
    """
    if system not in EXAMPLE_SYSTEMS:
        raise ValueError(f"unknown example system '{system}'; choose one of {EXAMPLE_SYSTEMS}")
    rng = np.random.default_rng(seed)
    n = steps + 1  # one extra step so every stored row has the acceleration that produced it
    if system == "oscillator":
        u = excitation(rng, episodes, n, dt, amplitude=4.0)
        x, v = rng.uniform(-1, 1, episodes), rng.uniform(-1, 1, episodes)
        names = ("position", "velocity", "acceleration", "control_input")
    else:
        u = excitation(rng, episodes, n, dt, amplitude=6.0)
        x, v = rng.uniform(-np.pi, np.pi, episodes), rng.uniform(-2, 2, episodes)
        names = ("theta", "omega", "alpha", "torque")
    xs, vs, accs = np.empty((episodes, n)), np.empty((episodes, n)), np.empty((episodes, n))
    for k in range(n):
        xs[:, k], vs[:, k] = x, v
        if system == "oscillator":
            a = u[:, k] - 2 * 0.1 * 2.0 * v - 2.0**2 * x - 1.5 * x**3
        else:
            a = u[:, k] - 9.81 * np.sin(x) - 0.3 * v
        accs[:, k] = a
        v = v + a * dt
        x = x + v * dt
        if system == "pendulum":
            x = wrap_angle(x)
    # drop the first row: row k of the stored data holds acceleration accs[k - 1] (the step into row k)
    columns = {
        names[0]: xs[:, 1:].reshape(-1),
        names[1]: vs[:, 1:].reshape(-1),
        names[2]: accs[:, :-1].reshape(-1),
        names[3]: u[:, 1:].reshape(-1),
    }
    episode = np.repeat(np.arange(episodes), steps)
    time = np.tile(np.arange(steps) * dt, episodes)
    return Dataset(columns, dt, episode, time, source=f"example:{system}")


def example_features(system: str = "oscillator") -> dict:
    """The Onyx-style schema for an example system: ``{'outputs': [...], 'inputs': [...]}``."""
    if system == "oscillator":
        return {
            "outputs": [Output("acceleration_prediction", dataset_feature="acceleration")],
            "inputs": [
                Input("velocity", parent="acceleration_prediction", relation="derivative"),
                Input("position", parent="velocity", relation="derivative"),
                Input("control_input"),
            ],
        }
    return {
        "outputs": [Output("alpha_prediction", dataset_feature="alpha")],
        "inputs": [
            Input("omega", parent="alpha_prediction", relation="derivative"),
            Input("theta", parent="omega", relation="derivative", angle=True),
            Input("torque"),
        ],
    }
