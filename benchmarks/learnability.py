"""How well a network can fit an example system's accelerations at all, apart from any training recipe: a
supervised fit of each recorded acceleration at row k + 1 from the full state at row k (sin and cos of the
angles, the velocities) and the external inputs of rows k and k + 1, with no rollout and no history window,
scored on held-out episodes as RMSE / std of the target.

``predictability.py`` says how accurate the accelerations must be for a free run to stay close over an
episode; this says how accurate the data let an MLP make them. When the training error is far below the
held-out error, the gap is coverage (the test episodes visit states the training episodes do not), which
more data closes and regularisation does not.

With ``--control-affine`` the network is f(s) + G(s) u (``model.control_affine``): the hidden layers see the
state s only and give f and the gains G of the external inputs u. With ``--rigid-body`` it is the MLP plus
the term of ``model.rigid_body``: sum_b c_b(q) basis_b over the basis [v, v_i v_j, u] of the velocities v and
external inputs u, with coefficients from a second MLP of the same size over the positions q.

    python benchmarks/learnability.py [--system arm] [--episodes 64,256] [--steps 30000] [--width 128]
        [--layers 2] [--weight-decay 0.01] [--control-affine | --rigid-body] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np
import torch

from learnsim.models.mlp import RigidBodyTerm, affine_in_inputs, hidden_stack

TRAIN_SHARE = 0.75  # episodes, in order; the rest are held out
# Example systems recorded as episodes with a derivative chain (the single recordings have no episodes to hold out)
EPISODIC = ("arm", "cartpole", "cart_double_pendulum", "paddle_ball", "hopper", "friction", "oscillator", "pendulum")


def design(system: str, episodes: int, seed: int = 100):
    """(X (N, F), Y (N, n_out), episode of each sample (N,), which of the F columns are external inputs (F,),
    which are velocities (F,)) for every pair of consecutive rows."""
    from learnsim import example_dataset, example_features

    features = example_features(system)
    dataset = example_dataset(system, episodes=episodes, seed=seed)
    column = {name: np.asarray(dataset.columns[name], dtype=np.float32) for name in dataset.feature_names}
    episode = np.asarray(dataset.episode)
    k = np.nonzero(episode[1:] == episode[:-1])[0]  # row k and k + 1 in the same episode
    x, external, velocity = [], [], []
    predicted = {o.name for o in features["outputs"] if o.parent is None}
    for f in features["inputs"]:
        values = column[f.name]
        if f.angle:
            x += [np.sin(values[k]), np.cos(values[k])]
        elif f.relation is None:  # an external input: the value held over the step and the next one
            x += [values[k], values[k + 1]]
        else:
            x.append(values[k])
        velocity += [f.relation == "derivative" and f.parent in predicted] * (len(x) - len(velocity))
        external += [f.relation is None] * (len(x) - len(external))
    y = [column[o.dataset_feature or o.name][k + 1] for o in features["outputs"]]
    return np.stack(x, 1), np.stack(y, 1), episode[k], np.array(external), np.array(velocity)


class ControlAffine(torch.nn.Module):
    """f(s) + G(s) u from one MLP over the state columns s, whose head gives f (n_out) and G (n_out x n_u)."""

    def __init__(self, body: torch.nn.Module, external: np.ndarray, n_out: int):
        super().__init__()
        self.body, self.n_out = body, n_out
        self.u, self.s = torch.tensor(np.nonzero(external)[0]), torch.tensor(np.nonzero(~external)[0])

    def forward(self, x):  # (B, F) -> (B, n_out)
        return affine_in_inputs(self.body(x[:, self.s]), x[:, self.u], self.n_out)


class RigidBody(torch.nn.Module):
    """An MLP over all columns plus learnsim's rigid-body term (``model.rigid_body``) over the same columns:
    velocities as ``velocity`` marks, external inputs as ``external`` marks, positions the rest."""

    def __init__(self, term: RigidBodyTerm, mlp: torch.nn.Module):
        super().__init__()
        self.term, self.mlp = term, mlp

    def forward(self, x):  # (B, F) -> (B, n_out); nothing is clamped here
        return self.mlp(x) + self.term(x, x)


def shape(width: int, layers: int, n_out: int = 0) -> SimpleNamespace:
    """The fields of an MLP config that learnsim's hidden layers and rigid-body term read (SiLU layers)."""
    return SimpleNamespace(hidden_size=width, hidden_layers=layers, activation="silu", n_direct_outputs=n_out)


