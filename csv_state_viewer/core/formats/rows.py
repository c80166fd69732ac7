"""Rows tables: one tensor per row, with a shape and a values column.

Headers such as ``layer,weight_index,shape,values``, ``parameter,shape,values`` or
``name,shape,dtype,values`` (any case, common synonyms). The shape is written
``"(8, 16)"``, ``"[4, 1, 3, 3]"``, ``"8x16"`` or ``"()"``; the values as a list
(``"[0.1, 0.2]"``, nested as ``str(array.tolist())`` writes it) or separated by spaces or
semicolons. A tensor's **name** is the row's cells of every other column joined with
``/`` in header order (``layer,weight_index`` gives ``dense/kernel``), empty cells left
out; statistics columns (size, numel, mean, std, ...) are not part of it, and a table
without any other column names its tensors ``tensor_0``, ``tensor_1``...

The dtype is the dtype column's, else decided from the values
(:func:`~csv_state_viewer.core.layouts.tabletext.decide_text_dtype`), which opening
reads once without keeping them; reading a tensor reads its row again. The number of
values must be the shape's element count. Read-only: the long table is the text layout
this package writes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from csv_state_viewer.core.csv.metaparse import parse_shape
from csv_state_viewer.core.dtypes import DtypeError, resolve_dtype
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.formats.long import DTYPE_WORDS, long_columns
from csv_state_viewer.core.layouts.tabletext import (
    BadValueError,
    Header,
    decide_text_dtype,
    headers,
    is_unnamed,
    joined_names,
    list_numbers,
    list_strings,
    parse_list,
    read_bytes,
    read_head,
    read_table,
    table_state,
    trimmed,
)
from csv_state_viewer.core.lazystate import LazyState
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled

SHAPE_WORDS = frozenset(
    {"shape", "dims", "dimensions", "tensor_shape", "param_shape", "weight_shape"}
)
VALUES_WORDS = frozenset(
    {
        "values",
        "value",
        "data",
        "weights",
        "array",
        "tensor_values",
        "flat_values",
        "weight_values",
        "param_values",
        "parameter_values",
    }
)
# Per-tensor facts some exports add; they are not part of a tensor's name.
STATISTICS = frozenset(
    {"size", "numel", "count", "num_elements", "nelement", "nbytes", "mean", "std", "min"}
    | {"max", "norm", "sum", "requires_grad", "trainable", "device"}
)


@dataclass(frozen=True)
class RowsColumns:
    header: Header
    names: tuple[int, ...]
    shape: int
    values: int
    dtype: int | None


def rows_columns(header: Header) -> RowsColumns | None:
    """The roles of ``header``'s columns, or None when it is no rows table's header (a
    long table's header, with its index column, is not)."""
    columns = header.columns
    shape = next((i for i, c in enumerate(columns) if c in SHAPE_WORDS), None)
    values = next((i for i, c in enumerate(columns) if c in VALUES_WORDS), None)
    if shape is None or values is None or long_columns(header) is not None:
        return None
    dtype = next((i for i, c in enumerate(columns) if c in DTYPE_WORDS), None)
    roles = {shape, values, dtype}
    names = tuple(
        i
        for i, c in enumerate(columns)
        if i not in roles and not is_unnamed(c) and c not in STATISTICS
    )
    return RowsColumns(header, names, shape, values, dtype)


def rows_layout(head: bytes) -> RowsColumns | None:
    return next(filter(None, (rows_columns(h) for h in headers(head))), None)


def _sniff(path: str, head: bytes) -> bool:
    return os.path.isfile(path) and rows_layout(head) is not None


@dataclass
class _Row:
    name: str
    line: int
    start: int
    end: int
    shape: tuple[int, ...] = ()
    dtype: np.dtype | None = None
    reason: str = ""
    error: str | None = None


def _numbers(data: Any, start: int, end: int, columns: RowsColumns, line: int) -> bytes:
    table = read_table(data, start, end, columns.header, [columns.values], first_line=line)
    if table.rows != 1:
        raise ValueError("the file changed since it was opened")
    return list_numbers(str(table.columns[columns.values][0]))


def _check_count(count: int, shape: tuple[int, ...]) -> None:
    if count != math.prod(shape):
        raise ValueError(f"{count} values for shape {list(shape)} ({math.prod(shape)} elements)")


def _describe(row: _Row, data: Any, columns: RowsColumns, declared: str) -> None:
    """Shape, dtype and count of one row; the row's error when one is wrong."""
    try:
        if declared:
            row.dtype = resolve_dtype(declared)
            row.reason = f"declared: the dtype column says {declared!r}"
            return
        numbers = _numbers(data, row.start, row.end, columns, row.line)
        strings = list_strings(numbers)
        _check_count(len(strings), row.shape)
        row.dtype, row.reason = decide_text_dtype(strings)
    except BadValueError as err:
        row.error = f"{err} at element {err.row + 1}" if err.row is not None else str(err)
    except (DtypeError, ValueError) as err:
        row.error = str(err)


def index_rows_table(
    data: Any, columns: RowsColumns, progress: Progress = NO_PROGRESS
) -> list[_Row]:
    """One tensor per row: its name, shape, dtype (decided from its values) or problem."""
    header = columns.header
    optional = [columns.dtype] if columns.dtype is not None else []
    wanted = sorted({*columns.names, columns.shape, *optional})
    table = read_table(data, header.start, len(data), header, wanted, first_line=2)
    names = joined_names(table, columns.names).to_pylist()
    shapes = trimmed(table.columns[columns.shape]).to_pylist()
    dtypes = (
        trimmed(table.columns[columns.dtype]).to_pylist()
        if columns.dtype is not None
        else [""] * table.rows
    )
    found: list[_Row] = []
    first_line: dict[str, int] = {}
    for k in range(table.rows):
        check_cancelled(progress)
        line = int(table.lines[k])
        name = names[k] if columns.names else f"tensor_{k}"
        row = _Row(name, line, int(table.starts[k]), int(table.ends[k]))
        found.append(row)
        if not name:
            row.error = "no name"
        elif name in first_line:
            row.error = f"duplicate name (first at line {first_line[name]})"
        else:
            first_line[name] = line
            try:
                row.shape = parse_shape(shapes[k])
            except ValueError as err:
                row.error = str(err)
            else:
                _describe(row, data, columns, dtypes[k])
        progress.report(k + 1, table.rows)
    for line, fields, message in table.problems:
        name = "/".join(fields[c].strip() for c in columns.names if c < len(fields))
        found.append(_Row(name or f"line {line}", line, 0, 0, error=message))
    found.sort(key=lambda r: r.line)
    return found


def read_rows_tensor(fd: int, columns: RowsColumns, row: _Row) -> np.ndarray:
    """One row's tensor, read again."""
    assert row.dtype is not None
    data = read_bytes(fd, row.start, row.end)
    values = parse_list(_numbers(data, 0, len(data), columns, row.line), row.dtype)
    _check_count(values.size, row.shape)
    return values.reshape(row.shape)


def open_rows_table(path: str | os.PathLike[str], progress: Progress = NO_PROGRESS) -> LazyState:
    """A rows table as a lazy state (see the module's description)."""
    path = os.fspath(path)
    columns = rows_layout(read_head(path))
    if columns is None:
        raise NotAStateError(path, "no shape and values columns in the header")
    with open(path, "rb") as handle:  # read whole: pyarrow and NumPy keep views of it
        data = handle.read()
    found = index_rows_table(data, columns, progress) if len(data) > columns.header.start else []
    return table_state(path, "rows", found, lambda fd, item: read_rows_tensor(fd, columns, item))


FORMAT = Format(
    name="rows",
    description="Rows table: one tensor per row (name, shape, values)",
    label="Rows table (name, shape, values)",
    extensions=(".csv", ".tsv", ".txt"),
    sniff=_sniff,
    open=open_rows_table,
)
