"""Filtering and sorting of the tensor tree: a proxy that keeps the parents of matches."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt

from csv_state_viewer.core.analysis.tree import FILE, name_matches
from csv_state_viewer.gui.treemodel import NODE_ROLE, SORT_ROLE

Index = QModelIndex | QPersistentModelIndex


class TensorFilterProxy(QSortFilterProxyModel):
    """Rows whose full name matches the pattern (substring or glob), plus their parents.

    File rows always stay, so an empty result still shows which files are open.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._pattern = ""
        self.setRecursiveFilteringEnabled(True)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    @property
    def pattern(self) -> str:
        return self._pattern

    def set_pattern(self, pattern: str) -> None:
        self.beginFilterChange()
        self._pattern = pattern
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        node = model.data(model.index(source_row, 0, source_parent), NODE_ROLE)
        if node is None:
            return False
        if node.kind == FILE or not self._pattern.strip():
            return True
        # a matching scope or variable keeps its whole subtree (its slots, its tensors)
        while node is not None and node.kind != FILE:
            if name_matches(node.name, self._pattern):
                return True
            node = node.parent
        return False

    def lessThan(self, left: Index, right: Index) -> bool:  # noqa: N802
        a = left.data(SORT_ROLE)
        b = right.data(SORT_ROLE)
        if type(a) is not type(b):
            return str(a) < str(b)
        return bool(a < b)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        return self.sourceModel().headerData(section, orientation, role)
