"""Built-in example systems, generated offline in numpy, so the quickstart, tests and benchmarks need no
download. Each system is one module with ``DEFAULTS`` (episodes, steps, dt), ``generate(rng, episodes,
steps, dt) -> columns`` and ``features()`` (its Onyx-style schema). The mechanical systems record positions
and velocities (accelerations predicted, velocities and positions integrated); ``tanks`` and ``axis`` are
single recordings of one measured output, fed back through a ``delta`` relation (NARX style).

The registry below names them with a one-line description; a module is imported when its data is made, so
listing the systems (``learnsim data example --help``) costs nothing.
"""

from __future__ import annotations

import importlib

from learnsim.errors import DataError

SYSTEMS = {
    "oscillator": "driven damped Duffing oscillator; force in, position and velocity out",
    "pendulum": "driven damped pendulum, wrapped angle; torque in",
    "arm": "planar 2-link arm under gravity with joint friction; 2 torques in, 2 angles (MIMO), closed loop too",
    "cartpole": "cart-pole with a free swinging pole; force in, cart position and pole angle, closed loop too",
    "cart_double_pendulum": "double pendulum swinging freely on a cart; force in, cart position and 2 link angles",
    "paddle_ball": "ball bouncing on a paddle (repeated contacts, flight in between); force in, 2 heights",
    "hopper": "one-legged hopper: body on a rail, hip and knee position targets in, foot contacts with friction",
    "friction": "block on a spring with Coulomb friction (stick-slip) hitting a stiff wall; force in",
    "tanks": "two cascaded tanks with overflow, one short recording (1024 rows); pump voltage in, lower level out",
    "axis": "positioning axis with friction under PD control, one 25 s recording at 1 kHz; force in, position out",
}


def _module(system: str):
    if system not in SYSTEMS:
        raise DataError(f"unknown example system '{system}'; choose one of {list(SYSTEMS)}")
    return importlib.import_module(f"{__name__}.{system}")


def example_defaults(system: str) -> dict:
    """The system's default ``episodes``, ``steps`` and ``dt``."""
    return dict(_module(system).DEFAULTS)


def example_dataset(
    system: str = "oscillator",
    episodes: int | None = None,
    steps: int | None = None,
    dt: float | None = None,
    seed: int = 0,
    scale: float = 1.0,
):
    """A ``Dataset`` of ``episodes`` trajectories of ``steps`` rows of an example system (defaults: the
    system's own), with episode and time columns. Row k holds the acceleration that took row k - 1 to row k
    (the target convention of ``learnsim.data.windows``) and the input applied from row k on. ``scale``
    multiplies the random excitation (e.g. 2: test data that leaves a scale-1 model's training range)."""
    import numpy as np

    from learnsim.data.dataset import Dataset

    module = _module(system)
    episodes = episodes or module.DEFAULTS["episodes"]
    steps = steps or module.DEFAULTS["steps"]
    dt = dt or module.DEFAULTS["dt"]
    columns = module.generate(np.random.default_rng(seed), episodes, steps, dt, scale)
    episode = np.repeat(np.arange(episodes), steps)
    time = np.tile(np.arange(steps) * dt, episodes)
    source = f"example:{system}" if scale == 1.0 else f"example:{system}(scale {scale:g})"
    return Dataset(columns, dt, episode, time, source=source)


def example_features(system: str = "oscillator") -> dict:
    """The Onyx-style schema for an example system: ``{'outputs': [...], 'inputs': [...]}``."""
    return _module(system).features()
