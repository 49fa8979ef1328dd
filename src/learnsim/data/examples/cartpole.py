"""Cart-pole: a cart on a rail pushed by a force, with a free pole (angle from upright, wrapped).

Cart 1 kg, pole 0.3 kg with half-length 0.5 m, viscous cart friction 0.5 N s/m, pivot damping 0.02 N m s.
Physics at 250 Hz, recorded at 50 Hz (frame skip 5). The pole starts anywhere and swings (the upright is
unstable, so it falls and swings through); the cart's controller keeps it near random set-points with a PD
loop (gains drawn per episode) while a random force pushes it: closed loop on the cart, the pole uncontrolled.
Forces clip at 20 N.
"""

from __future__ import annotations

import numpy as np

from learnsim.data.examples.excitation import cart_position_control
from learnsim.data.examples.mechanics import flatten, record
from learnsim.features import Input, Output

DEFAULTS = {"episodes": 64, "steps": 250, "dt": 0.02}
SUBSTEPS = 5
CART, POLE, HALF_LENGTH, GRAVITY = 1.0, 0.3, 0.5, 9.81
CART_FRICTION, PIVOT_DAMPING, FORCE_LIMIT = 0.5, 0.02, 20.0


def acceleration(q: np.ndarray, qd: np.ndarray, force: np.ndarray) -> np.ndarray:
    """(E, 2) accelerations of (cart position, pole angle) from the classic cart-pole equations."""
    theta, x_dot, theta_dot = q[:, 1], qd[:, 0], qd[:, 1]
    sin, cos = np.sin(theta), np.cos(theta)
    total = CART + POLE
    push = (force[:, 0] - CART_FRICTION * x_dot + POLE * HALF_LENGTH * theta_dot**2 * sin) / total
    pivot = PIVOT_DAMPING * theta_dot / (POLE * HALF_LENGTH)
    theta_acc = (GRAVITY * sin - cos * push - pivot) / (HALF_LENGTH * (4.0 / 3.0 - POLE * cos**2 / total))
    x_acc = push - POLE * HALF_LENGTH * theta_acc * cos / total
    return np.stack([x_acc, theta_acc], axis=1)


def generate(
    rng: np.random.Generator, episodes: int, steps: int, dt: float, scale: float = 1.0
) -> dict[str, np.ndarray]:
    frames = steps + 1
    control = cart_position_control(rng, episodes, frames, dt, scale, FORCE_LIMIT)
    q0 = np.stack([rng.uniform(-0.5, 0.5, episodes), rng.uniform(-np.pi, np.pi, episodes)], axis=1)
    qd0 = np.stack([rng.uniform(-0.5, 0.5, episodes), rng.uniform(-2, 2, episodes)], axis=1)

    rows = record(acceleration, control, q0, qd0, steps, dt, SUBSTEPS, angles=np.array([False, True]))
    names = {"q": ["x", "theta"], "v": ["x_dot", "theta_dot"], "a": ["x_acc", "theta_acc"], "u": ["force"]}
    return flatten(rows, names)


def features() -> dict:
    return {
        "outputs": [
            Output("x_acc_pred", dataset_feature="x_acc"),
            Output("theta_acc_pred", dataset_feature="theta_acc"),
        ],
        "inputs": [
            Input("x_dot", parent="x_acc_pred", relation="derivative"),
            Input("theta_dot", parent="theta_acc_pred", relation="derivative"),
            Input("x", parent="x_dot", relation="derivative"),
            Input("theta", parent="theta_dot", relation="derivative", angle=True),
            Input("force"),
        ],
    }
