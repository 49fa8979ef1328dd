"""The built-in example systems: their physics and their data."""

import numpy as np
import pytest

from learnsim import MLPConfig
from learnsim.data.examples import (
    SYSTEMS,
    cart_double_pendulum,
    example_dataset,
    example_features,
    hopper,
    paddle_ball,
)
from learnsim.data.validate import validate_dataset


def rk4(acceleration, q, v, h, steps):
    """q, v (E, n) after ``steps`` classic Runge-Kutta steps of h with zero input."""
    u = np.zeros((len(q), 1))
    f = lambda q, v: (v, acceleration(q, v, u))  # noqa: E731
    for _ in range(steps):
        k1 = f(q, v)
        k2 = f(q + h / 2 * k1[0], v + h / 2 * k1[1])
        k3 = f(q + h / 2 * k2[0], v + h / 2 * k2[1])
        k4 = f(q + h * k3[0], v + h * k3[1])
        q = q + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        v = v + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    return q, v


def double_pendulum_energy(q, v):
    """(E,) kinetic plus potential energy of the cart and the two point masses (angles from upright)."""
    m = cart_double_pendulum
    t1, t2, x_dot, w1, w2 = q[:, 1], q[:, 2], v[:, 0], v[:, 1], v[:, 2]
    v1 = (x_dot + m.LINK1 * np.cos(t1) * w1, -m.LINK1 * np.sin(t1) * w1)
    v2 = (v1[0] + m.LINK2 * np.cos(t2) * w2, v1[1] - m.LINK2 * np.sin(t2) * w2)
    kinetic = m.CART * x_dot**2 + m.MASS1 * (v1[0] ** 2 + v1[1] ** 2) + m.MASS2 * (v2[0] ** 2 + v2[1] ** 2)
    height1, height2 = m.LINK1 * np.cos(t1), m.LINK1 * np.cos(t1) + m.LINK2 * np.cos(t2)
    return kinetic / 2 + m.GRAVITY * (m.MASS1 * height1 + m.MASS2 * height2)


def test_the_cart_double_pendulum_conserves_energy_without_friction(monkeypatch):
    monkeypatch.setattr(cart_double_pendulum, "CART_FRICTION", 0.0)
    monkeypatch.setattr(cart_double_pendulum, "JOINT_DAMPING", 0.0)
    q = np.array([[0.0, 2.0, -1.0], [0.3, -0.5, 3.0]])
    v = np.array([[0.3, 0.5, -0.2], [-1.0, 2.0, 1.0]])
    q1, v1 = rk4(cart_double_pendulum.acceleration, q, v, 1e-3, 2000)  # 2 s of chaotic swinging
    assert np.abs(q1 - q).max() > 1.0  # it moved
    np.testing.assert_allclose(
        double_pendulum_energy(q1, v1), double_pendulum_energy(q, v), rtol=1e-6, atol=1e-6
    )
    monkeypatch.setattr(cart_double_pendulum, "JOINT_DAMPING", 0.05)
    q2, v2 = rk4(cart_double_pendulum.acceleration, q, v, 1e-3, 2000)
    assert (
        double_pendulum_energy(q2, v2) < double_pendulum_energy(q, v) - 1e-3
    ).all()  # damping takes energy


def paddle_ball_energy(q, v):
    """(E,) kinetic, gravitational and contact-spring energy of the paddle and the ball."""
    m = paddle_ball
    depth = np.maximum(q[:, 0] - q[:, 1], 0.0)
    kinetic = m.PADDLE * v[:, 0] ** 2 + m.BALL * v[:, 1] ** 2
    return kinetic / 2 + m.GRAVITY * (m.PADDLE * q[:, 0] + m.BALL * q[:, 1]) + m.STIFFNESS * depth**2 / 2


