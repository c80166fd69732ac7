"""Hostile files for the tests, built by the tests themselves (nothing downloaded or committed).

A TensorFlow checkpoint is an ``.index`` file (a LevelDB-style table mapping each tensor
name to a ``BundleEntryProto``, with a ``BundleHeaderProto`` under the empty key) and
``.data-NNNNN-of-NNNNN`` files holding the raw bytes. :func:`write_checkpoint` writes one
in pure Python, protobufs encoded by hand, so no TensorFlow is needed to make one, and a
checkpoint can declare what TensorFlow would never write:
:func:`write_negative_dim_checkpoint` declares a tensor of shape ``[-1, 4]``, which makes
TensorFlow's reader abort the whole process (``Check failed``, SIGABRT).

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


def bundle_header() -> bytes:
    """BundleHeaderProto: one shard, little-endian, ``version { producer: 1 }``."""
    return _field(1, 1) + _field(3, _field(1, 1))


def bundle_entry(dtype: int, shape: Sequence[int], offset: int, data: bytes) -> bytes:
    """BundleEntryProto of a tensor in shard 0 (``crc32c`` is fixed32, field 6)."""
    dims = b"".join(_field(2, _field(1, size)) for size in shape)
    fixed = _varint(6 << 3 | 5) + struct.pack("<I", masked_crc32c(data))
    return _field(1, dtype) + _field(2, dims) + _field(4, offset) + _field(5, len(data)) + fixed


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


def write_table(path: str, items: Sequence[tuple[bytes, bytes]]) -> None:
    """A table of one data block: ``items`` sorted by key, as TensorFlow's reader needs."""
    out = bytearray()

    def put(block: bytes) -> bytes:
        handle = _varint(len(out)) + _varint(len(block))
        trailer = b"\0"  # no compression
        out.extend(block + trailer + struct.pack("<I", masked_crc32c(block + trailer)))
        return handle

    ordered = sorted(items)
    data = put(_block(ordered))
    meta = put(_block([]))
    index = put(_block([(ordered[-1][0], data)]))
    footer = (meta + index).ljust(40, b"\0") + struct.pack("<Q", TABLE_MAGIC)
    with open(path, "wb") as handle:
        handle.write(bytes(out) + footer)


def write_checkpoint(prefix: str, tensors: Sequence[tuple[str, Sequence[int], np.ndarray]]) -> str:
    """A checkpoint of ``(name, declared shape, array)``; the declared shape may lie."""
    index = [(b"", bundle_header())]
    data = bytearray()
    for name, shape, array in tensors:
        raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
        entry = bundle_entry(_DTYPES[array.dtype], shape, len(data), raw)
        index.append((name.encode(), entry))
        data += raw
    with open(f"{prefix}.data-00000-of-00001", "wb") as handle:
        handle.write(bytes(data))
    write_table(f"{prefix}.index", index)
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
