"""Delimited text tables with a header row: the reading the ``long`` and ``rows`` layouts share.

A table is read in two steps. :func:`scan_records` finds where each record starts and
ends with a NumPy byte scan (a record ends at a line break outside quotes: the number of
quotes before it is even), so that a layout can keep byte offsets and read a tensor's
records again when it is read. :func:`read_table` turns a byte range into string columns
with pyarrow's CSV reader; text pyarrow refuses (a record with a wrong number of fields,
bad UTF-8) is read again with the standard library's ``csv`` module, which reports such
records as problems with their line. Numbers are parsed by the recipe reader's exact
parser (:func:`~csv_state_viewer.core.csv.textcodec.parse_chunk`), so the shortest
round-trip text of a value gives back its exact bits.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from csv_state_viewer.core.csv import textcodec
from csv_state_viewer.core.layouts.values import DECIDED_KEY, INTEGERS, decide_dtype
from csv_state_viewer.core.lazystate import LazyState, LazyTensor, unreadable
from csv_state_viewer.core.openfiles import register, unregister

HEAD_BYTES = 1 << 16  # enough for any header row
DELIMITERS = (",", "\t", ";", "|")
RECIPE_COLUMNS = ("tensor_name", "tensor_data", "tensor_metadata")
_SCAN_BLOCK = 1 << 26
_UNNAMED = re.compile(r"^(unnamed:_?\d+|level_\d+)?$")  # pandas' name for its index column
_NUMBER = r"(?i)^[+-]?(?:\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?|nan|inf|infinity)$"
_INTEGER = r"^[+-]?\d+$"
_ELEMENT = re.compile(r"at element (\d+)")

Buffer = bytes | bytearray | memoryview


class BadValueError(ValueError):
    """A value that is not a number of the tensor's dtype; ``row`` is its row in the column."""

    def __init__(self, row: int | None, message: str) -> None:
        super().__init__(message)
        self.row = row


@dataclass(frozen=True)
class Header:
    """The header row of a table, split with one delimiter."""

    delimiter: str
    columns: tuple[str, ...]  # normalised: lower case, "_" for spaces ("" when unnamed)
    start: int  # byte offset of the first record after the header


@dataclass
class Table:
    """String columns of the good records of a byte range, and where each record is."""

    columns: dict[int, pa.Array]  # column number -> one string per good record
    starts: np.ndarray  # byte offset of each good record
    ends: np.ndarray  # byte offset just past each good record (before its line break)
    lines: np.ndarray  # 1-based line on which each good record starts
    problems: list[tuple[int, list[str], str]] = field(default_factory=list)  # line, fields, why
    quoted_breaks: bool = False  # some quoted field holds a line break

    @property
    def rows(self) -> int:
        return len(self.starts)


def normalise_column(text: str) -> str:
    """A column name as the layouts match it: ``" Weight Value"`` -> ``"weight_value"``."""
    return re.sub(r"[\s\-]+", "_", text.strip().strip("\"'").strip().lower())


def is_unnamed(column: str) -> bool:
    """An empty header cell, or pandas' ``Unnamed: 0`` for a written DataFrame index."""
    return bool(_UNNAMED.match(column))


def _is_number(text: str) -> bool:
    return re.match(_NUMBER, text.strip()) is not None


def headers(head: bytes) -> list[Header]:
    """The header row of ``head`` split by each delimiter that splits it (at least two
    columns); none when the first row is numbers (a matrix) or a recipe CSV's row."""
    start = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    end = head.find(b"\n", start)
    if end < 0:
        return []
    try:
        line = head[start:end].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return []
    found = []
    for delimiter in DELIMITERS:
        if delimiter not in line:
            continue
        try:
            fields = next(csv.reader([line], delimiter=delimiter))
        except csv.Error:
            continue
        columns = tuple(normalise_column(f) for f in fields)
        if len(columns) < 2 or _not_a_header(fields, columns):
            continue
        found.append(Header(delimiter, columns, end + 1))
    return found


def _not_a_header(fields: Sequence[str], columns: Sequence[str]) -> bool:
    named = [f for f in fields if f.strip()]
    if all(_is_number(f) for f in named):
        return True  # a row of numbers: a matrix, or a table without header
    if tuple(columns[:3]) == RECIPE_COLUMNS:
        return True
    return any(f.strip().startswith("{") for f in fields)  # a recipe row's JSON metadata


# ----------------------------------------------------------------------------- records


