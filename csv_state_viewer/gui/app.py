"""``csv-state-viewer [FILE...] [--screenshot OUT.png ...]``: start the desktop viewer."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from types import TracebackType

APP_ID = "io.github.csv_state_viewer"  # = the .desktop file's name and the metainfo id
TABS = ("summary", "histogram", "heatmap", "values", "compare", "timeline", "health")
NO_DISPLAY_HINT = (
    "csv-state-viewer: no display found (DISPLAY/WAYLAND_DISPLAY unset). Use "
    "QT_QPA_PLATFORM=offscreen with --screenshot OUT.png to render a view, or the "
    "csv-state command line tool."
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="csv-state-viewer",
        description="Inspect neural-network training state: CSV, checkpoints, Keras, npz.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="states to open")
    parser.add_argument(
        "--screenshot",
        metavar="OUT.png",
        help="open FILE, render the window to this PNG and exit (works without a display)",
    )
    parser.add_argument(
        "--run",
        action="store_true",
        help="open FILE... (a folder, files or glob patterns) as one run of a training: its "
        "last state in the tree, every state on the Timeline tab",
    )
    parser.add_argument("--select", metavar="NAME", help="tensor, scope or file to select")
    parser.add_argument("--tab", choices=TABS, help="pane to show")
    parser.add_argument("--size", default="1280x800", help="window size for --screenshot")
    parser.add_argument(
        "--compare", metavar="OTHER", help="compare the first FILE with OTHER (for screenshots)"
    )
    return parser.parse_args(argv)


def _has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _excepthook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    """Unexpected exceptions in Qt callbacks: a dialog with the details, never a crash."""
    text = "".join(traceback.format_exception(kind, error, tb))
    sys.stderr.write(text)
    if issubclass(kind, KeyboardInterrupt):
        return
    from PySide6.QtWidgets import QApplication

    from csv_state_viewer.gui.errors import error_box

    if QApplication.instance() is not None:
        window = QApplication.activeWindow()
        error_box(window, "Unexpected error", f"{kind.__name__}: {error}", text)


# Messages of Qt platform plugins that say nothing to a user (the offscreen plugin
# cannot resize to size hints; that is the point of offscreen rendering).
QUIET_QT_MESSAGES = ("propagateSizeHints",)


def _qt_message(mode: object, context: object, message: str) -> None:
    if not any(quiet in message for quiet in QUIET_QT_MESSAGES):
        sys.stderr.write(f"Qt: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = parse_args(argv)
    if args.screenshot and not _has_display():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if not _has_display():
        print(NO_DISPLAY_HINT, file=sys.stderr)
        return 2
    if args.screenshot and not args.files:
        print("csv-state-viewer: --screenshot needs a FILE to open", file=sys.stderr)
        return 2

    from PySide6.QtCore import QTimer, qInstallMessageHandler
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    from csv_state_viewer.gui.mainwindow import MainWindow
    from csv_state_viewer.gui.resources import icon_file
    from csv_state_viewer.gui.settings import APPLICATION, ORGANIZATION

    qInstallMessageHandler(_qt_message)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    QGuiApplication.setDesktopFileName(APP_ID)
    icon = icon_file()
    if icon is not None:
        QApplication.setWindowIcon(QIcon(str(icon)))
    sys.excepthook = _excepthook

    if args.screenshot:
        from csv_state_viewer.gui.screenshot import screenshot

        return screenshot(args)  # with settings of its own, never the user's

    window = MainWindow()
    # Ctrl-C in the terminal quits: Python only sees the signal when it runs, so tick.
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(200)
    window.show()
    if args.run:
        window.open_run(args.files)
    else:
        window.open_files(args.files)
    if args.select:
        window.select_when_opened(args.select)
    if args.tab:
        window.set_tab(args.tab)
    code = app.exec()
    window.shutdown()
    return int(code)
