"""Long tables: one value per row (``name,index,value``), as people write tensors with
pandas or ``csv.writer``.

Columns are found by their header names, in any case, with common synonyms:

- the **name**: one or more of name, tensor, variable, var, param, parameter, weight,
  layer, module, key (also ``<word>_name``); several are joined with ``/`` in header
  order, so ``layer,parameter`` gives ``dense/kernel``;
- the **position**: one index column (index, idx, position, pos, flat_index, ...) holding
  a flat C-order index (``5``) or a multi-index (``"1,2"``, ``"(1, 2)"``, ``"[1, 2]"``,
  ``"()"`` for a scalar), or one column per axis (``row,col``; ``i,j,k``; ``dim0,dim1``);
  empty trailing axis cells give a tensor of lower rank (a bias beside a kernel);
- the **value**: value, val, weight_value, data, ...;
- optionally a **dtype** (dtype, type: ``float32``, ``torch.float32``,
  ``<dtype: 'float32'>``...) and a **shape** column; their first non-empty cell among a
  tensor's rows counts.

A tensor's shape is the declared one, else the largest index + 1 on each axis; every
position must appear exactly once (rows may come in any order). Tensors are listed in
order of first appearance. Opening reads the table once (pyarrow's CSV reader) to find
each tensor's rows, check the positions and decide the dtype of undeclared tensors
(:func:`~csv_state_viewer.core.layouts.values.decide_dtype`); the values are not kept:
reading a tensor reads its byte range again.

Writing gives ``name,index,value,dtype,shape``: a flat C-order index, shortest exact
decimals, and the dtype and shape on each tensor's first row, so that a file reads back
with its exact dtype and shape (scalars and empty tensors included).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.csv import textcodec
from csv_state_viewer.core.csv.metaparse import parse_shape
from csv_state_viewer.core.dtypes import DtypeError, dtype_name, resolve_dtype
from csv_state_viewer.core.errors import NotAStateError, StateWriteError
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.layouts.tabletext import (
    BadValueError,
    Header,
    Table,
    decide_text_dtype,
    headers,
    joined_names,
    parse_values,
    read_bytes,
    read_head,
    read_table,
    table_state,
    text_field,
    trimmed,
)
from csv_state_viewer.core.lazystate import LazyState
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.tensors import Tensors, iter_loaded, tensor_items

NAME_WORDS = frozenset(
    {"name", "tensor", "variable", "var", "param", "parameter", "weight", "layer", "module", "key"}
)
INDEX_WORDS = frozenset(
    {"index", "idx", "position", "pos", "flat_index", "flat_idx", "multi_index", "element"}
)
VALUE_WORDS = frozenset(
    {"value", "val", "weight_value", "data", "tensor_value", "param_value", "parameter_value"}
)
DTYPE_WORDS = frozenset({"dtype", "type", "data_type"})
SHAPE_WORDS = frozenset({"shape", "tensor_shape"})
WRITE_COLUMNS = ("name", "index", "value", "dtype", "shape")
_AXIS_LETTERS = {"row": 0, "col": 1, "column": 1, "i": 0, "j": 1, "k": 2, "l": 3}
_AXIS_NUMBERED = re.compile(r"^(?:dim|axis|index|idx|d)_?(\d+)$")
_INDEX_NUMBER = r"^\d{1,18}(\.0*)?$"  # pandas writes an int column with gaps as 3.0
_WRITE_CHUNK = 1 << 20


def _is_name(column: str) -> bool:
    return column in NAME_WORDS or column.removesuffix("_name") in NAME_WORDS


def _axis(column: str) -> int | None:
    if column in _AXIS_LETTERS:
        return _AXIS_LETTERS[column]
    numbered = _AXIS_NUMBERED.match(column)
    return int(numbered.group(1)) if numbered else None


@dataclass(frozen=True)
class LongColumns:
    """Which columns of a header hold the name parts, the position, the value..."""

    header: Header
    names: tuple[int, ...]
    index: tuple[int, ...]  # one index column, or one column per axis in axis order
    value: int
    dtype: int | None
    shape: int | None

    @property
    def wanted(self) -> list[int]:
        optional = [c for c in (self.dtype, self.shape) if c is not None]
        return sorted({*self.names, *self.index, self.value, *optional})


def long_columns(header: Header) -> LongColumns | None:
    """The roles of ``header``'s columns, or None when it is no long table's header."""
    columns = header.columns
    names = tuple(i for i, c in enumerate(columns) if _is_name(c))
    values = [i for i, c in enumerate(columns) if c in VALUE_WORDS]
    flat = [i for i, c in enumerate(columns) if c in INDEX_WORDS]
    axes = sorted((axis, i) for i, c in enumerate(columns) if (axis := _axis(c)) is not None)
    if flat:
        index: tuple[int, ...] = (flat[0],)
    elif axes and len({a for a, _ in axes}) == len(axes):
        index = tuple(i for _, i in axes)
    else:
        return None
    if not names or not values:
        return None
    dtype = next((i for i, c in enumerate(columns) if c in DTYPE_WORDS), None)
    shape = next((i for i, c in enumerate(columns) if c in SHAPE_WORDS), None)
    return LongColumns(header, names, index, values[0], dtype, shape)


def long_layout(head: bytes) -> LongColumns | None:
    """The long-table columns of a file starting with ``head``, with the first delimiter
    that gives them."""
    return next(filter(None, (long_columns(h) for h in headers(head))), None)


def _sniff(path: str, head: bytes) -> bool:
    return os.path.isfile(path) and long_layout(head) is not None


# ------------------------------------------------------------------------ positions


def tensor_names(table: Table, columns: LongColumns) -> pa.Array:
    """Each row's tensor name: its name cells joined with "/" (empty ones left out)."""
    return joined_names(table, columns.names)


