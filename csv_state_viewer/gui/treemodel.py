"""The Qt item model of the tensor tree: a thin adapter over core.tree nodes.

One root row per open file. Internal pointers are the core :class:`Node` objects, which
the model keeps alive through :attr:`roots`. A tensor's problem is asked of its state and
its difference of the window's :class:`Comparison`; the model keeps no copy of either.
The model never opens dialogs or prints.

Names come from files: the Name column shows them escaped (control, bidi and zero-width
characters as ``\x1b``, ``\u202e``...) and, beyond
:data:`~csv_state_viewer.core.formatting.DISPLAY_NAME_LIMIT` characters, elided in the
middle; the tooltip holds the whole escaped name. Sorting, filtering and everything that
uses the node (:data:`NODE_ROLE`) see the real name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QApplication, QStyle

from csv_state_viewer.core.analysis.diff import DiffStatus, TensorDiff
from csv_state_viewer.core.analysis.health import Finding
from csv_state_viewer.core.analysis.roles import is_optimizer_state, is_parameter, kind_of
from csv_state_viewer.core.analysis.tree import FILE, TENSOR, Node, Totals, bad_row_count, totals
from csv_state_viewer.core.formatting import display_name, human_bytes, safe_text, shape_text
from csv_state_viewer.gui.context import Comparison

NAME, SHAPE, DTYPE, PARAMETERS, OPTIMIZER, SIZE, DIFFERENCE = range(7)
HEADERS = ("Name", "Shape", "Dtype", "Parameters", "Optimizer state", "Size", "Difference")
# element counts, model parameters apart from optimizer state
COUNT_COLUMNS = (PARAMETERS, OPTIMIZER)
NODE_ROLE = Qt.ItemDataRole.UserRole + 1  # the core Node of a row
SORT_ROLE = Qt.ItemDataRole.UserRole + 2  # a value that sorts numerically

Index = QModelIndex | QPersistentModelIndex
_PROBLEM = QColor("#c62828")
HEALTH_ICONS = {  # a tensor's badge once the health check found something in it
    "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
    "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
}


_STATUS_CELLS = {
    DiffStatus.IDENTICAL: "identical",
    DiffStatus.ONLY_IN_A: "only in this file",
    DiffStatus.ONLY_IN_B: "only in the other",
    DiffStatus.UNREADABLE: "unreadable",
}


def diff_text(diff: TensorDiff | None) -> str:
    """One cell's summary of a tensor's comparison."""
    if diff is None:
        return ""
    status = diff.status
    if status in (DiffStatus.DIFFERENT, DiffStatus.DTYPE_DIFFERS):
        parts = []
        if diff.max_abs_diff is not None:
            parts.append(f"max |Δ| {diff.max_abs_diff:.3g}")
        if diff.rel_l2 is not None and math.isfinite(diff.rel_l2):
            parts.append(f"rel L2 {diff.rel_l2:.3g}")
        prefix = "dtype differs: " if status is DiffStatus.DTYPE_DIFFERS else ""
        return prefix + (", ".join(parts) or "different")
    if status is DiffStatus.SHAPE_DIFFERS:
        return f"shape {shape_text(diff.shape_a)} vs {shape_text(diff.shape_b)}"
    return _STATUS_CELLS[status]


class TensorTreeModel(QAbstractItemModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.roots: list[Node] = []
        self.comparison: Comparison | None = None  # the window's, not a copy
        self._group_diffs: dict[int, str] = {}
        self._totals: dict[int, Totals] = {}
        # a tensor's most severe health finding, once its file was checked (the window's)
        self.health_of: Callable[[Node], Finding | None] = lambda _node: None

    # ------------------------------------------------------------------ editing
    def add_root(self, root: Node) -> QModelIndex:
        row = len(self.roots)
        self.beginInsertRows(QModelIndex(), row, row)
        self.roots.append(root)
        self.endInsertRows()
        return self.index(row, 0)

    def remove_root(self, root: Node) -> None:
        row = self.roots.index(root)
        self.beginRemoveRows(QModelIndex(), row, row)
        del self.roots[row]
        self.endRemoveRows()
        self._totals.clear()
        self._group_diffs.clear()

    def set_comparison(self, comparison: Comparison | None) -> None:
        """Show the differences of ``comparison`` (None: no Difference column values)."""
        self.comparison = comparison
        self.refresh()

    def diff_of(self, node: Node) -> TensorDiff | None:
        return self.comparison.diff_of(node) if self.comparison is not None else None

    def refresh(self, node: Node | None = None) -> None:
        """Tell views a node (and its ancestors) or everything changed."""
        self._group_diffs.clear()
        self._totals.clear()
        last = len(HEADERS) - 1
        if node is None:
            if self.roots:
                self._changed_below(QModelIndex())
            return
        while node is not None:
            index = self.index_of(node)
            self.dataChanged.emit(index, index.siblingAtColumn(last))
            node = node.parent

    def _changed_below(self, parent: QModelIndex) -> None:
        rows = self.rowCount(parent)
        if rows == 0:
            return
        self.dataChanged.emit(
            self.index(0, 0, parent), self.index(rows - 1, len(HEADERS) - 1, parent)
        )
        for row in range(rows):
            self._changed_below(self.index(row, 0, parent))

    def index_of(self, node: Node, column: int = 0) -> QModelIndex:
        if node.parent is None:
            if node not in self.roots:
                return QModelIndex()
            return self.createIndex(self.roots.index(node), column, node)
        return self.createIndex(node.row, column, node)

    @staticmethod
    def node(index: Index) -> Node | None:
        return index.internalPointer() if index.isValid() else None

    # -------------------------------------------------------------- structure
    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        children = self.roots if not parent.isValid() else self._children(parent)
        return self.createIndex(row, column, children[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        node = self.node(index)
        if node is None or node.parent is None:
            return QModelIndex()
        return self.index_of(node.parent)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        if not parent.isValid():
            return len(self.roots)
        if parent.column() != 0:
            return 0
        return len(self._children(parent))

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return len(HEADERS)

    def _children(self, index: Index) -> list[Node]:
        node = self.node(index)
        return node.children if node is not None else self.roots

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # ------------------------------------------------------------------- data
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self.node(index)
        if node is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(node, column)
        if role == NODE_ROLE:
            return node
        if role == SORT_ROLE:
            return self._sort_key(node, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(node)
        if role == Qt.ItemDataRole.DecorationRole and column == NAME:
            return self._icon(node)
        if role == Qt.ItemDataRole.ForegroundRole:
            if node.error is not None or (column == DIFFERENCE and self._differs(node)):
                return QBrush(_PROBLEM)
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (*COUNT_COLUMNS, SIZE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, node: Node, column: int) -> str:
        if column == NAME:
            return display_name(node.label)
        entry = node.entry
        if node.kind != TENSOR or entry is None:
            if column == PARAMETERS:
                return f"{self._totals_of(node).parameters:,}"
            if column == OPTIMIZER:
                return f"{self._totals_of(node).optimizer_state:,}"
            if column == SIZE:
                return human_bytes(self._totals_of(node).nbytes)
            if column == DIFFERENCE:
                return self._group_diff(node)
            return ""
        if column == SHAPE:
            return shape_text(entry.shape) if entry.shape is not None else ""
        if column == DTYPE:
            return str(entry.dtype) if entry.dtype is not None else ""
        if column in COUNT_COLUMNS:
            count = self._count(node, column)
            return f"{count:,}" if count is not None else ""
        if column == SIZE:
            return human_bytes(entry.nbytes) if entry.dtype is not None else ""
        return diff_text(self.diff_of(node))

    def _sort_key(self, node: Node, column: int) -> Any:
        entry = node.entry
        if column == NAME:
            return node.label.lower()
        if column == SHAPE:
            return entry.size if entry is not None else self._totals_of(node).parameters
        if column in COUNT_COLUMNS:
            count = self._count(node, column)
            return count if count is not None else -1
        if column == SIZE:
            return entry.nbytes if entry is not None else self._totals_of(node).nbytes
        if column == DIFFERENCE:
            diff = self.diff_of(node)
            value = diff.max_abs_diff if diff is not None else None
            return value if value is not None and math.isfinite(value) else -1.0
        return self._display(node, column)

    def _tooltip(self, node: Node) -> str:
        error = node.error
        if error is not None:
            if display_name(node.label) != node.label:  # elided or escaped: say whose
                return f"{safe_text(node.name)}: {safe_text(error)}"
            return safe_text(error)
        finding = self.health_of(node) if node.kind == TENSOR else None
        if finding is not None:
            return f"{safe_text(node.name)}\n{finding.severity}: {safe_text(finding.message)}"
        if node.kind == FILE and node.state is not None and bad_row_count(node.state):
            count = bad_row_count(node.state)
            return f"{count:,} bad row{'s' if count != 1 else ''}; the others are readable"
        return safe_text(node.name)  # whole: the Name column may show it elided

    def _icon(self, node: Node) -> Any:
        style = QApplication.style()
        has_problem = node.error is not None or (
            node.kind == FILE and node.state is not None and bool(node.state.errors)
        )
        if has_problem:
            return style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        finding = self.health_of(node) if node.kind == TENSOR else None
        if finding is not None:
            return style.standardIcon(HEALTH_ICONS[finding.severity])
        if node.kind == FILE:
            return style.standardIcon(QStyle.StandardPixmap.SP_FileIcon)
        if node.kind != TENSOR:
            return style.standardIcon(QStyle.StandardPixmap.SP_DirIcon)
        return None

    def _count(self, node: Node, column: int) -> int | None:
        """Elements counted in a count column: a tensor's own (in the column of its kind),
        a file's or scope's sum; None where a tensor does not count (a bad row, a counter
        under Parameters)."""
        entry = node.entry
        if node.kind != TENSOR or entry is None:
            counts = self._totals_of(node)
            return counts.parameters if column == PARAMETERS else counts.optimizer_state
        if entry.shape is None or node.error is not None:
            return None
        kind = kind_of(entry)
        counted = is_parameter(kind) if column == PARAMETERS else is_optimizer_state(kind)
        return entry.size if counted else None

    def _totals_of(self, node: Node) -> Totals:
        found = self._totals.get(id(node))
        if found is None:
            found = self._totals[id(node)] = totals(node)
        return found

    def _differs(self, node: Node) -> bool:
        diff = self.diff_of(node)
        return diff is not None and diff.status is not DiffStatus.IDENTICAL

    def _group_diff(self, node: Node) -> str:
        key = id(node)
        if key not in self._group_diffs:
            found = (self.diff_of(leaf) for leaf in node.tensors())
            diffs = [diff for diff in found if diff is not None]
            differing = sum(1 for d in diffs if d.status is not DiffStatus.IDENTICAL)
            self._group_diffs[key] = f"{differing} of {len(diffs)} differ" if diffs else ""
        return self._group_diffs[key]
