"""Data-parallel training under torchrun with 2 CPU ranks (gloo), against 1 process on the same global batch:
the same loss curve, one set of files, a killed rank ends the job, and a resume is exact for 2 ranks and
refused for another world size."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from reliability.conftest import BASE_FEATURES
from reliability.test_kill_resume import TRAINING
from safetensors.torch import load_file

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")

CONFIG = {
    "dataset": "osc",
    "model": {"type": "mlp", "sequence_length": 4, "hidden_layers": 1, "hidden_size": 16} | BASE_FEATURES,
    # the kill-and-resume tests' schedule, with rollout training, history noise and EMA: the sharded draws
    # of starts and noise are covered
    "training": TRAINING
    | {"rollout": {"horizons": [1, 8], "start_iters": [0, 15], "noise_std": 0.1, "ema_decay": 0.9}},
}
LOSS_TOLERANCE = 1e-5  # relative; the per-rank means are averaged in another float order than one mean


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A store with the dataset, the run config, and the uninterrupted 1- and 2-rank runs."""
    root = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "LEARNSIM_HOME": str(root / "home"), "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    code = (
        "from learnsim import example_dataset, save_dataset; "
        "save_dataset('osc', example_dataset('oscillator', episodes=6, steps=120, seed=3))"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    config = root / "run.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    _run(env, [*LEARNSIM, str(config), "--run-dir", str(root / "one"), "--quiet"])
    _run(env, [*torchrun(2), str(config), "--run-dir", str(root / "two"), "--quiet"])
    return root, env, config


LEARNSIM = [sys.executable, "-m", "learnsim", "train"]


def torchrun(ranks: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}",
            "-m", "learnsim", "train"]  # fmt: skip


def _run(env, command, check=True):
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if check and done.returncode:
        raise AssertionError(f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def _losses(run: Path) -> dict[int, float]:
    lines = (json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines())
    return {r["step"]: r["train/loss"] for r in lines if "train/loss" in r}


def test_two_ranks_follow_the_one_rank_loss_curve(setup):
    root, _, _ = setup
    one, two = _losses(root / "one"), _losses(root / "two")
    assert sorted(one) == sorted(two) == list(range(5, 61, 5))
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=LOSS_TOLERANCE), step
    # the recipe weights the oscillator's rollout steps by their logs (balanced): training lowers the loss by
    # a difference (26.1 -> 23.0 when written), a factor e on the errors' geometric mean
    assert one[60] < one[5] - 1.0, "the runs compared actually trained"


def test_an_ensemble_trains_the_same_on_two_ranks(setup):
    # each member must learn from the same rows of the global batch whichever rank holds them
    root, env, _ = setup
    config = root / "ensemble.yaml"
    config.write_text(yaml.safe_dump(CONFIG | {"model": CONFIG["model"] | {"members": 3}}))
    _run(env, [*LEARNSIM, str(config), "--run-dir", str(root / "ens-one"), "--quiet"])
    _run(env, [*torchrun(2), str(config), "--run-dir", str(root / "ens-two"), "--quiet"])
    one, two = _losses(root / "ens-one"), _losses(root / "ens-two")
    assert sorted(one) == sorted(two) == list(range(5, 61, 5))
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=LOSS_TOLERANCE), step
    assert one != _losses(root / "one"), "three members train otherwise than one"


def test_only_rank_zero_writes_one_set_of_files(setup):
    root, _, _ = setup
    run = root / "two"
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in (root / "one").iterdir())
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-00000060"]
    report = json.loads((run / "report.json").read_text())
    versions = list((root / "home" / "models" / "model").iterdir())
    # one per run (the 1-rank run's and the 2-rank run's; one when both stored the same content, the linear
    # fit of train.candidates), and none from rank 1
    one = json.loads((root / "one" / "report.json").read_text())["model"]["version"]
    assert {v.name for v in versions} == {one, report["model"]["version"]}
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len({r["step"] for r in records if "train/loss" in r}) == len(
        [r for r in records if "train/loss" in r]
    ), "each step logged once, by rank 0"


def _rank_pid(parent: int, rank: int, deadline: float) -> int:
    """The pid of the torchrun worker with RANK=rank under ``parent``."""
    while time.time() < deadline:
        for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
            try:
                environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"RANK={rank}".encode() in environ:
                return int(child)
        time.sleep(0.01)
    raise AssertionError(f"no rank {rank} worker appeared")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc to find a rank's process")