def test_the_paddle_and_ball_conserve_energy_through_contacts_and_the_contact_damper_takes_it(monkeypatch):
    monkeypatch.setattr(paddle_ball, "FRICTION", 0.0)
    monkeypatch.setattr(paddle_ball, "DAMPING", 0.0)
    q = np.array([[0.0, 0.1], [0.0, 0.02]])  # the ball above the paddle, flying at it
    v = np.array([[1.0, -1.0], [0.5, -2.0]])
    q1, v1 = rk4(paddle_ball.acceleration, q, v, 1e-4, 10000)  # 1 s of falling together, bouncing
    moved = v1[:, 1] - v1[:, 0] - (v[:, 1] - v[:, 0])
    assert (np.abs(moved) > 0.5).all()  # the contact changed their relative velocity
    # RK4 is second order at touch-down (the force is continuous, its slope is not): 5e-6 relative here
    np.testing.assert_allclose(paddle_ball_energy(q1, v1), paddle_ball_energy(q, v), rtol=3e-5)
    assert (paddle_ball.contact_force(np.array([[0.0, 0.1]]), np.array([[0.0, 5.0]])) == 0).all()  # apart
    monkeypatch.setattr(paddle_ball, "DAMPING", 3.0)
    q2, v2 = rk4(paddle_ball.acceleration, q, v, 1e-4, 10000)
    assert (paddle_ball_energy(q2, v2) < paddle_ball_energy(q, v) - 1e-3).all()  # each bounce loses some


def hopper_energy(q, v):
    """(E,) kinetic (masses and rotors), gravitational and spring (ground, stop) energy of the hopper."""
    m = hopper
    a, w = q @ m.TO_ABSOLUTE.T, v @ m.TO_ABSOLUTE.T
    knee = (m.THIGH * np.cos(a[:, 1]) * w[:, 1], w[:, 0] + m.THIGH * np.sin(a[:, 1]) * w[:, 1])
    foot = (knee[0] + m.SHIN * np.cos(a[:, 2]) * w[:, 2], knee[1] + m.SHIN * np.sin(a[:, 2]) * w[:, 2])
    kinetic = (
        m.BODY * w[:, 0] ** 2
        + m.KNEE * (knee[0] ** 2 + knee[1] ** 2)
        + m.FOOT * (foot[0] ** 2 + foot[1] ** 2)
    )
    kinetic = kinetic + m.ARMATURE * (v[:, 1] ** 2 + v[:, 2] ** 2)
    knee_height = a[:, 0] - m.THIGH * np.cos(a[:, 1])
    foot_height = knee_height - m.SHIN * np.cos(a[:, 2])
    potential = m.GRAVITY * (m.BODY * a[:, 0] + m.KNEE * knee_height + m.FOOT * foot_height)
    springs = np.maximum(-foot_height, 0.0) ** 2 + np.maximum(m.STOP - a[:, 0], 0.0) ** 2
    return kinetic / 2 + potential + m.STIFFNESS * springs / 2


def test_the_hopper_conserves_energy_through_landings_and_loses_it_to_ground_friction(monkeypatch):
    for name in ("RAIL_FRICTION", "JOINT_DAMPING", "DAMPING", "MU", "KP", "KD"):  # passive: motors off
        monkeypatch.setattr(hopper, name, 0.0)
    q0 = np.array([[0.9, 0.3, 0.8], [0.7, -0.2, 1.2]])  # (height, hip, knee): dropped with the leg bent
    v0 = np.array([[0.0, 1.0, -1.0], [-1.0, 0.5, 2.0]])
    targets = np.zeros((2, 2))
    passive = lambda q, v, _: hopper.acceleration(q, v, targets)  # noqa: E731
    q, v, touched = q0, v0, np.zeros(2, dtype=bool)
    for _ in range(50):  # 1 s in steps of 2e-4 s: falls, lands, bounces
        q, v = rk4(passive, q, v, 2e-4, 100)
        touched |= hopper.foot(q, v)[0] < 0
    assert touched.all() and (hopper.foot(q0, v0)[0] > 0).all() and np.abs(q - q0).max() > 1.0
    np.testing.assert_allclose(hopper_energy(q, v), hopper_energy(q0, v0), rtol=1e-5)
    monkeypatch.setattr(hopper, "MU", 0.8)
    q, v = rk4(passive, q0, v0, 2e-4, 5000)
    assert (hopper_energy(q, v) < hopper_energy(q0, v0) - 1e-2).all()  # the foot slid on the ground


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_every_example_dataset_is_clean_for_its_features(system):
    dataset = example_dataset(system, episodes=3, steps=120)
    report = validate_dataset(dataset, MLPConfig(**example_features(system), dt=dataset.dt))
    assert report.ok and not report.warnings, (report.errors, report.warnings)
    for name in dataset.feature_names:  # every column moves: no input or state left at zero
        assert np.ptp(np.asarray(dataset.columns[name])) > 0, name
