"""The tensor tree's context menu and Ctrl+C."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QContextMenuEvent, QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.analysis.tree import Node
from csv_state_viewer.gui.mainwindow import MainWindow
from csv_state_viewer.gui.treemodel import NAME

from .conftest import SAMPLES

WAIT = 20000


def open_and_wait(qtbot: QtBot, window: MainWindow, path: Path | str) -> Node:
    with qtbot.waitSignal(window.file_opened, timeout=WAIT) as blocker:
        window.open_file(str(path))
    root: Node = blocker.args[0]
    return root


def select_also(window: MainWindow, node: Node) -> None:
    index = window.proxy.mapFromSource(window.model.index_of(node))
    window.tree.selectionModel().select(
        index,
        QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
    )


def test_ctrl_c_in_the_tree_copies_full_names_one_per_line(
    qtbot: QtBot, window: MainWindow
) -> None:
    root = open_and_wait(qtbot, window, SAMPLES / "mlp_adam.csv")
    assert window.select("adam/iteration")
    QTest.keyClick(window.tree, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "adam/iteration"
    kernel = root.find("sequential/dense/kernel")
    assert kernel is not None
    select_also(window, kernel)
    QTest.keyClick(window.tree, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "sequential/dense/kernel\nadam/iteration"


def test_the_context_menu_copies_shows_tabs_and_offers_export_and_compare(
    qtbot: QtBot, window: MainWindow
) -> None:
    open_and_wait(qtbot, window, SAMPLES / "mlp_adam.csv")
    assert window.select("sequential/dense_1/kernel")
    tree = window.tree
    rect = tree.visualRect(tree.currentIndex().siblingAtColumn(NAME))
    pos = rect.center()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, tree.viewport().mapToGlobal(pos))
    QApplication.sendEvent(tree.viewport(), event)
    menu = window.tree_menu.menu
    assert menu is not None and menu.isVisible()
    actions = {a.text().replace("&", ""): a for a in menu.actions() if a.text()}
    assert {
        "Copy full name",
        "Copy shape",
        "Export tensor…",
        "Show histogram",
        "Show heatmap",
        "Show values",
        "Compare with…",
    } <= set(actions)
    assert all(a.isEnabled() for a in actions.values())
    actions["Copy shape"].trigger()
    assert QGuiApplication.clipboard().text() == "[128,64]"
    actions["Show heatmap"].trigger()
    assert window.current_pane() is window.panes["heatmap"]
    menu.close()


def test_right_click_on_a_row_outside_the_selection_selects_it(
    qtbot: QtBot, window: MainWindow
) -> None:
    open_and_wait(qtbot, window, SAMPLES / "mlp_adam.csv")
    tree = window.tree
    assert window.select("sequential/dense_1/kernel")
    other = tree.indexBelow(tree.currentIndex())
    pos = tree.visualRect(other).center()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, tree.viewport().mapToGlobal(pos))
    QApplication.sendEvent(tree.viewport(), event)
    assert tree.currentIndex() == other
    assert window.tree_menu.menu is not None
    window.tree_menu.menu.close()


def test_keyboard_context_menu_key_opens_it(qtbot: QtBot, window: MainWindow) -> None:
    open_and_wait(qtbot, window, SAMPLES / "mlp_adam.csv")
    tree = window.tree
    pos = tree.visualRect(tree.currentIndex()).center()
    event = QContextMenuEvent(
        QContextMenuEvent.Reason.Keyboard, pos, tree.viewport().mapToGlobal(pos)
    )
    QApplication.sendEvent(tree.viewport(), event)
    menu = window.tree_menu.menu
    assert menu is not None and menu.isVisible()
    menu.close()
    window.tree_menu.menu = None
    QTest.keyClick(tree, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    menu = window.tree_menu.menu
    assert menu is not None and menu.isVisible()
    menu.close()
