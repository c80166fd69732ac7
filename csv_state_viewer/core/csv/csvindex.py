"""Turn scanned rows into :class:`TensorEntry` objects: columns, metadata, size checks.

Nothing here decodes tensor data. A row that cannot be understood becomes an entry
with ``error`` set; only a file that is not a CSV state at all raises.
"""

from __future__ import annotations

import json
import math
import mmap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from csv_state_viewer.core.csv.base64codec import (
    MAX_LINE,
    Wrapping,
    encoded_length,
    line_wrapping,
    looks_like_base64,
    wrapped_lengths,
)
from csv_state_viewer.core.csv.csvscan import Field, RawRow, field_bytes
from csv_state_viewer.core.csv.metaparse import parse_metadata, parse_shape
from csv_state_viewer.core.dtypes import DtypeError, resolve_dtype
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.layouts.describe import HEAD_BYTES, describe_text
from csv_state_viewer.core.state import TensorEntry

NAME, DATA, METADATA = "tensor_name", "tensor_data", "tensor_metadata"
_ALIASES = {
    "tensor_name": NAME,
    "name": NAME,
    "tensor_data": DATA,
    "data": DATA,
    "values": DATA,
    "tensor_metadata": METADATA,
    "metadata": METADATA,
    "meta": METADATA,
}
ENCODINGS = ("text", "base64")
MAX_NAME_BYTES = 64 << 10
_PEEK = 64


@dataclass(frozen=True)
class Columns:
    """Where the name, data and metadata fields are, and the names of any extra ones."""

    name: int
    data: int
    metadata: int
    names: tuple[str, ...]
    has_header: bool

    @property
    def count(self) -> int:
        return len(self.names)


POSITIONAL = Columns(0, 1, 2, (NAME, DATA, METADATA), has_header=False)


def detect_columns(mm: mmap.mmap, first: RawRow, path: str) -> Columns:
    """Read the header if the first row is one; else expect name,data,metadata rows."""
    texts: list[str] = []
    for fld in first.fields:
        if fld.length > 256:
            texts = []
            break
        texts.append(field_bytes(mm, fld).decode("utf-8", "replace").strip())
    canonical = [_ALIASES.get(t.lower()) for t in texts]
    if texts and any(canonical):
        missing = [c for c in (NAME, DATA, METADATA) if c not in canonical]
        if missing:
            raise NotAStateError(
                path, f"the header has no {' or '.join(missing)} column (found: {','.join(texts)})"
            )
        names = tuple(
            c or (t or f"column_{i + 1}")
            for i, (c, t) in enumerate(zip(canonical, texts, strict=True))
        )
        return Columns(
            canonical.index(NAME), canonical.index(DATA), canonical.index(METADATA), names, True
        )
    if len(first.fields) >= 3 and mm[first.fields[2].start : first.fields[2].start + 1] == b"{":
        return POSITIONAL
    # Not the recipe's columns: say what the file is instead (a matrix, a table, JSON...).
    raise NotAStateError(path, describe_text(path, mm[: HEAD_BYTES + 1]))


