"""The viewer driven from the keyboard: focus after opening, the filter box, tab switching,
and the tree's columns after a comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.analysis.tree import TENSOR, Node
from csv_state_viewer.core.api import save_state
from csv_state_viewer.gui import fileactions
from csv_state_viewer.gui.mainwindow import MainWindow
from csv_state_viewer.gui.treemodel import DIFFERENCE, NAME, NODE_ROLE, SHAPE

from .conftest import SAMPLES

WAIT = 20000


def open_and_wait(qtbot: QtBot, window: MainWindow, path: Path | str) -> Node:
    with qtbot.waitSignal(window.file_opened, timeout=WAIT) as blocker:
        window.open_file(str(path))
    root: Node = blocker.args[0]
    return root


def current_node(window: MainWindow) -> Node:
    node: Node = window.tree.currentIndex().data(NODE_ROLE)
    return node


def expanded_names(window: MainWindow) -> set[str]:
    names: set[str] = set()
    stack = [QModelIndex()]
    while stack:
        parent = stack.pop()
        for row in range(window.proxy.rowCount(parent)):
            index = window.proxy.index(row, NAME, parent)
            if window.tree.isExpanded(index):
                names.add(index.data(NODE_ROLE).name)
                stack.append(index)
    return names


def test_opening_a_file_puts_the_focus_on_the_tree_at_the_first_tensor(
    qtbot: QtBot, window: MainWindow
) -> None:
    open_and_wait(qtbot, window, SAMPLES / "mlp_adam.csv")
    assert window.focusWidget() is window.tree
    first = current_node(window)
    assert first.kind == TENSOR
    QTest.keyClick(window.tree, Qt.Key.Key_Down)
    assert current_node(window) is not first


def test_filter_box_down_enter_and_escape(qtbot: QtBot, window: MainWindow) -> None:
    open_and_wait(qtbot, window, SAMPLES / "mlp_adam.csv")
    QTest.keyClick(window.tree, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.focusWidget() is window.filter_edit
    QTest.keyClicks(window.filter_edit, "dense_1/bias")
    QTest.keyClick(window.filter_edit, Qt.Key.Key_Return)
    assert current_node(window).name == "sequential/dense_1/bias"
    assert window.focusWidget() is window.tree

    window.filter_edit.setFocus()
    QTest.keyClick(window.filter_edit, Qt.Key.Key_Down)
    assert window.focusWidget() is window.tree
    QTest.keyClick(window.tree, Qt.Key.Key_Down)  # moves within the results
    assert current_node(window) is not None

    window.filter_edit.setFocus()
    QTest.keyClick(window.filter_edit, Qt.Key.Key_Escape)
    assert window.filter_edit.text() == ""
    assert window.proxy.pattern == ""


def test_clearing_the_filter_restores_the_expansion(qtbot: QtBot, window: MainWindow) -> None:
    open_and_wait(qtbot, window, SAMPLES / "mlp_adam.csv")
    window.tree.collapseAll()
    window.tree.scrollTo(window.tree.currentIndex())  # expands the current tensor's parents
    window.select("sequential/dense_2/kernel")  # and this one's
    before = expanded_names(window)
    assert {"sequential/dense", "sequential/dense_2"} <= before
    window.filter_edit.setFocus()
    QTest.keyClicks(window.filter_edit, "kernel")
    assert expanded_names(window) != before
    QTest.keyClick(window.filter_edit, Qt.Key.Key_Escape)
    assert expanded_names(window) == before


def test_ctrl_tab_and_ctrl_page_keys_switch_tabs_from_the_tree(
    qtbot: QtBot, window: MainWindow
) -> None:
    open_and_wait(qtbot, window, SAMPLES / "mlp_adam.csv")
    window.tree.setFocus()
    tabs = window.tabs
    assert tabs.currentIndex() == 0
    ctrl = Qt.KeyboardModifier.ControlModifier
    QTest.keyClick(window.tree, Qt.Key.Key_Tab, ctrl)
    assert tabs.currentIndex() == 1
    QTest.keyClick(window.tree, Qt.Key.Key_PageDown, ctrl)
    assert tabs.currentIndex() == 2
    QTest.keyClick(window.tree, Qt.Key.Key_PageUp, ctrl)
    assert tabs.currentIndex() == 1
    QTest.keyClick(window.tree, Qt.Key.Key_Backtab, ctrl | Qt.KeyboardModifier.ShiftModifier)
    assert tabs.currentIndex() == 0
    QTest.keyClick(window.tree, Qt.Key.Key_PageUp, ctrl)  # wraps around
    assert tabs.currentIndex() == tabs.count() - 1
    # from the filter box and from inside a pane too
    window.filter_edit.setFocus()
    QTest.keyClick(window.filter_edit, Qt.Key.Key_PageDown, ctrl)
    assert tabs.currentIndex() == 0
    window.set_tab("values")
    values: Any = window.panes["values"]
    values.view.setFocus()
    QTest.keyClick(values.view, Qt.Key.Key_Tab, ctrl)
    assert window.current_pane() is window.panes["compare"]
    window.panes["compare"].setFocus()
    QTest.keyClick(window.panes["compare"], Qt.Key.Key_PageUp, ctrl)
    assert window.current_pane() is values


def test_shapes_fit_and_the_difference_column_is_in_view_after_a_comparison(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    a = {
        "model/a_rather_long_scope_name/dense_layer_with_a_long_name/kernel": np.zeros(
            (4096, 40), np.float32
        ),
        "model/bias": np.zeros(40, np.float32),
    }
    b = {name: value + np.float32(1) for name, value in a.items()}
    save_state(tmp_path / "a.csv", a)
    save_state(tmp_path / "b.csv", b)
    open_and_wait(qtbot, window, tmp_path / "a.csv")
    window.tree.expandAll()
    assert window.tree.header().isSectionHidden(DIFFERENCE)  # empty without a comparison
    with qtbot.waitSignal(window.context.comparison_changed, timeout=WAIT):
        fileactions.compare_with(window, str(tmp_path / "b.csv"))
    tree, header = window.tree, window.tree.header()
    assert header.sectionSize(SHAPE) >= tree.sizeHintForColumn(SHAPE)
    start = header.sectionViewportPosition(DIFFERENCE)
    assert not header.isSectionHidden(DIFFERENCE)
    assert start >= 0 and start + 100 <= tree.viewport().width()
    assert header.sectionSize(NAME) >= 160  # names still show
    fileactions.clear_diffs(window)  # closes the compared file too
    assert header.isSectionHidden(DIFFERENCE)
