"""The Values tab from the keyboard: Ctrl+Home and Ctrl+End reach the true first and last
element, however many pages of rows are fetched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.analysis.tree import build_tree
from csv_state_viewer.core.api import open_state, save_state
from csv_state_viewer.core.state import State
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.panes.values import ValuesPane
from csv_state_viewer.gui.valuesmodel import PAGE

WAIT = 20000
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def big(tmp_path: Path) -> Iterator[State]:
    path = tmp_path / "big.npz"
    save_state(path, {"big": np.arange(4096 * 3, dtype=np.float32).reshape(4096, 3)})
    with open_state(path) as state:
        yield state


@pytest.fixture
def values(qtbot: QtBot, context: ViewerContext, big: State) -> ValuesPane:
    pane = ValuesPane(context)
    qtbot.addWidget(pane)
    pane.show()
    node = build_tree(big).find("big")
    assert node is not None
    with qtbot.waitSignal(pane.values_shown, timeout=WAIT):
        pane.show_nodes([node])
    return pane


def test_ctrl_end_goes_to_the_last_element_and_ctrl_home_back(values: ValuesPane) -> None:
    view = values.view
    assert values.model.rowCount() == PAGE
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_End, CTRL)
    current = view.currentIndex()
    assert (current.row(), current.column()) == (4095, 2)
    assert values.model.rowCount() == 4096
    assert "showing first" not in values.label.text()
    QTest.keyClick(view, Qt.Key.Key_Home, CTRL)
    current = view.currentIndex()
    assert (current.row(), current.column()) == (0, 0)


def test_ctrl_shift_end_selects_to_the_last_element(values: ValuesPane) -> None:
    view = values.view
    view.setFocus()
    view.setCurrentIndex(values.model.index(10, 1))
    QTest.keyClick(view, Qt.Key.Key_End, CTRL | Qt.KeyboardModifier.ShiftModifier)
    selected = view.selectionModel().selection()
    rows = {i.row() for i in selected.indexes()}
    assert min(rows) == 10 and max(rows) == 4095
    assert view.currentIndex().row() == 4095
