"""Double pendulum on a cart: a cart on a rail pushed by a force, two links swinging freely from it.

Added after the recipe was settled and not used to choose anything in it: a check of the default on a
system it was not tuned on (benchmarks/README.md, "A system the recipe was not tuned on").

Cart 1 kg; point masses of 0.2 kg at the ends of massless links of 0.5 m and 0.4 m; angles from upright,
wrapped; viscous cart friction 0.5 N s/m, damping 0.005 N m s in each joint. Physics at 500 Hz, recorded at
50 Hz (frame skip 10). The links start anywhere and swing (chaotic over an episode); the cart's PD
controller tracks random set-points while a random force pushes it: closed loop on the cart, the links
uncontrolled. Forces clip at 20 N.
"""

from __future__ import annotations

import numpy as np

from learnsim.data.examples.excitation import cart_position_control
from learnsim.data.examples.mechanics import flatten, record
from learnsim.features import Input, Output

DEFAULTS = {"episodes": 64, "steps": 200, "dt": 0.02}
SUBSTEPS = 10
CART, MASS1, MASS2, LINK1, LINK2, GRAVITY = 1.0, 0.2, 0.2, 0.5, 0.4, 9.81
CART_FRICTION, JOINT_DAMPING, FORCE_LIMIT = 0.5, 0.005, 20.0


def acceleration(q: np.ndarray, qd: np.ndarray, force: np.ndarray) -> np.ndarray:
    """(E, 3) accelerations of (cart position, angle 1, angle 2) from M(q) qdd = f - c(q, qd) - dV/dq."""
    t1, t2 = q[:, 1], q[:, 2]
    x_dot, w1, w2 = qd[:, 0], qd[:, 1], qd[:, 2]
    outer = MASS1 + MASS2  # mass the first link carries
    c1, c2, s1, s2 = np.cos(t1), np.cos(t2), np.sin(t1), np.sin(t2)
    c12, s12 = np.cos(t1 - t2), np.sin(t1 - t2)
    m = np.empty((len(q), 3, 3))
    m[:, 0, 0] = CART + outer
    m[:, 0, 1] = m[:, 1, 0] = outer * LINK1 * c1
    m[:, 0, 2] = m[:, 2, 0] = MASS2 * LINK2 * c2
    m[:, 1, 1] = outer * LINK1**2
    m[:, 1, 2] = m[:, 2, 1] = MASS2 * LINK1 * LINK2 * c12
    m[:, 2, 2] = MASS2 * LINK2**2
    # velocity products (centripetal terms), then gravity (dV/dq), then friction and damping, all (E,)
    rhs = np.stack(
        [
            force[:, 0] + outer * LINK1 * s1 * w1**2 + MASS2 * LINK2 * s2 * w2**2 - CART_FRICTION * x_dot,
            -MASS2 * LINK1 * LINK2 * s12 * w2**2
            + outer * GRAVITY * LINK1 * s1
            - JOINT_DAMPING * (2 * w1 - w2),
            MASS2 * LINK1 * LINK2 * s12 * w1**2 + MASS2 * GRAVITY * LINK2 * s2 - JOINT_DAMPING * (w2 - w1),
        ],
        axis=1,
    )
    return np.linalg.solve(m, rhs[..., None])[..., 0]


def generate(
    rng: np.random.Generator, episodes: int, steps: int, dt: float, scale: float = 1.0
) -> dict[str, np.ndarray]:
    frames = steps + 1
    control = cart_position_control(rng, episodes, frames, dt, scale, FORCE_LIMIT)
    angles = rng.uniform(-np.pi, np.pi, (episodes, 2))
    q0 = np.concatenate([rng.uniform(-0.5, 0.5, (episodes, 1)), angles], axis=1)
    qd0 = np.concatenate([rng.uniform(-0.5, 0.5, (episodes, 1)), rng.uniform(-1, 1, (episodes, 2))], axis=1)

    wrapped = np.array([False, True, True])
    rows = record(acceleration, control, q0, qd0, steps, dt, SUBSTEPS, angles=wrapped)
    names = {
        "q": ["x", "theta1", "theta2"],
        "v": ["x_dot", "theta1_dot", "theta2_dot"],
        "a": ["x_acc", "theta1_acc", "theta2_acc"],
        "u": ["force"],
    }
    return flatten(rows, names)


def features() -> dict:
    return {
        "outputs": [
            Output("x_acc_pred", dataset_feature="x_acc"),
            Output("theta1_acc_pred", dataset_feature="theta1_acc"),
            Output("theta2_acc_pred", dataset_feature="theta2_acc"),
        ],
        "inputs": [
            Input("x_dot", parent="x_acc_pred", relation="derivative"),
            Input("theta1_dot", parent="theta1_acc_pred", relation="derivative"),
            Input("theta2_dot", parent="theta2_acc_pred", relation="derivative"),
            Input("x", parent="x_dot", relation="derivative"),
            Input("theta1", parent="theta1_dot", relation="derivative", angle=True),
            Input("theta2", parent="theta2_dot", relation="derivative", angle=True),
            Input("force"),
        ],
    }
