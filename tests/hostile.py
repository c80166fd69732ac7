"""Hostile files for the tests, built by the tests themselves (nothing downloaded or committed).

A TensorFlow checkpoint is an ``.index`` file (a LevelDB-style table mapping each tensor
name to a ``BundleEntryProto``, with a ``BundleHeaderProto`` under the empty key) and
``.data-NNNNN-of-NNNNN`` files holding the raw bytes. :func:`write_checkpoint` writes one
in pure Python, protobufs encoded by hand, so no TensorFlow is needed to make one, and a
checkpoint can declare what TensorFlow would never write:
:func:`write_negative_dim_checkpoint` declares a tensor of shape ``[-1, 4]``, which makes
TensorFlow's reader abort the whole process (``Check failed``, SIGABRT), and
:func:`write_hostile_checkpoint` makes one of :data:`HOSTILE` (absurd shapes, bytes past
the data file, a damaged or Snappy-compressed table, a big-endian header, a partitioned
variable) for our own reader (:mod:`csv_state_viewer.core.tfbundle`) to refuse.

The functions at the end are for the TensorFlow worker's tests: the worker imports them
as ``hostile:NAME``. Tests reach this module through the ``hostile`` fixture of
``tests/ops/conftest.py``, which puts its folder on ``sys.path`` (the worker inherits it).
"""

from __future__ import annotations

import os
import struct
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled

TABLE_MAGIC = 0xDB4775248B80FB57
DT_FLOAT = 1  # TensorFlow's DataType enum
_DTYPES = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3}


# ------------------------------------------------------------------- crc32c
def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ----------------------------------------------------------------- protobuf
def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values: ten bytes of two's complement
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, bytes):  # length-delimited
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    return _varint(number << 3) + _varint(value)


def bundle_header(num_shards: int = 1, endianness: int = 0) -> bytes:
    """BundleHeaderProto: ``num_shards``, byte order (0 little, the default, or 1 big),
    ``version { producer: 1 }``."""
    order = _field(2, endianness) if endianness else b""
    return _field(1, num_shards) + order + _field(3, _field(1, 1))


def bundle_entry(
    dtype: int, shape: Sequence[int], offset: int, data: bytes, *, slices: int = 0
) -> bytes:
    """BundleEntryProto of a tensor in shard 0 (``crc32c`` is fixed32, field 6); with
    ``slices``, a partitioned variable's entry listing that many TensorSliceProtos (each
    the whole shape), whose slices are nowhere."""
    dims = b"".join(_field(2, _field(1, size)) for size in shape)
    fixed = _varint(6 << 3 | 5) + struct.pack("<I", masked_crc32c(data))
    whole = b"".join(_field(1, _field(1, 0) + _field(2, size)) for size in shape)
    sliced = _field(7, whole) * slices
    entry = _field(1, dtype) + _field(2, dims) + _field(4, offset) + _field(5, len(data))
    return entry + fixed + sliced


