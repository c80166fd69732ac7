"""The sorted string table of a checkpoint's ``.index`` file (LevelDB's table format).

Layout, from the end: a 48-byte footer (the metaindex and index ``BlockHandle`` s, each a
varint64 offset and size, zero padding to 40 bytes, then the magic number
``0xdb4775248b80fb57`` little-endian); the index block maps a separator key to each data
block's handle; every block is followed by a 5-byte trailer (compression type, 0 = none,
and the masked CRC-32C of the block and the type byte). A block holds entries (varint32
shared key length, unshared length, value length, then the unshared key bytes and the
value: keys are prefix-compressed) and ends with its restart offsets (uint32 each) and
their count.

Every handle, length and count is checked against the file before it is used, checksums
are verified, keys must be strictly increasing, and the keys decoded in all may not exceed
a few times the file's size (prefix compression could otherwise make a small file
describe gigabytes of keys). A problem raises :class:`TableError` with a one-line reason.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from csv_state_viewer.core.tfbundle.crc32c import crc32c, unmask
from csv_state_viewer.core.tfbundle.wire import WireError, read_varint

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
TRAILER_SIZE = 5
NO_COMPRESSION, SNAPPY = 0, 1
MAX_KEY_BYTES = 1 << 16  # one key (a tensor's name)
KEY_ALLOWANCE = 1 << 20  # decoded key bytes allowed beyond 8 x the file size


class TableError(ValueError):
    """The ``.index`` file is not a valid table (one-line reason)."""


def _varint(data: bytes, pos: int, end: int, what: str, limit: int = 1 << 64) -> tuple[int, int]:
    try:
        value, pos = read_varint(data, pos, end)
    except WireError:
        raise TableError(f"its {what} is damaged: a truncated number") from None
    if value >= limit:
        raise TableError(f"its {what} is damaged: a length of {value}")
    return value, pos


def _handle(data: bytes, pos: int, end: int, what: str) -> tuple[int, int, int]:
    """(offset, size, next position) of the BlockHandle at ``pos``."""
    offset, pos = _varint(data, pos, end, what)
    size, pos = _varint(data, pos, end, what)
    return offset, size, pos


def _block(data: bytes, offset: int, size: int, what: str) -> bytes:
    """The checked contents of the block at ``offset``."""
    limit = len(data) - FOOTER_SIZE
    if offset > limit or size > limit - offset - TRAILER_SIZE:
        raise TableError(
            f"its {what} (at byte {offset}, {size} bytes) runs past the end of the file: truncated?"
        )
    kind = data[offset + size]
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    if crc32c(memoryview(data)[offset : offset + size + 1]) != unmask(stored):
        raise TableError(f"its {what} at byte {offset} fails its checksum: a damaged file")
    if kind == SNAPPY:
        raise TableError(
            f"its {what} is Snappy-compressed, which this reader does not read; "
            "TensorFlow writes checkpoint indexes uncompressed"
        )
    if kind != NO_COMPRESSION:
        raise TableError(f"its {what} has an unknown compression type {kind}")
    return data[offset : offset + size]


def _entries(block: bytes, what: str) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) entries of a block, in order."""
    size = len(block)
    if size < 4:
        raise TableError(f"its {what} is too short ({size} bytes)")
    (restarts,) = struct.unpack_from("<I", block, size - 4)
    if restarts > (size - 4) // 4:
        raise TableError(f"its {what} declares {restarts} restart points, more than it holds")
    end = size - 4 - 4 * restarts
    if restarts == 0:  # LevelDB reads such a block as empty
        return
    for (offset,) in struct.iter_unpack("<I", block[end : size - 4]):
        if offset >= max(end, 1):
            raise TableError(f"its {what} has a restart point past its entries")
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos, end, what, 1 << 32)
        unshared, pos = _varint(block, pos, end, what, 1 << 32)
        length, pos = _varint(block, pos, end, what, 1 << 32)
        if shared > len(key) or unshared > end - pos or length > end - pos - unshared:
            raise TableError(f"its {what} has an entry that runs past its end")
        if shared + unshared > MAX_KEY_BYTES:
            raise TableError(f"its {what} has a key of {shared + unshared} bytes")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + length]
        pos += length


def check_footer(footer: bytes) -> None:
    """Refuse a file whose last :data:`FOOTER_SIZE` bytes are no table footer."""
    if len(footer) < FOOTER_SIZE:
        raise TableError(f"its .index file is too short for a table ({len(footer)} bytes)")
    (magic,) = struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)
    if magic != MAGIC:
        raise TableError(
            "its .index file does not end with a table's magic number: truncated, or no index"
        )


def read_table(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of the table ``data`` (a whole ``.index`` file), in key order."""
    check_footer(data[-FOOTER_SIZE:])
    footer = len(data) - FOOTER_SIZE
    _, _, pos = _handle(data, footer, footer + 40, ".index footer")  # the metaindex: unused
    index_offset, index_size, _ = _handle(data, pos, footer + 40, ".index footer")
    index = _block(data, index_offset, index_size, "index block")
    items: list[tuple[bytes, bytes]] = []
    budget = 8 * len(data) + KEY_ALLOWANCE
    last: bytes | None = None
    for _, value in _entries(index, "index block"):
        offset, size, _ = _handle(value, 0, len(value), "index block")
        for key, item in _entries(_block(data, offset, size, "data block"), "data block"):
            if last is not None and key <= last:
                raise TableError("its keys are not in increasing order: a damaged file")
            budget -= len(key)
            if budget < 0:
                raise TableError("its keys add up to far more than the file holds")
            items.append((key, item))
            last = key
    return items