@dataclass
class Positions:
    """Each row's position: its rank, its index numbers, and what is wrong with it."""

    ranks: np.ndarray  # numbers in the row's index (0 for a scalar's "()")
    numbers: np.ndarray  # (rows, largest rank) int64
    bad: np.ndarray  # the index is not a list of non-negative integers
    missing: np.ndarray  # no index at all (empty cells)


def _ints(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    try:  # the common case, without regular expressions
        numbers = pc.cast(strings, pa.int64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        pass
    else:
        return numbers >= 0, np.maximum(numbers, 0)
    ok = np.asarray(pc.match_substring_regex(strings, _INDEX_NUMBER).to_numpy(False), bool)
    cleaned = pc.if_else(pa.array(ok), pc.replace_substring_regex(strings, r"\.0*$", ""), "0")
    return ok, pc.cast(cleaned, pa.int64()).to_numpy(zero_copy_only=False)


def positions(table: Table, columns: LongColumns) -> Positions:
    """The positions of a table's rows (one index column, or one column per axis)."""
    rows = table.rows
    if len(columns.index) > 1:
        cells = [trimmed(table.columns[c]) for c in columns.index]
        present = np.stack([np.asarray(pc.not_equal(c, "").to_numpy(False), bool) for c in cells])
        numbers = np.zeros((rows, len(cells)), np.int64)
        ok = np.ones(rows, bool)
        for axis, cell in enumerate(cells):
            good, numbers[:, axis] = _ints(cell)
            ok &= good | ~present[axis]
        ranks = present.sum(axis=0)
        gaps = (present & ~np.cumprod(present, axis=0).astype(bool)).any(axis=0)
        return Positions(ranks, numbers, ~ok | gaps, ranks == 0)
    text = trimmed(table.columns[columns.index[0]])
    missing = np.asarray(pc.equal(text, "").to_numpy(False), bool)
    if rows and not missing.any() and re.fullmatch(_INDEX_NUMBER, str(text[0])):
        good, flat = _ints(text)  # plain flat indexes: no need to split anything
        if good.all():
            return Positions(np.ones(rows, np.int64), flat.reshape(-1, 1), ~good, missing)
    stripped = pc.replace_substring_regex(text, r"[\s()\[\]]", "")
    stripped = pc.replace_substring_regex(stripped, ",$", "")
    scalar = np.asarray(pc.equal(stripped, "").to_numpy(False), bool) & ~missing
    parts = pc.split_pattern(stripped, ",")
    parts = pc.if_else(pa.array(scalar | missing), pa.scalar([], type=parts.type), parts)
    lengths = np.asarray(pc.list_value_length(parts).to_numpy(False), np.int64)
    good, values = _ints(pc.list_flatten(parts))
    owner = np.repeat(np.arange(rows), lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    place = np.arange(len(owner)) - offsets[owner]
    numbers = np.zeros((rows, int(lengths.max(initial=0))), np.int64)
    numbers[owner, place] = values
    bad = np.zeros(rows, bool)
    bad[owner[~good]] = True
    return Positions(lengths, numbers, bad, missing)


def flat_positions(numbers: np.ndarray, rank: int, shape: tuple[int, ...]) -> np.ndarray | str:
    """C-order flat positions of index rows in ``shape``, or why they do not fit."""
    size = int(np.prod(shape, dtype=np.int64))
    if rank == 0:
        return np.zeros(len(numbers), np.int64) if shape in ((), (1,)) else "a scalar index"
    if rank == 1 and len(shape) != 1:
        outside = numbers[:, 0] >= size
        return numbers[:, 0].copy() if not outside.any() else f"flat index outside {size}"
    if rank != len(shape):
        return f"an index of {rank} numbers for shape {list(shape)}"
    outside = np.asarray((numbers[:, :rank] >= np.array(shape)).any(axis=1), bool)
    if outside.any():
        return f"index {tuple(numbers[np.argmax(outside), :rank].tolist())} outside the shape"
    return np.ravel_multi_index(tuple(numbers[:, :rank].T), shape).astype(np.int64)


# ---------------------------------------------------------------------------- index


@dataclass
class _Found:
    name: str
    first: int  # the line of its first row: tensors are listed in this order
    line: int  # where a problem is, else its first line
    start: int
    end: int
    count: int = 0
    rank: int = 0
    shape: tuple[int, ...] = ()
    dtype: np.dtype | None = None
    reason: str = ""
    error: str | None = None


def _declared(table: Table, column: int | None, codes: np.ndarray) -> dict[int, list[str]]:
    """Per tensor code, the distinct non-empty cells of an optional column, first first."""
    if column is None:
        return {}
    cells = trimmed(table.columns[column])
    rows = np.flatnonzero(np.asarray(pc.not_equal(cells, "").to_numpy(False), bool))
    found: dict[int, list[str]] = {}
    pairs = pa.table({"code": codes[rows], "text": cells.take(pa.array(rows))})
    for code, text in zip(
        *pairs.group_by(["code", "text"], use_threads=False).aggregate([]).to_pydict().values(),
        strict=True,
    ):
        found.setdefault(int(code), []).append(text)
    return found


def _check_tensor(
    found: _Found, rows: np.ndarray, table: Table, where: Positions, shape_text: list[str]
) -> np.ndarray | None:
    """Check one tensor's rows; returns the rows that hold values (None when bad)."""
    lines = table.lines[rows]
    declaration = where.missing[rows]
    if where.bad[rows].any():
        at = int(np.argmax(where.bad[rows]))
        found.line, found.error = int(lines[at]), "bad index (not non-negative integers)"
        return None
    values = rows[~declaration]
    ranks = where.ranks[values]
    if ranks.size and (ranks != ranks[0]).any():
        at = int(np.argmax(ranks != ranks[0]))
        found.line = int(table.lines[values[at]])
        found.error = f"an index of {ranks[at]} numbers where the first has {ranks[0]}"
        return None
    found.rank = int(ranks[0]) if ranks.size else 0
    numbers = where.numbers[values]
    try:
        if len(shape_text) > 1:
            raise ValueError(f"shapes {shape_text[0]!r} and {shape_text[1]!r}")
        found.shape = (
            parse_shape(shape_text[0])
            if shape_text
            else tuple(int(m) + 1 for m in numbers[:, : found.rank].max(axis=0, initial=-1))
        )
    except ValueError as err:
        found.error = str(err)
        return None
    found.count = len(values)
    flat = flat_positions(numbers, found.rank, found.shape) if values.size else np.empty(0)
    if isinstance(flat, str):
        found.error = flat
        return None
    size = int(np.prod(found.shape, dtype=np.int64))
    if size > 2 * len(values) + 1024:
        found.error = f"{len(values)} values for shape {list(found.shape)} ({size} elements)"
        return None
    counts = np.bincount(flat.astype(np.int64), minlength=size)
    if (counts > 1).any():
        position = int(np.argmax(counts > 1))
        again = np.flatnonzero(flat == position)[:2]
        index = np.unravel_index(position, found.shape) if found.shape else ()
        found.line = int(table.lines[values[again[1]]])
        found.error = (
            f"index {tuple(int(i) for i in index)} given twice "
            f"(also on line {table.lines[values[again[0]]]})"
        )
        return None
    if (counts == 0).any():
        index = np.unravel_index(int(np.argmin(counts)), found.shape)
        found.error = f"index {tuple(int(i) for i in index)} is missing"
        return None
    return values


def _decide(found: _Found, strings: pa.Array, table: Table, rows: np.ndarray) -> None:
    try:
        found.dtype, found.reason = decide_text_dtype(strings)
    except BadValueError as err:
        found.line = int(table.lines[rows[err.row]]) if err.row is not None else found.line
        found.error = str(err)


def index_long_table(
    data: Any, columns: LongColumns, progress: Progress = NO_PROGRESS
) -> list[_Found]:
    """One pass over a long table: each tensor's byte range, shape, dtype or problem."""
    header = columns.header
    table = read_table(data, header.start, len(data), header, columns.wanted, first_line=2)
    check_cancelled(progress)
    progress.report(1, 4)
    names = tensor_names(table, columns)
    encoded = pc.dictionary_encode(names)
    codes = np.asarray(encoded.indices.to_numpy(False), np.int64)
    dictionary = encoded.dictionary.to_pylist()
    where = positions(table, columns)
    dtypes = _declared(table, columns.dtype, codes)
    shapes = _declared(table, columns.shape, codes)
    value_text = trimmed(table.columns[columns.value])
    progress.report(2, 4)
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(dictionary)))])
    found: list[_Found] = []
    for code, name in enumerate(dictionary):
        check_cancelled(progress)
        rows = order[bounds[code] : bounds[code + 1]]
        first = int(table.lines[rows[0]])
        tensor = _Found(name, first, first, int(table.starts[rows[0]]), int(table.ends[rows[-1]]))
        found.append(tensor)
        if not name:
            tensor.error = f"no name ({len(rows)} rows)"
            continue
        values = _check_tensor(tensor, rows, table, where, shapes.get(code, []))
        if values is None:
            continue
        declared = dtypes.get(code, [])
        try:
            if len(declared) > 1:
                raise DtypeError(f"dtypes {declared[0]!r} and {declared[1]!r}")
            if declared:
                tensor.dtype = resolve_dtype(declared[0])
                tensor.reason = f"declared: the dtype column says {declared[0]!r}"
            else:
                _decide(tensor, value_text.take(pa.array(values)), table, values)
        except DtypeError as err:
            tensor.error = str(err)
    progress.report(3, 4)
    for line, fields, message in table.problems:
        parts = [fields[c].strip() for c in columns.names if c < len(fields)]
        name = "/".join(p for p in parts if p)
        owner = next((t for t in found if t.name == name and name), None)
        if owner is None:
            found.append(_Found(name or f"line {line}", line, line, 0, 0, error=message))
        elif owner.error is None:
            owner.line, owner.error = line, message
    found.sort(key=lambda t: t.first)
    progress.report(4, 4)
    return found


