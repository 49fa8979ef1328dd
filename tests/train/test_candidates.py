"""The linear fit is a candidate of checkpoint selection: a network that never free-runs the validation data
better than it is not stored in its place."""

import json

import pytest
import torch

from learnsim import MLPConfig, example_dataset, example_features, save_dataset
from learnsim.train import RunConfig, TrainingConfig, resume, train


def _config(
    iters: int, system: str = "pendulum", activation: str | None = None, members: int = 1, **training
) -> RunConfig:
    fields = {"members": members} | ({"activation": activation} if activation else {})
    model = MLPConfig(**example_features(system), **fields)
    fields = {"training_iters": iters, "eval_every": 2, "trackers": [], "seed": 0} | training
    return RunConfig(dataset=system, model_name="m", model=model, training=TrainingConfig(**fields))


@pytest.fixture
def oscillator(isolated_home):
    # the pendulum is nearly linear at its excitation (the linear fit free-runs it well); the Duffing
    # oscillator is not
    for system in ("pendulum", "oscillator"):
        save_dataset(system, example_dataset(system, episodes=6, steps=120))


def test_an_untrained_network_loses_to_the_linear_fit_which_is_stored(tmp_path, oscillator):
    # 2 steps from a random start: the network free-runs far worse than the linear fit, at every horizon
    result = train(_config(2, members=3), tmp_path / "run", monitor=False)
    report = json.loads((result.run_dir / "report.json").read_text())
    meta = json.loads((result.run_dir / "candidates" / "linear" / "meta.json").read_text())
    assert report["best_candidate"] == "linear" and report["best_step"] == 0
    assert report["selection"]["value"] == meta["metric"]
    checkpoint_metrics = [
        json.loads(p.read_text())["metric"] for p in (result.run_dir / "checkpoints").glob("step-*/meta.json")
    ]
    assert checkpoint_metrics and meta["metric"] < min(checkpoint_metrics)
    assert report["validation"]["val/nrmse@full"] == pytest.approx(meta["val/nrmse@full"])
    # the stored network is the linear fit: its hidden layers contribute nothing; one MLP, where the run
    # trained an ensemble of 3 (the mean of three copies of one map is that map)
    saved = (result.run_dir / "config.yaml").read_text()
    assert "members: 3" in saved and result.model.config.members == 1
    network = result.model.network
    assert torch.count_nonzero(network.layers[-1].weight) == 0
    window = torch.randn(3, result.model.config.sequence_length, len(result.model.config.inputs))
    codes = result.model.encode_window(window).flatten(1)
    expected = network.skip(codes) + network.layers[-1].bias
    assert torch.allclose(network(result.model.encode_window(window)), expected, atol=1e-6)
    # the validation at step 0 is logged beside the checkpoints' and reported as the best one's
    logged = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any(r["step"] == 0 and "val/rollout_score" in r for r in logged)
    assert report["validation"]["val/rollout_score"] == pytest.approx(meta["metric"])
    # every surface says the linear fit was stored, and why, with both candidates' scores
    scores = report["candidates"]
    assert scores["linear"]["selection"] == meta["metric"] and scores["network"]["step"] > 0
    assert scores["network"]["selection"] == min(checkpoint_metrics)
    assert report["stored"].startswith("stored the LINEAR FIT, not the network")
    assert (
        f"{meta['metric']:.4g}" in report["stored"] and f"{min(checkpoint_metrics):.4g}" in report["stored"]
    )
    from learnsim.store.models import model_meta

    lineage = model_meta("m")["lineage"]
    assert lineage["candidate"] == "linear" and lineage["candidates"] == scores


def test_models_list_show_and_the_web_app_name_the_stored_linear_fit(isolated_home, oscillator, capsys):
    from reliability.conftest import run_cli

    train(_config(2), isolated_home / "runs" / "r", monitor=False)
    code, listed = run_cli(["models", "list"], capsys)
    assert code == 0 and "mlp (linear fit)" in listed
    code, shown = run_cli(["models", "show", "m"], capsys)
    assert code == 0 and "family=mlp (linear fit)" in shown and "stored the LINEAR FIT" in shown
    pytest.importorskip("starlette")
    from learnsim.ui import catalog

    run = catalog.run_detail("r")
    assert run["checkpoints"][0]["name"] == "linear fit" and run["report"]["best_candidate"] == "linear"
    model = catalog.model_detail("m", None)
    assert model["stored"].startswith("stored the LINEAR FIT") and model["run"] == "r"


