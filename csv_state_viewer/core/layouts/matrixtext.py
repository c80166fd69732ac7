"""One numeric matrix as text, as ``np.savetxt`` and ``pandas.DataFrame.to_csv`` write it.

:func:`sniff_matrix` judges the first few KB; :func:`scan_layout` reads the lines before
the data (comments, a ``# shape: [..]`` or ``# (4, 1, 3, 3)`` comment, a pandas header)
and the first data row, which fixes the delimiter and the number of values per row.
:func:`scan_values` then reads the data once, in blocks of whole rows spread over the
codec threads, to count the rows, check every row and decide the dtype; it keeps no
values. :func:`read_values` reads them for real.

A block takes the fast path when it is plain: its delimiters and line breaks become
commas and the C decimal parser (:mod:`..csv.nativeparse`) reads it, after a vectorised
check that every row has the same number of values. Anything else in a block (``nan``,
blank or comment lines, padding spaces, no accelerator) goes through a per-line split
and the exact general parser of the CSV format, which also finds the line and column of a
bad value.
"""

from __future__ import annotations

import math
import mmap
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from csv_state_viewer.core.csv import nativeparse, textcodec
from csv_state_viewer.core.layouts.values import (
    FLOAT32,
    FLOAT32_DIGITS,
    FLOAT64,
    INTEGERS,
    NON_FINITE_ONLY,
    decide_dtype,
    float32_faithful,
    looks_integer,
)
from csv_state_viewer.core.parallel import ordered_map
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled

BLOCK_BYTES = 4 << 20
HEAD_LINES = 1000  # comment lines allowed before the first data row
NO_ROWS = "no rows of numbers"
_NUMBER = re.compile(
    rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.IGNORECASE
)
_SHAPE = re.compile(rb"#\s*(?:shape\s*[:=]?\s*)?[\[(]\s*((?:\d+\s*,\s*)*\d*)\s*,?\s*[\])]\s*")
_SCALE = re.compile(rb"#\s*scale\s*[:=]\s*(\S+)\s*", re.IGNORECASE)
_NOT_INTEGER = (b".", b"e", b"E", b"n", b"N", b"i", b"I")


class MatrixValueError(ValueError):
    """A bad row or value; ``line`` is the 1-based line in the file, ``column`` 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class MatrixLayout:
    """Where the numbers are and how a row is written."""

    delimiter: bytes  # b",", b"\t", b";" or b" " (any run of spaces and tabs)
    fields: int  # values per row, the index column not counted
    data_offset: int  # byte offset of the first data row
    data_line: int  # its 1-based line number
    index_column: bool = False  # pandas' to_csv(): a first column 0..R-1, and a header
    header: bool = False  # a pandas header row (",0,1,2" or "0,1,2") before the data
    shape: tuple[int, ...] | None = None  # from a shape comment
    shape_line: int | None = None
    scale: str | None = None  # from a "# scale: ..." comment (our writer's fixed point)

    @property
    def per_row(self) -> int:
        return self.fields + self.index_column


@dataclass(frozen=True)
class MatrixScan:
    """What one pass over the data found: rows, and the decided dtype with its reason."""

    rows: int
    dtype: np.dtype
    reason: str
    integers: bool  # every value is written as an integer


# ----------------------------------------------------------------------------- scale

_POWER = re.compile(r"\s*([+-]?\d+(?:\.\d*)?)\s*(?:\^|\*\*)\s*([+-]?\d+)\s*")
_RATIO = re.compile(r"\s*([^/]+)/([^/]+)\s*")


def parse_scale(text: str | float) -> float:
    """A fixed-point scale: a number (``0.0625``, ``1e-3``), a power (``2^-4``, ``2**-4``)
    or a ratio (``1/16``). Raises ValueError unless it is finite and not zero."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        power, ratio = _POWER.fullmatch(text), _RATIO.fullmatch(text)
        try:
            if power is not None:
                value = float(power.group(1)) ** int(power.group(2))
            elif ratio is not None:
                value = float(ratio.group(1)) / float(ratio.group(2))
            else:
                value = float(text)
        except (ValueError, ZeroDivisionError, OverflowError):
            raise ValueError(
                f"scale {text!r} is not a number, a power like 2^-4 or a ratio like 1/16"
            ) from None
    if not math.isfinite(value) or value == 0:
        raise ValueError(f"scale {text!r} must be a finite number other than zero")
    return value


# ----------------------------------------------------------------------------- lines


def _split(line: bytes, delimiter: bytes) -> list[bytes]:
    if delimiter == b" ":
        return line.split()
    return [token.strip() for token in line.split(delimiter)]


def _delimiter_of(line: bytes) -> bytes:
    for candidate in (b",", b"\t", b";"):
        if candidate in line:
            return candidate
    return b" "


