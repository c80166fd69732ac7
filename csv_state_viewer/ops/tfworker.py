"""The TensorFlow worker: a process that runs TensorFlow work for the viewer and the CLI.

TensorFlow's native code aborts the whole process on some hostile input (its checkpoint
reader failed a ``Check`` and raised SIGABRT on a checkpoint declaring a negative
dimension, which is why checkpoints are now read by :mod:`csv_state_viewer.core.tfbundle`
instead), and its first import takes seconds. Work that needs it (Keras files, writing
checkpoints, models) runs in one worker process, started with ``spawn`` (never ``fork``:
the viewer has Qt threads) on first need and reused. When the worker dies the caller gets
a :class:`WorkerStoppedError` (one line, with TensorFlow's last fatal message when it
wrote one) and the next call starts a new worker.

This module never imports TensorFlow, Keras or Qt; answers from the worker that would
need TensorFlow to unpickle are refused, so the calling process never loads it.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import importlib.abc
import inspect
import io
import multiprocessing
import os
import pickle
import pkgutil
import re
import signal
import sys
import tempfile
import threading
import time
import types
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

from csv_state_viewer.bridge import userimports
from csv_state_viewer.core.errors import CsvStateError
from csv_state_viewer.core.progress import NO_PROGRESS, Cancelled, Progress, check_cancelled
from csv_state_viewer.core.state import State

POLL_SECONDS = 0.05
REPORT_SECONDS = 0.02  # the worker forwards at most one progress report per this
# Modules whose exceptions come back as themselves (others become a WorkerError), and
# those whose objects must not: unpickling them would import them here.
PORTABLE_ERRORS = frozenset({"builtins", "csv_state_viewer", "numpy", "ml_dtypes"})
REFUSED = frozenset({"tensorflow", "keras", "tf_keras", "PySide6", "matplotlib"})
# Never imported in the worker: Keras imports matplotlib.pyplot (half a second) if it can.
NOT_IN_WORKER = frozenset({"PySide6", "matplotlib"})
_FATAL = re.compile(r"^F\d{4} [^\]]*\] (?P<text>.*)|(?P<line>.*(Check failed|terminate called).*)")


class WorkerStoppedError(CsvStateError):
    """The worker process died during a call (``how``: "signal 6", "exit code 1")."""

    def __init__(self, how: str, what: str, detail: str = "") -> None:
        message = f"the TensorFlow worker stopped ({how}) while {what}"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.how, self.what, self.detail = how, what, detail

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.how, self.what, self.detail), self.__dict__)


class WorkerError(CsvStateError):
    """An error of the worker that cannot come back as itself: ``"TypeName: message"``."""


# ------------------------------------------------------------------ the worker side
class _WorkerProgress:
    """The worker's Progress: reports go to the parent, its cancel message is polled."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._cancelled = False
        self._last = 0.0

    def report(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= REPORT_SECONDS:
            self._last = now
            self._conn.send(("progress", done, total))

    def cancelled(self) -> bool:
        while not self._cancelled and self._conn.poll():
            self._cancelled = self._conn.recv()[0] == "cancel"
        return self._cancelled


def _takes_progress(function: Any) -> bool:
    try:
        return "progress" in inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


def _portable(error: BaseException) -> BaseException:
    """``error`` if it comes back as itself without TensorFlow, else a WorkerError."""
    if type(error).__module__.partition(".")[0] in PORTABLE_ERRORS:
        with contextlib.suppress(Exception):
            copy = pickle.loads(pickle.dumps(error))
            if type(copy) is type(error) and str(copy) == str(error):
                return error
    return WorkerError(f"{type(error).__name__}: {error}")


def _serve(conn: Connection) -> None:
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent went away
            return
        if message[0] == "quit":
            return
        if message[0] != "call":
            continue  # a cancel that came after its call ended
        _, function, args, kwargs, imports = message
        try:
            userimports.use(imports)  # the caller's --import modules, imported on need
            target = pkgutil.resolve_name(function)
            if _takes_progress(target):
                kwargs = {**kwargs, "progress": _WorkerProgress(conn)}
            reply: tuple[Any, ...] = ("result", target(*args, **kwargs))
        except Exception as err:
            reply = ("error", _portable(err))
        try:
            conn.send(reply)
        except Exception as err:  # a result that does not pickle
            conn.send(("error", WorkerError(f"the result cannot be sent back ({err})")))


class _NotInWorker(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] in NOT_IN_WORKER:
            raise ModuleNotFoundError(f"{name} is not imported in the worker", name=name)


def _worker_main(conn: Connection, log_path: str) -> None:
    """The worker process: quiet, no core dumps, stderr to a log the parent reads."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    os.dup2(log, 2)
    os.close(log)
    sys.meta_path.insert(0, _NotInWorker())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ["CSV_STATE_IN_PROCESS"] = "1"  # no worker of its own (ops.isolation)
    importlib.import_module("csv_state_viewer")  # registers the TensorFlow formats
    _serve(conn)


# ------------------------------------------------------------------ the parent side
class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.partition(".")[0] in REFUSED:
            raise pickle.UnpicklingError(f"the worker answered with a {module}.{name}")
        return super().find_class(module, name)


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Spawn re-runs the parent's main script in the child; the worker needs nothing of
    it, and the viewer's script would import Qt there. Held only while starting."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _last_fatal_line(path: str) -> str:
    """The last fatal message of TensorFlow's logging, a failed CHECK or a C++ terminate
    (each is the process's last word: the log of a live worker has none)."""
    try:
        with open(path, "rb") as log:
            log.seek(max(0, os.path.getsize(path) - 65536))
            lines = log.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        match = _FATAL.match(line.strip())
        if match:
            text = (match["text"] or match["line"]).strip()
            return text if len(text) <= 200 else text[:199] + "…"
    return ""


class _Process:
    """One started worker: its process, pipe and stderr log."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        fd, self.log = tempfile.mkstemp(prefix="csv-state-tfworker-", suffix=".log")
        os.close(fd)
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, self.log), name="csv-state-tfworker", daemon=True
        )
        with _main_module_hidden():
            self.process.start()
        child.close()

    def stop(self, timeout: float) -> None:
        if self.process.is_alive() and timeout > 0:
            with contextlib.suppress(OSError):
                self.conn.send(("quit",))
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
        self.process.join(1)
        self.conn.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log)

    def stopped_error(self, what: str) -> WorkerStoppedError:
        self.process.join(1)
        code = self.process.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return WorkerStoppedError(how, what, _last_fatal_line(self.log))


class TensorFlowWorker:
    """A worker process for TensorFlow work, started on first use, restarted after death."""

    def __init__(self, cancel_grace: float = 10.0) -> None:
        self.cancel_grace = cancel_grace  # seconds a cancelled call has to stop, then kill
        self._lock = threading.Lock()
        self._worker: _Process | None = None

    @property
    def pid(self) -> int | None:
        return self._worker.process.pid if self._worker is not None else None

    @property
    def alive(self) -> bool:
        return self._worker is not None and self._worker.process.is_alive()

    def call(
        self, what: str, function: str, *args: Any, progress: Progress = NO_PROGRESS, **kwargs: Any
    ) -> Any:
        """Run ``function`` ("package.module:qualname") in the worker and return its result.

        A ``progress`` parameter of the function gets a progress forwarding to
        ``progress``; its exceptions are raised here with their type and message. If the
        worker dies, :class:`WorkerStoppedError` says how, while doing ``what``.
        """
        imports = userimports.requested()
        request = pickle.dumps(("call", function, args, kwargs, imports))  # may raise
        while not self._lock.acquire(timeout=POLL_SECONDS):
            check_cancelled(progress)
        try:
            if self._worker is None or not self._worker.process.is_alive():
                if self._worker is not None:
                    self._worker.stop(0)
                self._worker = _Process()
            worker = self._worker
            try:
                kind, value = self._answer(worker, request, progress, what)
            except BaseException:
                self._forget(worker)  # dead, or left mid-call (Ctrl-C...): state unknown
                raise
        finally:
            self._lock.release()
        if kind == "error":
            raise value
        return value

    def _answer(
        self, worker: _Process, request: bytes, progress: Progress, what: str
    ) -> tuple[str, Any]:
        cancelled_at: float | None = None
        try:
            worker.conn.send_bytes(request)
            while True:
                ready = wait([worker.conn, worker.process.sentinel], timeout=POLL_SECONDS)
                if worker.conn in ready:
                    data = worker.conn.recv_bytes()
                    try:
                        message = _Unpickler(io.BytesIO(data)).load()
                    except Exception as err:
                        return "error", WorkerError(f"the answer cannot be read here ({err})")
                    if message[0] != "progress":
                        return message[0], message[1]
                    progress.report(message[1], message[2])
                elif ready:  # the sentinel alone: the worker is dead
                    break
                if cancelled_at is None:
                    if progress.cancelled():
                        cancelled_at = time.monotonic()
                        worker.conn.send(("cancel",))
                elif time.monotonic() - cancelled_at > self.cancel_grace:
                    raise Cancelled  # it does not listen: it is stopped
        except (EOFError, OSError):  # the pipe broke: the worker is dead
            pass
        raise worker.stopped_error(what)

    def _forget(self, worker: _Process) -> None:
        if self._worker is worker:
            self._worker = None
        worker.stop(0)

    def open_state(self, path: str, progress: Progress = NO_PROGRESS) -> State:
        """Open ``path`` in the worker; its tensors are read there, one call per read."""
        from csv_state_viewer.ops.remotestate import RemoteState

        return RemoteState.open(self, path, progress)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Ask the worker to quit (kill it after ``timeout``); a call in progress fails."""
        locked = self._lock.acquire(timeout=timeout)
        try:
            worker, self._worker = self._worker, None
            if worker is not None:
                worker.stop(timeout if locked else 0)
        finally:
            if locked:
                self._lock.release()


_shared: TensorFlowWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> TensorFlowWorker:
    """The process's one worker (created on first use; its process starts on first call)."""
    global _shared  # noqa: PLW0603 - one per process, created lazily
    with _shared_lock:
        if _shared is None:
            _shared = TensorFlowWorker()
        return _shared


def shutdown_shared_worker() -> None:
    with _shared_lock:
        worker = _shared
    if worker is not None:
        worker.shutdown()


atexit.register(shutdown_shared_worker)
