"""Captured free-run steps (``learnsim.capture``): the same numbers as the eager step for every window family
and relation kind, reused across calls while weights change in place, never used where they should not be,
and a clean fallback with one notice where capture fails or disagrees."""

from __future__ import annotations

import warnings

import pytest
import torch
from export.conftest import CASES, SCHEMAS, build

from learnsim import capture
from learnsim.simulate import SMALL_BATCH, rollout

HORIZON = 120  # above capture.MIN_STEPS


def inputs(model, batch: int = 3, horizon: int = HORIZON, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    L, n_in = model.config.sequence_length, model.step.n_inputs
    series = torch.rand(batch, L + horizon, n_in, generator=generator) * 6 - 3  # angles near +-pi: wrapping
    derived = torch.randn(batch, model.step.n_derived, generator=generator) * 0.5
    return series[:, :L], series, horizon, derived if model.step.n_derived else None


def eager_and_captured(model, args):
    with torch.no_grad():
        capture.set_capture(False)
        try:
            eager = rollout(model, *args)
        finally:
            capture.set_capture(True)
        captured = rollout(model, *args)
    return eager, captured


@pytest.fixture(autouse=True)
def _capture_on():
    capture.set_capture(True)
    yield
    capture.set_capture(True)


@pytest.mark.parametrize(("family", "schema"), CASES, ids=[f"{f}-{s}" for f, s in CASES])
def test_captured_rollout_equals_the_eager_rollout(family, schema):
    model = build(family, schema)
    with torch.no_grad():  # larger weights than the export tests': the free run moves
        for parameter in model.network.parameters():
            parameter.mul_(30.0)
    (eager_in, eager_out), (cap_in, cap_out) = eager_and_captured(model, inputs(model))
    assert len(capture._cache[model]) == 1  # it was captured, not run eagerly twice
    assert eager_out.abs().max() > 1e-3  # a non-trivial free run
    torch.testing.assert_close(cap_out, eager_out, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(cap_in, eager_in, rtol=1e-6, atol=1e-6)


def test_a_capture_is_reused_and_follows_weights_updated_in_place():
    model = build("mlp", "derivative")
    args = inputs(model)
    with torch.no_grad():
        first = rollout(model, *args)[1]
        runner = next(iter(capture._cache[model].values()))
        for parameter in model.network.parameters():  # what an optimizer step does
            parameter.add_(0.05)
        second = rollout(model, *args)[1]
    assert next(iter(capture._cache[model].values())) is runner
    capture.set_capture(False)
    with torch.no_grad():
        expected = rollout(model, *args)[1]
    assert not torch.equal(first, second)
    torch.testing.assert_close(second, expected, rtol=1e-6, atol=1e-6)


def test_on_cpu_the_whole_free_run_is_one_scripted_call_with_the_per_step_numbers():
    model = build("mlp", "delta_equal_derived")  # derived outputs too
    args = inputs(model)
    with torch.no_grad():
        whole = rollout(model, *args)
        runner = next(iter(capture._cache[model].values()))
        assert isinstance(runner, capture.ScriptedStep) and runner.loop is not None
        calls = []
        loop, runner.loop = runner.loop, lambda *a: calls.append(1) or loop(*a)
        rollout(model, *args)
        assert calls == [1]  # one call for all HORIZON steps
        runner.loop = None  # what a torch whose scripting fails gets: the traced step, called per step
        per_step = rollout(model, *args)
    torch.testing.assert_close(whole, per_step, rtol=0, atol=0)


def test_when_scripting_the_loop_fails_the_traced_step_runs_per_step_without_a_notice(monkeypatch):
    model = build("mlp", "derivative")

    def broken(*args, **kwargs):
        raise RuntimeError("no scripting here")

    monkeypatch.setattr(torch.jit, "script", broken)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the step is still captured: nothing to tell the user
        eager, captured = eager_and_captured(model, inputs(model))
    runner = next(iter(capture._cache[model].values()))
    assert isinstance(runner, capture.ScriptedStep) and runner.loop is None
    torch.testing.assert_close(captured, eager, rtol=1e-6, atol=1e-6)


def test_no_capture_with_gradients_in_training_mode_for_short_runs_or_when_turned_off():
    model = build("mlp", "derivative")
    window, series, _, derived = inputs(model)
    rollout(model, window, series, HORIZON, derived)  # gradients on
    with torch.no_grad():
        rollout(model, window, series, capture.MIN_STEPS - 1, derived)
        model.train()
        rollout(model, window, series, HORIZON, derived)
        model.eval()
        capture.set_capture(False)
        rollout(model, window, series, HORIZON, derived)
    assert not capture._cache.get(model)
    capture.set_capture(True)
    with torch.no_grad():
        rollout(model, window, series, HORIZON, derived)
        rollout(model, window, series, 5, derived)  # short, but the capture for this shape exists: used
    assert len(capture._cache[model]) == 1


def test_a_state_space_model_runs_eagerly():
    from learnsim.models import model_from_config, parse_model_config

    config = parse_model_config(
        {"type": "ssm", **SCHEMAS["derivative"](), "dt": 0.01, "sequence_length": 6, "state_size": 4}
    )
    model = model_from_config(config).eval()
    with torch.no_grad():
        rollout(model, *inputs(model))
    assert not capture._cache.get(model)


def test_a_failed_capture_falls_back_with_one_notice(monkeypatch):
    model = build("mlp", "angles")

    def broken(*args, **kwargs):
        raise RuntimeError("no tracing here")

    monkeypatch.setattr(torch.jit, "trace", broken)
    args = inputs(model)
    with pytest.warns(RuntimeWarning, match="run uncaptured: tracing failed .RuntimeError: no tracing here"):
        eager, captured = eager_and_captured(model, args)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once per model
        with torch.no_grad():
            rollout(model, *inputs(model, batch=5))
    torch.testing.assert_close(captured, eager, rtol=0, atol=0)


def test_a_capture_that_disagrees_is_not_used(monkeypatch):
    model = build("mlp", "derivative")
    real = torch.jit.trace

    def off_by_one(body, args, **kwargs):
        traced = real(body, args, **kwargs)
        return lambda *a: tuple(t + 1 for t in traced(*a))

    monkeypatch.setattr(torch.jit, "trace", off_by_one)
    with pytest.warns(RuntimeWarning, match="disagreed with the eager step"):
        eager, captured = eager_and_captured(model, inputs(model))
    torch.testing.assert_close(captured, eager, rtol=0, atol=0)


class ThreadProbe(torch.nn.Module):
    """A network that records how many intra-op threads its forward ran with."""

    def __init__(self, n_out: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(n_out))
        self.seen: list[int] = []

    def forward(self, z):
        self.seen.append(torch.get_num_threads())
        return self.weight.expand(z.shape[0], -1)


def test_a_large_cpu_batch_runs_in_chunks_side_by_side_with_the_same_numbers(monkeypatch):
    model = build("mlp", "delta_equal_derived")
    args = inputs(model, batch=2 * capture.MIN_CHUNK)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch.no_grad():
            split = rollout(model, *args)
            runner = next(iter(capture._cache[model].values()))
            seen, scripted = [], runner.split
            runner.split = lambda *a: seen.append((a[-1], torch.get_num_threads())) or scripted(*a)
            assert torch.equal(rollout(model, *args)[1], split[1])
            assert seen == [(2, 1)]  # two chunks, each on one intra-op thread
            assert torch.get_num_threads() == 2  # restored
            monkeypatch.setattr(capture, "MIN_CHUNK", 10**9)
            whole = rollout(model, *args)
            assert len(seen) == 1  # one loop over the whole batch
    finally:
        torch.set_num_threads(threads)
    torch.testing.assert_close(split, whole, rtol=0, atol=0)


@pytest.mark.skipif(torch.get_num_threads() < 2, reason="needs 2 intra-op threads to tell 1 from 2")
def test_small_no_grad_free_runs_use_one_thread_and_restore_the_setting():
    from helpers import onyx_config

    from learnsim.models import SimulatorModel

    model = SimulatorModel(onyx_config(sequence_length=4), ThreadProbe(1)).eval()
    threads = torch.get_num_threads()
    capture.set_capture(False)  # the probe must run in Python to see the setting
    for batch, grad, expected in ((4, False, 1), (SMALL_BATCH + 1, False, threads), (4, True, threads)):
        model.network.seen.clear()
        window, series, horizon, _ = inputs(model, batch=batch, horizon=10)
        with torch.set_grad_enabled(grad):
            rollout(model, window, series, horizon)
        assert set(model.network.seen) == {expected}, (batch, grad)
        assert torch.get_num_threads() == threads


def test_a_compiled_step_matches_the_eager_step_to_float_tolerance(monkeypatch):
    """simulate(compile=True): the step through torch.compile (inductor fuses kernels, so float rounding may
    differ slightly), checked against the eager step when compiled and cached like a trace."""
    from helpers import onyx_config

    from learnsim import model_from_config

    torch.manual_seed(0)
    model = model_from_config(onyx_config(hidden_layers=1, hidden_size=16)).eval()
    L = model.config.sequence_length
    x0 = {"velocity": torch.randn(4, L, 1), "position": torch.randn(4, L, 1)}
    external = {"control_input": torch.randn(4, L + 30, 1)}
    compiled = model.simulate(x0, external, compile=True)
    capture.set_capture(False)
    eager = model.simulate(x0, external)
    capture.set_capture(True)
    assert [key[0] for key in capture._cache[model]] == [True]  # compiled although only 30 steps long
    for name in ("velocity", "position"):
        torch.testing.assert_close(compiled.inputs[name], eager.inputs[name], rtol=1e-5, atol=1e-5)
