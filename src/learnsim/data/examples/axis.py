"""A linear positioning axis with friction under position control: one long recording, in the spirit of
the electro-mechanical positioning system benchmark (motor force in, carriage position out, 1 kHz).

A 95 kg carriage, viscous friction 200 N s/m, Coulomb friction 20 N (smoothed over 1 mm/s) and a -3 N
offset; a PD position controller (natural frequency 3 Hz, damping 0.7) tracks a smoothed random sequence
of set-points in [0, 0.2 m] (times ``scale``), held 0.5-2 s. The recorded input is the controller's force
(with 2 N noise), the output the measured position (1 um encoder). Only the position is recorded, so a
model must estimate the velocity from the history; the force drives a free integrator, so an error in
the simulated velocity shows as drift of the position.
"""

from __future__ import annotations

import numpy as np

from learnsim.data.examples.excitation import setpoints
from learnsim.features import Input, Output

DEFAULTS = {"episodes": 1, "steps": 24841, "dt": 0.001}
MASS, VISCOUS, COULOMB, OFFSET = 95.0, 200.0, 20.0, -3.0
OMEGA, DAMPING, SMOOTHING = 2 * np.pi * 3.0, 0.7, 0.1  # controller; set-point filter time constant (s)


def generate(
    rng: np.random.Generator, episodes: int, steps: int, dt: float, scale: float = 1.0
) -> dict[str, np.ndarray]:
    targets = setpoints(rng, episodes, steps, dt, 0.0, 0.2 * scale)[..., 0]  # (E, T)
    kp, kd = MASS * OMEGA**2, 2 * DAMPING * MASS * OMEGA
    q = targets[:, 0].copy()
    v = np.zeros(episodes)
    r = q.copy()
    force, position = np.empty((episodes, steps)), np.empty((episodes, steps))
    for k in range(steps):
        r = r + dt / SMOOTHING * (targets[:, k] - r)  # first-order set-point filter
        measured = np.round(q / 1e-6) * 1e-6
        f = kp * (r - measured) - kd * v + rng.normal(0.0, 2.0, episodes)
        position[:, k], force[:, k] = measured, f
        a = (f - VISCOUS * v - COULOMB * np.tanh(v / 1e-3) + OFFSET) / MASS
        v = v + a * dt  # semi-implicit Euler: the force of row k moves the carriage to row k + 1
        q = q + v * dt
    return {"force": force.reshape(-1), "q": position.reshape(-1)}


def features() -> dict:
    return {"outputs": [Output("dq")], "inputs": [Input("q", parent="dq", relation="delta"), Input("force")]}
