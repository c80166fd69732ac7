"""The menus: conventional shortcuts, all of them documented, and items enabled only when
they can act; About's settings path and versions."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.api import save_state
from csv_state_viewer.gui import fileactions, helpmenu, menus
from csv_state_viewer.gui.mainwindow import MainWindow

from .conftest import SAMPLES

WAIT = 20000


def all_actions(window: MainWindow) -> list[QAction]:
    found: list[QAction] = []

    def walk(menu: QMenu) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu())
            elif not action.isSeparator():
                found.append(action)

    for top in window.menuBar().actions():
        walk(top.menu())
    return found


def by_text(window: MainWindow, text: str) -> QAction:
    return next(a for a in all_actions(window) if a.text().replace("&", "") == text)


def test_shortcuts_are_conventional_and_all_documented(window: MainWindow) -> None:
    documented = {key for keys, _ in helpmenu.SHORTCUTS for key in keys.split(", ")}
    portable = QKeySequence.SequenceFormat.PortableText
    for action in all_actions(window):
        for sequence in action.shortcuts():
            keys = sequence.toString(portable)
            assert keys != "Ctrl+P", f"{action.text()} takes Print's Ctrl+P"
            assert keys in documented, f"{action.text()}: {keys} is not in SHORTCUTS"
    assert by_text(window, "Save plot as…").shortcut().isEmpty()
    assert by_text(window, "Save As CSV…").shortcut().toString(portable) == "Ctrl+Shift+S"


def test_items_are_enabled_only_when_they_can_act(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    save_state(tmp_path / "a.csv", {"w": np.ones((2, 3), np.float32)})
    save_state(tmp_path / "b.csv", {"w": np.zeros((2, 3), np.float32)})
    clear = by_text(window, "Clear comparison")
    export = window.menus.actions["export_tensors"]
    assert not clear.isEnabled() and not export.isEnabled()
    assert not any(a.isEnabled() for a in window.menus.file_actions)
    with qtbot.waitSignal(window.file_opened, timeout=WAIT) as blocker:
        window.open_file(str(tmp_path / "a.csv"))
    assert all(a.isEnabled() for a in window.menus.file_actions)
    assert export.isEnabled() and not clear.isEnabled()
    window.select_node(blocker.args[0])  # the file row: no tensor to export
    assert not export.isEnabled()
    with qtbot.waitSignal(window.context.comparison_changed, timeout=WAIT):
        fileactions.compare_with(window, str(tmp_path / "b.csv"))
    assert clear.isEnabled()
    clear.trigger()
    assert window.context.comparison is None and not clear.isEnabled()
    window.close_file(blocker.args[0])
    assert not any(a.isEnabled() for a in window.menus.file_actions)


def test_about_shows_the_whole_settings_path_and_versions(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    box = menus.about(window)
    text = box.text()
    assert os.path.abspath(window.settings.store.fileName()) in text
    for name in ("Python", "Qt", "PySide6", "Matplotlib", "NumPy"):
        assert f"<td>{name}</td>" in text
    assert "<td>TensorFlow</td><td>not loaded</td>" in text
    box.close()


def test_help_lists_the_shortcuts(window: MainWindow) -> None:
    box = menus.shortcuts_dialog(window)
    assert "Ctrl+Tab" in box.text() and "Ctrl+End" in box.text()
    box.close()


def test_the_export_menu_writes_the_histogram_bins(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "export_histogram" not in window.menus.actions:
        pytest.skip("the histogram pane has no export_histogram_csv")
    with qtbot.waitSignal(window.file_opened, timeout=WAIT):
        window.open_file(str(SAMPLES / "mlp_adam.csv"))
    histogram: Any = window.panes["histogram"]
    target = tmp_path / "bins.csv"
    monkeypatch.setattr(
        menus.QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(target), "CSV (*.csv)")
    )
    with qtbot.waitSignal(histogram.histogram_drawn, timeout=WAIT):
        window.set_tab("histogram")
    assert histogram.histogram is not None
    window.menus.actions["export_histogram"].trigger()
    assert target.is_file() and target.read_text().count("\n") > 2


def test_the_export_menu_writes_the_summary(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "export_summary" not in window.menus.actions:
        pytest.skip("the Summary pane has no export_summary")
    summary: Any = window.panes["summary"]
    with (
        qtbot.waitSignal(summary.summary_ready, timeout=WAIT),
        qtbot.waitSignal(window.file_opened, timeout=WAIT),
    ):
        window.open_file(str(SAMPLES / "mlp_adam.csv"))
    target = tmp_path / "summary.json"
    monkeypatch.setattr(
        menus.QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(target), "JSON (*.json)")
    )
    window.menus.actions["export_summary"].trigger()
    assert target.is_file() and "sequential/dense/kernel" in target.read_text()
    assert window.status_label.text() == f"Exported to {target}"