def mlp(width_in: int, width: int, layers: int, width_out: int) -> torch.nn.Module:
    """learnsim's hidden layers: ``layers`` SiLU layers of ``width``, (..., width_in) -> (..., width_out)."""
    return hidden_stack(shape(width, layers), width_in, width_out)


def fit(
    x,
    y,
    held_out,
    width: int,
    layers: int,
    steps: int,
    weight_decay: float,
    seed: int = 0,
    external=None,
    velocity=None,
):
    """(held-out, training) RMSE / std per output of an MLP (SiLU) trained with AdamW and one-cycle LR;
    control-affine in the columns ``external`` marks when given alone, with a rigid-body term when
    ``velocity`` marks the velocities too."""
    torch.manual_seed(seed)
    xt, yt = torch.tensor(x[~held_out]), torch.tensor(y[~held_out])
    xv, yv = torch.tensor(x[held_out]), torch.tensor(y[held_out])
    mx, sx, my, sy = xt.mean(0), xt.std(0).clamp_min(1e-6), yt.mean(0), yt.std(0)
    n_out = yt.shape[1]
    if velocity is not None:
        columns = [np.nonzero(mask)[0].tolist() for mask in (velocity, ~external & ~velocity, external)]
        term = RigidBodyTerm(shape(width, layers, n_out), *columns)
        net = RigidBody(term, mlp(xt.shape[1], width, layers, n_out))
    elif external is not None:
        head = n_out * (1 + int(external.sum()))
        net = ControlAffine(mlp(int((~external).sum()), width, layers, head), external, n_out)
    else:
        net = mlp(xt.shape[1], width, layers, n_out)
    optimizer = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=steps, pct_start=0.05)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = torch.randint(0, len(xt), (512,), generator=generator)
        loss = ((net((xt[batch] - mx) / sx) - (yt[batch] - my) / sy) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    with torch.no_grad():

        def error(x_, y_):
            return (((net((x_ - mx) / sx) * sy + my - y_) ** 2).mean(0).sqrt() / y_.std(0)).numpy()

        return error(xv, yv), error(xt, yt)


def linear_error(x, y, held_out) -> np.ndarray:
    """Held-out RMSE / std per output of the least-squares affine fit, for scale."""
    ones = np.ones((len(x), 1), dtype=x.dtype)
    a = np.concatenate([x, ones], 1)
    coef, *_ = np.linalg.lstsq(a[~held_out], y[~held_out], rcond=None)
    return np.sqrt(((a[held_out] @ coef - y[held_out]) ** 2).mean(0)) / y[held_out].std(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", default="arm", choices=EPISODIC)
    parser.add_argument("--episodes", default="64,256")
    parser.add_argument("--steps", type=int, default=30000)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    structure = parser.add_mutually_exclusive_group()
    structure.add_argument("--control-affine", action="store_true", help="f(s) + G(s) u instead of one MLP")
    structure.add_argument("--rigid-body", action="store_true", help="the MLP plus a rigid-body term")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and batches (not the data)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    kind = "control-affine MLP" if args.control_affine else "MLP + rigid-body term" if args.rigid_body else "MLP"
    print(
        f"{args.system}: {kind} {args.layers}x{args.width} SiLU, {args.steps} steps, weight decay "
        f"{args.weight_decay}, seed {args.seed}"
    )
    print(f"{'episodes':>9} {'held-out':>22} {'training':>22} {'linear held-out':>22} {'s':>5}")
    try:
        counts = [int(e) for e in args.episodes.split(",")]
    except ValueError:
        parser.error(f"--episodes takes a comma-separated list of whole numbers, got {args.episodes!r}")
    if min(counts) < 4:
        parser.error("--episodes: at least 4 per data set (3 to train on, 1 to hold out)")
    for episodes in counts:
        x, y, episode, external, velocity = design(args.system, episodes)
        held_out = episode >= int(episodes * TRAIN_SHARE)
        began = time.perf_counter()
        structure = external if args.control_affine or args.rigid_body else None
        test, train = fit(
            *(x, y, held_out, args.width, args.layers, args.steps, args.weight_decay, args.seed, structure),
            velocity if args.rigid_body else None,
        )
        cells = [" ".join(f"{v:.4f}" for v in values) for values in (test, train, linear_error(x, y, held_out))]
        print(f"{episodes:>9} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22} {time.perf_counter() - began:>5.0f}")


if __name__ == "__main__":
    main()
