"""A ball bouncing on a paddle: a vertical paddle pushed by a force, and a ball that flies, lands and is hit
again, in contact only while it touches the paddle (hybrid dynamics, as a legged robot's feet).

Added after the recipe was settled and not used to choose anything in it: a check of the default on a
system with repeated contacts (benchmarks/README.md, "A system with contacts the recipe was not tuned on").

Paddle 1 kg on a vertical rail (viscous friction 2 N s/m), ball 0.1 kg, gravity on both. The contact is a
spring-damper (2000 N/m, 3 N s/m: about 22 Hz, a restitution of about 0.7) pushing only while the ball is
below the paddle's surface. Physics at 1 kHz, recorded at 50 Hz (frame skip 20), so a contact lasts one or
two rows. The paddle's PD controller (with gravity feed-forward) tracks random set-points within 0.15 m
while a random force pushes it; forces clip at 40 N.
"""

from __future__ import annotations

import numpy as np

from learnsim.data.examples.excitation import excitation, setpoints
from learnsim.data.examples.mechanics import flatten, record
from learnsim.features import Input, Output

DEFAULTS = {"episodes": 64, "steps": 200, "dt": 0.02}
SUBSTEPS = 20
PADDLE, BALL, GRAVITY, FRICTION = 1.0, 0.1, 9.81, 2.0
STIFFNESS, DAMPING, FORCE_LIMIT = 2000.0, 3.0, 40.0


def contact_force(q: np.ndarray, qd: np.ndarray) -> np.ndarray:
    """(E,) upward force of the paddle on the ball: a spring-damper on the ball's depth below the paddle's
    surface, never pulling."""
    depth, closing = q[:, 0] - q[:, 1], qd[:, 0] - qd[:, 1]
    return np.where(depth > 0, np.maximum(STIFFNESS * depth + DAMPING * closing, 0.0), 0.0)


def acceleration(q: np.ndarray, qd: np.ndarray, force: np.ndarray) -> np.ndarray:
    """(E, 2) accelerations of (paddle height, ball height)."""
    push = contact_force(q, qd)
    paddle = (force[:, 0] - FRICTION * qd[:, 0] - push) / PADDLE - GRAVITY
    ball = push / BALL - GRAVITY
    return np.stack([paddle, ball], axis=1)


def generate(
    rng: np.random.Generator, episodes: int, steps: int, dt: float, scale: float = 1.0
) -> dict[str, np.ndarray]:
    frames = steps + 1
    push = excitation(rng, episodes, frames, dt, amplitude=10.0 * scale)
    targets = setpoints(rng, episodes, frames, dt, low=[-0.15], high=[0.15])[..., 0]
    stiffness, damping = rng.uniform(100.0, 300.0, episodes), rng.uniform(10.0, 30.0, episodes)

    def control(k, q, qd):
        force = stiffness * (targets[:, k] - q[:, 0]) - damping * qd[:, 0] + push[:, k] + PADDLE * GRAVITY
        return np.clip(force, -FORCE_LIMIT, FORCE_LIMIT)[:, None]

    paddle = rng.uniform(-0.1, 0.1, episodes)
    q0 = np.stack([paddle, paddle + rng.uniform(0.05, 0.4, episodes)], axis=1)  # the ball starts in the air
    qd0 = np.stack([np.zeros(episodes), rng.uniform(-1.0, 1.0, episodes)], axis=1)
    rows = record(acceleration, control, q0, qd0, steps, dt, SUBSTEPS)
    names = {
        "q": ["paddle_z", "ball_z"],
        "v": ["paddle_vz", "ball_vz"],
        "a": ["paddle_acc", "ball_acc"],
        "u": ["force"],
    }
    return flatten(rows, names)


def features() -> dict:
    return {
        "outputs": [
            Output("paddle_acc_pred", dataset_feature="paddle_acc"),
            Output("ball_acc_pred", dataset_feature="ball_acc"),
        ],
        "inputs": [
            Input("paddle_vz", parent="paddle_acc_pred", relation="derivative"),
            Input("ball_vz", parent="ball_acc_pred", relation="derivative"),
            Input("paddle_z", parent="paddle_vz", relation="derivative"),
            Input("ball_z", parent="ball_vz", relation="derivative"),
            Input("force"),
        ],
    }