# -------------------------------------------------------------------- table
def _block(items: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A table block with a restart point at every entry (no prefix compression)."""
    body = bytearray()
    restarts = []
    for key, value in items:
        restarts.append(len(body))
        body += _varint(0) + _varint(len(key)) + _varint(len(value)) + key + value
    restarts = restarts or [0]
    return bytes(body) + struct.pack(f"<{len(restarts) + 1}I", *restarts, len(restarts))


def write_table(path: str, items: Sequence[tuple[bytes, bytes]], compression: int = 0) -> None:
    """A table of one data block: ``items`` sorted by key, as TensorFlow's reader needs
    (block trailers name ``compression``: 0 none, 1 Snappy, though nothing is compressed)."""
    out = bytearray()

    def put(block: bytes) -> bytes:
        handle = _varint(len(out)) + _varint(len(block))
        trailer = bytes([compression])
        out.extend(block + trailer + struct.pack("<I", masked_crc32c(block + trailer)))
        return handle

    ordered = sorted(items)
    data = put(_block(ordered))
    meta = put(_block([]))
    index = put(_block([(ordered[-1][0], data)]))
    footer = (meta + index).ljust(40, b"\0") + struct.pack("<Q", TABLE_MAGIC)
    with open(path, "wb") as handle:
        handle.write(bytes(out) + footer)


def write_checkpoint(
    prefix: str,
    tensors: Sequence[tuple[str, Sequence[int], np.ndarray]],
    *,
    header: bytes | None = None,
    compression: int = 0,
    offsets: dict[str, int] | None = None,
    slices: dict[str, int] | None = None,
) -> str:
    """A checkpoint of ``(name, declared shape, array)``; the declared shape may lie, and
    so may the ``header``, a tensor's offset (``offsets``), its number of ``slices`` and
    the table's ``compression``."""
    index = [(b"", bundle_header() if header is None else header)]
    data = bytearray()
    for name, shape, array in tensors:
        raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
        offset = (offsets or {}).get(name, len(data))
        count = (slices or {}).get(name, 0)
        entry = bundle_entry(_DTYPES[array.dtype], shape, offset, raw, slices=count)
        index.append((name.encode(), entry))
        data += raw
    with open(f"{prefix}.data-00000-of-00001", "wb") as handle:
        handle.write(bytes(data))
    write_table(f"{prefix}.index", index, compression)
    return prefix


def good_arrays() -> dict[str, np.ndarray]:
    return {
        "dense/bias": np.arange(4, dtype=np.float32),
        "dense/kernel": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
    }


def write_good_checkpoint(folder: str | os.PathLike[str]) -> str:
    """The same writer, honest shapes: TensorFlow reads it (so the writer is right)."""
    prefix = os.path.join(os.fspath(folder), "good")
    return write_checkpoint(prefix, [(n, a.shape, a) for n, a in good_arrays().items()])


def write_negative_dim_checkpoint(folder: str | os.PathLike[str]) -> str:
    """A checkpoint whose ``dense/kernel`` declares shape ``[-1, 4]``; returns its prefix."""
    prefix = os.path.join(os.fspath(folder), "negative")
    arrays = good_arrays()
    shapes = {"dense/bias": (4,), "dense/kernel": (-1, 4)}
    return write_checkpoint(prefix, [(n, shapes[n], a) for n, a in arrays.items()])


# What each hostile checkpoint does; "kernel" cases spoil ``dense/kernel`` (a bad row),
# the others the whole index (a one-line NotAStateError).
HOSTILE = {
    "negative-dim": "kernel",
    "300-dims": "kernel",
    "overflowing-count": "kernel",
    "offset-past-shard": "kernel",
    "sliced-entry": "kernel",
    "truncated-index": "file",
    "bad-block-crc": "file",
    "bad-footer-magic": "file",
    "snappy-block": "file",
    "big-endian-header": "file",
}


def write_hostile_checkpoint(folder: str | os.PathLike[str], kind: str) -> str:
    """The good checkpoint spoilt the way :data:`HOSTILE` names; returns its prefix."""
    prefix = os.path.join(os.fspath(folder), kind)
    arrays = good_arrays()
    shapes: dict[str, Sequence[int]] = {name: array.shape for name, array in arrays.items()}
    options: dict[str, Any] = {}
    if kind == "negative-dim":
        shapes["dense/kernel"] = (-1, 4)
    elif kind == "300-dims":
        shapes["dense/kernel"] = (1,) * 300
    elif kind == "overflowing-count":
        shapes["dense/kernel"] = (2**40, 2**40, 3)  # 2**82 elements: int64 overflows
    elif kind == "offset-past-shard":
        options["offsets"] = {"dense/kernel": 1 << 40}
    elif kind == "sliced-entry":
        options["slices"] = {"dense/kernel": 2}
    elif kind == "snappy-block":
        options["compression"] = 1
    elif kind == "big-endian-header":
        options["header"] = bundle_header(endianness=1)
    tensors = [(name, shapes[name], array) for name, array in arrays.items()]
    write_checkpoint(prefix, tensors, **options)
    index = f"{prefix}.index"
    with open(index, "rb") as handle:
        raw = bytearray(handle.read())
    if kind == "truncated-index":
        raw = raw[: len(raw) // 2]
    elif kind == "bad-block-crc":
        raw[5] ^= 0x40  # inside the data block's first key
    elif kind == "bad-footer-magic":
        raw[-1] ^= 0xFF
    with open(index, "wb") as handle:
        handle.write(bytes(raw))
    return prefix


# ------------------------------------------------------- run in the worker by the tests
def count(steps: int, delay: float, progress: Progress = NO_PROGRESS) -> int:
    """Count to ``steps``, reporting each step; stops at a cancel."""
    for step in range(steps):
        check_cancelled(progress)
        time.sleep(delay)
        progress.report(step + 1, steps)
    return steps


def raise_it(error: BaseException) -> None:
    raise error


def raise_unpicklable() -> None:
    error = ValueError("carries a lambda")
    error.callback = lambda: None  # type: ignore[attr-defined]
    raise error


def loaded(*modules: str) -> list[str]:
    """Which of ``modules`` this process has imported."""
    return [name for name in modules if name in sys.modules]


def pid_after(delay: float) -> int:
    time.sleep(delay)
    return os.getpid()