def _shown(token: bytes) -> str:
    return repr(token[:40].decode("ascii", "replace"))


def _is_number(token: bytes) -> bool:
    return _NUMBER.fullmatch(token) is not None


def _pandas_header(tokens: list[bytes]) -> bool | None:
    """True for ``,0,1,..`` (with an index column), False for ``0,1,..``, else None."""
    if len(tokens) >= 2 and tokens[0] == b"" and tokens[1:] == _range_tokens(len(tokens) - 1):
        return True
    if tokens == _range_tokens(len(tokens)):
        return False
    return None


def _range_tokens(count: int) -> list[bytes]:
    return [str(i).encode() for i in range(count)]


def _comment(line: bytes) -> tuple[tuple[int, ...] | None, str | None]:
    shape = _SHAPE.fullmatch(line)
    if shape is not None:
        numbers = [n for n in re.split(rb"\s*,\s*", shape.group(1).strip()) if n]
        return tuple(int(n) for n in numbers), None
    scale = _SCALE.fullmatch(line)
    return None, scale.group(1).decode("ascii", "replace") if scale else None


def layout_of_lines(
    lines: list[bytes], *, complete: bool, all_rows: bool = True
) -> MatrixLayout | str:
    """The layout described by the first lines of a file, or why they are not a matrix.

    The first data row must be numbers only; with ``all_rows`` every later row among
    ``lines`` must have as many values (a bad value there is the reader's row problem, not
    a reason to think the file is something else). ``complete``: the last line is whole.
    """
    if not complete and lines:
        lines = lines[:-1]
    offset, shape, shape_line, scale = 0, None, None, None
    layout: MatrixLayout | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if layout is None and (not line or line.startswith(b"#")):
            found_shape, found_scale = _comment(line)
            if found_shape is not None and shape is None:
                shape, shape_line = found_shape, number
            scale = found_scale or scale
            offset += len(raw) + 1
            continue
        if layout is None:
            found = _first_rows(lines, number - 1, offset)
            if isinstance(found, str):
                return found
            layout = replace(found, shape=shape, shape_line=shape_line, scale=scale)
            continue
        if number <= layout.data_line or not line or line.startswith(b"#") or not all_rows:
            continue
        count = len(_split(line, layout.delimiter))
        if count != layout.per_row:
            return f"line {number}: {count} values, not {layout.per_row} as on the first row"
    if layout is None:
        return NO_ROWS
    return layout


def _first_rows(lines: list[bytes], at: int, offset: int) -> MatrixLayout | str:
    """The layout fixed by the first non-comment line (a pandas header or a data row)."""
    line = lines[at].strip()
    delimiter = _delimiter_of(line)
    tokens = _split(line, delimiter)
    header = _pandas_header(tokens)
    following = next((x.strip() for x in lines[at + 1 :] if x.strip()), None)
    if header is False and (
        following is None or all(map(looks_integer, _split(following, delimiter)))
    ):
        header = None  # "0,1,2" over integers may be data: only a header over decimals
    if header is None:
        fields, index_column, data_at = len(tokens), False, at
    else:
        if following is None:
            return "a header without rows"
        fields, index_column, data_at = len(tokens) - header, header, at + 1
        offset += len(lines[at]) + 1
    layout = MatrixLayout(delimiter, fields, offset, data_at + 1, index_column, header is not None)
    if data_at < len(lines):
        problem = _row_problem(lines[data_at].strip(), layout)
        if problem:
            return f"line {data_at + 1}: {problem}"
    return layout


def _row_problem(line: bytes, layout: MatrixLayout) -> str:
    tokens = _split(line, layout.delimiter)
    if len(tokens) != layout.per_row:
        return f"{len(tokens)} values, not {layout.per_row} as on the first row"
    for column, token in enumerate(tokens, start=1):
        if not _is_number(token):
            return f"column {column}: {_shown(token)} is not a number"
    if layout.index_column and not looks_integer(tokens[0]):
        return "column 1: the index column holds a non-integer"
    return ""


def sniff_matrix(head: bytes) -> bool:
    """Whether the first bytes of a file look like one numeric matrix (and only that)."""
    if not head or b"\0" in head:
        return False
    lines = head.split(b"\n")
    if head.endswith(b"\n") or len(head) < 4096:
        return isinstance(layout_of_lines(lines, complete=True), MatrixLayout)
    partial = lines.pop()  # the head ends inside this line
    found = layout_of_lines(lines, complete=True)
    if isinstance(found, MatrixLayout) or found != NO_ROWS:
        return isinstance(found, MatrixLayout)
    # comments, then a first row longer than the head: its whole values decide
    tokens = _split(partial.strip(), _delimiter_of(partial))[:-1]
    if tokens[:1] == [b""]:  # pandas' ",0,1,2,..." header over an index column
        return len(tokens) >= 2 and tokens[1:] == _range_tokens(len(tokens) - 1)
    return len(tokens) >= 2 and all(map(_is_number, tokens))


