"""Training samples/s: learnsim's training loop against a minimal hand-written PyTorch loop.

Same model object family and size, same optimizer (AdamW 3e-4, foreach), batch 1024, data already in one
tensor with random windows by indexing. learnsim runs its real ``train()`` (the report's
``train_sample_steps_per_second`` counts only training steps, not evaluation or checkpoints) with gradient
clipping and the scheduler off, since the hand-written loop has neither. A third loop feeds the same model
from a ``DataLoader`` over a per-sample ``Dataset``. Targets: learnsim >= 0.95x the hand loop; >= 3x the
DataLoader loop.

With ``--whole 3000``, also a whole ``train_model`` call as a user makes it (default trackers, evaluation
and checkpoint cadence, plots and report) against a hand loop over the same steps with the same optimisation
(clipping, schedule); target >= 0.9x. The call returns when its model and report are stored; its plots and
tracker calls finish on a background thread, timed separately.

With ``--device cuda``, every loop runs on the GPU (the hand loop draws its batch indices there), and the
table adds learnsim with the step captured as CUDA graphs (``training.cuda_graphs``; compile time is kept
out of the rate). Targets on CUDA: >= 0.9x the hand loop, and above it captured.

    python benchmarks/train_throughput.py [--iters 300] [--repeats 2] [--whole 3000] [--device cuda]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import torch
import torch.nn.functional as F

from learnsim import (
    MLPConfig,
    RNNConfig,
    TransformerConfig,
    example_dataset,
    example_features,
    model_from_config,
)
from learnsim.data.splits import split_rows
from learnsim.data.windows import WindowedData
from learnsim.store.datasets import save_dataset
from learnsim.train import RunConfig, TrainingConfig, train

BATCH = 1024


def model_configs(dt: float) -> dict:
    features = example_features("oscillator")
    common = dict(**features, dt=dt, sequence_length=8)
    return {
        # activation given: left open, the recipe would give this derivative-chain schema silu_relu, and the
        # hand loop (which builds the config as written) another network
        "MLP 3x64 (Onyx example)": MLPConfig(**common, hidden_layers=3, hidden_size=64, activation="silu"),
        "GRU 2x64": RNNConfig(**common, rnn_type="GRU", hidden_layers=2, hidden_size=64),
        "Transformer 2x4x64": TransformerConfig(**common, n_layer=2, n_head=4, n_embd=64),
    }


def learnsim_rate(config, steps: int, device: str = "cpu", **options) -> float:
    """learnsim's train() samples/s; ``options``: more TrainingConfig fields (cuda_graphs, compile)."""
    run = RunConfig(
        dataset="bench",
        model=config,
        training=TrainingConfig(
            training_iters=steps,
            train_batch_size=BATCH,
            lr_scheduler=None,
            grad_clip=None,
            # one-step training, as the hand loop does (left open, a schema with states trains on rollouts)
            checkpoint_type="single_step",
            rollout=None,
            eval_every=steps,
            save_every=steps,
            log_every=steps,
            eval_max_windows=1024,
            eval_horizon=50,
            trackers=[],  # the training step is measured; trackers are timed nowhere here
            device=device,
            **options,
        ),
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = train(run, f"{tmp}/run", monitor=False).wait()  # its plots must not overlap the next run
    return result.report["train_sample_steps_per_second"]


def hand_written_rate(config, data: WindowedData, steps: int, recipe: bool = False) -> float:
    """A plain PyTorch loop on the same model and batches. ``recipe``: with the optimisation the default
    TrainingConfig runs (gradient clipping at 1.0, linear warmup then cosine decay from 2e-3 to 2e-5), so
    that a whole train_model call is compared with a loop that trains the same way."""
    torch.manual_seed(0)
    device = data.inputs.device
    model = model_from_config(config)
    model.set_statistics(data.training_statistics(config))
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=1e-2, foreach=True)
    scheduler = None
    if recipe:
        warmup, top, low = min(200, steps // 10), 2e-3, 2e-5

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            cosine = 0.5 * (1 + math.cos(math.pi * (step - warmup) / (steps - warmup)))
            return (low + cosine * (top - low)) / top

        for group in optimizer.param_groups:
            group["lr"] = top
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    X, starts, L = data.inputs, data.starts["train"], config.sequence_length
    Y = model.output_scaler.normalize(data.targets)
    offsets = torch.arange(L, device=device)
    model.train()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        index = starts[torch.randint(len(starts), (BATCH,), device=device)]  # drawn where the data is
        window, target = X[index[:, None] + offsets], Y[index + L]
        loss = F.mse_loss(model.predict_normalized(window), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if recipe:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    synchronize(device)
    return steps * BATCH / (time.perf_counter() - start)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PerSample(torch.utils.data.Dataset):
    def __init__(self, data: WindowedData, Y: torch.Tensor):
        self.X, self.Y, self.starts, self.L = (
            data.inputs,
            Y,
            data.starts["train"].tolist(),
            data.sequence_length,
        )

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, i):
        s = self.starts[i]
        return self.X[s : s + self.L], self.Y[s + self.L]


def dataloader_rate(config, data: WindowedData, steps: int) -> float:
    torch.manual_seed(0)
    model = model_from_config(config)
    model.set_statistics(data.training_statistics(config))
    model.to(data.inputs.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=1e-2, foreach=True)
    loader = torch.utils.data.DataLoader(
        PerSample(data, model.output_scaler.normalize(data.targets)),
        batch_size=BATCH,
        shuffle=True,
        drop_last=True,
    )
    model.train()
    done = 0
    start = time.perf_counter()
    while done < steps:
        for window, target in loader:
            loss = F.mse_loss(model.predict_normalized(window), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    synchronize(data.inputs.device)
    return steps * BATCH / (time.perf_counter() - start)


def whole_call_seconds(config, steps: int, device: str = "cpu") -> tuple[float, float]:
    """Wall time of a whole ``train_model`` call as a user makes it (default trackers: MLflow when installed;
    default evaluation and checkpoint cadence; report; plots), until it returns and until its background
    work (plots, trackers) is done too."""
    from learnsim.train import train_model

    training = TrainingConfig(
        training_iters=steps,
        train_batch_size=BATCH,
        checkpoint_type="single_step",
        rollout=None,
        device=device,
    )
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = train_model("whole", config, "bench", training, monitor_training=False, run_dir=f"{tmp}/run")
        returned = time.perf_counter() - start
        result.wait()  # not part of the call, but the next repetition must not compete with it
        return returned, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument(
        "--repeats", type=int, default=2, help="Interleaved repeats; the best of each is kept."
    )
    parser.add_argument(
        "--whole",
        type=int,
        default=0,
        help="Also time a whole train_model call with default extras over this many steps (e.g. 3000) "
        "against the hand loop over the same steps.",
    )
    parser.add_argument("--no-table", action="store_true", help="Only the whole-call comparison.")
    parser.add_argument(
        "--device",
        default="cpu",
        help="cpu or cuda. On CUDA the table adds learnsim with the step captured as CUDA graphs "
        "(training.cuda_graphs), compile time excluded, against the same hand loop.",
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    os.environ.setdefault("LEARNSIM_HOME", tempfile.mkdtemp(prefix="learnsim-bench-"))
    dataset = example_dataset("oscillator")
    save_dataset("bench", dataset)
    where = f"device={device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
    print(
        f"{where} threads={torch.get_num_threads()} batch={BATCH} iters={args.iters} (best of {args.repeats})"
    )
    captured = device.type == "cuda"
    if not args.no_table:
        print(
            f"{'model':<26} {'learnsim':>10} {'hand loop':>10} {'DataLoader':>11} {'vs hand':>8} {'vs DataLoader':>14}"
            + (f" {'captured':>10} {'vs hand':>8}" if captured else "")
        )
        for label, config in model_configs(dataset.dt).items():
            split = split_rows(dataset.episode_bounds(), 0.9, 0.1, config.sequence_length, seed=0)
            data = WindowedData.build(dataset, config, split, device)
            ours, hand, loader, graphs = [], [], [], []
            for repeat in range(args.repeats):
                ours.append(learnsim_rate(config, args.iters, args.device))
                hand.append(hand_written_rate(config, data, args.iters))
                loader.append(dataloader_rate(config, data, max(args.iters // 5, 10)))
                if captured and repeat == args.repeats - 1:  # once: each run compiles its graphs anew
                    graphs.append(learnsim_rate(config, args.iters, args.device, cuda_graphs=True))
            o, h, d = max(ours), max(hand), max(loader)
            row = f"{label:<26} {o:>10,.0f} {h:>10,.0f} {d:>11,.0f} {o / h:>8.2f} {o / d:>14.1f}"
            if captured:
                row += f" {max(graphs):>10,.0f} {max(graphs) / h:>8.2f}"
            print(row, flush=True)
        print("samples/s; targets: vs hand >= 0.95 (CUDA: >= 0.9, captured above 1), vs DataLoader >= 3")
    if args.whole:
        config = model_configs(dataset.dt)["MLP 3x64 (Onyx example)"]
        split = split_rows(dataset.episode_bounds(), 0.9, 0.1, config.sequence_length, seed=0)
        data = WindowedData.build(dataset, config, split, device)
        whole_call_seconds(config, 50, args.device)  # the process's first call: imports, MLflow store
        calls, hands, plains = [], [], []
        for _ in range(args.repeats):  # interleaved, so that a slow spell of the machine hits all three
            calls.append(whole_call_seconds(config, args.whole, args.device))
            hands.append(args.whole * BATCH / hand_written_rate(config, data, args.whole, recipe=True))
            plains.append(args.whole * BATCH / hand_written_rate(config, data, args.whole))
        (call, with_background), hand, plain = min(calls), min(hands), min(plains)
        print(
            f"whole train_model call, {args.whole} steps, default extras: {call:.2f} s "
            f"({with_background:.2f} s until its plots and trackers are done) vs the hand loop with the same "
            f"optimisation {hand:.2f} s: {hand / call:.2f}x (target >= 0.9); vs a hand loop without clipping "
            f"and schedule ({plain:.2f} s): {plain / call:.2f}x"
        )


if __name__ == "__main__":
    main()