def test_a_trained_network_that_beats_the_linear_fit_is_stored(tmp_path, oscillator):
    # SiLU: smooth like the Duffing spring, it beats the linear fit within 300 steps on this little data
    # (0.0054 vs 0.029 when written; the recipe's silu_relu needs more steps: 0.037)
    result = train(_config(300, "oscillator", "silu", eval_every=100), tmp_path / "run", monitor=False)
    report = json.loads((result.run_dir / "report.json").read_text())
    meta = json.loads((result.run_dir / "candidates" / "linear" / "meta.json").read_text())
    assert report["best_candidate"] is None and report["best_step"] > 0
    assert report["selection"]["value"] < meta["metric"]
    assert report["validation"]["val/nrmse@full"] < meta["val/nrmse@full"]


def test_one_step_selection_and_warm_starts_have_no_candidate(tmp_path, oscillator):
    single = train(_config(2, checkpoint_type="single_step"), tmp_path / "single", monitor=False)
    assert not (single.run_dir / "candidates").exists()
    warm = train(_config(2), tmp_path / "warm", warm_start=f"m@{single.model_version}", monitor=False)
    assert not (warm.run_dir / "candidates").exists()


def test_a_resumed_run_keeps_the_candidate_it_started_with(tmp_path, oscillator):
    run_dir = tmp_path / "run"
    first = train(_config(4, save_every=2), run_dir, monitor=False)
    before = (run_dir / "candidates" / "linear" / "model.safetensors").read_bytes()
    (run_dir / "report.json").unlink()  # as if killed before finishing
    resumed = resume(run_dir, overrides=["training.training_iters=6"], monitor=False)
    assert (run_dir / "candidates" / "linear" / "model.safetensors").read_bytes() == before
    assert json.loads((resumed.run_dir / "report.json").read_text())["best_candidate"] == "linear"
    assert first.model_version == resumed.model_version  # the same linear fit, the same stored content


def test_the_candidate_must_also_free_run_the_whole_validation_data_better():
    from learnsim.train.candidates import replaces

    candidate = {"metric": 0.05, "val/nrmse@full": 1.5}
    assert replaces(candidate, {"metric": 0.10}, {"val/nrmse@full": 1.6})
    # a better selection metric won by one-step accuracy alone, with a worse long free run: kept out
    assert not replaces(candidate, {"metric": 0.10}, {"val/nrmse@full": 1.4})
    assert not replaces(candidate, {"metric": 0.04}, {"val/nrmse@full": 9.0})
    assert replaces(candidate, {"metric": None}, {})  # no checkpoint was scored


def test_a_damaged_candidate_is_a_named_error_with_the_way_out(tmp_path, oscillator):
    from learnsim.errors import FileCorruptError

    run_dir = tmp_path / "run"
    train(_config(4, save_every=2), run_dir, monitor=False)
    (run_dir / "report.json").unlink()
    (run_dir / "candidates" / "linear" / "meta.json").write_text("{bad")
    with pytest.raises(FileCorruptError, match=r"candidates/linear/meta.json.*delete .*candidates/linear"):
        resume(run_dir, monitor=False)


def test_a_stored_model_worse_than_holding_the_last_state_is_said_loudly_everywhere(
    isolated_home, oscillator, capsys, monkeypatch
):
    """A model whose whole-episode validation free run loses to holding the last state (made so here: the
    final check's model score is raised to 10x the baseline's, since a model that bad is hard to train on
    purpose) is said so by the console, report.json, the model's lineage, models list/show and the web app."""
    from reliability.conftest import run_cli

    from learnsim.train import finish

    real = finish.split_metrics

    def worse(*args):
        metrics = real(*args)
        if "val/hold/nrmse@full" in metrics:
            metrics["val/nrmse@full"] = 10 * metrics["val/hold/nrmse@full"]
        return metrics

    monkeypatch.setattr(finish, "split_metrics", worse)
    result = train(_config(2, "oscillator"), isolated_home / "runs" / "r", monitor=True)
    printed = capsys.readouterr().out
    (warning,) = result.report["warnings"]
    assert "worse than holding the last state" in warning and f"WARNING: {warning}" in printed
    from learnsim.store.models import model_meta

    assert model_meta("m")["lineage"]["warnings"] == [warning]
    code, listed = run_cli(["models", "list"], capsys)
    assert code == 0 and "WORSE THAN HOLDING" in listed
    code, shown = run_cli(["models", "show", "m"], capsys)
    assert f"WARNING: {warning}" in shown
    pytest.importorskip("starlette")
    from learnsim.ui import catalog

    assert [o["status"] for o in catalog.objects(include_studies=False) if o["type"] == "model"] == [
        "worse than holding"
    ]
    assert catalog.run_detail("r")["report"]["warnings"] == [warning]
    monkeypatch.setattr(finish, "split_metrics", real)  # as measured: a model that simulates carries none
    assert (
        train(_config(2, "oscillator"), isolated_home / "runs" / "g", monitor=False).report["warnings"] == []
    )
