"""examples/onnx_rollout.py runs on onnxruntime and numpy alone and matches learnsim's rollout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
EXAMPLE = Path(__file__).parents[2] / "examples" / "onnx_rollout.py"


def test_example_imports_neither_learnsim_nor_torch(stored_model, tmp_path):
    from learnsim.export import export_model

    (path,) = export_model("arm", tmp_path / "arm.onnx", "onnx")
    probe = (
        f"import json, runpy, sys; sys.argv = ['example', sys.argv[1], '--horizon', '20']; "
        f"runpy.run_path({str(EXAMPLE)!r}, run_name='__main__'); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'learnsim'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "simulated 4 x 20 steps of qdd1_pred, qdd2_pred" in result.stdout
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_example_rollout_matches_learnsim(stored_model, tmp_path):
    import runpy

    from learnsim.export import export_model
    from learnsim.simulate import rollout

    model, _ = stored_model
    (path,) = export_model("arm", tmp_path / "arm.onnx", "onnx")
    example = runpy.run_path(str(EXAMPLE))
    session, info = example["load"](str(path))
    L, H = info["sequence_length"], 200
    generator = torch.Generator().manual_seed(0)
    series = torch.rand(2, L + H, len(info["inputs"]), generator=generator) - 0.5
    external = [info["inputs"].index(n) for n in info["external_inputs"]]
    got = example["rollout"](session, info, series[:, :L].numpy(), series[:, L:, external].numpy())
    with torch.no_grad():
        expected = rollout(model, series[:, :L], series, H)[1].numpy()
    assert np.abs(got - expected).max() < 1e-5
