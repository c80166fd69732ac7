"""The status bar's progress on its own: counting operations, final texts, Cancel."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.progress import Progress, check_cancelled
from csv_state_viewer.gui.statusprogress import CANCELLED, StatusProgress
from csv_state_viewer.gui.tasks import TaskRunner

WAIT = 10_000


@pytest.fixture
def runner(qapp: object) -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    assert tasks.shutdown()


@pytest.fixture
def status(qtbot: QtBot) -> Iterator[StatusProgress]:
    window = QMainWindow()  # held here: the status bar's widgets are the window's
    qtbot.addWidget(window)
    window.show()
    yield StatusProgress(window.statusBar(), window)
    window.close()


def waiting(
    release: threading.Event, result: object, started: threading.Event | None = None
) -> Callable[[Progress], object]:
    """A task that reports a quarter done, then runs until released or cancelled."""

    def work(progress: Progress) -> object:
        if started is not None:
            started.set()
        progress.report(1, 4)
        while not release.wait(0.002):
            check_cancelled(progress)
        return result

    return work


def shown(status: StatusProgress) -> bool:
    return status.bar.isVisible() and status.cancel_button.isVisible()


def test_the_bar_shows_while_any_operation_runs(
    qtbot: QtBot, runner: TaskRunner, status: StatusProgress
) -> None:
    first, second = threading.Event(), threading.Event()
    assert not shown(status) and status.count == 0
    status.run(
        runner.slot("open"),
        "Opening a…",
        waiting(first, "a"),
        on_done=lambda result: f"Opened {result}",
        on_error=str,
    )
    status.run(
        runner.slot("compare"),
        "Comparing…",
        waiting(second, "b"),
        on_done=lambda result: f"Compared with {result}",
        on_error=str,
    )
    assert status.count == 2 and shown(status) and status.label.text() == "Comparing…"
    qtbot.waitUntil(lambda: status.bar.maximum() > 0, timeout=WAIT)  # both reported 1/4
    assert status.bar.value() == status.bar.maximum() // 4
    first.set()
    qtbot.waitUntil(lambda: status.count == 1, timeout=WAIT)
    assert status.label.text() == "Opened a" and shown(status)
    second.set()
    qtbot.waitUntil(lambda: status.count == 0, timeout=WAIT)
    assert status.label.text() == "Compared with b" and not shown(status)


def test_errors_end_with_the_text_on_error_gives(
    qtbot: QtBot, runner: TaskRunner, status: StatusProgress
) -> None:
    def fails(progress: Progress) -> None:
        raise OSError("disk full")

    errors: list[BaseException] = []

    def failed(error: BaseException) -> str:
        errors.append(error)
        return "Saving failed"

    status.run(runner.slot("save"), "Saving…", fails, on_done=str, on_error=failed)
    qtbot.waitUntil(lambda: status.count == 0, timeout=WAIT)
    assert status.label.text() == "Saving failed" and not shown(status)
    assert [str(e) for e in errors] == ["disk full"]


def test_cancel_stops_every_operation(
    qtbot: QtBot, runner: TaskRunner, status: StatusProgress
) -> None:
    release = threading.Event()
    started = [threading.Event(), threading.Event()]
    heard: list[str] = []
    for name, event in zip(("open", "export"), started, strict=True):
        status.run(
            runner.slot(name),
            f"{name}…",
            waiting(release, name, event),
            on_done=lambda result: f"done {result}",
            on_error=str,
            on_cancelled=lambda name=name: heard.append(name),
        )
    assert all(event.wait(WAIT / 1000) for event in started)
    qtbot.mouseClick(status.cancel_button, Qt.MouseButton.LeftButton)
    assert status.label.text() == "Cancelling…"
    qtbot.waitUntil(lambda: status.count == 0, timeout=WAIT)
    assert status.label.text() == CANCELLED and not shown(status)
    assert sorted(heard) == ["export", "open"]
    release.set()


def test_a_rerun_in_the_same_slot_is_still_one_operation(
    qtbot: QtBot, runner: TaskRunner, status: StatusProgress
) -> None:
    release = threading.Event()
    slot = runner.slot("compare")
    status.run(slot, "Comparing…", waiting(release, "old"), on_done=str, on_error=str)
    status.run(slot, "Comparing again…", waiting(release, "new"), on_done=str, on_error=str)
    assert status.count == 1
    release.set()
    qtbot.waitUntil(lambda: not runner.busy, timeout=WAIT)
    assert status.label.text() == "new" and status.count == 0 and not shown(status)
