"""A minimal, bounds-checked decoder of the protocol buffer wire format.

Enough for TensorFlow's checkpoint messages: varints, fixed32/64 and length-delimited
fields; unknown fields (groups included) are skipped. Every length is checked against the
bytes left, varints are at most ten bytes, and nesting is limited, so damaged or hostile
bytes end in :class:`WireError`, never in another exception or a large allocation.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT, FIXED64, LENGTH, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5
MAX_DEPTH = 64  # nested messages and groups (protobuf's own default is 100)
_WIRE_NAMES = {VARINT: "varint", FIXED64: "fixed64", LENGTH: "bytes", FIXED32: "fixed32"}


class WireError(ValueError):
    """The bytes are not a valid protocol buffer message (one-line reason)."""


def read_varint(data: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """(unsigned value, next position) of the varint at ``pos``."""
    if pos < end and data[pos] < 0x80:  # most are one byte
        return data[pos], pos + 1
    value = shift = 0
    for index in range(pos, min(end, pos + 10)):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value & 0xFFFFFFFFFFFFFFFF, index + 1
        shift += 7
    raise WireError("a truncated or over-long varint" if end - pos < 10 else "an over-long varint")


def signed(value: int) -> int:
    """An int32/int64 field's value (negative numbers are ten-byte two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


class Field:
    """One field: ``number``, ``wire`` type and ``value`` (int, or bytes for LENGTH)."""

    __slots__ = ("number", "value", "wire")

    def __init__(self, number: int, wire: int, value: int | bytes) -> None:
        self.number, self.wire, self.value = number, wire, value

    def as_int(self, what: str) -> int:
        if self.wire not in (VARINT, FIXED32, FIXED64) or not isinstance(self.value, int):
            raise WireError(f"{what}: expected a number, found {self._kind()}")
        return self.value

    def as_bytes(self, what: str) -> bytes:
        if self.wire != LENGTH or not isinstance(self.value, bytes):
            raise WireError(f"{what}: expected bytes, found {self._kind()}")
        return self.value

    def as_text(self, what: str) -> str:
        # Names are shown and compared, never written back: undecodable bytes stay visible.
        return self.as_bytes(what).decode("utf-8", errors="backslashreplace")

    def _kind(self) -> str:
        return _WIRE_NAMES.get(self.wire, f"wire type {self.wire}")


def _skip_group(data: bytes, pos: int, end: int, number: int, depth: int) -> int:
    if depth > MAX_DEPTH:
        raise WireError("groups nested too deeply")
    while pos < end:
        key, pos = read_varint(data, pos, end)
        wire, inner = key & 7, key >> 3
        if wire == END_GROUP:
            if inner != number:
                raise WireError("a group ends with the wrong field number")
            return pos
        pos = _skip(data, pos, end, wire, inner, depth=depth + 1)
    raise WireError("a group is not closed")


def _skip(data: bytes, pos: int, end: int, wire: int, number: int, *, depth: int) -> int:
    if wire == VARINT:
        return read_varint(data, pos, end)[1]
    if wire in (FIXED64, FIXED32):
        size = 8 if wire == FIXED64 else 4
        if pos + size > end:
            raise WireError("a truncated fixed-size field")
        return pos + size
    if wire == LENGTH:
        size, pos = read_varint(data, pos, end)
        if size > end - pos:
            raise WireError("a field longer than its message")
        return pos + size
    if wire == START_GROUP:
        return _skip_group(data, pos, end, number, depth)
    raise WireError(f"an invalid wire type {wire}")


def fields(data: bytes, wanted: frozenset[int] | None = None) -> Iterator[Field]:
    """The fields of the message ``data``, in order; fields not in ``wanted`` are
    checked and skipped."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = read_varint(data, pos, end)
        wire, number = key & 7, key >> 3
        if number == 0 or number > 0x1FFFFFFF:
            raise WireError(f"an invalid field number {number}")
        if wire == END_GROUP:
            raise WireError("a group end without its start")
        if (wanted is not None and number not in wanted) or wire == START_GROUP:
            pos = _skip(data, pos, end, wire, number, depth=1)
            continue
        value: int | bytes
        if wire == VARINT:
            value, pos = read_varint(data, pos, end)
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            if pos + size > end:
                raise WireError("a truncated fixed-size field")
            value = struct.unpack_from("<Q" if size == 8 else "<I", data, pos)[0]
            pos += size
        elif wire == LENGTH:
            size, pos = read_varint(data, pos, end)
            if size > end - pos:
                raise WireError("a field longer than its message")
            value = bytes(data[pos : pos + size])
            pos += size
        else:
            raise WireError(f"an invalid wire type {wire}")
        yield Field(number, wire, value)