def scan_records(data: Buffer, start: int, end: int, first_line: int) -> Table:
    """Where the records of ``data[start:end]`` are (empty lines skipped, as pyarrow does)."""
    newlines, quotes = [], []
    buffer = np.frombuffer(data, dtype=np.uint8)
    for at in range(start, end, _SCAN_BLOCK):
        block = buffer[at : min(at + _SCAN_BLOCK, end)]
        newlines.append(np.flatnonzero(block == 10) + at)
        quotes.append(np.flatnonzero(block == 34) + at)
    breaks = np.concatenate(newlines) if newlines else np.empty(0, np.int64)
    quote_at = np.concatenate(quotes) if quotes else np.empty(0, np.int64)
    record_ends = breaks
    if quote_at.size:  # a break inside quotes (odd count before it) does not end a record
        record_ends = breaks[np.searchsorted(quote_at, breaks) % 2 == 0]
    starts = np.concatenate([[start], record_ends + 1]).astype(np.int64)
    ends = np.concatenate([record_ends, [end]]).astype(np.int64)
    carriage = (ends > starts) & (buffer[np.maximum(ends - 1, 0)] == 13)
    ends = ends - carriage
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    lines = first_line + np.searchsorted(breaks, starts)
    quoted_breaks = record_ends.size != breaks.size
    return Table({}, starts, ends, lines.astype(np.int64), quoted_breaks=quoted_breaks)


