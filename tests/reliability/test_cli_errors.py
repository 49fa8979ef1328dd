"""What the CLI does with damaged store entries and with its own bugs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from files import model_dir, unfinished_run
from reliability.conftest import run_cli, snapshot


def test_models_list_reports_a_damaged_entry_in_its_row(home, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # one table row per line
    (home / "models" / "m2" / "0123456789abcdef").mkdir(parents=True)
    (home / "models" / "m2" / "0123456789abcdef" / "meta.json").write_text("{broken")
    code, output = run_cli(["models", "list"], capsys)
    assert code == 0, output
    assert model_dir(home).name in output  # the healthy model is still listed
    assert "damaged" in output and "m2" in output


def test_data_list_reports_a_damaged_entry_in_its_row(home, capsys):
    (home / "datasets" / "other" / "0123456789abcdef").mkdir(parents=True)
    (home / "datasets" / "other" / "0123456789abcdef" / "meta.json").write_text("[]")
    code, output = run_cli(["data", "list"], capsys)
    assert code == 0, output
    assert "osc" in output and "damaged" in output and "other" in output


def test_an_internal_error_exits_1_with_a_log_file_and_no_traceback(home, capsys, monkeypatch, tmp_path):
    import learnsim.store.models

    def broken():
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(learnsim.store.models, "list_models", broken)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    code, output = run_cli(["models", "list"], capsys)
    assert code == 1
    assert "Traceback" not in output and "bug in learnsim" in output and "ZeroDivisionError: boom" in output
    (log,) = tmp_path.glob("learnsim-crash-*.log")
    assert str(log) in output
    text = log.read_text()
    assert "Traceback" in text and "ZeroDivisionError: boom" in text and "models list" in text


def test_learnsim_debug_lets_the_traceback_through(home, capsys, monkeypatch):
    monkeypatch.setenv("LEARNSIM_DEBUG", "1")
    from learnsim.errors import StoreError

    with pytest.raises(StoreError, match="ghost"):
        run_cli(["models", "show", "ghost"], capsys)


def test_a_real_process_prints_one_paragraph(home, tmp_path):
    """The installed entry point, not an in-process call: exit 2, one error line, nothing written."""
    config = tmp_path / "run.yaml"
    config.write_text("- a list\n")
    before = snapshot(home)
    env = {**os.environ, "LEARNSIM_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "learnsim", "train", str(config)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "run.yaml" in done.stderr and "Traceback" not in done.stderr
    assert snapshot(home) == before


def test_resume_may_extend_training_and_then_resumes_again(home, capsys):
    run = unfinished_run(home)
    (run / "config.yaml").read_text()
    code, output = run_cli(
        ["train", "--resume", str(run), "--set", "training.training_iters=6", "--quiet"], capsys
    )
    assert code == 0, output
    assert "training_iters: 6" in (run / "config.yaml").read_text()
    steps = sorted(p.name for p in (run / "checkpoints").glob("step-*"))
    assert steps[-1] == "step-00000006"
    code, output = run_cli(["train", "--resume", str(run), "--quiet"], capsys)
    assert code == 2 and "already finished" in output
