"""Work off the UI thread: the core's Progress protocol on top of a QThreadPool.

A task is a function ``fn(progress) -> result``. :meth:`TaskRunner.submit` runs it in the
runner's own pool; ``on_done(result)`` or ``on_error(exception)`` are then called on the
UI thread. Tasks have a *key* ("histogram", "open:/path"): submitting a new task under a
key cancels the previous one, and a result that arrives for a task that is no longer the
current one of its key is discarded, so a pane never shows data for a selection the user
has left. :meth:`TaskRunner.shutdown` cancels everything and waits, so no thread outlives
the window.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from csv_state_viewer.core.progress import Cancelled

TaskFn = Callable[[Any], Any]


class _Signals(QObject):
    """The runner's one signal hub; created on the UI thread, emitted from workers."""

    finished = Signal(object, object)  # job, result
    failed = Signal(object, object)  # job, exception
    cancelled = Signal(object)  # job
    progressed = Signal(object, int, int)  # job, done, total


class Job:
    """One running task; it is the ``progress`` object its function receives.

    A plain Python object, not a QRunnable: Qt objects freed on a worker thread crash
    shiboken, so the pool runs :meth:`run` as a callable and results travel through the
    runner's signal hub, which lives on the UI thread.
    """

    def __init__(self, key: str, fn: TaskFn, signals: _Signals) -> None:
        self.key = key
        self._signals = signals
        self._fn: TaskFn | None = fn
        self._cancel = threading.Event()
        self._shown = -1

    # ----- the core's Progress protocol, called from the worker thread
    def report(self, done: int, total: int) -> None:
        permille = 1000 * done // total if total > 0 else 0
        if permille != self._shown:  # signal only when the shown value changes
            self._shown = permille
            self._signals.progressed.emit(self, done, total)

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        fn, self._fn = self._fn, None  # the worker drops its closure before reporting
        assert fn is not None, "a job runs once"
        try:
            result = fn(self)
        except Cancelled:
            self._signals.cancelled.emit(self)
        except BaseException as err:  # delivered to on_error on the UI thread
            self._signals.failed.emit(self, err)
        else:
            if self._cancel.is_set():
                self._signals.cancelled.emit(self)
            else:
                self._signals.finished.emit(self, result)


@dataclass
class _Callbacks:
    on_done: Callable[[Any], None]
    on_error: Callable[[BaseException], None] | None
    on_progress: Callable[[int, int], None] | None
    on_stopped: Callable[[Job], None] | None


class TaskRunner(QObject):
    """Runs keyed tasks; see the module docstring."""

    busy_changed = Signal(bool)
    task_progress = Signal(str, int, int)  # key, done, total
    task_failed = Signal(str, object)  # key, exception (when a task has no on_error)

    def __init__(self, parent: QObject | None = None, threads: int = 4) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._signals = _Signals(self)
        self._signals.finished.connect(self._finished)
        self._signals.failed.connect(self._failed)
        self._signals.cancelled.connect(self._cancelled)
        self._signals.progressed.connect(self._progressed)
        self._current: dict[str, Job] = {}
        self._jobs: dict[Job, _Callbacks] = {}  # keeps jobs and their signals alive

    def submit(
        self,
        key: str,
        fn: TaskFn,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        on_stopped: Callable[[Job], None] | None = None,
    ) -> Job:
        """Run ``fn(progress)`` in the pool under ``key``, cancelling the key's previous task.

        ``on_done``/``on_error``/``on_progress`` are called for the current task of the
        key only; ``on_stopped(job)`` whenever the job ends, even cancelled or superseded
        (for callers that must know when a cancelled worker has really stopped).
        """
        self.cancel(key)
        job = Job(key, fn, self._signals)
        was_busy = self.busy
        self._current[key] = job
        self._jobs[job] = _Callbacks(on_done, on_error, on_progress, on_stopped)
        self.pool.start(job.run)
        if not was_busy:
            self.busy_changed.emit(True)
        return job

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def is_current(self, job: Job) -> bool:
        return self._current.get(job.key) is job

    def running(self, key: str) -> bool:
        return key in self._current

    def running_keys(self, prefix: str = "") -> list[str]:
        """Keys of the current tasks that start with ``prefix``."""
        return [key for key in self._current if key.startswith(prefix)]

    def cancel(self, key: str) -> None:
        job = self._current.pop(key, None)
        if job is not None:
            job.cancel()

    def cancel_all(self) -> None:
        for key in list(self._current):
            self.cancel(key)

    def shutdown(self, msecs: int = 30000) -> bool:
        """Cancel every task and wait for the threads; True when all have stopped."""
        self.cancel_all()
        done = self.pool.waitForDone(msecs)
        self._jobs.clear()
        return bool(done)

    # ----- results, on the UI thread
    def _retire(self, job: Job) -> tuple[_Callbacks | None, bool]:
        """Forget ``job``: (its callbacks, whether it was the current task of its key)."""
        callbacks = self._jobs.pop(job, None)
        current = self._current.get(job.key) is job
        if current:
            del self._current[job.key]
        if not self._jobs:
            self.busy_changed.emit(False)
        return callbacks, current

    def _finished(self, job: Job, result: object) -> None:
        callbacks, current = self._retire(job)
        if callbacks is not None and current:
            callbacks.on_done(result)
        self._stopped(callbacks, job)

    def _failed(self, job: Job, error: BaseException) -> None:
        callbacks, current = self._retire(job)
        if callbacks is not None and current:
            if callbacks.on_error is not None:
                callbacks.on_error(error)
            else:
                self.task_failed.emit(job.key, error)
        self._stopped(callbacks, job)

    def _cancelled(self, job: Job) -> None:
        callbacks, _current = self._retire(job)
        self._stopped(callbacks, job)

    @staticmethod
    def _stopped(callbacks: _Callbacks | None, job: Job) -> None:
        if callbacks is not None and callbacks.on_stopped is not None:
            callbacks.on_stopped(job)

    def _progressed(self, job: Job, done: int, total: int) -> None:
        if not self.is_current(job):
            return
        callbacks = self._jobs.get(job)
        if callbacks is not None and callbacks.on_progress is not None:
            callbacks.on_progress(done, total)
        self.task_progress.emit(job.key, done, total)
