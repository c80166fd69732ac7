"""The tensor tree's context menu and its Ctrl+C: what can be done with the selection."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QMenu

from csv_state_viewer.core.analysis.tree import FILE, TENSOR, Node
from csv_state_viewer.core.formatting import shape_text
from csv_state_viewer.gui import exporttensor, menus
from csv_state_viewer.gui.treemodel import NODE_ROLE

if TYPE_CHECKING:
    from csv_state_viewer.gui.mainwindow import MainWindow


def full_name(node: Node) -> str:
    """What copying a row gives: a tensor's or scope's full name, a file's path."""
    if node.kind == FILE and node.state is not None:
        return node.state.path
    return node.name


class TreeMenu(QObject):
    """Attached to a window's tree: Ctrl+C copies full names, right-click opens :attr:`menu`."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.menu: QMenu | None = None  # the last menu shown, kept for tests
        tree = window.tree
        self.copy_action = QAction("&Copy full name", tree)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_action.triggered.connect(lambda _checked=False: self.copy_names())
        tree.addAction(self.copy_action)
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._requested)
        # the Menu key opens it through Qt; Shift+F10 is the other key users expect
        self.menu_key = QShortcut(QKeySequence("Shift+F10"), tree)
        self.menu_key.setContext(Qt.ShortcutContext.WidgetShortcut)
        self.menu_key.activated.connect(self.popup_at_current)

    def copy_names(self) -> str:
        """Copy the full names of the selected rows, one per line; returns the text."""
        text = "\n".join(full_name(n) for n in self._selected())
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def copy_shapes(self) -> str:
        tensors = [n for n in self._selected() if n.entry is not None]
        text = "\n".join(shape_text(n.entry.shape) for n in tensors if n.entry is not None)
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def _selected(self) -> list[Node]:
        # in the order shown, not the order of selection: a copied list reads like the tree
        nodes = self.window.selected_nodes()
        if len(nodes) < 2:
            return nodes
        order = {id(n): i for i, n in enumerate(_shown_order(self.window))}
        return sorted(nodes, key=lambda n: order.get(id(n), len(order)))

    def build(self) -> QMenu:
        """The menu for the current selection."""
        window = self.window
        nodes = window.selected_nodes()
        tensors = [n for n in nodes if n.kind == TENSOR]
        menu = QMenu(window.tree)
        menu.addAction(self.copy_action)
        self.copy_action.setEnabled(bool(nodes))
        copy_shape = menu.addAction("Copy &shape")
        copy_shape.triggered.connect(lambda _checked=False: self.copy_shapes())
        copy_shape.setEnabled(bool(tensors))
        menu.addSeparator()
        count = len(exporttensor.exportable(nodes))
        export = menu.addAction("&Export tensors…" if count > 1 else "&Export tensor…")
        export.triggered.connect(lambda _checked=False: exporttensor.export_dialog(window))
        export.setEnabled(count > 0)
        menu.addSeparator()
        for name, text in (
            ("histogram", "Show &histogram"),
            ("heatmap", "Show heat&map"),
            ("values", "Show &values"),
        ):
            action = menu.addAction(text)
            action.triggered.connect(partial(_show, window, name))
            action.setEnabled(bool(tensors))
        menu.addSeparator()
        compare = menu.addAction("C&ompare with…")
        compare.setEnabled(bool(nodes))
        compare.triggered.connect(lambda _checked=False: menus.compare_dialog(window))
        self.menu = menu
        return menu

    def popup_at_current(self) -> None:
        """Open the menu at the current row (from the keyboard)."""
        tree = self.window.tree
        rect = tree.visualRect(tree.currentIndex())
        pos = rect.center() if rect.isValid() else tree.viewport().rect().center()
        self.build().popup(tree.viewport().mapToGlobal(pos))

    def _requested(self, pos: QPoint) -> None:
        tree = self.window.tree
        index = tree.indexAt(pos)
        if index.isValid() and not tree.selectionModel().isSelected(index):
            tree.setCurrentIndex(index)  # right-click on an unselected row selects it
        self.build().popup(tree.viewport().mapToGlobal(pos))


def _show(window: MainWindow, name: str, _checked: bool = False) -> None:
    window.set_tab(name)


def _shown_order(window: MainWindow) -> list[Node]:
    proxy, found = window.proxy, []
    stack = [proxy.index(r, 0) for r in range(proxy.rowCount() - 1, -1, -1)]
    while stack:
        index = stack.pop()
        found.append(index.data(NODE_ROLE))
        stack.extend(proxy.index(r, 0, index) for r in range(proxy.rowCount(index) - 1, -1, -1))
    return found
