"""The default recipe: what a run config leaves open is filled in from the training data, so a config that
names only the dataset and the features trains well with no expert knowledge.

``resolve(config, dataset, train_segments)`` returns the config with every open field set: the model's
``dt`` (the dataset's), each derivative relation's integration weight (estimated from the recorded data),
the step budget, evaluation cadence, learning-rate schedule, rollout horizon and selection. The resolved
config is what the run saves as ``config.yaml``, so a run directory always says what was trained. Only the
training split is read: validation and test data never shape the recipe.
"""

from __future__ import annotations

import math

import numpy as np

from learnsim.errors import ConfigError
from learnsim.features import wrap_angle

# Relative difference between a config's dt and the dataset's that still counts as the same time step
# (timestamps written with a few significant digits).
DT_TOLERANCE = 1e-6


def resolve_dt(model_config, dataset) -> float:
    """The model's time step: the dataset's when the config gives none; a clear error when they differ."""
    if model_config.dt is None:
        return dataset.dt
    if abs(model_config.dt - dataset.dt) > DT_TOLERANCE * dataset.dt:
        raise ConfigError(
            f"model.dt is {model_config.dt:g} s but dataset {dataset.source} is sampled every {dataset.dt:g} s; "
            "leave model.dt out (it is taken from the data) or resample the data"
        )
    return model_config.dt


def estimate_integration(values: np.ndarray, parent: np.ndarray, dt: float, bounds, angle: bool) -> float:
    """The weight w in x[k] - x[k-1] = dt * (w * p[k] + (1 - w) * p[k-1]) that fits recorded x (``values``)
    and its parent p best (least squares over every episode), clipped to [0, 1] and rounded to 4 digits.
    1 when the parent never changes (nothing to estimate)."""
    numerator = denominator = 0.0
    for start, end in bounds:
        x, p = values[start:end], parent[start:end]
        moved = np.diff(x)
        moved = wrap_angle(moved) if angle else moved
        change = np.diff(p)
        residual = moved / dt - p[:-1]  # what the old value alone does not explain
        numerator += float(np.dot(residual, change))
        denominator += float(np.dot(change, change))
    if denominator == 0 or not math.isfinite(numerator):
        return 1.0
    return round(min(max(numerator / denominator, 0.0), 1.0), 4)


def resolve_features(model_config, dataset, bounds) -> dict:
    """``inputs`` and ``outputs`` with every open integration weight of a derivative relation between two
    recorded columns estimated from ``bounds`` (the training segments)."""
    schema = model_config.schema
    resolved = []
    for f in model_config.inputs:
        parent = schema.feature(f.parent) if f.parent else None
        recorded = parent is not None and parent.column in dataset.columns and f.column in dataset.columns
        if f.relation == "derivative" and f.integration is None and recorded and parent.kind == "input":
            weight = estimate_integration(
                dataset.columns[f.column],
                dataset.columns[parent.column],
                dataset.dt,
                bounds,
                schema.is_angle(f.name),
            )
            f = f.model_copy(update={"integration": weight})
        resolved.append(f)
    return {"inputs": resolved, "outputs": list(model_config.outputs)}


def derivative_chains(schema) -> bool:
    """Whether every simulated state is integrated from its parent (a mechanical schema: positions and
    velocities both recorded, the network predicting accelerations), so state and input set the next step."""
    states = schema.states
    return bool(states) and all(f.relation == "derivative" for f in states)


# History window of the default recipe. For derivative chains (see derivative_chains) a short window is
# enough; the extra rows of a long one give the network room to fit correlations of the recordings, and it
# simulates worse. Measured (benchmarks/README.md, 3 seeds), 8 rows against 16: the arm and the cart-pole
# improve at every horizon (full episode 0.60 vs 0.62, 0.27 vs 0.40), the pendulum and the oscillator over
# the full episode; friction improves at 10 and 50 steps but loses its full episode (0.13 vs 0.09). 4 rows
# gain more on the cart-pole and lose more on friction; 2 rows lose more. Other schemas (`delta` feedback of
# a measured output, NARX style, as on Silverbox; no states) keep 16 rows of history to estimate what is not
# recorded.
STATE_WINDOW, HISTORY_WINDOW = 8, 16

# Hidden activation of the recipe's MLP for derivative chains: half of each layer SiLU, half ReLU, at the
# full width. Measured (benchmarks/README.md, 3 seeds, with balanced rollout weighting, see resolve_training):
# SiLU alone fits the smooth arm and cart-pole best but loses friction and contact to one-step training at
# every horizon; ReLU alone wins friction (full episode 0.057 vs 0.136) and loses the arm (one step 0.0044 vs
# 0.0024); the half-and-half layers keep most of both (friction 0.070, arm 0.61 vs 0.60; geometric mean over
# the 12 arm / cart-pole / friction cells 0.69 of the SiLU / uniform recipe, 0.79 of SiLU / balanced). At the
# small-data width (SMALL_WIDTH) SiLU alone is better: with 8 episodes it wins 8 of the 12 cells (arm one
# step 0.0100 vs 0.0222, cart-pole full 0.73 vs 1.38; geometric mean 0.85 of silu_relu), and friction keeps
# its full episode (0.43 vs 0.44). Other schemas keep SiLU (Silverbox's recipe).
STATE_ACTIVATION, SMALL_DATA_ACTIVATION = "silu_relu", "silu"