def scan_layout(path: str) -> MatrixLayout | str:
    """The layout of a file from its lines up to the first two rows, or why it is none."""
    lines: list[bytes] = []
    rows = 0
    with open(path, "rb") as handle:
        for raw in handle:
            lines.append(raw.rstrip(b"\n"))
            stripped = raw.strip()
            rows += bool(stripped) and not stripped.startswith(b"#")
            if rows >= 2 or len(lines) > HEAD_LINES:
                break  # a header and a row, or two rows: the rest is read by scan_values
    return layout_of_lines(lines, complete=True, all_rows=False)


# ---------------------------------------------------------------------------- blocks


def blocks(mm: mmap.mmap, start: int, size: int = BLOCK_BYTES) -> Iterator[tuple[int, int]]:
    """(start, end) byte ranges of whole lines from ``start`` to the end of the file."""
    end_of_file = len(mm)
    while start < end_of_file:
        cut = mm.find(b"\n", min(start + size, end_of_file - 1))
        end = end_of_file if cut < 0 else cut + 1
        yield start, end
        start = end


def _rows_consistent(data: bytes, delimiter: int, per_row: int, rows: int) -> bool:
    """Every line of ``data`` (no blank lines) holds exactly ``per_row`` values."""
    array = np.frombuffer(data, dtype=np.uint8)
    found = np.flatnonzero(array == delimiter)
    if found.size != rows * (per_row - 1):
        return False
    if per_row == 1 or rows == 1:
        return True
    breaks = np.flatnonzero(array == 10)
    by_row = found.reshape(rows, per_row - 1)
    return bool((by_row[1:, 0] > breaks).all() and (by_row[:-1, -1] < breaks).all())


def _fast_parse(data: bytes, layout: MatrixLayout, dtype: np.dtype) -> np.ndarray | None:
    """The values of a plain block (no index column dropped yet), or None."""
    if b"\r" in data:
        data = data.replace(b"\r", b"")
    rows = data.count(b"\n") + 1
    delimiter = layout.delimiter
    if not _rows_consistent(data, delimiter[0], layout.per_row, rows):
        return None
    if delimiter != b",":
        data = data.replace(delimiter, b",")
    data = data.replace(b"\n", b",")
    buffer = bytearray(len(data) + nativeparse.PADDING)
    buffer[: len(data)] = data
    if dtype.kind == "f" and nativeparse.supports(dtype):
        values = nativeparse.parse(buffer, len(data), dtype)
    else:
        try:
            values = textcodec.parse_chunk(data, dtype)
        except ValueError:
            return None
    if values is None or values.size != rows * layout.per_row:
        return None
    return values


