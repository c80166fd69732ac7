"""Partitioned variables: one tensor saved as several slices.

TF 1 partitioners and ``tf.train.experimental.MaxShardSizePolicy`` save a tensor in
slices. Its own entry then has no bytes but lists the slices (``TensorSliceProto``: one
``Extent {start, length}`` per dimension, no length meaning the whole dimension); each
slice is an entry of its own, under a key that TensorFlow encodes with ``OrderedCode``
(``EncodeTensorNameSlice``): ``\\x00``, the name (``\\x00`` escaped as ``\\x00\\xff``,
``\\xff`` as ``\\xff\\x00``, ended by ``\\x00\\x01``), the number of dimensions, then each
dimension's start and length as signed ordered numbers. TensorFlow lists only the
tensor; so does the reader, which assembles it from the slices after checking that they
lie inside its shape, do not overlap and cover it exactly.
"""

from __future__ import annotations

from csv_state_viewer.core.tfbundle.wire import FIXED64, VARINT, WireError, fields, signed

Extents = tuple[tuple[int, int], ...]  # (start, length) per dimension; length -1: all
MAX_SLICES = 4096  # slices of one tensor (the overlap check is quadratic)
_LENGTH_MASK = [0, 0x80, 0xC000, 0xE00000, 0xF0000000, 0xF800000000, 0xFC0000000000]
_LENGTH_MASK += [0xFE000000000000, 0xFF00000000000000, 0x8000000000000000, 0]
_U64 = (1 << 64) - 1


def parse_slice(data: bytes) -> Extents:
    """The extents of a ``TensorSliceProto`` (raises :class:`WireError`)."""
    out = []
    for item in fields(data, frozenset({1})):
        start, length = 0, -1
        for part in fields(item.as_bytes("slice extent"), frozenset({1, 2})):
            if part.wire not in (VARINT, FIXED64):
                raise WireError("a slice extent is not a number")
            if part.number == 1:
                start = signed(part.as_int("slice start"))
            else:
                length = signed(part.as_int("slice length"))
        out.append((start, length))
    return tuple(out)


def _unsigned(key: bytes, pos: int) -> tuple[int, int]:
    size = key[pos] if pos < len(key) else 9
    if size > 8 or pos + 1 + size > len(key):
        raise ValueError("a damaged number")
    return int.from_bytes(key[pos + 1 : pos + 1 + size], "big"), pos + 1 + size


def _signed(key: bytes, pos: int) -> tuple[int, int]:
    """OrderedCode's ``ReadSignedNumIncreasing``."""
    if pos >= len(key):
        raise ValueError("a missing number")
    xor = 0 if key[pos] & 0x80 else 0xFF
    first = key[pos] ^ xor
    if first != 0xFF:
        size = 8 - (first ^ 0xFF).bit_length()
        if pos + size > len(key):
            raise ValueError("a truncated number")
        value = _U64 if xor else 0
        for byte in key[pos : pos + size]:
            value = ((value << 8) | byte) & _U64
    else:
        second = key[pos + 1] ^ xor if pos + 1 < len(key) else 0
        third = key[pos + 2] ^ xor if pos + 2 < len(key) else 0
        size = 8 if second < 0x80 else 9 if second < 0xC0 else 10
        if size == 10 and (second != 0xC0 or third >= 0x80):
            raise ValueError("a number of more than 64 bits")
        if pos + size > len(key):
            raise ValueError("a truncated number")
        value = int.from_bytes(key[pos + size - 8 : pos + size], "big")
    return signed(value ^ _LENGTH_MASK[size]), pos + size


def decode_slice_key(key: bytes) -> tuple[bytes, Extents]:
    """(tensor name, extents) of a slice's key (raises ValueError when it is none)."""
    if key[:1] != b"\x00":
        raise ValueError("not a slice key")
    name, pos = bytearray(), 1
    while True:
        if pos + 1 >= len(key):
            raise ValueError("an unterminated name")
        byte, following = key[pos], key[pos + 1]
        if byte == 0 and following == 1:
            pos += 2
            break
        if byte in (0, 0xFF):
            if following != (0xFF if byte == 0 else 0):
                raise ValueError("a damaged name")
            pos += 1
        name.append(byte)
        pos += 1
    dims, pos = _unsigned(key, pos)
    if dims > 64:
        raise ValueError(f"{dims} dimensions")
    extents = []
    for _ in range(dims):
        start, pos = _signed(key, pos)
        length, pos = _signed(key, pos)
        extents.append((start, length))
    if pos != len(key):
        raise ValueError("bytes after the extents")
    return bytes(name), tuple(extents)


def normalized(extents: Extents, shape: tuple[int, ...]) -> Extents | None:
    """``extents`` with whole dimensions spelled out, or None when they do not fit
    ``shape``."""
    if len(extents) != len(shape):
        return None
    out = []
    for extent, size in zip(extents, shape, strict=True):
        start, length = (0, size) if extent[1] == -1 else extent
        if start < 0 or length < 0 or start + length > size:
            return None
        out.append((start, length))
    return tuple(out)


def exact_cover(boxes: list[Extents], shape: tuple[int, ...]) -> bool:
    """Whether the boxes (normalized) tile ``shape``: no overlap, every element once."""
    total = 1
    for size in shape:
        total *= size
    volume = 0
    for box in boxes:
        count = 1
        for _, length in box:
            count *= length
        volume += count
    if volume != total:
        return False
    for index, box in enumerate(boxes):
        for other in boxes[index + 1 :]:
            if all(
                a < b + m and b < a + n and n and m
                for (a, n), (b, m) in zip(box, other, strict=True)
            ):
                return False
    return True