# Beyond the training range, for derivative chains: the hidden layers see each input as it is up to half the
# range's width past either edge and clamped past that (extrapolation 'clip', clip_margin 0.5); the linear
# part always sees it as it is. Measured (benchmarks/README.md, "Leaving the training range", 3 seeds, test
# episodes excited 4x the training data): the full network drifts past holding the last state on friction
# (full episode 2.31, one seed 5.88; hold 1.03) and on the double pendulum on a cart (1.21; hold 1.13); the
# margin keeps both below it (0.51, 1.03), leaves the cart-pole unchanged, and costs the pendulum (0.16 vs
# 0.05) and the ball on a paddle (0.36 vs 0.31), both far below holding. In range it is the full network on
# every system but one (nothing reaches past the margin), and there slightly better (cart double pendulum
# 0.69 vs 0.71).
STATE_EXTRAPOLATION, STATE_CLIP_MARGIN = "clip", 0.5

# The rigid-body term (model field rigid_body: accelerations linear in the external inputs and quadratic in the
# velocities, with coefficients from the positions, the form of M(q) a + C(q, v) v + g(q) = B(q) u) is left to
# the user: the recipe does not turn it on. Measured (benchmarks/README.md, "A rigid-body term", 3 seeds), it
# simulates smooth rigid-body systems much better (free runs 1.2-2.9x at 50 steps on the arm, the cart-pole
# and friction; at 18,000 steps the arm's 50-step error 0.05 vs 0.13), but on the two systems with contacts
# it is worse at every horizon (ball on a paddle) or runs away: on the one-legged hopper one seed of three
# ended its free runs at nRMSE 2.8, past holding the last state (1.5), where the plain MLP gave 0.27-0.30 on
# every seed, and the term starting at zero ran away too (184). The data do not say which kind a system is
# (contacts leave no clearer mark in the accelerations than friction's stiff wall), and a free run that runs away
# is the worse failure, so the plain MLP is the default.


def default_window(schema) -> int:
    """The history window the recipe gives a schema (see STATE_WINDOW)."""
    return STATE_WINDOW if derivative_chains(schema) else HISTORY_WINDOW


def resolve_network(config, warm_start=None):
    """``config`` with the MLP's ``sequence_length`` chosen by the recipe when the config leaves it open (an
    MLP, the default family, whose window is its whole view of the past): ``default_window``, or the
    warm-start model's window, and its width, activation, members, control-affine head, rigid-body term and
    increments too (``warm_start``: its model config; its weights fit, or mean what they learnt, only with
    those), and how it extrapolates (it continues as the same simulator). What the config gives, or any other
    family, is kept. Needs only the schema, so it runs before the data is windowed; ``resolve_size`` chooses
    width and activation from the data."""
    model = config.model
    if getattr(model, "type", None) != "mlp":
        return config
    given = model.model_fields_set
    update = {}
    if "sequence_length" not in given:
        update["sequence_length"] = warm_start.sequence_length if warm_start else default_window(model.schema)
    if warm_start is not None:
        kept = ("hidden_size", "activation", "members", "control_affine", "rigid_body", "increments")
        for name in (*kept, "extrapolation", "clip_margin"):
            if name not in given:
                update[name] = getattr(warm_start, name, getattr(model, name))
    if not update:
        return config
    # copied even when equal to the defaults: set fields are what the later steps of the recipe keep
    return config.model_copy(update={"model": model.model_copy(update=update)})


# Width of the recipe's MLP. With fewer than SMALL_DATA_ROWS training rows the 128-wide layers (20-23k
# parameters for the example schemas) outnumber the rows and overfit: measured (benchmarks/README.md, 3 seeds),
# 32-wide layers free-run the 1,024-row tanks recording at full-episode nRMSE 0.050 instead of 0.21 (the
# linear model: 0.060) and keep the 8-episode arm from running away (0.93 instead of 3.45). Every other data
# set measured has 19k+ training rows and keeps 128.
SMALL_DATA_ROWS, SMALL_WIDTH = 10_000, 32