def read_table(
    data: Buffer, start: int, end: int, header: Header, wanted: Sequence[int], *, first_line: int
) -> Table:
    """String columns ``wanted`` of the records in ``data[start:end]`` (pyarrow, exact text)."""
    table = scan_records(data, start, end, first_line)
    if table.rows == 0:
        table.columns = {c: pa.array([], pa.string()) for c in wanted}
        return table
    names = [f"c{i}" for i in range(len(header.columns))]
    longest = int((table.ends - table.starts).max())
    try:
        read = pa_csv.read_csv(
            pa.py_buffer(memoryview(data)[start:end]),
            read_options=pa_csv.ReadOptions(
                column_names=names, block_size=max(1 << 22, 2 * longest + 1024)
            ),
            parse_options=pa_csv.ParseOptions(
                delimiter=header.delimiter, newlines_in_values=table.quoted_breaks
            ),
            convert_options=pa_csv.ConvertOptions(
                include_columns=[names[c] for c in wanted],
                column_types={names[c]: pa.string() for c in wanted},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return _read_slowly(data, start, end, header, wanted, first_line=first_line)
    if read.num_rows != table.rows:  # quotes pyarrow counts otherwise: let csv decide
        return _read_slowly(data, start, end, header, wanted, first_line=first_line)
    table.columns = {c: read.column(names[c]).combine_chunks() for c in wanted}
    return table


def _lines_of(data: Buffer, start: int, end: int) -> tuple[list[int], Iterator[str]]:
    """Where each line of ``data[start:end]`` starts, and the lines (split at LF only)."""
    raw = bytes(memoryview(data)[start:end])
    offsets = [start]
    at = raw.find(b"\n")
    while at >= 0:
        offsets.append(start + at + 1)
        at = raw.find(b"\n", at + 1)
    bounds = [o - start for o in offsets] + [len(raw)]
    text = (
        raw[a:b].decode("utf-8", errors="replace") for a, b in itertools.pairwise(bounds) if b > a
    )
    return offsets, text


def _read_slowly(
    data: Buffer, start: int, end: int, header: Header, wanted: Sequence[int], *, first_line: int
) -> Table:
    offsets, lines = _lines_of(data, start, end)
    offsets.append(end)
    reader = csv.reader(lines, delimiter=header.delimiter, strict=False)
    columns: dict[int, list[str]] = {c: [] for c in wanted}
    starts: list[int] = []
    ends: list[int] = []
    numbers: list[int] = []
    problems: list[tuple[int, list[str], str]] = []
    consumed = 0
    while True:
        before = consumed
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            consumed = reader.line_num
            problems.append((first_line + before, [], f"not a table row ({err})"))
            continue
        consumed = reader.line_num
        line = first_line + before
        if not fields:
            continue
        if len(fields) != len(header.columns):
            problem = f"{len(fields)} fields where the header has {len(header.columns)}"
            problems.append((line, fields, problem))
            continue
        for c in wanted:
            columns[c].append(fields[c])
        starts.append(offsets[before])
        stop = offsets[consumed]
        ends.append(stop - 1 if memoryview(data)[stop - 1 : stop] == b"\n" else stop)
        numbers.append(line)
    return Table(
        {c: pa.array(v, pa.string()) for c, v in columns.items()},
        np.array(starts, np.int64),
        np.array(ends, np.int64),
        np.array(numbers, np.int64),
        problems,
    )


# ----------------------------------------------------------------------------- values


def trimmed(strings: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(strings)


def joined_names(table: Table, columns: Sequence[int]) -> pa.Array:
    """Each record's name: its cells in ``columns`` joined with "/" (empty ones left out)."""
    if not columns:
        return pa.array([""] * table.rows, pa.string())
    parts = [trimmed(table.columns[c]) for c in columns]
    if len(parts) == 1:
        return parts[0]
    joined = pc.binary_join_element_wise(*parts, "/")
    joined = pc.replace_substring_regex(joined, "/{2,}", "/")
    return pc.replace_substring_regex(joined, "^/|/$", "")


def integer_rows(strings: pa.Array) -> np.ndarray:
    """Which (trimmed) values are written as integers (no fraction, exponent, NaN or Inf)."""
    return np.asarray(pc.match_substring_regex(strings, _INTEGER).to_numpy(zero_copy_only=False))


def _joined(strings: pa.Array) -> bytes:
    offsets = pa.array([0, len(strings)], type=pa.int64())
    joined = pc.binary_join(pa.LargeListArray.from_arrays(offsets, strings), ",")
    return bytes(joined[0].as_buffer().to_pybytes())


def parse_values(strings: pa.Array, dtype: np.dtype) -> np.ndarray:
    """The (trimmed) values of one column as ``dtype``, exactly; :class:`BadValueError`
    names the first bad one."""
    if len(strings) == 0:
        return np.empty(0, dtype=dtype)
    try:
        values = textcodec.parse_chunk(_joined(strings), dtype)
    except textcodec.DataError as err:
        raise _first_bad(strings, dtype, str(err)) from None
    if len(values) != len(strings):  # a value holding a comma
        raise _first_bad(strings, dtype, "a value holds a comma")
    return values


def _first_bad(strings: pa.Array, dtype: np.dtype, message: str) -> BadValueError:
    valid = pc.match_substring_regex(strings, _NUMBER).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(~np.asarray(valid, dtype=bool))
    if bad.size:
        row = int(bad[0])
        text = strings[row].as_py()
        return BadValueError(row, f"bad value {text[:40]!r}" if text else "empty value")
    found = _ELEMENT.search(message)
    at = int(found.group(1)) - 1 if found else -1
    if 0 <= at < len(strings):
        return BadValueError(at, f"bad {dtype} value {strings[at].as_py()[:40]!r}")
    return BadValueError(None, message)


def decide_text_dtype(strings: pa.Array) -> tuple[np.dtype, str]:
    """The dtype of trimmed decimal texts by the one rule of every layout
    (:func:`~csv_state_viewer.core.layouts.values.decide_dtype`), and why;
    :class:`BadValueError` names the first bad text."""
    if len(strings) == 0 or integer_rows(strings).all():
        return np.dtype(np.int64), INTEGERS
    decided, reason = decide_dtype(parse_values(strings, np.dtype(np.float64)), integers=False)
    return decided.dtype, reason


# --------------------------------------------------------------------- list-like values

_WRAPPER_WORDS = re.compile(
    rb"(?:\b(?:np|numpy|torch|tf)\.\w+|\barray\b|\btensor\b|\bdtype\s*=\s*[\w.]+)"
)
_SEPARATORS = bytes.maketrans(b"[](){};,\t\r\n", b" " * 11)


def list_numbers(text: str) -> bytes:
    """The numbers of a list as people write one in a cell, comma-joined:
    ``[0.1, 0.2]``, ``[[1, 2], [3, 4]]`` (``str(array.tolist())``), ``0.1 0.2``,
    ``0.1;0.2``, ``[np.float32(0.1), ...]``."""
    raw = _WRAPPER_WORDS.sub(b" ", text.encode("utf-8"))
    return b",".join(raw.translate(_SEPARATORS).split())


def parse_list(numbers: bytes, dtype: np.dtype) -> np.ndarray:
    """Values of :func:`list_numbers`'s text as ``dtype``; ValueError names a bad one."""
    try:
        return textcodec.parse_chunk(numbers, dtype)
    except textcodec.DataError as err:
        if b"..." in numbers:
            raise ValueError(
                "the values were shortened with '...' (print options): write them all"
            ) from None
        raise ValueError(str(err)) from None


def list_strings(numbers: bytes) -> pa.Array:
    """:func:`list_numbers`'s text as one string per number (for :func:`decide_text_dtype`)."""
    if not numbers:
        return pa.array([], pa.string())
    return pc.split_pattern(pa.scalar(numbers.decode("ascii", errors="replace")), ",").values


def read_bytes(fd: int, start: int, end: int) -> bytes:
    """``end - start`` bytes of a file, or ValueError when it is shorter now."""
    import os

    got = os.pread(fd, end - start, start)
    if len(got) != end - start:
        raise ValueError("the file is shorter than when it was opened")
    return got


def read_head(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def text_field(text: str, delimiter: str = ",") -> str:
    """One field quoted as ``csv.writer`` quotes it (only when needed)."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerow([text])
    return buffer.getvalue()[:-1]


def table_state(
    path: str, format_name: str, found: Sequence[Any], read: Callable[[int, Any], np.ndarray]
) -> LazyState:
    """A lazy state over the tensors a table's index ``found`` (each with ``name``,
    ``shape``, ``dtype``, ``reason``, ``error``, ``line``); ``read(fd, item)`` reads one
    again from the file, which stays open (and registered as read) until the state closes."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    key = register(path)

    def close() -> None:
        os.close(fd)
        unregister(key)

    tensors = [
        LazyTensor(
            t.name,
            None if t.error else t.shape,
            None if t.error else t.dtype,
            unreadable if t.error else functools.partial(read, fd, t),
            {}
            if t.error
            else {"shape": list(t.shape), "dtype": str(t.dtype), DECIDED_KEY: t.reason},
            error=t.error,
            line=t.line,
        )
        for t in found
    ]
    return LazyState(path, format_name, tensors, on_close=close)
