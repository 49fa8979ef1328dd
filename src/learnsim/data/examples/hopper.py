"""A one-legged hopper: a body on a vertical rail carrying a two-link leg, hip and knee driven by motors,
whose foot lands, pushes off and slides on the ground (a legged robot's dynamics: rigid-body coupling of the
leg and the body, and contacts that come and go).

Added to check the default on a legged robot it was not tuned on; nothing in the recipe was chosen with it
(benchmarks/README.md, "A legged robot the recipe was not tuned on").

Body 2 kg; point masses of 0.3 kg at the knee and 0.2 kg at the foot on massless links of 0.4 m; joint
angles relative (hip from straight down, knee from a straight leg); rail friction 1 N s/m, joint damping
0.05 N m s; each joint's geared motor adds 0.05 kg m^2 of rotor inertia. The ground pushes the foot through
a spring-damper (4000 N/m, 40 N s/m, never pulling) with Coulomb friction (mu 0.8) against sliding; a stop
catches the body 0.15 m above the ground. Physics at 1 kHz, recorded at 50 Hz (frame skip 20).

The inputs are joint position targets, as a legged robot's policy gives them: each joint's motor runs a PD
loop (60 N m/rad, 3 N m s/rad, clipped at 20 N m) at the physics rate, inside the system. The targets are
random set-points (bending and stretching the leg, so the robot crouches, pushes off and hops) plus random
wiggles, so replaying recorded targets drives the robot as it was driven (recorded torques replayed open
loop would let it fall over).
"""

from __future__ import annotations

import numpy as np

from learnsim.data.examples.excitation import excitation, setpoints
from learnsim.data.examples.mechanics import flatten, record
from learnsim.features import Input, Output

DEFAULTS = {"episodes": 64, "steps": 200, "dt": 0.02}
SUBSTEPS = 20
BODY, KNEE, FOOT, THIGH, SHIN, GRAVITY = 2.0, 0.3, 0.2, 0.4, 0.4, 9.81
RAIL_FRICTION, JOINT_DAMPING, ARMATURE = 1.0, 0.05, 0.05
KP, KD, TORQUE_LIMIT = 60.0, 3.0, 20.0  # each joint motor's PD loop
STIFFNESS, DAMPING, MU, SLIP = 4000.0, 40.0, 0.8, 0.05
STOP = 0.15  # the body rests on a stop this high when the leg gives way

# relative joint coordinates (z, hip, knee) -> absolute ones (z, thigh angle, shin angle): q_abs = T q
TO_ABSOLUTE = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]])


