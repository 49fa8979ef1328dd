"""Captured simulation steps: one no-grad free-run step run as a TorchScript graph, and on CUDA replayed as a
CUDA graph, instead of op by op from Python.

A free run of the small models this field uses is bound by per-step overhead (Python, module calls, the
dispatcher, kernel launches), not by arithmetic: at batch 1 the MLP's kernels are a fraction of the step.
A traced step costs one graph call; a CUDA graph replays all of its kernels with one launch. On CPU the whole
free run is one TorchScript call too (``ScriptedStep.loop``: the loop over steps runs in C++, without
Python between steps).

A large batch on CPU is split into one chunk per intra-op thread, whose free runs go side by side
(``torch.jit.fork`` onto the inter-op threads) with one intra-op thread each: on 2 cores at batch 1024 that
ran 1.6x faster than one loop whose every op is split across two OpenMP threads (4.65M vs 2.94M steps*B/s),
and it gives the same rows bitwise. Measured and avoided: forking while two intra-op threads are allowed gave
the inter-op threads OpenMP teams of their own, and every later multi-threaded op in the process ran 2.4x
slower (more OpenMP threads than cores); with one intra-op thread during the fork no team is made.

Both are specific to the input shapes and to the model's tensors, so they are cached per model under a key of
shapes, dtype, device and the storage of every parameter and buffer (weights updated in place, as an
optimizer does, are read by the captured step; replaced storage, as after ``.to()``, is captured again).
Each capture is checked against the eager step on its first inputs. Where capture is impossible (tracing
fails, a torch without TorchScript, no CUDA device for a graph) or disagrees, the rollout runs eagerly and
says so once per model in one line.

``LEARNSIM_CAPTURE=0`` (or ``set_capture(False)``) turns capture off; steps with gradients, models in training
mode and rollouts inside ``torch.compile`` always run eagerly.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

# A capture (trace and check) costs about as much as 300 eager steps of the example MLP; shorter free runs
# only use a capture that is already cached.
MIN_STEPS = 64
# Captures kept per model (one per batch size and dtype in use, typically one or two).
CACHE_SIZE = 8
# Fewest rows per chunk when a captured CPU free run is split into chunks run side by side (so batches of
# 2 * MIN_CHUNK and more are split). On 2 cores, 2 chunks gain 1.2x at batch 128 and 1.6-1.7x from 256; from
# 128 rows a chunk gives the same rows bitwise as the whole batch (a 1-row chunk does not: other kernels).
MIN_CHUNK = 128
# Largest relative difference allowed between the captured and the eager step's outputs. Both run the same
# kernels on CPU (measured difference 0); on CUDA a graph replays the traced kernels, so the same holds.
TOLERANCE = 1e-5

_enabled = os.environ.get("LEARNSIM_CAPTURE", "1") != "0"
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> OrderedDict[key, runner | None]
_noticed: weakref.WeakSet = weakref.WeakSet()
_lock = threading.Lock()


def set_capture(enabled: bool) -> None:
    """Turn captured steps on or off for this process (default: on unless LEARNSIM_CAPTURE=0)."""
    global _enabled
    _enabled = bool(enabled)


def step_runner(
    model, body: torch.nn.Module, args: tuple[torch.Tensor, ...], steps: int, compile: bool = False
) -> Callable:
    """The callable a free run of ``steps`` steps should call for ``body(*args)``: a cached or new capture
    where it is allowed and pays, else ``body`` itself. ``args`` are the first step's inputs (not modified).
    ``compile``: capture with ``torch.compile`` (inductor: fused kernels, seconds to compile once per model
    and shape) instead of TorchScript; it pays for large batches and long or repeated free runs."""
    if not _enabled or torch.is_grad_enabled() or model.training or torch.compiler.is_compiling():
        return body
    key = (compile, *_key(model, args))
    with _lock:  # free runs may come from several threads (the web app serves simulations from a pool)
        captures = _cache.setdefault(model, OrderedDict())
        if key in captures:
            captures.move_to_end(key)
            cached = captures[key]  # None: this shape could not be captured
            return body if cached is None else cached
    if steps < MIN_STEPS and not compile:
        return body
    runner, problem = _capture(body, args, compile)
    if problem is not None:
        _notice(model, problem)
    with _lock:
        captures[key] = runner
        while len(captures) > CACHE_SIZE:
            captures.popitem(last=False)
    return body if runner is None else runner


def _key(model, args: tuple[torch.Tensor, ...]) -> tuple:
    tensors = [*model.parameters(), *model.buffers()]
    return (
        tuple((tuple(a.shape), a.dtype, a.device) for a in args),
        tuple((t.data_ptr(), t.dtype, t.device) for t in tensors),
    )


def _capture(
    body: torch.nn.Module, args: tuple[torch.Tensor, ...], compile: bool = False
) -> tuple[Callable | None, str | None]:
    """(runner, None), or (None, why not) when the step cannot be captured faithfully."""
    what = "compiling" if compile else "tracing"
    try:
        with warnings.catch_warnings():  # TorchScript's deprecation and tracer warnings are not the user's
            warnings.simplefilter("ignore")
            if compile:
                runner = torch.compile(body, dynamic=False)
                runner(*args)  # compiles now, so that a failure falls back here and not mid-run
            else:
                runner = torch.jit.trace(body, args, check_trace=False)
    except Exception as error:  # noqa: BLE001 - any failure to capture means: run eagerly
        return None, f"{what} failed ({type(error).__name__}: {str(error).splitlines()[0][:120]})"
    if args[0].device.type == "cuda" and not compile:
        try:
            runner = CudaGraphStep(runner, args)
        except Exception as error:  # noqa: BLE001 - capture can fail on ops a graph cannot hold
            return None, f"CUDA graph capture failed ({type(error).__name__})"
    elif not compile:
        runner = ScriptedStep(runner)
    expected, got = body(*args), runner(*args)
    for e, g in zip(expected, got, strict=True):
        scale = float(e.abs().max()) if e.numel() else 0.0
        if e.shape != g.shape or (e.numel() and float((e - g).abs().max()) > TOLERANCE * max(scale, 1.0)):
            return None, "the captured step disagreed with the eager step"
    return runner, None


class ScriptedStep:
    """A traced step, callable per step, whose whole free run can also run as one TorchScript call
    (``free_run``). Where scripting the loop fails, ``loop`` is None and the caller loops in Python."""

    def __init__(self, traced):
        self.traced = traced
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.loop = torch.jit.script(_FreeRun(traced))
                self.split = torch.jit.script(_SplitRun(self.loop))
        except Exception:  # noqa: BLE001 - the per-step loop is always correct, only slower
            self.loop = self.split = None

    def __call__(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.traced(*args)

    def free_run(
        self, codes: torch.Tensor, last: torch.Tensor, derived: torch.Tensor, external: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``loop``'s free run (see _FreeRun), split into chunks run side by side where that pays."""
        chunks = split_chunks(codes.shape[0], codes.device)
        if chunks < 2:
            return self.loop(codes, last, derived, external)
        with one_thread():
            return self.split(codes, last, derived, external, chunks)


