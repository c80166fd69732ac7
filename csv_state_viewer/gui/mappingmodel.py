"""A table of the mapping report: which state tensor goes into which model variable.

It only adapts a :class:`~csv_state_viewer.bridge.mapping.MappingReport` (problems first,
as ``csv-state apply`` prints it); it never loads a model or shows anything itself.
Names are shown escaped and long ones elided (the tooltip has them whole); the rows
(:data:`ROW_ROLE`) keep the real names.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from csv_state_viewer.bridge.mapping import MATCHED, MappingReport, MappingRow
from csv_state_viewer.core.formatting import display_name, safe_text

COL_STATUS = 0
COL_ROLE = 1
COL_STATE = 2
COL_TARGET = 3
COL_STATE_SHAPE = 4
COL_TARGET_SHAPE = 5
COL_DTYPE = 6
COL_HOW = 7
HEADERS = (
    "Status",
    "Role",
    "State tensor",
    "Model variable",
    "State shape",
    "Model shape",
    "Dtype",
    "How",
)
ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the MappingRow of a table row

MATCHED_COLOR = QColor(0x1B, 0x7F, 0x2A)
PROBLEM_COLOR = QColor(0xC6, 0x28, 0x28)
CAST_COLOR = QColor(0xB2, 0x6A, 0x00)  # matched, but the values are converted

AnyIndex = QModelIndex | QPersistentModelIndex


def shape_text(shape: Sequence[int] | None) -> str:
    return "-" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def dtype_text(row: MappingRow) -> str:
    """The dtype, or ``state -> model`` when the value is cast on the way in."""
    if row.cast:
        return f"{row.state_dtype} \u2192 {row.target_dtype}"
    return row.state_dtype or row.target_dtype or "-"


def _ordered(report: MappingReport) -> list[MappingRow]:
    # The CLI's order: problems first (what the user must look at), weights before optimizer.
    return sorted(report.rows, key=lambda r: (r.status == MATCHED, r.role != "weight"))


class MappingTableModel(QAbstractTableModel):
    """Read-only rows of a mapping report; :meth:`set_report` replaces them."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.report: MappingReport | None = None
        self._rows: list[MappingRow] = []

    def set_report(self, report: MappingReport | None) -> None:
        self.beginResetModel()
        self.report = report
        self._rows = _ordered(report) if report is not None else []
        self.endResetModel()

    def mapping_row(self, row: int) -> MappingRow:
        return self._rows[row]

    # ------------------------------------------------------------ Qt model interface
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(  # noqa: N802
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> object:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(HEADERS):
            return HEADERS[section]
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self._rows):
            return str(section + 1)
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_STATUS:
            return QBrush(MATCHED_COLOR if row.status == MATCHED else PROBLEM_COLOR)
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_DTYPE and row.cast:
            return QBrush(CAST_COLOR)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row)
        return None

    @staticmethod
    def _text(row: MappingRow, column: int) -> str:
        if column == COL_STATUS:
            return row.status
        if column == COL_ROLE:
            return row.role
        if column == COL_STATE:
            return display_name(row.state_name) if row.state_name else "-"
        if column == COL_TARGET:
            return display_name(row.target) if row.target else "-"
        if column == COL_STATE_SHAPE:
            return shape_text(row.state_shape)
        if column == COL_TARGET_SHAPE:
            return shape_text(row.target_shape)
        if column == COL_DTYPE:
            return dtype_text(row)
        if column == COL_HOW:
            return row.how
        return ""

    @staticmethod
    def _tooltip(row: MappingRow) -> str:
        parts = [row.status]
        if row.status != MATCHED and row.state_shape != row.target_shape:
            parts.append(
                f"state {shape_text(row.state_shape)}, model {shape_text(row.target_shape)}"
            )
        if row.cast:
            parts.append(f"cast {dtype_text(row)}")
        if row.how:
            parts.append(safe_text(row.how))
        names = [safe_text(name) for name in (row.state_name, row.target) if name]
        if any(display_name(name) != name for name in names):  # shown shortened
            parts.append(" -> ".join(names))
        return "; ".join(parts)
