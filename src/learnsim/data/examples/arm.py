"""Planar 2-link arm in a vertical plane, torque-controlled, with viscous and Coulomb joint friction
(1 N m s/rad and 0.5 N m, like geared joints).

Links of 1 m and 1 kg (uniform rods), gravity 9.81 m/s^2; joint angles from the horizontal and relative
(q2 is the elbow), wrapped to [-pi, pi). M(q) qdd + C(q, qd) qd + G(q) + b qd + fc tanh(qd / 0.05) = tau.
Physics at 1 kHz, recorded at 100 Hz (frame skip 10). Half of the episodes run open loop under random
multisine-and-step torques; the other half under a PD controller with gravity compensation that tracks
random joint set-points, plus torque noise: a robot moving under its own controller. Torques clip at 25 Nm
(shoulder) and 10 Nm (elbow).
"""

from __future__ import annotations

import numpy as np

from learnsim.data.examples.excitation import closed_loop_mask, excitation, setpoints
from learnsim.data.examples.mechanics import flatten, record
from learnsim.features import Input, Output

DEFAULTS = {"episodes": 64, "steps": 400, "dt": 0.01}
SUBSTEPS = 10
MASS, LENGTH, GRAVITY = 1.0, 1.0, 9.81
VISCOUS, COULOMB = 1.0, 0.5  # geared joints: damping that real arms have
TORQUE_LIMIT = np.array([25.0, 10.0])
COM, INERTIA = LENGTH / 2, MASS * LENGTH**2 / 12


def gravity_torque(q: np.ndarray) -> np.ndarray:
    """(E, 2) joint torques that hold the arm still at angles q (E, 2)."""
    c1, c12 = np.cos(q[:, 0]), np.cos(q[:, 0] + q[:, 1])
    g2 = MASS * COM * GRAVITY * c12
    return np.stack([(MASS * COM + MASS * LENGTH) * GRAVITY * c1 + g2, g2], axis=1)


def acceleration(q: np.ndarray, qd: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """(E, 2) joint accelerations from the manipulator equation, solved with the 2x2 inverse."""
    cos2, sin2 = np.cos(q[:, 1]), np.sin(q[:, 1])
    m11 = MASS * COM**2 + MASS * (LENGTH**2 + COM**2 + 2 * LENGTH * COM * cos2) + 2 * INERTIA
    m12 = MASS * (COM**2 + LENGTH * COM * cos2) + INERTIA
    m22 = MASS * COM**2 + INERTIA
    h = MASS * LENGTH * COM * sin2
    coriolis = np.stack([-h * qd[:, 1] * (2 * qd[:, 0] + qd[:, 1]), h * qd[:, 0] ** 2], axis=1)
    friction = VISCOUS * qd + COULOMB * np.tanh(qd / 0.05)
    rhs = tau - coriolis - gravity_torque(q) - friction
    det = m11 * m22 - m12**2
    return np.stack(
        [(m22 * rhs[:, 0] - m12 * rhs[:, 1]) / det, (m11 * rhs[:, 1] - m12 * rhs[:, 0]) / det], axis=1
    )


def generate(
    rng: np.random.Generator, episodes: int, steps: int, dt: float, scale: float = 1.0
) -> dict[str, np.ndarray]:
    frames = steps + 1
    noise = np.stack([excitation(rng, episodes, frames, dt, amplitude=a * scale) for a in (8.0, 3.0)], axis=2)
    targets = setpoints(rng, episodes, frames, dt, low=[-np.pi, -2.5], high=[np.pi, 2.5])
    closed = closed_loop_mask(rng, episodes, 0.5)[:, None]
    q0 = np.stack([rng.uniform(-np.pi, np.pi, episodes), rng.uniform(-2.5, 2.5, episodes)], axis=1)
    qd0 = rng.uniform(-1, 1, (episodes, 2))

    def control(k, q, qd):
        error = (targets[:, k] - q + np.pi) % (2 * np.pi) - np.pi
        feedback = (
            np.array([40.0, 15.0]) * error - np.array([8.0, 2.0]) * qd + gravity_torque(q) + 0.3 * noise[:, k]
        )
        return np.clip(np.where(closed, feedback, noise[:, k]), -TORQUE_LIMIT, TORQUE_LIMIT)

    rows = record(acceleration, control, q0, qd0, steps, dt, SUBSTEPS, angles=np.array([True, True]))
    names = {"q": ["q1", "q2"], "v": ["qd1", "qd2"], "a": ["qdd1", "qdd2"], "u": ["tau1", "tau2"]}
    return flatten(rows, names)


def features() -> dict:
    return {
        "outputs": [Output("qdd1_pred", dataset_feature="qdd1"), Output("qdd2_pred", dataset_feature="qdd2")],
        "inputs": [
            Input("qd1", parent="qdd1_pred", relation="derivative"),
            Input("qd2", parent="qdd2_pred", relation="derivative"),
            Input("q1", parent="qd1", relation="derivative", angle=True),
            Input("q2", parent="qd2", relation="derivative", angle=True),
            Input("tau1"),
            Input("tau2"),
        ],
    }
