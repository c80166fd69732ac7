"""``--screenshot``: open, select, render the window into a PNG and exit, without a display.

The window gets settings of its own in a temporary folder: a screenshot depends on none of
the user's settings (histogram bins, log scale, layout) and adds nothing to them (recent
files).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from csv_state_viewer.core.atomic import atomic_path
from csv_state_viewer.core.errors import CsvStateError
from csv_state_viewer.gui import fileactions
from csv_state_viewer.gui.mainwindow import MainWindow
from csv_state_viewer.gui.settings import Settings

TIMEOUT_S = 300.0


def wait_until(predicate: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> bool:
    """Run the event loop until ``predicate()`` holds (checked every 10 ms) or time is up."""
    if predicate():
        return True
    loop = QEventLoop()
    check = QTimer()

    def poll() -> None:
        if predicate():
            loop.quit()

    check.timeout.connect(poll)
    check.start(10)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    check.stop()
    return predicate()


def settle(window: MainWindow) -> bool:
    """Wait for every worker, then let queued paints and redraws happen."""
    idle = wait_until(lambda: not window.context.runner.busy)
    for _ in range(3):
        QApplication.processEvents()
    return idle


def screenshot(args: argparse.Namespace) -> int:
    """Run ``--screenshot`` in a window whose settings live and die in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="csv-state-viewer-") as folder:
        settings = Settings.in_file(os.path.join(folder, "settings.ini"))
        window = MainWindow(settings)
        try:
            return take_screenshot(window, args)
        except CsvStateError as err:
            print(f"csv-state-viewer: {err}", file=sys.stderr)
            window.shutdown()
            return 2
        finally:
            settings.sync()  # nothing left to write once the folder is gone


def take_screenshot(window: MainWindow, args: argparse.Namespace) -> int:
    width, _, height = str(args.size).partition("x")
    window.resize(int(width), int(height))
    window.show()
    failures: list[str] = []
    window.open_failed.connect(lambda _path, message: failures.append(message))
    if args.select:
        window.select_when_opened(args.select)
    if getattr(args, "run", False):
        window.open_run(args.files)
    else:
        window.open_files(args.files)
    settle(window)
    if failures:
        print(f"csv-state-viewer: {failures[0]}", file=sys.stderr)
        window.shutdown()
        return 2
    if args.select and not window.select(args.select):
        print(f"csv-state-viewer: no tensor, scope or file named {args.select!r}", file=sys.stderr)
        window.shutdown()
        return 2
    if args.compare:
        fileactions.compare_with(window, args.compare)
        settle(window)
        if window.context.comparison is None:
            print(f"csv-state-viewer: cannot compare with {args.compare}", file=sys.stderr)
            window.shutdown()
            return 2
    if args.tab:
        window.set_tab(args.tab)
    settle(window)
    for pane in window.panes.made():
        canvas = getattr(pane, "canvas", None)
        if canvas is not None and pane.isVisible():
            canvas.canvas.draw()
    QApplication.processEvents()
    image = window.grab().toImage()
    with atomic_path(args.screenshot, overwrite=True, suffix=".png") as temp:
        if not image.save(temp):  # the .png suffix picks the format
            raise OSError(f"{args.screenshot}: cannot write the PNG")
    print(args.screenshot)
    window.shutdown()
    return 0
