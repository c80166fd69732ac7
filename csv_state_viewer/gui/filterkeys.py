"""The filter box from the keyboard: Down moves into the results, Enter selects the first
match, Escape clears the filter; clearing it brings back the tree's earlier expansion."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit, QTreeView

from csv_state_viewer.core.analysis.tree import TENSOR, Node, name_matches
from csv_state_viewer.gui.treefilter import TensorFilterProxy
from csv_state_viewer.gui.treemodel import NAME, NODE_ROLE


class FilterKeys(QObject):
    """Connects ``edit`` to the ``proxy`` shown by ``tree``; ``select`` selects a node."""

    def __init__(
        self,
        edit: QLineEdit,
        tree: QTreeView,
        proxy: TensorFilterProxy,
        select: Callable[[Node], None],
    ) -> None:
        super().__init__(edit)
        self.edit, self.tree, self.proxy, self._select = edit, tree, proxy, select
        self._expanded_before: list[Node] | None = None  # while a filter is set
        edit.textChanged.connect(self._changed)
        edit.returnPressed.connect(self.select_first_match)
        edit.installEventFilter(self)

    def focus_filter(self) -> None:
        """Ctrl+F: into the filter box, its text selected to be typed over."""
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()

    def first_match(self) -> QModelIndex:
        """The first tensor row shown whose name matches the filter (or the first tensor
        row shown when none matches by itself: it is shown for a matching scope)."""
        pattern = self.proxy.pattern.strip()
        first = QModelIndex()
        stack = [QModelIndex()]
        while stack:  # depth first, in the order shown
            index = stack.pop()
            node = index.data(NODE_ROLE) if index.isValid() else None
            if node is not None and node.kind == TENSOR:
                if not pattern or name_matches(node.name, pattern):
                    return index
                if not first.isValid():
                    first = index
            rows = range(self.proxy.rowCount(index) - 1, -1, -1)
            stack.extend(self.proxy.index(row, NAME, index) for row in rows)
        return first

    def select_first_match(self) -> None:
        index = self.first_match()
        if index.isValid():
            self._select(index.data(NODE_ROLE))
        self.tree.setFocus(Qt.FocusReason.OtherFocusReason)

    def _enter_results(self) -> None:
        current = self.tree.currentIndex()
        if not current.isValid():
            self.select_first_match()
            return
        self.tree.scrollTo(current)
        self.tree.setFocus(Qt.FocusReason.OtherFocusReason)

    def _changed(self, text: str) -> None:
        filtering = bool(text.strip())
        if filtering and self._expanded_before is None:
            self._expanded_before = self._expanded_nodes()
        self.proxy.set_pattern(text)
        if filtering:
            self.tree.expandAll()
        elif self._expanded_before is not None:
            expanded, self._expanded_before = self._expanded_before, None
            self._restore(expanded)

    def _expanded_nodes(self) -> list[Node]:
        found: list[Node] = []
        stack = [QModelIndex()]
        while stack:
            parent = stack.pop()
            for row in range(self.proxy.rowCount(parent)):
                index = self.proxy.index(row, NAME, parent)
                if self.tree.isExpanded(index):
                    found.append(index.data(NODE_ROLE))
                    stack.append(index)
        return found

    def _restore(self, expanded: list[Node]) -> None:
        self.tree.collapseAll()
        source = self.proxy.sourceModel()
        for node in expanded:
            index = self.proxy.mapFromSource(source.index_of(node))  # type: ignore[attr-defined]
            if index.isValid():
                self.tree.expand(index)
        current = self.tree.currentIndex()
        if current.isValid():
            self.tree.scrollTo(current)  # the row the user was on stays in view

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Down and not event.modifiers():
                self._enter_results()
                return True
            if event.key() == Qt.Key.Key_Escape and self.edit.text():
                self.edit.clear()
                return True
        return super().eventFilter(watched, event)
