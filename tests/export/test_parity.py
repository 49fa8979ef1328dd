"""A 200-step rollout from onnxruntime (the step graph in a loop, and the rollout graph) and from TorchScript
matches learnsim's own rollout for every exportable family and every relation kind, angles included."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from export.conftest import CASES, SCHEMAS, build

from learnsim.export.step import ExportStep
from learnsim.export.torchscript import export_torchscript, load_torchscript
from learnsim.simulate import rollout

HORIZON = 200  # the step graph, driven in a loop
WHOLE = 25  # the unrolled rollout graph (its export time grows with the horizon)
RELATIVE = 1e-5  # float32 over 200 steps, relative to the largest value of the series compared


def assert_close(got, expected) -> None:
    """Within ``RELATIVE`` of the reference's own scale, which is not small (the models have trained-like
    normalisation, so an export that dropped the network or the scaling is far off)."""
    got, expected = torch.as_tensor(np.asarray(got)), torch.as_tensor(np.asarray(expected))
    scale = expected.abs().max().item()
    assert scale > 1e-3, f"a reference of scale {scale} cannot tell a wrong export from a right one"
    error = (got - expected).abs().max().item()
    assert error <= RELATIVE * scale, f"largest difference {error:.3g} against a scale of {scale:.3g}"


def reference(model, batch: int = 3, seed: int = 1):
    """(window, derived0, external (B, H, n_ext), learnsim's outputs (B, H, n_out), rows (B, H, n_in))."""
    generator = torch.Generator().manual_seed(seed)
    L, n_in = model.config.sequence_length, model.step.n_inputs
    # uniform in [-3, 3): angles start near +-pi, so wrapping is exercised
    series = torch.rand(batch, L + HORIZON, n_in, generator=generator) * 6 - 3
    derived = torch.randn(batch, model.step.n_derived, generator=generator) * 0.5
    external = [i for i, f in enumerate(model.schema.inputs) if f.parent is None]
    series[..., external] *= 0.1  # small drives: integrators (delta, derivative) stay within a few units
    with torch.no_grad():
        inputs, outputs = rollout(
            model, series[:, :L], series, HORIZON, derived if model.step.n_derived else None
        )
    return series[:, :L], derived, series[:, L:, external], outputs, inputs[:, L:]


@pytest.mark.parametrize(("family", "schema"), CASES, ids=[f"{f}-{s}" for f, s in CASES])
def test_torchscript_step_and_rollout_match(family, schema, tmp_path):
    model = build(family, schema)
    window, derived, external, outputs, rows = reference(model)
    step_path, rollout_path = export_torchscript(model, tmp_path / "m.pt", horizon=WHOLE)
    step, whole = load_torchscript(step_path), load_torchscript(rollout_path)
    state = (derived,) if model.step.n_derived else ()
    with torch.no_grad():
        simulated = []
        w = window
        for k in range(HORIZON):
            y, w, *more = step(w, *state, external[:, k])
            state = tuple(more)
            simulated.append(y)
        stepped = torch.stack(simulated, 1)
        all_outputs, all_rows = whole(
            window, *((derived,) if model.step.n_derived else ()), external[:, :WHOLE]
        )
    assert_close(stepped, outputs)
    assert_close(all_outputs, outputs[:, :WHOLE])
    assert_close(all_rows, rows[:, :WHOLE])


@pytest.mark.parametrize(("family", "schema"), CASES, ids=[f"{f}-{s}" for f, s in CASES])
def test_onnx_step_and_rollout_match(family, schema, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from learnsim.export.onnx import export_onnx

    model = build(family, schema)
    window, derived, external, outputs, rows = reference(model)
    step_path, rollout_path = export_onnx(model, tmp_path / "m.onnx", horizon=WHOLE)
    session = ort.InferenceSession(str(step_path), providers=["CPUExecutionProvider"])
    feeds = {"window": window.numpy()}
    if model.step.n_derived:
        feeds["derived"] = derived.numpy()
    simulated = []
    for k in range(HORIZON):
        result = session.run(None, feeds | {"external": external[:, k].numpy()})
        simulated.append(result[0])
        feeds["window"] = result[1]
        if model.step.n_derived:
            feeds["derived"] = result[2]
    assert_close(np.stack(simulated, 1), outputs)
    whole = ort.InferenceSession(str(rollout_path), providers=["CPUExecutionProvider"])
    feeds = {"window": window.numpy(), "external": external[:, :WHOLE].numpy()}
    if model.step.n_derived:
        feeds["derived"] = derived.numpy()
    all_outputs, all_rows = whole.run(None, feeds)
    assert_close(all_outputs, outputs[:, :WHOLE])
    assert_close(all_rows, rows[:, :WHOLE])


def test_the_step_module_is_simulate_exactly():
    model = build("mlp", "delta_equal_derived")
    window, derived, external, outputs, _ = reference(model)
    step = ExportStep(model)
    with torch.no_grad():
        y, w, d = step(window, derived, external[:, 0])
    assert torch.equal(y, outputs[:, 0])


def test_reference_runs_stay_bounded_and_wrap_angles():
    """The parity cases would prove little on runs that blow up or never cross +-pi."""
    for family, schema in CASES:
        model = build(family, schema)
        *_, outputs, rows = reference(model)
        assert outputs.abs().max() < 500 and rows.abs().max() < 500, (family, schema)  # integrators drift
    *_, rows = reference(build("mlp", "angles"))
    q1 = rows[..., 2]  # an angle state: it wraps, so consecutive rows jump by about 2 pi somewhere
    assert (q1.diff(dim=1).abs() > 5).any()


def test_a_state_space_model_is_refused_with_the_bundle_as_the_way_out():
    from learnsim.errors import ConfigError
    from learnsim.models import model_from_config, parse_model_config

    config = parse_model_config({"type": "ssm", **SCHEMAS["derivative"](), "dt": 0.01})
    with pytest.raises(ConfigError, match="latent state.*--format bundle"):
        ExportStep(model_from_config(config))
