"""Excitation signals for the example systems: random multisines with random steps, and random set-points
for closed-loop episodes. All draws come from one ``numpy.random.Generator``, so a seed fixes a dataset."""

from __future__ import annotations

import numpy as np


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


def setpoints(rng: np.random.Generator, episodes: int, steps: int, dt: float, low, high) -> np.ndarray:
    """(episodes, steps, n) piecewise-constant targets, each held 0.4-2 s, uniform in [low, high] per axis."""
    low, high = np.atleast_1d(low).astype(float), np.atleast_1d(high).astype(float)
    targets = np.empty((episodes, steps, len(low)))
    for e in range(episodes):
        k = 0
        while k < steps:
            hold = max(int(rng.uniform(0.4, 2.0) / dt), 1)
            targets[e, k : k + hold] = rng.uniform(low, high)
            k += hold
    return targets


def closed_loop_mask(rng: np.random.Generator, episodes: int, fraction: float) -> np.ndarray:
    """(episodes,) bool: which episodes run under feedback control (the first ``fraction`` of a shuffle)."""
    mask = np.zeros(episodes, dtype=bool)
    mask[rng.permutation(episodes)[: int(round(fraction * episodes))]] = True
    return mask


def cart_position_control(
    rng: np.random.Generator, episodes: int, frames: int, dt: float, scale: float, limit: float
):
    """A cart's PD controller tracking random set-points in [-1, 1] m while a random force (amplitude 6 N x
    ``scale``) pushes it, gains drawn per episode: control(frame, q, qd) -> force (E, 1), clipped at
    ``limit``; the cart's position and velocity are coordinate 0."""
    push = excitation(rng, episodes, frames, dt, amplitude=6.0 * scale)
    targets = setpoints(rng, episodes, frames, dt, low=[-1.0], high=[1.0])[..., 0]
    stiffness, damping = rng.uniform(4.0, 15.0, episodes), rng.uniform(2.0, 6.0, episodes)

    def control(k, q, qd):
        force = stiffness * (targets[:, k] - q[:, 0]) - damping * qd[:, 0] + push[:, k]
        return np.clip(force, -limit, limit)[:, None]

    return control
