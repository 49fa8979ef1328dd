"""One background thread for the work a run does not wait for: experiment trackers' calls (MLflow writes its
SQLite store in Python, about 5 ms a call) and drawing the plots (about 2 s with matplotlib).

Tasks run one at a time in submission order, so a tracker is started before it is sent metrics, and plots are
logged before the tracker is closed. A failing task is reported as a warning and does not stop the run: the
JSON-lines metrics, checkpoints, model and report are written by the run itself. ``wait()`` blocks until
everything submitted so far has run; the CLI and ``TrainResult.wait()`` call it, and the interpreter waits for
the thread at exit.

The warnings are issued on the thread that submits, at its next ``submit`` or ``wait`` (or at exit), not on
the background thread: Python's warning filters are process-wide and not thread-safe, so a warning raised
there while the main thread is inside some library's ``catch_warnings`` block would be lost with it.
"""

from __future__ import annotations

import atexit
import os
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_owner_pid: int | None = None  # a forked child inherits the executor but not its thread: it makes its own
_held: list[str] = []  # warnings of failed background work, not yet issued on the submitting thread


def _pool() -> ThreadPoolExecutor:
    global _executor, _owner_pid
    with _lock:
        if _executor is None or _owner_pid != os.getpid():
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="learnsim-background")
            _owner_pid = os.getpid()
        return _executor


def submit(fn: Callable, *args, what: str) -> Future:
    """Run ``fn(*args)`` on the background thread after everything submitted before; ``what`` names the task
    in the warning if it fails. Called from the background thread itself, runs at once (it is in order)."""
    if in_worker():
        future: Future = Future()
        future.set_result(_guarded(fn, args, what))
        return future
    issue_held()
    return _pool().submit(_guarded, fn, args, what)


def wait() -> None:
    """Block until every task submitted so far has run (at once when none is pending), then issue the
    warnings of those that failed."""
    if _executor is not None and _owner_pid == os.getpid() and not in_worker():
        _pool().submit(lambda: None).result()
    issue_held()


def warn(message: str) -> None:
    """A RuntimeWarning about failed background work: held on the background thread (see the module's
    docstring), issued at once elsewhere."""
    if in_worker():
        with _lock:
            _held.append(message)
    else:
        warnings.warn(message, RuntimeWarning, stacklevel=3)


@atexit.register  # runs after the interpreter has waited for the background thread
def issue_held() -> None:
    """Issue the held warnings on this thread (a no-op on the background thread)."""
    if in_worker():
        return
    with _lock:
        pending = _held[:] if _owner_pid == os.getpid() else []  # a forked child: its parent's to issue
        _held.clear()
    for message in pending:
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def in_worker() -> bool:
    return threading.current_thread().name.startswith("learnsim-background")


def _guarded(fn: Callable, args: tuple, what: str):
    try:
        return fn(*args)
    except Exception as error:  # noqa: BLE001 - a tracker or plot failure must not take the run down
        first = str(error).splitlines()[0] if str(error) else ""
        warn(f"learnsim: {what} failed ({type(error).__name__}: {first}); the run's own files are unaffected")
        return None