# ----------------------------------------------------------------------------- read


def read_long_tensor(fd: int, columns: LongColumns, found: _Found) -> np.ndarray:
    """One tensor's values, read again from its byte range."""
    assert found.dtype is not None
    if found.count == 0:
        return np.empty(found.shape, dtype=found.dtype)
    data = read_bytes(fd, found.start, found.end)
    table = read_table(data, 0, len(data), columns.header, columns.wanted, first_line=found.line)
    mine = np.asarray(pc.equal(tensor_names(table, columns), found.name).to_numpy(False), bool)
    where = positions(table, columns)
    rows = np.flatnonzero(mine & ~where.missing)
    if len(rows) != found.count:
        raise ValueError("the file changed since it was opened")
    flat = flat_positions(where.numbers[rows], found.rank, found.shape)
    if isinstance(flat, str):
        raise ValueError(f"the file changed since it was opened ({flat})")
    strings = trimmed(table.columns[columns.value]).take(pa.array(rows))
    try:
        values = parse_values(strings, found.dtype)
    except BadValueError as err:
        line = f" on line {table.lines[rows[err.row]]}" if err.row is not None else ""
        raise ValueError(f"{err}{line}") from None
    out = np.empty(int(np.prod(found.shape, dtype=np.int64)), dtype=found.dtype)
    out[flat] = values
    return out.reshape(found.shape)


