"""A read-only table model over the elements of one numpy array, exposed page by page.

A 0-D array is one cell, 1-D one column, 2-D a table; higher ranks are flattened to
``(prod(shape[:-1]), shape[-1])`` with the leading index (``[0, 1, 2]``) as row header.
Rows arrive in pages of :data:`PAGE` through ``canFetchMore``/``fetchMore``, so a view
of a ten-million-element tensor never creates millions of rows up front.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

PAGE = 1000
MAX_COPY_CELLS = 1_000_000

Index = QModelIndex | QPersistentModelIndex
_NON_FINITE = QColor("#c62828")
_ALIGN_RIGHT = int(
    Qt.AlignmentFlag.AlignRight.value | Qt.AlignmentFlag.AlignVCenter.value
)  # an int, the type item views and QAbstractItemModelTester expect


def value_text(value: Any) -> str:
    """Shortest text that reads back as the same value of its dtype."""
    if isinstance(value, np.bool_ | bool):
        return str(bool(value))
    if isinstance(value, np.integer | int):
        return str(int(value))
    if isinstance(value, np.floating | np.complexfloating):
        return str(value)  # NumPy 2 prints the shortest round-trip form of the dtype
    # ml_dtypes scalars (bfloat16, float8...) widen exactly to a Python float
    return repr(float(value))


def exact_text(value: Any) -> str:
    """Full-precision text: the value as a float64 (exact for every narrower float)."""
    if isinstance(value, np.floating):  # long double has more digits than a float64
        return repr(float(value)) if value.dtype.itemsize <= 8 else str(value)
    if isinstance(value, np.bool_ | np.integer | np.complexfloating | bool | int):
        return value_text(value)
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return str(value)


def _is_finite(value: Any) -> bool:
    if isinstance(value, np.bool_ | np.integer | bool | int):
        return True
    try:
        return bool(np.isfinite(value))
    except TypeError:  # ml_dtypes scalar without a ufunc loop for isfinite
        return math.isfinite(float(value))


class ValuesModel(QAbstractTableModel):
    """The elements of an array as a lazily paged table; see the module docstring."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._table = np.empty((0, 0))
        self._lead: tuple[int, ...] = ()  # leading shape of arrays of rank 3 and more
        self._loaded = 0

    # ------------------------------------------------------------------ the array
    @property
    def array(self) -> np.ndarray | None:
        return self._array

    @property
    def total_rows(self) -> int:
        """Rows of the whole table, fetched or not."""
        return int(self._table.shape[0])

    def set_array(self, array: np.ndarray | None) -> None:
        self.beginResetModel()
        self._array = array
        self._lead = ()
        if array is None:
            self._table = np.empty((0, 0))
        elif array.ndim == 0:
            self._table = array.reshape(1, 1)
        elif array.ndim == 1:
            self._table = array.reshape(-1, 1)
        elif array.ndim == 2:
            self._table = array
        else:
            self._lead = tuple(array.shape[:-1])
            self._table = array.reshape(math.prod(self._lead), array.shape[-1])
        self._loaded = min(PAGE, self.total_rows)
        self.endResetModel()

    # ------------------------------------------------------------------ Qt model
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self._loaded

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else int(self._table.shape[1])

    def canFetchMore(self, parent: Index) -> bool:  # noqa: N802
        return not parent.isValid() and self._loaded < self.total_rows

    def fetchMore(self, parent: Index) -> None:  # noqa: N802
        if not self.canFetchMore(parent):
            return
        count = min(PAGE, self.total_rows - self._loaded)
        self.beginInsertRows(QModelIndex(), self._loaded, self._loaded + count - 1)
        self._loaded += count
        self.endInsertRows()

    def fetch_through(self, row: int) -> None:
        """Make rows up to ``row`` (clamped to the table) available, in one insertion."""
        last = min(row, self.total_rows - 1)
        if last < self._loaded:
            return
        self.beginInsertRows(QModelIndex(), self._loaded, last)
        self._loaded = last + 1
        self.endInsertRows()

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= self._loaded:
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _ALIGN_RIGHT
        if role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
            Qt.ItemDataRole.ForegroundRole,
        ):
            return None
        value = self._table[index.row(), index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return value_text(value)
        if role == Qt.ItemDataRole.ForegroundRole:
            return None if _is_finite(value) else _NON_FINITE
        return f"{self.element_label(index.row(), index.column())} = {exact_text(value)}"

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            if self._array is not None and self._array.ndim < 2:
                return "value"
            return str(section)
        if not 0 <= section < self.total_rows:
            return None
        if not self._lead:
            return str(section)
        return _index_text(np.unravel_index(section, self._lead))

    def element_label(self, row: int, column: int) -> str:
        """The array index of a cell, like ``[0, 1, 2]`` (``[]`` for a 0-D array)."""
        if self._array is None or self._array.ndim == 0:
            return "[]"
        if self._array.ndim == 1:
            return f"[{row}]"
        lead = np.unravel_index(row, self._lead) if self._lead else (row,)
        return _index_text((*lead, column))

    # ------------------------------------------------------------------ copying
    def selection_text(self, indexes: Iterable[Index]) -> str:
        """The selected cells as TSV over their bounding rectangle (gaps left empty).

        Raises ValueError when the rectangle holds more than :data:`MAX_COPY_CELLS`.
        """
        cells = {(i.row(), i.column()) for i in indexes if i.isValid()}
        if not cells:
            return ""
        rows = [r for r, _ in cells]
        columns = [c for _, c in cells]
        top, bottom, left, right = min(rows), max(rows), min(columns), max(columns)
        check_copy_size(bottom - top + 1, right - left + 1)
        lines = []
        for row in range(top, bottom + 1):
            values = self._table[row, left : right + 1]
            lines.append(
                "\t".join(
                    value_text(v) if (row, left + k) in cells else "" for k, v in enumerate(values)
                )
            )
        return "\n".join(lines)


def _index_text(index: Iterable[Any]) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def check_copy_size(rows: int, columns: int) -> None:
    """Raise ValueError when a rectangle of ``rows`` by ``columns`` is too big to copy."""
    if rows * columns > MAX_COPY_CELLS:
        raise ValueError(
            f"cannot copy {rows:,} rows by {columns:,} columns = {rows * columns:,} cells: "
            f"at most {MAX_COPY_CELLS:,} cells can be copied at once"
        )
