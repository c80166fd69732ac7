"""Panes are built when first needed, so start-up does not import Matplotlib."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from pytestqt.qtbot import QtBot

from csv_state_viewer.gui import panetabs
from csv_state_viewer.gui.mainwindow import MainWindow

from .conftest import SAMPLES


def test_each_tab_has_its_pane_with_its_title(window: MainWindow) -> None:
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        kind.title for kind in panetabs.KINDS
    ]
    for kind in panetabs.KINDS:
        pane = window.panes[kind.name]
        assert type(pane).__name__ == kind.cls
        assert pane.title == kind.title
        assert pane.parent() is window.panes.holder(kind.name)


def test_a_pane_is_built_when_its_tab_is_first_shown(qtbot: QtBot, window: MainWindow) -> None:
    assert [type(p).__name__ for p in window.panes.made()] == ["SummaryPane"]
    window.open_file(str(SAMPLES / "mlp_adam.csv"))
    qtbot.waitUntil(lambda: bool(window.roots), timeout=20000)
    window.set_tab("histogram")
    histogram = window.current_pane()
    assert type(histogram).__name__ == "HistogramPane"
    assert histogram in window.panes.made()
    # built after the selection: it shows the selected tensor, not its empty start
    qtbot.waitUntil(lambda: histogram.histogram is not None, timeout=20000)  # type: ignore[attr-defined]


def test_the_timeline_and_health_panes_are_wired_when_built(window: MainWindow) -> None:
    steps: list[object] = []
    chosen: list[object] = []
    window.open_step = lambda path, name: steps.append((path, name))  # type: ignore[method-assign]
    window.select = chosen.append  # type: ignore[method-assign]
    window.panes["timeline"].step_chosen.emit("run/1.csv", "w")  # type: ignore[attr-defined]
    window.panes["health"].tensor_chosen.emit("tensor")  # type: ignore[attr-defined]
    assert steps == [("run/1.csv", "w")]
    assert chosen == ["tensor"]


def test_starting_the_window_imports_no_matplotlib() -> None:
    code = textwrap.dedent(
        """
        import sys
        from PySide6.QtWidgets import QApplication
        from csv_state_viewer.gui.mainwindow import MainWindow
        from csv_state_viewer.gui.settings import Settings
        from PySide6.QtCore import QSettings
        import tempfile, os
        app = QApplication([])
        store = QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat)
        window = MainWindow(Settings(store))
        print("before", "matplotlib" in sys.modules)
        window.panes["histogram"]
        print("after", "matplotlib" in sys.modules)
        window.shutdown()
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=120,
    ).stdout
    assert "before False" in out
    assert "after True" in out