def _decode_utf8(raw: bytes, what: str) -> tuple[str, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return (
            raw.decode("utf-8", "replace"),
            f"{what} is not valid UTF-8 (byte 0x{raw[err.start]:02x} at position {err.start + 1})",
        )


class EntryBuilder:
    """Builds entries for the rows of one file."""

    def __init__(self, mm: mmap.mmap, columns: Columns) -> None:
        self.mm = mm
        self.columns = columns

    def build(
        self, rows: Iterable[RawRow], indexed: Callable[[TensorEntry], None] | None = None
    ) -> list[TensorEntry]:
        """The entries of ``rows`` (State marks repeated names); ``indexed`` is called with
        each good one as soon as it is made."""
        entries = []
        for row in rows:
            entry = self.entry(row)
            if indexed is not None and entry.ok:
                indexed(entry)
            entries.append(entry)
        return entries

    def entry(self, row: RawRow) -> TensorEntry:
        cols = self.columns
        fields = row.fields
        name, name_error = "", None
        if len(fields) > cols.name:
            raw_name = field_bytes(self.mm, fields[cols.name])
            if len(raw_name) > MAX_NAME_BYTES:  # refused whole, never cut into another name
                shown = raw_name[:256].decode("utf-8", "ignore")
                name = f"{shown}… ({len(raw_name)} bytes)"
                name_error = (
                    f"tensor name of {len(raw_name)} bytes: at most {MAX_NAME_BYTES} are read"
                )
            else:
                name, name_error = _decode_utf8(raw_name, "tensor name")
        entry = TensorEntry(name=name, shape=None, dtype=None, encoding=None, line=row.line)
        if row.problem:
            entry.error = row.problem
            return entry
        if len(fields) != cols.count:
            expected = f"the header has {cols.count}" if cols.has_header else "expected 3"
            hint = " (is a field with commas left unquoted?)" if len(fields) > cols.count else ""
            entry.error = f"row has {len(fields)} fields; {expected}{hint}"
            return entry
        if name_error:
            entry.error = name_error
            return entry
        if not name.strip():
            entry.error = "empty tensor name"
            return entry
        try:
            self._fill(entry, fields)
        except (ValueError, DtypeError) as err:
            entry.error = str(err)
        return entry

    def _fill(self, entry: TensorEntry, fields: list[Field]) -> None:
        cols = self.columns
        meta = parse_metadata(field_bytes(self.mm, fields[cols.metadata]))
        entry.metadata = meta
        for index, column in enumerate(cols.names):
            if index not in (cols.name, cols.data, cols.metadata):
                entry.extra[column] = field_bytes(self.mm, fields[index]).decode("utf-8", "replace")
        if "shape" not in meta:
            raise ValueError("metadata has no 'shape'")
        if "dtype" not in meta:
            raise ValueError("metadata has no 'dtype'")
        shape = parse_shape(meta["shape"])
        dtype = resolve_dtype(meta["dtype"])
        entry.shape, entry.dtype = shape, dtype
        data = fields[cols.data]
        entry.span = (data.start, data.end)
        count = math.prod(shape)
        entry.encoding = self._encoding(meta, data, count * dtype.itemsize)
        wrapping = self._wrapping(data) if entry.encoding == "base64" else None
        check_size(entry.encoding, shape, count, dtype.itemsize, data.length, wrapping=wrapping)
        if "crc32" in meta:
            crc = meta["crc32"]
            if not isinstance(crc, str) or len(crc) != 8 or not _is_hex(crc):
                raise ValueError(f"crc32 must be 8 hexadecimal digits, not {json.dumps(crc)[:40]}")

    def _encoding(self, meta: dict[str, Any], data: Field, nbytes: int) -> str:
        declared = meta.get("encoding")
        if declared is not None:
            if declared not in ENCODINGS:
                raise ValueError(
                    f"unknown encoding {json.dumps(declared)[:40]} (expected 'text' or 'base64')"
                )
            return str(declared)
        if data.length <= 2 * _PEEK:
            head, tail = self.mm[data.start : data.end], b""
        else:
            head = self.mm[data.start : data.start + _PEEK]
            tail = self.mm[data.end - _PEEK : data.end]
        if looks_like_base64(head, tail, data.length, nbytes):
            return "base64"
        wrapping = self._wrapping(data)
        if wrapping and looks_like_base64(head, tail, data.length, nbytes, wrapping):
            return "base64"
        return "text"

    def _wrapping(self, data: Field) -> Wrapping | None:
        """How base64 in this field is broken into lines (None: one line)."""
        first_line = self.mm[data.start : min(data.end, data.start + MAX_LINE + 2)]
        return line_wrapping(first_line)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def check_size(
    encoding: str,
    shape: tuple[int, ...],
    count: int,
    itemsize: int,
    length: int,
    *,
    wrapping: Wrapping | None = None,
) -> None:
    """Refuse, before any allocation, a row whose declared size cannot fit its data."""
    if encoding == "base64":
        expected = encoded_length(count * itemsize)
        if wrapping is not None and length in wrapped_lengths(count * itemsize, wrapping):
            return
        if length != expected:
            raise ValueError(
                f"shape {list(shape)} needs {count * itemsize} bytes ({expected} base64 "
                f"characters) but the data field has {length}"
            )
    elif count == 0:
        if length:
            raise ValueError(f"shape {list(shape)} holds no values but the data field is not empty")
    elif 2 * count - 1 > length:
        raise ValueError(
            f"shape {list(shape)} declares {count} values but the data field has only "
            f"{length} characters"
        )