def open_long_table(path: str | os.PathLike[str], progress: Progress = NO_PROGRESS) -> LazyState:
    """A long table as a lazy state (see the module's description)."""
    path = os.fspath(path)
    columns = long_layout(read_head(path))
    if columns is None:
        raise NotAStateError(path, "no name, index and value columns in the header")
    with open(path, "rb") as handle:  # read whole: pyarrow and NumPy keep views of it
        data = handle.read()
    found = index_long_table(data, columns, progress) if len(data) > columns.header.start else []
    return table_state(path, "long", found, lambda fd, item: read_long_tensor(fd, columns, item))


# ---------------------------------------------------------------------------- write


def _write_tensor(out: IO[bytes], name: str, array: np.ndarray, delimiter: str) -> None:
    field = text_field(name, delimiter).encode("utf-8")
    sep = delimiter.encode()
    described = sep.join(
        [dtype_name(array.dtype).encode(), text_field(str(list(array.shape)), delimiter).encode()]
    )
    flat = array.reshape(-1)
    if flat.size == 0:
        out.write(field + sep + sep + sep + described + b"\n")
        return
    for start in range(0, flat.size, _WRITE_CHUNK):
        chunk = flat[start : start + _WRITE_CHUNK]
        texts = pc.split_pattern(pa.scalar(textcodec.format_chunk(chunk), pa.binary()), ",")
        values = texts.values
        index = pc.cast(
            pc.cast(pa.array(np.arange(start, start + chunk.size)), pa.string()), pa.binary()
        )
        lines = pc.binary_join_element_wise(pa.scalar(field, pa.binary()), index, values, sep)
        if start == 0:  # the first row carries the dtype and the shape
            out.write(lines[0].as_py() + sep + described + b"\n")
            lines = lines[1:]
        if len(lines):
            ending = pa.scalar(sep + sep + b"\n", pa.binary())
            rest = pc.binary_join_element_wise(lines, ending, b"")
            offsets = pa.array([0, len(rest)], type=pa.int64())
            joined = pc.binary_join(pa.LargeListArray.from_arrays(offsets, rest), b"")
            out.write(joined[0].as_buffer().to_pybytes())