def split_chunks(batch: int, device: torch.device) -> int:
    """How many chunks a captured free run of ``batch`` rows is split into: one per intra-op thread (as many
    as the inter-op pool and the main thread can run at once), at least MIN_CHUNK rows each; 1 (no split)
    on GPU or off the main thread (the thread setting it needs is process-wide)."""
    if device.type != "cpu" or not _on_main_thread():
        return 1
    return min(torch.get_num_threads(), torch.get_num_interop_threads() + 1, max(batch // MIN_CHUNK, 1))


@contextlib.contextmanager
def one_thread():
    """One intra-op thread for the duration, on the main thread only (the setting is process-wide)."""
    threads = torch.get_num_threads()
    if threads == 1 or not _on_main_thread():
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class _FreeRun(nn.Module):
    """The free-run loop of a window step. external: (B, H, n_in + n_der), row k feeding step k. Returns the
    new rows (B, H, n_in), direct outputs (B, H, n_direct) and derived outputs (B, H, n_der)."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def forward(
        self, codes: torch.Tensor, last: torch.Tensor, derived: torch.Tensor, external: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows: list[torch.Tensor] = []
        direct: list[torch.Tensor] = []
        derived_rows: list[torch.Tensor] = []
        for term in external.unbind(1):
            codes, last, derived, y = self.step(codes, last, derived, term)
            rows.append(last)
            direct.append(y)
            derived_rows.append(derived)
        return torch.stack(rows, 1), torch.stack(direct, 1), torch.stack(derived_rows, 1)


class _SplitRun(nn.Module):
    """A scripted free run (_FreeRun) over ``chunks`` equal slices of the batch: all but the first forked onto
    the inter-op threads, the first run here. Returns the same tensors as one run over the whole batch."""

    def __init__(self, loop):
        super().__init__()
        self.loop = loop

    def forward(
        self,
        codes: torch.Tensor,
        last: torch.Tensor,
        derived: torch.Tensor,
        external: torch.Tensor,
        chunks: int,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        size = (codes.shape[0] + chunks - 1) // chunks
        futures: list[torch.jit.Future[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]] = []
        for s in range(size, codes.shape[0], size):
            e = s + size
            futures.append(torch.jit.fork(self.loop, codes[s:e], last[s:e], derived[s:e], external[s:e]))
        rows, direct, derived_rows = self.loop(codes[:size], last[:size], derived[:size], external[:size])
        all_rows, all_direct, all_derived = [rows], [direct], [derived_rows]
        for future in futures:
            rows, direct, derived_rows = torch.jit.wait(future)
            all_rows.append(rows)
            all_direct.append(direct)
            all_derived.append(derived_rows)
        return torch.cat(all_rows), torch.cat(all_direct), torch.cat(all_derived)


class CudaGraphStep:
    """A step replayed as one CUDA graph: inputs are copied into static buffers, the graph is replayed and
    its outputs are copied out (the next replay overwrites them). Captured as torch documents it: warm-up
    iterations on a side stream, then ``torch.cuda.graph``."""

    def __init__(self, fn: Callable, args: tuple[torch.Tensor, ...]):
        self.static = [a.clone() for a in args]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                fn(*self.static)
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = fn(*self.static)

    def __call__(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        for buffer, value in zip(self.static, args, strict=True):
            buffer.copy_(value)
        self.graph.replay()
        return tuple(out.clone() for out in self.outputs)


def _notice(model, problem: str) -> None:
    if model not in _noticed:
        _noticed.add(model)
        warnings.warn(f"learnsim: free runs of this model run uncaptured: {problem}", RuntimeWarning, 3)