def test_a_killed_rank_ends_the_job_and_the_run_resumes_exactly(setup):
    root, env, config = setup
    killed = root / "killed"
    models_before = len(list((root / "home" / "models" / "model").iterdir()))
    job = subprocess.Popen(
        [*torchrun(2), str(config), "--run-dir", str(killed), "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    rank1 = _rank_pid(job.pid, 1, time.time() + 60)
    deadline = time.time() + 120
    while not (killed / "checkpoints" / "step-00000020").exists() and time.time() < deadline:
        time.sleep(0.002)
    os.kill(rank1, signal.SIGKILL)
    began = time.time()
    output, _ = job.communicate(timeout=120)  # no hang: the job ends on its own
    assert job.returncode != 0
    assert time.time() - began < 60
    assert "rank" in output and "SIGKILL" in output, output[-2000:]
    assert not (killed / "report.json").exists()
    assert len(list((root / "home" / "models" / "model").iterdir())) == models_before

    refused = _run(env, [*LEARNSIM, "--resume", str(killed), "--quiet"], check=False)
    assert refused.returncode == 2
    assert "trained with 2 process(es)" in refused.stderr and "resumed with 1" in refused.stderr

    _run(env, [*torchrun(2), "--resume", str(killed), "--quiet"])
    final = Path("checkpoints") / "step-00000060"
    a, b = (load_file(str(run / final / "model.safetensors")) for run in (root / "two", killed))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _losses(root / "two") == _losses(killed)


def test_rank_shares_partition_the_global_batch_and_average_to_its_loss(tmp_path):
    """Each rank's share is disjoint, together they are the global batch, and the mean of the ranks' rollout
    losses (history noise included) is the one-process loss of the whole batch."""
    from learnsim import example_dataset, save_dataset
    from learnsim.config_io import validate
    from learnsim.train.config import RunConfig
    from learnsim.train.distributed import Shard
    from learnsim.train.rollout import history_noise, rollout_loss
    from learnsim.train.run import build_run

    rows = torch.arange(12)
    shares = [Shard(rank, 3).take(rows) for rank in range(3)]
    assert sorted(torch.cat(shares).tolist()) == rows.tolist() and all(len(s) == 4 for s in shares)
    assert Shard(0, 3).global_count(10) == 12 and Shard().global_count(10) == 10

    save_dataset("osc", example_dataset("oscillator", episodes=6, steps=120, seed=3))
    # uniform weighting: the mean over steps of per-rank means is linear in the rows (balanced weighting
    # needs the ranks' collective, see the next test)
    rollout = {"noise_std": 0.1, "weighting": "uniform"}
    config = validate(RunConfig, CONFIG | {"training": CONFIG["training"] | {"rollout": rollout}})
    run = build_run(config, tmp_path / "run")
    tc = run.config.training
    starts = run.sampler.sample(8, 16, run.generator)
    noise = history_noise(run.model, tc.rollout, 16, run.generator, run.device)  # (16, L, n_states)

    def loss(shard):
        return rollout_loss(
            run.model, run.data, run.targets, starts, 8, tc.rollout, noise, tc.loss, shard
        ).item()

    whole = loss(Shard())
    halves = [loss(Shard(rank, 2)) for rank in range(2)]
    assert halves[0] != pytest.approx(halves[1], rel=1e-3), "the ranks train on different rows"
    assert (halves[0] + halves[1]) / 2 == pytest.approx(whole, rel=1e-5)


def test_balanced_weighting_over_ranks_has_the_whole_batch_value_and_gradient(monkeypatch):
    """The log of the global mean is not the mean of the ranks' logs; each rank's first-order share is, in
    value and in gradient (the 2-rank loss-curve test runs it through the real collective)."""
    from learnsim.train import distributed
    from learnsim.train.distributed import Shard
    from learnsim.train.rollout import balanced

    w = torch.tensor([0.3, 2.0, 0.01], requires_grad=True)
    parts = [w * torch.tensor([1.0, 3.0, 0.5]), w * torch.tensor([2.0, 1.0, 4.0])]  # 2 ranks' (H,) losses
    whole = (parts[0] + parts[1]) / 2
    monkeypatch.setattr(distributed, "global_mean", lambda shard, value: whole.detach())
    averaged = sum(balanced(part, Shard(rank, 2)).mean() for rank, part in enumerate(parts)) / 2
    expected = balanced(whole).mean()
    assert averaged.item() == pytest.approx(expected.item(), rel=1e-6)
    (got,) = torch.autograd.grad(averaged, [w], retain_graph=True)
    (want,) = torch.autograd.grad(expected, [w])
    assert torch.allclose(got, want, rtol=1e-5)
    naive = sum(balanced(part).mean() for part in parts) / 2
    assert naive.item() != pytest.approx(expected.item(), rel=1e-2), "the per-rank logs would differ"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "variables, words",
    [
        ({"WORLD_SIZE": "two"}, ["WORLD_SIZE='two' is not a whole number"]),
        ({"WORLD_SIZE": "2"}, ["RANK is not set"]),
        ({"WORLD_SIZE": "2", "RANK": "5"}, ["RANK=5 is not below WORLD_SIZE=2"]),
        ({"WORLD_SIZE": "2", "RANK": "0"}, ["MASTER_ADDR and MASTER_PORT is not set"]),
        ({"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "PORT",
          "LEARNSIM_DIST_TIMEOUT": "3"}, ["could not join the process group", "within 3 s"]),
    ],
)  # fmt: skip
def test_a_half_set_distributed_environment_is_one_line_naming_the_variable(
    variables, words, setup, tmp_path
):
    """Checked before any process group is joined (torch's own errors and C++ traces never reach the user);
    a group that cannot be joined says where it waited. Nothing is written."""
    root, base, config = setup
    env = {**base, **{k: v.replace("PORT", str(_free_port())) for k, v in variables.items()}}
    home = Path(env["LEARNSIM_HOME"])
    before = sorted(p.name for p in (home / "runs").iterdir()) if (home / "runs").is_dir() else []
    done = subprocess.run(
        [*LEARNSIM, str(config), "--quiet"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "terminate called" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 3, done.stderr
    after = sorted(p.name for p in (home / "runs").iterdir()) if (home / "runs").is_dir() else []
    assert after == before
