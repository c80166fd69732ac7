"""The task runner on its own: slots, the outcome rules, progress, shutdown."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import QThreadPool
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.progress import Cancelled, Progress, check_cancelled
from csv_state_viewer.gui.tasks import TaskRunner, TaskSlot

WAIT = 10_000


@pytest.fixture
def runner(qapp: object) -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    assert tasks.shutdown(), "a worker did not stop"
    assert tasks.pool.activeThreadCount() == 0
    assert QThreadPool.globalInstance().activeThreadCount() == 0


class Outcomes:
    """What a slot's callbacks heard, in order: ("done", x), ("error", e), ("cancelled",)."""

    def __init__(self) -> None:
        self.heard: list[tuple[Any, ...]] = []
        self.progress: list[tuple[int, int]] = []

    def submit(self, slot: TaskSlot, fn: Callable[[Progress], Any]) -> None:
        slot.submit(
            fn,
            lambda result: self.heard.append(("done", result)),
            lambda error: self.heard.append(("error", error)),
            on_progress=lambda done, total: self.progress.append((done, total)),
            on_cancelled=lambda: self.heard.append(("cancelled",)),
        )


def blocked(release: threading.Event, result: object, *, honour_cancel: bool) -> Any:
    """A task that runs until ``release`` is set, then returns ``result``."""

    def work(progress: Progress) -> object:
        while not release.wait(0.002):
            if honour_cancel:
                check_cancelled(progress)
        return result

    return work


def settle(qtbot: QtBot, runner: TaskRunner) -> None:
    qtbot.waitUntil(lambda: not runner.busy, timeout=WAIT)


def test_a_slot_reports_its_result(qtbot: QtBot, runner: TaskRunner) -> None:
    slot, heard = runner.slot("test"), Outcomes()
    heard.submit(slot, lambda progress: 42)
    assert slot.running and runner.busy
    settle(qtbot, runner)
    assert heard.heard == [("done", 42)]
    assert not slot.running


def test_slots_are_isolated(qtbot: QtBot, runner: TaskRunner) -> None:
    """Cancelling one owner's work leaves another's alone (the Compare pane once
    cancelled File ▸ Compare with… through a shared key)."""
    release = threading.Event()
    first, second = runner.slot("pane"), runner.slot("window: compare")
    heard_first, heard_second = Outcomes(), Outcomes()
    heard_first.submit(first, blocked(release, "pane", honour_cancel=True))
    heard_second.submit(second, blocked(release, "compare", honour_cancel=True))
    first.cancel()
    qtbot.waitUntil(lambda: not first.running, timeout=WAIT)
    assert second.running and heard_second.heard == []
    release.set()
    settle(qtbot, runner)
    assert heard_first.heard == [("cancelled",)]
    assert heard_second.heard == [("done", "compare")]


def test_a_new_submit_drops_the_old_result(qtbot: QtBot, runner: TaskRunner) -> None:
    release = threading.Event()
    slot, old, new = runner.slot("test"), Outcomes(), Outcomes()
    old.submit(slot, blocked(release, "old", honour_cancel=False))  # ignores the cancel
    old_job = slot.job
    new.submit(slot, lambda progress: "new")
    assert old_job is not None and old_job.cancelled() and slot.job is not old_job
    release.set()
    settle(qtbot, runner)
    assert old.heard == [] and new.heard == [("done", "new")]


def test_superseded_errors_and_cancels_are_silent(qtbot: QtBot, runner: TaskRunner) -> None:
    release = threading.Event()
    failed: list[tuple[str, object]] = []
    runner.task_failed.connect(lambda owner, error: failed.append((owner, error)))
    slot, old = runner.slot("test"), Outcomes()

    def fails(progress: Progress) -> None:
        release.wait(WAIT / 1000)
        raise ValueError("too late to matter")

    slot.submit(fails, old.heard.append)  # no on_error: it would go to task_failed
    old.submit(slot, blocked(release, "cancels", honour_cancel=True))
    slot.drop()  # superseded by nothing
    release.set()
    settle(qtbot, runner)
    assert old.heard == [] and failed == []


def test_a_cancelled_job_that_finished_reports_its_result(qtbot: QtBot, runner: TaskRunner) -> None:
    """A write that completes before the cancel arrives did happen: on_done says so."""
    started, release = threading.Event(), threading.Event()
    slot, heard = runner.slot("write"), Outcomes()

    def write(progress: Progress) -> object:
        started.set()
        return blocked(release, "written", honour_cancel=False)(progress)

    heard.submit(slot, write)
    assert started.wait(WAIT / 1000)  # a job cancelled before it starts never runs
    slot.cancel()
    assert slot.running  # until the worker has reported
    release.set()
    settle(qtbot, runner)
    assert heard.heard == [("done", "written")]


def test_a_cancelled_job_that_stopped_reports_cancelled(qtbot: QtBot, runner: TaskRunner) -> None:
    started, release = threading.Event(), threading.Event()
    slot, heard = runner.slot("test"), Outcomes()

    def work(progress: Progress) -> None:
        started.set()
        blocked(release, None, honour_cancel=True)(progress)

    heard.submit(slot, work)
    assert started.wait(WAIT / 1000)
    slot.cancel()
    settle(qtbot, runner)
    assert heard.heard == [("cancelled",)]
    release.set()