def save_long_table(
    path: str,
    tensors: Tensors,
    *,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress = NO_PROGRESS,
    overwrite: bool = True,
    skip_bad: bool = False,
    **_options: Any,
) -> int:
    """Write ``name,index,value,dtype,shape`` rows (tab-separated for ``.tsv``)."""
    items = tensor_items(tensors, metadata, skip_bad=skip_bad)
    for item in items:
        if item.dtype.kind == "c":
            raise StateWriteError(f"tensor {item.name!r}: a long table holds no complex values")
    delimiter = "\t" if os.fspath(path).lower().endswith(".tsv") else ","
    total = sum(int(np.prod(item.shape)) for item in items) or 1
    done = written = 0
    with atomic_write(path, overwrite=overwrite) as out:
        out.write(delimiter.join(WRITE_COLUMNS).encode() + b"\n")
        for item, array in iter_loaded(items, skip_bad=skip_bad):
            check_cancelled(progress)
            _write_tensor(out, item.name, array, delimiter)
            written += 1
            done += array.size
            progress.report(done, total)
    return written


FORMAT = Format(
    name="long",
    description="Long table: one value per row (name, index, value)",
    label="Long table (name, index, value)",
    extensions=(".csv", ".tsv", ".txt"),
    sniff=_sniff,
    open=open_long_table,
    save=save_long_table,
)
