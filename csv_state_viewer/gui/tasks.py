"""Work off the UI thread: the core's Progress protocol on top of a QThreadPool.

A task is a function ``fn(progress) -> result``. Whoever owns work (a pane, a dialog, one
of the window's operations) takes its own :class:`TaskSlot` from the window's
:class:`TaskRunner` and submits through it; slots share nothing, so one owner can never
cancel another's work (Orange3's ``ConcurrentMixin`` has one task per widget likewise).

How a job ends, reported on the UI thread:

* *superseded* (a newer :meth:`TaskSlot.submit` in its slot, or :meth:`TaskSlot.drop`):
  dropped silently, none of its callbacks is ever called, so a pane never shows data for
  a selection the user left;
* *cancelled* (:meth:`TaskSlot.cancel`, and nothing replaced it): it still reports what
  really happened when its worker ends, so a write that finished before the cancel
  arrived is not mistaken for one that never happened: a result goes to ``on_done``,
  :class:`~csv_state_viewer.core.progress.Cancelled` to ``on_cancelled``, an exception to
  ``on_error``;
* otherwise ``on_done(result)``, ``on_error(exception)`` (or the runner's
  ``task_failed`` signal when there is no ``on_error``), or ``on_cancelled()`` when the
  function gave up by itself.

Jobs are plain Python objects whose :meth:`Job.run` the pool calls: ``QRunnable``
subclasses freed on worker threads crashed shiboken. Results travel through one signal
hub that lives on the UI thread. :meth:`TaskRunner.shutdown` cancels everything and waits,
so no thread outlives the window.
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
    progressed = Signal(object, object, object)  # job, done, total (Python ints: over 2**31)


@dataclass
class _Callbacks:
    on_done: Callable[[Any], None]
    on_error: Callable[[BaseException], None] | None = None
    on_progress: Callable[[int, int], None] | None = None
    on_cancelled: Callable[[], None] | None = None


class Job:
    """One run of a task; it is the ``progress`` object its function receives.

    A plain Python object, not a QRunnable: Qt objects freed on a worker thread crash
    shiboken, so the pool runs :meth:`run` as a callable and results travel through the
    runner's signal hub, which lives on the UI thread.
    """

    def __init__(self, owner: str, fn: TaskFn, signals: _Signals) -> None:
        self.owner = owner  # a label for debugging and for task_progress/task_failed
        self._signals = signals
        self._fn: TaskFn | None = fn
        self._cancel = threading.Event()
        self._shown = -1
        self.superseded = False  # its outcome goes nowhere (UI thread)
        self.slot: TaskSlot | None = None

    # ----- the core's Progress protocol, called from the worker thread
    def report(self, done: int, total: int) -> None:
        permille = 1000 * done // total if total > 0 else 0
        if permille != self._shown:  # signal only when the shown value changes
            self._shown = permille
            self._signals.progressed.emit(self, done, total)

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the function to stop at its next check (any thread)."""
        self._cancel.set()

    def run(self) -> None:
        fn, self._fn = self._fn, None  # the worker drops its closure before reporting
        assert fn is not None, "a job runs once"
        if self._cancel.is_set():  # cancelled while it waited for a thread
            self._signals.cancelled.emit(self)
            return
        try:
            result = fn(self)
        except Cancelled:
            self._signals.cancelled.emit(self)
        except BaseException as err:  # delivered to on_error on the UI thread
            self._signals.failed.emit(self, err)
        else:  # also when cancelled meanwhile: the work is done, its owner hears of it
            self._signals.finished.emit(self, result)

    def __repr__(self) -> str:
        return f"<Job of {self.owner!r}{' cancelled' if self.cancelled() else ''}>"


