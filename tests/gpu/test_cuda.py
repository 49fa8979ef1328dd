"""The CUDA paths: training (fp32, bf16 autocast, compiled), simulation against the CPU, and DDP with NCCL
on two GPUs. Marked ``gpu``; every test skips cleanly on a machine without CUDA."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _config(**training):
    from learnsim import example_features
    from learnsim.models import MLPConfig
    from learnsim.train import RunConfig, TrainingConfig

    model = MLPConfig(
        **example_features("oscillator"), dt=0.01, sequence_length=8, hidden_layers=2, hidden_size=64
    )
    fields = {"training_iters": 60, "eval_every": 30, "trackers": [], "device": "cuda"} | training
    return RunConfig(dataset="osc", model=model, training=TrainingConfig(**fields))


@pytest.fixture
def oscillator():
    from learnsim import example_dataset, save_dataset

    save_dataset("osc", example_dataset("oscillator", episodes=8, steps=200))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"precision": "bf16-mixed"},
        {"compile": True, "rollout": None, "checkpoint_type": "single_step"},
        {"cuda_graphs": True, "rollout": None, "checkpoint_type": "single_step"},
    ],
)
def test_training_on_cuda(oscillator, tmp_path, options):
    from learnsim.train import train

    result = train(_config(**options), tmp_path / "run", monitor=False)
    assert result.report["steps"] == 60 and result.model_version
    assert all(
        torch.isfinite(torch.tensor(v)) for v in result.report["test"].values() if isinstance(v, float)
    )


def test_simulate_on_cuda_matches_cpu():
    from learnsim import example_features, model_from_config
    from learnsim.models import MLPConfig

    config = MLPConfig(**example_features("oscillator"), dt=0.01, sequence_length=8)
    model = model_from_config(config).eval()
    history = {"velocity": torch.randn(4, 8, 1), "position": torch.randn(4, 8, 1)}
    external = {"control_input": torch.randn(4, 208, 1)}
    with torch.no_grad():
        cpu = model.simulate(history, external)
        gpu = model.cuda().simulate(
            {k: v.cuda() for k, v in history.items()}, {k: v.cuda() for k, v in external.items()}
        )
    for part in ("inputs", "outputs"):
        for name, values in getattr(cpu, part).items():
            torch.testing.assert_close(getattr(gpu, part)[name].cpu(), values, rtol=1e-3, atol=1e-4)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_ddp_with_nccl_on_two_gpus(oscillator, tmp_path):
    import yaml

    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(_config().model_dump(mode="json")))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "learnsim", "train", str(path), "--run-dir", str(tmp_path / "ddp"), "--quiet"]  # fmt: skip
    subprocess.run(command, env=os.environ, check=True, timeout=600)
    assert (tmp_path / "ddp" / "report.json").is_file()


def test_free_runs_on_cuda_replay_a_cuda_graph_and_match_the_eager_step():
    from export.conftest import build

    from learnsim import capture
    from learnsim.simulate import rollout

    model = build("mlp", "angles").cuda()
    generator = torch.Generator().manual_seed(0)
    L, n_in = model.config.sequence_length, model.step.n_inputs
    series = (torch.rand(64, L + 200, n_in, generator=generator) * 6 - 3).cuda()
    with torch.no_grad():
        captured = rollout(model, series[:, :L], series, 200)
        runner = next(iter(capture._cache[model].values()))
        capture.set_capture(False)
        try:
            eager = rollout(model, series[:, :L], series, 200)
        finally:
            capture.set_capture(True)
    assert isinstance(runner, capture.CudaGraphStep)
    for got, want in zip(captured, eager, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_a_non_finite_loss_on_cuda_stops_before_the_next_checkpoint(oscillator, tmp_path, monkeypatch):
    """On CUDA the loss is checked where the loop waits for the GPU anyway (not every step): the run still
    stops, naming the steps since the last check, and keeps no checkpoint written after the bad step."""
    import learnsim.train.run as run_module
    from learnsim import TrainingError
    from learnsim.train import checkpoint, train

    real, calls = run_module.make_loss, {"n": 0}

    def poisoned(*args):
        fn = real(*args)

        def loss(prediction, target):
            calls["n"] += 1
            return fn(prediction, target) * (float("nan") if calls["n"] == 25 else 1.0)

        return loss

    monkeypatch.setattr(run_module, "make_loss", poisoned)
    options = {"eval_every": 20, "save_every": 20, "rollout": None, "checkpoint_type": "single_step"}
    with pytest.raises(TrainingError, match=r"non-finite training loss in steps 21-40\b.*step-00000020"):
        train(_config(**options), tmp_path / "run", monitor=False)
    kept = checkpoint.checkpoints(tmp_path / "run" / "checkpoints")
    assert [meta["step"] for _, meta in kept] == [20]