def test_a_job_cancelled_before_it_started_never_runs(qtbot: QtBot, runner: TaskRunner) -> None:
    release = threading.Event()
    ran: list[bool] = []
    runner.pool.setMaxThreadCount(1)
    busy, waiting = runner.slot("busy"), runner.slot("waiting")
    busy.submit(blocked(release, None, honour_cancel=False), lambda result: None)
    heard = Outcomes()
    heard.submit(waiting, lambda progress: ran.append(True))  # queued behind "busy"
    waiting.cancel()
    release.set()
    settle(qtbot, runner)
    assert heard.heard == [("cancelled",)] and ran == []


def test_giving_up_by_itself_is_reported_as_cancelled(qtbot: QtBot, runner: TaskRunner) -> None:
    def gives_up(progress: Progress) -> None:
        raise Cancelled

    slot, heard = runner.slot("test"), Outcomes()
    heard.submit(slot, gives_up)
    settle(qtbot, runner)
    assert heard.heard == [("cancelled",)]


def test_errors_reach_on_error_or_task_failed(qtbot: QtBot, runner: TaskRunner) -> None:
    def fails(progress: Progress) -> None:
        raise ValueError("bad data")

    slot, heard = runner.slot("test"), Outcomes()
    heard.submit(slot, fails)
    settle(qtbot, runner)
    [(what, error)] = heard.heard
    assert what == "error" and isinstance(error, ValueError) and str(error) == "bad data"

    with qtbot.waitSignal(runner.task_failed, timeout=WAIT) as failed:
        runner.slot("no handler").submit(fails, lambda result: None)
    assert failed.args[0] == "no handler" and isinstance(failed.args[1], ValueError)
    settle(qtbot, runner)


def test_progress_is_reported_only_when_the_shown_value_changes(
    qtbot: QtBot, runner: TaskRunner
) -> None:
    def work(progress: Progress) -> None:
        for _ in range(50):
            progress.report(5, 10)  # the same value again and again
        for done in range(100_001):
            progress.report(done, 100_000)

    slot, heard = runner.slot("test"), Outcomes()
    heard.submit(slot, work)
    settle(qtbot, runner)
    shown = [1000 * done // total for done, total in heard.progress]
    assert shown[0] == 500
    assert shown[1:] == list(range(1001))  # every permille once, none twice
    assert heard.heard == [("done", None)]


def test_busy_changes_once_each_way(qtbot: QtBot, runner: TaskRunner) -> None:
    changes: list[bool] = []
    runner.busy_changed.connect(changes.append)
    release = threading.Event()
    slots = [runner.slot(f"slot {n}") for n in range(3)]
    for slot in slots:
        slot.submit(blocked(release, None, honour_cancel=False), lambda result: None)
    release.set()
    settle(qtbot, runner)
    assert changes == [True, False]


def test_shutdown_cancels_and_waits_for_the_threads(qtbot: QtBot, runner: TaskRunner) -> None:
    started = threading.Event()
    stopped: list[bool] = []
    heard = Outcomes()

    def work(progress: Progress) -> None:
        started.set()
        while not progress.cancelled():
            threading.Event().wait(0.005)
        threading.Event().wait(0.2)  # a slow stop: shutdown must wait for it
        stopped.append(True)
        raise Cancelled

    heard.submit(runner.slot("test"), work)
    assert started.wait(WAIT / 1000)
    assert runner.shutdown()
    assert stopped == [True] and runner.pool.activeThreadCount() == 0
    assert not runner.busy
    qtbot.wait(50)  # the queued outcome arrives after shutdown: nobody hears of it
    assert heard.heard == []


def test_a_job_never_holds_its_owner(qtbot: QtBot, runner: TaskRunner) -> None:
    """The pool drops its job on the worker thread: a job holding the last reference to a
    dialog's methods destroyed the dialog there (QBasicTimer warning, then a segfault)."""
    import gc

    from PySide6.QtCore import QObject

    class Owner(QObject):
        def done(self, _result: object) -> None:
            pass

    owner = Owner()
    release = threading.Event()
    job = runner.slot("owner").submit(blocked(release, 1, honour_cancel=False), owner.done)
    seen: set[int] = set()
    frontier: list[object] = [job]
    for _depth in range(4):  # what the job reaches, short of Qt objects (runner, hub)
        reached = [r for r in gc.get_referents(*frontier) if id(r) not in seen]
        seen.update(id(r) for r in reached)
        frontier = [r for r in reached if not isinstance(r, QObject)]
        assert not any(r is owner or getattr(r, "__self__", None) is owner for r in reached)
    release.set()
    settle(qtbot, runner)


def test_progress_of_files_over_4_gib_reaches_the_listener(
    qtbot: QtBot, runner: TaskRunner
) -> None:
    """Qt's int is 32 bits: byte counts of a 10 GB file once failed to cross the signal."""
    slot = runner.slot("big")
    heard: list[tuple[int, int]] = []
    owners: list[tuple[str, int, int]] = []
    runner.task_progress.connect(lambda owner, done, total: owners.append((owner, done, total)))
    total = 9_818_635_451

    def work(progress: Progress) -> int:
        progress.report(total // 2, total)
        progress.report(total, total)
        return 1

    slot.submit(work, on_done=lambda _: None, on_progress=lambda d, t: heard.append((d, t)))
    settle(qtbot, runner)
    qtbot.waitUntil(lambda: (total, total) in heard, timeout=WAIT)
    assert (total // 2, total) in heard or heard[-1] == (total, total)
    assert any(done > 2**31 for _, done, _ in owners)