class TaskSlot:
    """One owner's place to run work: at most one current job, see the module docstring.

    Made by :meth:`TaskRunner.slot`; ``owner`` is only a label for debugging.
    """

    def __init__(self, runner: TaskRunner, owner: str) -> None:
        self.owner = owner
        self._runner = runner
        self._job: Job | None = None

    def submit(
        self,
        fn: TaskFn,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
    ) -> Job:
        """Run ``fn(progress)`` in the pool; this slot's earlier job is superseded."""
        return self._start(fn, _Callbacks(on_done, on_error, on_progress, on_cancelled))

    @property
    def running(self) -> bool:
        """True until the current job has reported (a cancelled one too: it may yet
        report a result)."""
        return self._job is not None

    @property
    def job(self) -> Job | None:
        """The job whose outcome this slot will report, if any."""
        return self._job

    def cancel(self) -> None:
        """Ask the current job to stop; it still reports how it ended."""
        if self._job is not None:
            self._job.cancel()

    def drop(self) -> None:
        """Cancel the current job and drop its outcome, as a new submit would: for an
        owner whose new state needs no work (a pane shown a scope instead of a tensor)."""
        self._abandon()

    def _start(self, fn: TaskFn, callbacks: _Callbacks) -> Job:
        self._abandon()
        self._job = self._runner._start(self.owner, fn, callbacks, self)
        return self._job

    def _abandon(self) -> None:
        """Cancel the current job and drop its outcome: nobody hears of it again."""
        job, self._job = self._job, None
        if job is not None:
            job.cancel()
            job.superseded = True

    def _ended(self, job: Job) -> None:
        if self._job is job:
            self._job = None

    def __repr__(self) -> str:
        return f"<TaskSlot {self.owner!r}{' running' if self.running else ''}>"


class TaskRunner(QObject):
    """The window's pool of worker threads; owners run work through its slots."""

    busy_changed = Signal(bool)
    task_progress = Signal(str, object, object)  # owner, done, total (of current jobs only)
    task_failed = Signal(str, object)  # owner, exception (when a task has no on_error)

    def __init__(self, parent: QObject | None = None, threads: int = 4) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._signals = _Signals(self)
        self._signals.finished.connect(self._finished)
        self._signals.failed.connect(self._failed)
        self._signals.cancelled.connect(self._cancelled)
        self._signals.progressed.connect(self._progressed)
        # Every job whose worker has not reported yet, with its owner's callbacks. They are
        # kept here, on the UI thread, never on the job: the pool drops its reference to
        # a job on the worker thread, and a job holding the last reference to a dialog's
        # methods would destroy the dialog there (a segfault in Qt's timers).
        self._jobs: dict[Job, _Callbacks] = {}
        self._busy = False  # as last announced by busy_changed

    def slot(self, owner: str) -> TaskSlot:
        """A new slot; ``owner`` (e.g. "histogram pane") is only a label."""
        return TaskSlot(self, owner)

    @property
    def busy(self) -> bool:
        """True while any worker of this runner has not reported (superseded ones too)."""
        return bool(self._jobs)

    def shutdown(self, msecs: int = 30000) -> bool:
        """Cancel every job and wait for the threads; True when all have stopped.

        Outcomes that arrive afterwards are dropped: the owners are going away.
        """
        for job in self._jobs:
            job.cancel()
        done = self.pool.waitForDone(msecs)
        self._jobs.clear()  # late outcomes find no job to report
        self._announce_busy()
        return bool(done)

    # ----- outcomes, on the UI thread
    def _start(self, owner: str, fn: TaskFn, callbacks: _Callbacks, slot: TaskSlot) -> Job:
        job = Job(owner, fn, self._signals)
        job.slot = slot
        self._jobs[job] = callbacks
        self.pool.start(job.run)
        self._announce_busy()
        return job

    def _announce_busy(self) -> None:
        if self.busy != self._busy:
            self._busy = self.busy
            self.busy_changed.emit(self._busy)

    def _settle(self, job: Job, report: Callable[[_Callbacks], None]) -> None:
        """Forget ``job``, then report its outcome unless it was superseded."""
        if job not in self._jobs:
            return  # dropped by shutdown()
        callbacks = self._jobs.pop(job)
        if job.slot is not None:
            job.slot._ended(job)
        try:
            if not job.superseded:
                report(callbacks)
        finally:
            self._announce_busy()

    def _finished(self, job: Job, result: object) -> None:
        self._settle(job, lambda callbacks: callbacks.on_done(result))

    def _failed(self, job: Job, error: BaseException) -> None:
        def report(callbacks: _Callbacks) -> None:
            if callbacks.on_error is not None:
                callbacks.on_error(error)
            else:
                self.task_failed.emit(job.owner, error)

        self._settle(job, report)

    def _cancelled(self, job: Job) -> None:
        def report(callbacks: _Callbacks) -> None:
            if callbacks.on_cancelled is not None:
                callbacks.on_cancelled()

        self._settle(job, report)

    def _progressed(self, job: Job, done: int, total: int) -> None:
        if job.cancelled() or job not in self._jobs:
            return  # superseded or stopping: its progress is nobody's concern
        on_progress = self._jobs[job].on_progress
        if on_progress is not None:
            on_progress(done, total)
        self.task_progress.emit(job.owner, done, total)
