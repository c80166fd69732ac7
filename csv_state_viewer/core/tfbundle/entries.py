"""What a checkpoint's index says about each tensor, checked before any byte is read.

:func:`describe` turns a ``BundleEntryProto`` into an :class:`Entry`: NumPy dtype and
shape, or the one-line reason it cannot be read (the state lists it as a bad row). The
declared shape is checked (known rank, at most :data:`MAX_RANK` dimensions, none
negative), its byte count must be the entry's size (computed without overflow), and
:func:`check_location` puts the bytes inside an existing data file of the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from csv_state_viewer.core.limits import MAX_DIMS
from csv_state_viewer.core.tfbundle.dtypes import base_type, numpy_dtype, type_name
from csv_state_viewer.core.tfbundle.protos import BundleEntryProto
from csv_state_viewer.core.tfbundle.slices import (
    MAX_SLICES,
    Extents,
    exact_cover,
    normalized,
    parse_slice,
)
from csv_state_viewer.core.tfbundle.wire import WireError

MAX_RANK = MAX_DIMS  # as every reader (core/limits.py)
MAX_BYTES = (1 << 63) - 1
_KNOWN_NOT_NUMERIC = frozenset({"string", "resource", "variant"})


@dataclass
class Entry:
    """One tensor of a checkpoint: what its bytes are and where they are."""

    key: str
    dtype: np.dtype | None  # None: not numeric (string, resource, variant)
    shape: tuple[int, ...] | None  # None when the declared shape is invalid
    type_name: str  # TensorFlow's name of its type ("float32", "qint8", "string"...)
    metadata: dict[str, str] = field(default_factory=dict)
    fault: str | None = None  # what is wrong with its index entry or its bytes' place
    shard: int = 0
    offset: int = 0
    size: int = 0
    crc32c: int = 0  # masked, as stored
    parts: list[tuple[Extents, Entry]] | None = None  # a partitioned variable's slices

    @property
    def error(self) -> str | None:
        """Why the state cannot read it (a bad row), or None."""
        if self.fault is not None:
            return self.fault
        if self.dtype is None:
            return f"a {self.type_name} tensor is not numeric: it is listed but cannot be read"
        return None


def _shape(proto: BundleEntryProto) -> tuple[tuple[int, ...] | None, str | None]:
    if proto.shape.unknown_rank:
        return None, "its index entry declares an unknown rank"
    dims = [dim.size for dim in proto.shape.dim]
    if len(dims) > MAX_RANK:
        return None, f"its index entry declares {len(dims)} dimensions (at most {MAX_RANK})"
    if any(size < 0 for size in dims):
        return None, f"its index entry declares a negative dimension {dims}"
    return tuple(dims), None


def byte_count(shape: tuple[int, ...], itemsize: int) -> int | None:
    """Bytes of ``shape`` elements of ``itemsize``, or None past what a file can hold."""
    if 0 in shape:
        return 0
    total = itemsize
    for size in shape:
        total *= size
        if total > MAX_BYTES:
            return None
    return total


def _fault(
    key: str, proto: BundleEntryProto, dtype: np.dtype | None, name: str, num_shards: int
) -> tuple[str | None, bool]:
    """(why the entry cannot be read or None, whether its declared shape is believable)."""
    shape, fault = _shape(proto)
    if fault is not None or shape is None:
        return fault, False
    if dtype is not None and not proto.slices:  # a partitioned variable's bytes are its slices'
        needed = byte_count(shape, dtype.itemsize)
        if needed != proto.size:
            what = "more bytes than a file can hold" if needed is None else f"{needed} bytes"
            return (
                f"its declared shape {list(shape)} of {name} needs {what}, but its index "
                f"entry says {proto.size}"
            ), False
    if dtype is None and name not in _KNOWN_NOT_NUMERIC:
        return f"its index entry declares an unknown TensorFlow type ({name})", True
    if proto.offset < 0 or proto.size < 0 or proto.offset > MAX_BYTES - proto.size:
        return f"its index entry declares bytes {proto.offset} to {proto.offset + proto.size}", True
    if not 0 <= proto.shard_id < num_shards:
        return f"its index entry names data file {proto.shard_id} of {num_shards}", True
    return None, True


def describe(key: str, proto: BundleEntryProto, num_shards: int) -> Entry:
    """The entry of ``key`` with everything the index alone can tell checked."""
    number = base_type(proto.dtype)
    dtype, extra = numpy_dtype(number)
    name = type_name(number)
    fault, believable = _fault(key, proto, dtype, name, num_shards)
    entry = Entry(
        key,
        dtype if fault is None else None,
        _shape(proto)[0] if believable else None,
        name,
        extra,
        fault,
        proto.shard_id,
        proto.offset,
        proto.size,
        proto.crc32c,
    )
    if proto.slices:
        entry.parts = []
    return entry


def check_location(entry: Entry, shard_file: str, shard_size: int | None) -> None:
    """Mark ``entry`` bad when its bytes are not inside its data file."""
    if entry.fault is not None or entry.parts is not None:
        return
    if shard_size is None:
        entry.fault = f"its data file {shard_file} is missing"
    elif entry.offset + entry.size > shard_size:
        entry.fault = (
            f"its data (bytes {entry.offset} to {entry.offset + entry.size}) are past the end "
            f"of {shard_file} ({shard_size} bytes)"
        )
    if entry.fault is not None:
        entry.dtype = None


def link_slices(entry: Entry, slices: list[bytes], found: dict[Extents, Entry]) -> None:
    """Give a partitioned variable its slices (``found``: the slice entries under its
    name, by extents), or the reason it cannot be read."""
    if entry.fault is not None or entry.shape is None or entry.dtype is None:
        return
    shape = entry.shape
    available = {normalized(extents, shape): part for extents, part in found.items()}
    parts: list[tuple[Extents, Entry]] = []
    fault = None
    if len(slices) > MAX_SLICES:
        fault = f"a partitioned variable of {len(slices)} slices (at most {MAX_SLICES})"
    for data in slices if fault is None else []:
        try:
            extents = parse_slice(data)
        except WireError as err:
            fault = f"its list of slices is damaged: {err}"
            break
        box = normalized(extents, shape)
        if box is None:
            spans = [list(e) for e in extents]
            fault = f"a partitioned variable whose slice {spans} does not fit its shape"
            break
        part = available.get(box)
        if part is None:
            fault = f"a partitioned variable whose slice {[list(b) for b in box]} is missing"
            break
        lengths = tuple(length for _, length in box)
        if part.fault is not None or part.dtype != entry.dtype or part.shape != lengths:
            why = part.fault or f"a {part.type_name} slice of shape {list(part.shape or ())}"
            fault = f"its slice {[list(b) for b in box]} cannot be read: {why}"
            break
        parts.append((box, part))
    if fault is None and not exact_cover([box for box, _ in parts], shape):
        fault = "a partitioned variable whose slices do not tile its shape"
    if fault is not None:
        entry.fault, entry.dtype, entry.parts = fault, None, None
    else:
        entry.parts = parts
