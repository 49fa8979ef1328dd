"""What a model name means: a bare name is the version a search marked best when there is one (else the
newest), ``NAME@latest`` the newest, and every command that takes a name prints the version it resolved."""

from __future__ import annotations

import pytest
import torch
from helpers import onyx_config
from reliability.conftest import run_cli

from learnsim.store.models import load_model, model_meta, model_store, save_model


def _model(value: float):
    """A small MLP whose first parameter's first entry is ``value`` (so versions differ and can be told apart)."""
    from learnsim.models import model_from_config

    model = model_from_config(onyx_config(sequence_length=2, hidden_layers=1, hidden_size=4))
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = value
    return model


def _three_versions() -> list[str]:
    """Versions v0, v1, v2 of 'm' (in that order, v2 newest), distinguishable by ``_constant``."""
    return [save_model("m", _model(value))["version"] for value in (0.0, 1.0, 2.0)]


def _constant(model) -> float:
    return float(next(model.parameters()).detach().view(-1)[0])


def test_a_bare_name_is_the_newest_until_a_search_marks_a_best(isolated_home):
    versions = _three_versions()
    assert model_meta("m")["version"] == versions[2]
    assert _constant(load_model("m")) == 2.0
    model_store().set_alias("m", "best", versions[1])
    assert model_meta("m")["version"] == versions[1]  # the search's best, not the newest
    assert _constant(load_model("m")) == 1.0
    assert model_meta("m@latest")["version"] == versions[2]
    assert _constant(load_model("m@latest")) == 2.0
    assert model_meta(f"m@{versions[0][:6]}")["version"] == versions[0]


def test_the_same_weights_under_two_names_are_two_versions(isolated_home):
    model = _model(0.5)
    assert save_model("a", model)["version"] != save_model("b", model)["version"]
    assert save_model("a", model)["version"] == model_meta("a")["version"]  # still content-addressed per name


@pytest.mark.parametrize("command", ["export", "models show"])
def test_commands_print_the_version_they_resolved(command, isolated_home, tmp_path, capsys):
    versions = _three_versions()
    model_store().set_alias("m", "best", versions[0])
    argv = ["export", "m", "-o", str(tmp_path / "m.lsim")] if command == "export" else ["models", "show", "m"]
    code, out = run_cli(argv, capsys)
    assert code == 0, out
    assert f"model: m -> m@{versions[0]}  (marked best by a search" in out
    if command == "export":
        from learnsim.models.bundle import read_bundle

        assert read_bundle(tmp_path / "m.lsim")[1]["version"] == versions[0]
        code, out = run_cli(["export", "m@latest", "-o", str(tmp_path / "new.lsim")], capsys)
        assert f"model: m@latest -> m@{versions[2]}  (the newest version)" in out
        assert _constant(load_model(str(tmp_path / "new.lsim"))) == 2.0


def test_a_warm_start_by_bare_name_starts_from_the_best_version_and_says_so(isolated_home, tmp_path, capsys):
    import yaml
    from reliability.conftest import base_config

    from learnsim import example_dataset, save_dataset
    from learnsim.train import RunConfig, train

    save_dataset("osc", example_dataset("oscillator", episodes=4, steps=120, seed=1))
    first = train(RunConfig.model_validate(base_config()), tmp_path / "a", monitor=False)
    later = base_config()
    later["training"]["seed"] = 1
    second = train(RunConfig.model_validate(later), tmp_path / "b", monitor=False)
    assert first.model_version != second.model_version and model_meta("m")["version"] == second.model_version
    model_store().set_alias("m", "best", first.model_version)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(base_config() | {"model_name": "warm"}))
    code, out = run_cli(["train", str(path), "--warm-start", "m", "--quiet"], capsys)
    assert code == 0, out
    assert f"model: m -> m@{first.model_version}  (marked best by a search" in out


@pytest.mark.parametrize("argv", [["data", "list"], ["models", "list"], ["ui", "--port", "1"]])
def test_a_learnsim_home_that_is_a_file_is_named(argv, tmp_path, monkeypatch, capsys):
    home = tmp_path / "not-a-folder"
    home.write_text("a file")
    monkeypatch.setenv("LEARNSIM_HOME", str(home))
    code, out = run_cli(argv, capsys)
    assert code == 2 and f"LEARNSIM_HOME={home} is a file, not a folder" in out and "Traceback" not in out
    assert home.read_text() == "a file"