def resolve_size(model_config, train_rows: int):
    """``model_config`` with the MLP's ``hidden_size`` (see SMALL_DATA_ROWS) and, for derivative chains, its
    ``activation`` (see STATE_ACTIVATION) chosen from the training rows and its ``extrapolation`` (see
    STATE_EXTRAPOLATION), where the config leaves them open;
    what the config gives, or any other family, is kept."""
    if getattr(model_config, "type", None) != "mlp":
        return model_config
    given, small = model_config.model_fields_set, train_rows < SMALL_DATA_ROWS
    chains = derivative_chains(model_config.schema)
    update = {}
    if small and "hidden_size" not in given:
        update["hidden_size"] = SMALL_WIDTH
    if chains and "activation" not in given:
        update["activation"] = SMALL_DATA_ACTIVATION if small else STATE_ACTIVATION
    if chains and model_config.linear_skip and "extrapolation" not in given:
        update["extrapolation"] = STATE_EXTRAPOLATION
        update["clip_margin"] = STATE_CLIP_MARGIN  # refused without 'clip', so never given here
    return model_config.model_copy(update=update) if update else model_config


# Step budget of the recipe: one optimizer step per training row from SMALL_DATA_ROWS up, where the layers are
# 128 wide, and one per two rows below it (32 wide); between MIN_STEPS and MAX_STEPS. Measured
# (benchmarks/README.md, "Step budget", 3 seeds): one step per row instead of per two improves every system
# with 11,000-20,000 training rows at nearly every horizon (full episode: arm 0.59 vs 0.60, cart-pole 0.19 vs
# 0.31, friction 0.025 vs 0.029) and beats one-step training at the same budget at every horizon there.
# Below SMALL_DATA_ROWS it trades robustness for short horizons: the ball on a paddle (9,000 rows) gains
# everywhere (full 0.12 vs 0.14), but the double pendulum on a cart runs away on one seed of three over its
# full episode at 9,000 rows (1.46) and at 3,000 (6.6), where half the steps kept it near 1; with 24 episodes
# the arm and the cart-pole are mixed. So small data keeps half a step per row, and 2,000 steps at least.
MIN_STEPS, MAX_STEPS = 2000, 30000


def training_budget(train_rows: int) -> int:
    """Optimizer steps for ``train_rows`` training rows: one step per row (per two rows below
    SMALL_DATA_ROWS), in thousands, between MIN_STEPS and MAX_STEPS (more data holds more to learn)."""
    per_row = 1.0 if train_rows >= SMALL_DATA_ROWS else 0.5
    return int(min(max(round(train_rows * per_row / 1000) * 1000, MIN_STEPS), MAX_STEPS))


# Rollout weighting of the recipe for derivative chains: "balanced" (each rollout step's error, and the
# one-step term, counted by its log, so halving it counts the same at any horizon). Measured with SiLU
# (benchmarks/README.md, 3 seeds): the cart-pole improves at every horizon (full episode 0.24 vs 0.29), the
# arm is unchanged (0.60), friction is mixed; with the half-and-half activation it is better than uniform
# weighting at every horizon on all three systems. Other schemas keep the uniform mean (Silverbox's recipe).
STATE_WEIGHTING = "balanced"


def resolve_training(training, model_config, train_rows: int):
    """The training config with its open fields set: budget, selection, evaluation cadence, schedule, and
    for derivative chains the rollout weighting (see STATE_WEIGHTING)."""
    has_states = bool(model_config.schema.states)
    iters = training.training_iters or training_budget(train_rows)
    every = training.eval_every or max(iters // 20, 1)
    updates = {
        "training_iters": iters,
        "checkpoint_type": training.checkpoint_type or ("multi_step" if has_states else "single_step"),
        "eval_every": every,
        "save_every": training.save_every or every,
    }
    if not has_states:  # nothing is fed back, so there is nothing to roll out
        updates["rollout"] = None
    elif training.rollout is not None and "weighting" not in training.rollout.model_fields_set:
        weighting = STATE_WEIGHTING if derivative_chains(model_config.schema) else training.rollout.weighting
        updates["rollout"] = training.rollout.model_copy(update={"weighting": weighting})
    if hasattr(training.lr_scheduler, "resolved"):
        updates["lr_scheduler"] = training.lr_scheduler.resolved(iters)
    return training.model_copy(update=updates)


def resolve(config, run_data):
    """``config`` with everything it leaves open filled in from the training data (``run_data``: the
    datasets and the split). Idempotent: a resolved config comes back unchanged."""
    dataset, train_segments = run_data.dataset, run_data.data.split.train
    train_rows = sum(end - start for start, end in train_segments)
    model = resolve_size(config.model, train_rows)  # before the dump below marks every field as set
    fields = (
        model.model_dump()
        | {"dt": resolve_dt(model, dataset)}
        | resolve_features(model, dataset, train_segments)
    )
    model = type(model).model_validate(fields)
    training = resolve_training(config.training, model, train_rows)
    return config.model_copy(update={"model": model, "training": training})
