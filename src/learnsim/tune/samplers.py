"""The samplers and pruners a search may name, each listed once: the config's allowed values are these
dicts' keys, and a search builds its choice from them. Optuna is imported only when one is built."""

from __future__ import annotations

import warnings
from collections.abc import Callable


def _experimental(build: Callable):
    """Optuna marks some samplers experimental; building them is not worth a warning per worker."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return build(optuna)


# name -> factory(seed); workers get seeds that differ, so they do not propose the same points
SAMPLERS: dict[str, Callable] = {
    # conditional spaces (per family, per optimizer), so each group is sampled jointly
    "tpe": lambda seed: _experimental(
        lambda o: o.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    ),
    "random": lambda seed: _experimental(lambda o: o.samplers.RandomSampler(seed=seed)),
    "cmaes": lambda seed: _experimental(lambda o: o.samplers.CmaEsSampler(seed=seed)),
    "qmc": lambda seed: _experimental(lambda o: o.samplers.QMCSampler(seed=seed)),
    # each combination once; running trials count as taken, so workers take others
    "grid": lambda seed: _experimental(lambda o: o.samplers.BruteForceSampler(seed=seed)),
}

# name -> factory()
PRUNERS: dict[str, Callable] = {
    "median": lambda: _experimental(lambda o: o.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0)),
    "successive_halving": lambda: _experimental(lambda o: o.pruners.SuccessiveHalvingPruner()),
    "hyperband": lambda: _experimental(lambda o: o.pruners.HyperbandPruner()),
    "none": lambda: _experimental(lambda o: o.pruners.NopPruner()),
}