def _general_parse(data: bytes, layout: MatrixLayout, dtype: np.dtype) -> np.ndarray:
    """Line by line: skips blank and comment lines; a bad row raises MatrixValueError
    whose line counts from 0 at the block's first line."""
    tokens: list[bytes] = []
    lines: list[int] = []
    for number, raw in enumerate(data.split(b"\n")):
        text = raw.strip()
        if not text or text.startswith(b"#"):
            continue
        row = _split(text, layout.delimiter)
        if len(row) != layout.per_row:
            raise MatrixValueError(
                number, f"{len(row)} values, not {layout.per_row} as on the first row"
            )
        tokens += row
        lines.append(number)
    if not tokens:
        return np.empty(0, dtype=dtype)
    try:
        return textcodec.parse_chunk(b",".join(tokens), dtype)
    except ValueError:
        pass
    for index, token in enumerate(tokens):
        column = index % layout.per_row + 1
        where = lines[index // layout.per_row]
        if not _is_number(token):
            raise MatrixValueError(where, f"column {column}: {_shown(token)} is not a number")
        if dtype.kind == "i":
            try:
                np.int64(int(token))
            except (ValueError, OverflowError):
                raise MatrixValueError(
                    where, f"column {column}: {_shown(token)} does not fit int64"
                ) from None
    raise MatrixValueError(lines[0], f"a value is not a {dtype} number")  # pragma: no cover


def _is_integer_text(data: bytes) -> bool:
    return not any(mark in data for mark in _NOT_INTEGER)


def _block_values(
    mm: mmap.mmap, layout: MatrixLayout, span: tuple[int, int], dtype: np.dtype
) -> np.ndarray:
    """The values of one block as ``dtype``, the index column dropped."""
    data = mm[span[0] : span[1]].rstrip()
    if not data:
        return np.empty((0, layout.fields), dtype=dtype)
    values = _fast_parse(data, layout, dtype)
    if values is None:
        try:
            values = _general_parse(data, layout, dtype)
        except MatrixValueError as err:  # its line counts from the block's first line
            before = mm[layout.data_offset : span[0]].count(b"\n")
            raise MatrixValueError(layout.data_line + before + err.line, str(err)) from None
    table = values.reshape(-1, layout.per_row)
    return table[:, 1:] if layout.index_column else table


# --------------------------------------------------------------------- dtype decision


@dataclass
class _Tally:
    rows: int = 0
    integers: bool = True
    float32: bool = True
    finite: bool = False


def _tally_block(
    mm: mmap.mmap, layout: MatrixLayout, span: tuple[int, int], scale: float | None
) -> _Tally:
    text = mm[span[0] : span[1]]
    integers = _is_integer_text(text)
    dtype = np.dtype(np.int64 if integers else np.float64)
    try:
        table = _block_values(mm, layout, span, dtype)
    except MatrixValueError:
        if not integers:
            raise
        integers, table = False, _block_values(mm, layout, span, np.dtype(np.float64))
    wide = table.astype(np.float64).reshape(-1)
    if scale is not None:
        wide = wide * scale
        exact = decide_dtype(wide, integers=False)[1] in (FLOAT32, NON_FINITE_ONLY)
    else:
        exact = float32_faithful(wide)
    return _Tally(len(table), integers, exact, bool(np.isfinite(wide).any()))


def scan_values(
    mm: mmap.mmap,
    layout: MatrixLayout,
    *,
    scale: float | None = None,
    progress: Progress = NO_PROGRESS,
) -> MatrixScan:
    """Read every row once (values are not kept): the row count and the decided dtype.

    A bad row raises :class:`MatrixValueError` with its line.
    """
    spans = list(blocks(mm, layout.data_offset))
    total = len(mm) - layout.data_offset or 1
    rows, integers, float32, finite = 0, True, True, False
    for (_, end), tally in zip(
        spans, ordered_map(lambda s: _tally_block(mm, layout, s, scale), spans), strict=True
    ):
        check_cancelled(progress)
        rows += tally.rows
        integers &= tally.integers
        float32 &= tally.float32
        finite |= tally.finite
        progress.report(end - layout.data_offset, total)
    if integers and scale is None:
        return MatrixScan(rows, np.dtype(np.int64), INTEGERS, True)
    if not finite:
        return MatrixScan(rows, np.dtype(np.float32), NON_FINITE_ONLY, integers)
    if float32:
        reason = FLOAT32 if scale is not None or integers else FLOAT32_DIGITS
        return MatrixScan(rows, np.dtype(np.float32), reason, integers)
    return MatrixScan(rows, np.dtype(np.float64), FLOAT64, integers)


def read_values(
    mm: mmap.mmap,
    layout: MatrixLayout,
    scan: MatrixScan,
    *,
    scale: float | None = None,
    progress: Progress = NO_PROGRESS,
) -> np.ndarray:
    """Every value as a ``(rows, fields)`` array of the scanned dtype."""
    wide = np.dtype(np.int64 if scan.integers else np.float64)
    parse_as = scan.dtype if scale is None else wide  # scaled: parsed wide, multiplied, cast
    spans = list(blocks(mm, layout.data_offset))
    out = np.empty((scan.rows, layout.fields), dtype=scan.dtype)
    at = 0
    total = len(mm) - layout.data_offset or 1
    for (_, end), table in zip(
        spans, ordered_map(lambda s: _block_values(mm, layout, s, parse_as), spans), strict=True
    ):
        check_cancelled(progress)
        if at + len(table) > scan.rows:
            raise ValueError("the file grew since it was opened")
        if scale is None:
            out[at : at + len(table)] = table
        else:
            out[at : at + len(table)] = table.astype(np.float64) * scale
        at += len(table)
        progress.report(end - layout.data_offset, total)
    if at != scan.rows:
        raise ValueError("the file changed since it was opened")
    return out


def loadtxt_shape(rows: int, fields: int) -> tuple[int, ...]:
    """The shape ``np.loadtxt`` gives: a single row or column is 1-D, one value is 0-D."""
    if rows == 1 and fields == 1:
        return ()
    if rows == 1 or fields == 1:
        return (rows * fields,)
    return (rows, fields)


def count_of(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def open_mmap(path: str) -> tuple[int, mmap.mmap | None]:
    """A read-only descriptor and map of ``path`` (no map for an empty file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        return fd, mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if size else None
    except OSError:
        os.close(fd)
        raise
