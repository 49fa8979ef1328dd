"""A block on a spring with Coulomb friction (stick-slip) that strikes a stiff wall: friction and contact.

1 kg block on a 20 N/m spring, Coulomb friction 2 N (smoothed over 5 mm/s) plus 0.5 N s/m viscous; a wall
at x = 0.3 m pushes back with 5000 N/m and 20 N s/m while in contact (one-sided: it never pulls). Physics at
2 kHz, recorded at 200 Hz (frame skip 10). Driven open loop by a random multisine-and-step force.
"""

from __future__ import annotations

import numpy as np

from learnsim.data.examples.excitation import excitation
from learnsim.data.examples.mechanics import flatten, open_loop, record
from learnsim.features import Input, Output

DEFAULTS = {"episodes": 48, "steps": 600, "dt": 0.005}
SUBSTEPS = 10
SPRING, COULOMB, VISCOUS = 20.0, 2.0, 0.5
WALL, WALL_STIFFNESS, WALL_DAMPING = 0.3, 5000.0, 20.0


def acceleration(x: np.ndarray, v: np.ndarray, force: np.ndarray) -> np.ndarray:
    """(E, 1) acceleration of the 1 kg block."""
    penetration = np.maximum(x - WALL, 0.0)
    contact = np.where(penetration > 0, np.maximum(WALL_STIFFNESS * penetration + WALL_DAMPING * v, 0.0), 0.0)
    return force - SPRING * x - COULOMB * np.tanh(v / 0.005) - VISCOUS * v - contact


def generate(
    rng: np.random.Generator, episodes: int, steps: int, dt: float, scale: float = 1.0
) -> dict[str, np.ndarray]:
    force = excitation(rng, episodes, steps + 1, dt, amplitude=9.0 * scale)
    x0, v0 = rng.uniform(-0.3, 0.25, (episodes, 1)), np.zeros((episodes, 1))
    rows = record(acceleration, open_loop(force[..., None]), x0, v0, steps, dt, SUBSTEPS)
    return flatten(rows, {"q": ["x"], "v": ["v"], "a": ["a"], "u": ["force"]})


def features() -> dict:
    return {
        "outputs": [Output("a_pred", dataset_feature="a")],
        "inputs": [
            Input("v", parent="a_pred", relation="derivative"),
            Input("x", parent="v", relation="derivative"),
            Input("force"),
        ],
    }