def foot(q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Foot height (E,), its horizontal and vertical velocity (E, 2), and the Jacobian of (x, y) with respect
    to the absolute coordinates (E, 2, 3)."""
    a = q @ TO_ABSOLUTE.T
    w = qd @ TO_ABSOLUTE.T
    s1, c1, s2, c2 = np.sin(a[:, 1]), np.cos(a[:, 1]), np.sin(a[:, 2]), np.cos(a[:, 2])
    jacobian = np.zeros((len(q), 2, 3))
    jacobian[:, 0, 1], jacobian[:, 0, 2] = THIGH * c1, SHIN * c2
    jacobian[:, 1, 0], jacobian[:, 1, 1], jacobian[:, 1, 2] = 1.0, THIGH * s1, SHIN * s2
    height = a[:, 0] - THIGH * c1 - SHIN * c2
    return height, np.einsum("eij,ej->ei", jacobian, w), jacobian


def ground_force(q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ground's (E, 2) horizontal and vertical force on the foot, and the foot's Jacobian (E, 2, 3)."""
    height, velocity, jacobian = foot(q, qd)
    normal = np.where(height < 0, np.maximum(-STIFFNESS * height - DAMPING * velocity[:, 1], 0.0), 0.0)
    friction = -MU * normal * np.tanh(velocity[:, 0] / SLIP)
    return np.stack([friction, normal], axis=1), jacobian


def motor_torque(q: np.ndarray, qd: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(E, 2) hip and knee torques of the motors' PD loops tracking the (E, 2) joint targets."""
    return np.clip(KP * (target - q[:, 1:]) - KD * qd[:, 1:], -TORQUE_LIMIT, TORQUE_LIMIT)


def acceleration(q: np.ndarray, qd: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(E, 3) accelerations of (body height, hip, knee) from M(q) qdd = tau - h(q, qd) - dV/dq + J^T f, with
    the motors' torques tau from the joint targets."""
    a, w = q @ TO_ABSOLUTE.T, qd @ TO_ABSOLUTE.T
    s1, c1, s2, c2 = np.sin(a[:, 1]), np.cos(a[:, 1]), np.sin(a[:, 2]), np.cos(a[:, 2])
    s12, c12 = np.sin(a[:, 1] - a[:, 2]), np.cos(a[:, 1] - a[:, 2])
    outer = KNEE + FOOT  # mass the thigh carries
    m = np.empty((len(q), 3, 3))  # in absolute coordinates
    m[:, 0, 0] = BODY + outer
    m[:, 0, 1] = m[:, 1, 0] = outer * THIGH * s1
    m[:, 0, 2] = m[:, 2, 0] = FOOT * SHIN * s2
    m[:, 1, 1] = outer * THIGH**2
    m[:, 1, 2] = m[:, 2, 1] = FOOT * THIGH * SHIN * c12
    m[:, 2, 2] = FOOT * SHIN**2
    # generalised forces in absolute coordinates: velocity products, gravity, ground and stop, each (E, 3)
    centripetal = np.stack(
        [
            outer * THIGH * c1 * w[:, 1] ** 2 + FOOT * SHIN * c2 * w[:, 2] ** 2,
            FOOT * THIGH * SHIN * s12 * w[:, 2] ** 2,
            -FOOT * THIGH * SHIN * s12 * w[:, 1] ** 2,
        ],
        axis=1,
    )
    gravity = GRAVITY * np.stack(
        [np.full_like(s1, BODY + outer), outer * THIGH * s1, FOOT * SHIN * s2], axis=1
    )
    force, jacobian = ground_force(q, qd)
    ground = np.einsum("eij,ei->ej", jacobian, force)
    stop = np.where(a[:, 0] < STOP, np.maximum(STIFFNESS * (STOP - a[:, 0]) - DAMPING * w[:, 0], 0.0), 0.0)
    absolute = ground - centripetal - gravity
    absolute[:, 0] += stop - RAIL_FRICTION * w[:, 0]
    # to relative coordinates, where the joint torques and damping act directly: M_rel = T' M T, f_rel = T' f
    m_rel = TO_ABSOLUTE.T @ m @ TO_ABSOLUTE
    m_rel[:, 1, 1] += ARMATURE  # geared motors' rotors, turning with the joint
    m_rel[:, 2, 2] += ARMATURE
    rhs = absolute @ TO_ABSOLUTE
    rhs[:, 1:] += motor_torque(q, qd, target) - JOINT_DAMPING * qd[:, 1:]
    return np.linalg.solve(m_rel, rhs[..., None])[..., 0]


def generate(
    rng: np.random.Generator, episodes: int, steps: int, dt: float, scale: float = 1.0
) -> dict[str, np.ndarray]:
    frames = steps + 1
    wiggle = np.stack(
        [excitation(rng, episodes, frames, dt, amplitude=0.15 * scale) for _ in range(2)], axis=2
    )
    targets = setpoints(rng, episodes, frames, dt, low=[-0.5, 0.2], high=[0.5, 2.0]) + wiggle

    def control(k, q, qd):
        return targets[:, k]

    joints = np.stack([rng.uniform(-0.4, 0.4, episodes), rng.uniform(0.3, 1.5, episodes)], axis=1)
    q0 = np.concatenate([rng.uniform(0.7, 0.9, (episodes, 1)), joints], axis=1)  # dropped from above ground
    qd0 = rng.uniform(-0.5, 0.5, (episodes, 3))
    rows = record(acceleration, control, q0, qd0, steps, dt, SUBSTEPS)
    names = {
        "q": ["z", "hip", "knee"],
        "v": ["z_dot", "hip_dot", "knee_dot"],
        "a": ["z_acc", "hip_acc", "knee_acc"],
        "u": ["hip_target", "knee_target"],
    }
    return flatten(rows, names)


def features() -> dict:
    return {
        "outputs": [
            Output("z_acc_pred", dataset_feature="z_acc"),
            Output("hip_acc_pred", dataset_feature="hip_acc"),
            Output("knee_acc_pred", dataset_feature="knee_acc"),
        ],
        "inputs": [
            Input("z_dot", parent="z_acc_pred", relation="derivative"),
            Input("hip_dot", parent="hip_acc_pred", relation="derivative"),
            Input("knee_dot", parent="knee_acc_pred", relation="derivative"),
            Input("z", parent="z_dot", relation="derivative"),
            Input("hip", parent="hip_dot", relation="derivative"),
            Input("knee", parent="knee_dot", relation="derivative"),
            Input("hip_target"),
            Input("knee_target"),
        ],
    }
