"""Recording a mechanical system the way a physics engine with frame skip would.

The engine integrates with semi-implicit Euler at a substep h = dt / substeps (v += a h; q += v h), the
controller acts once per recorded frame (its input held over the frame), and one row is recorded per frame.
Row k holds the state after frame k, the effective acceleration of the frame that led to it (the mean of
its substep accelerations, so v[k] = v[k-1] + a[k] dt exactly) and the input applied from row k on.
With one substep the recorded positions follow q[k] = q[k-1] + v[k] dt exactly; with more, positions move
by a different mix of old and new velocity, which a model's integration has to match.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from learnsim.features import wrap_angle


def record(
    acceleration: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    control: Callable[[int, np.ndarray, np.ndarray], np.ndarray],
    q: np.ndarray,
    v: np.ndarray,
    steps: int,
    dt: float,
    substeps: int = 1,
    angles: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Simulate ``steps`` recorded rows of E episodes at once.

    acceleration(q (E, n), v (E, n), u (E, m)) -> (E, n); control(frame, q, v) -> u (E, m).
    angles: (n,) bool, coordinates wrapped to [-pi, pi) after every substep.
    Returns arrays shaped (E, steps, ·): 'q', 'v', 'a' (effective acceleration into the row), 'u'.
    """
    h = dt / substeps
    n = steps + 1  # one extra frame so every stored row has the acceleration that produced it
    E = q.shape[0]
    out = {name: np.empty((E, n, width)) for name, width in (("q", q.shape[1]), ("v", v.shape[1]))}
    out["a"] = np.empty((E, n, v.shape[1]))
    u = control(0, q, v)
    out["u"] = np.empty((E, n, u.shape[1]))
    for k in range(n):
        out["q"][:, k], out["v"][:, k] = q, v
        u = control(k, q, v)
        total = 0.0
        for _ in range(substeps):
            a = acceleration(q, v, u)
            v = v + a * h
            q = q + v * h
            if angles is not None and angles.any():
                q = np.where(angles, wrap_angle(q), q)
            total = total + a
        out["a"][:, k], out["u"][:, k] = total / substeps, u
    # row k: state after frame k (drop the initial one), acceleration of frame k - 1 -> k, input from row k on
    return {"q": out["q"][:, 1:], "v": out["v"][:, 1:], "a": out["a"][:, :-1], "u": out["u"][:, 1:]}


def open_loop(u: np.ndarray) -> Callable[[int, np.ndarray, np.ndarray], np.ndarray]:
    """A control function that plays the precomputed inputs u (E, frames, m)."""
    return lambda k, q, v: u[:, k]


def flatten(episodes: dict[str, np.ndarray], names: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Episode-major columns: names['q'] = ['x', ...] names each coordinate of the (E, T, n) arrays."""
    columns = {}
    for key, labels in names.items():
        for i, label in enumerate(labels):
            columns[label] = episodes[key][:, :, i].reshape(-1)
    return columns
