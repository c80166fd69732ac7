"""Fast path for decimal text: the chunk read as a JSON array by simdjson.

simdjson parses numbers exactly (correctly rounded to float64) at over 1 GB/s without
creating Python objects. It only knows JSON, so anything else (``nan``, ``inf``,
``True``, stray characters) makes :func:`parse_numbers` return ``None`` and the caller
takes the general pyarrow path, which also produces the error messages. Results that
could differ from a direct parse into the target type are refused the same way:
an integer ``-0`` (JSON drops its sign), and float32 values whose float64 reading lies
exactly halfway between two float32 numbers (rounding twice could then be wrong).
"""

from __future__ import annotations

import threading
from typing import Literal

import numpy as np
import simdjson

_local = threading.local()
_FLOAT32_HALF = np.uint64(1 << 28)
_FLOAT32_LOW = np.uint64((1 << 29) - 1)


def _parser() -> simdjson.Parser:
    parser = getattr(_local, "parser", None)
    if parser is None:  # a Parser is not thread-safe: one per thread
        parser = _local.parser = simdjson.Parser()
    return parser


def supports(dtype: np.dtype) -> bool:
    return dtype.kind in "iu" or (dtype.kind == "f" and dtype.itemsize in (4, 8))


def _float32_exact(wide: np.ndarray) -> np.ndarray | None:
    with np.errstate(over="ignore"):  # beyond float32's range is inf, as a direct parse gives
        narrow = wide.astype(np.float32)
    if np.any((wide.view(np.uint64) & _FLOAT32_LOW) == _FLOAT32_HALF):
        return None  # a normal-range float32 midpoint: let the exact parser decide
    tiny = (narrow.view(np.uint32) & np.uint32(0x7F800000)) == 0
    if tiny.any():
        scaled = wide[tiny] * 2.0**150  # float32 subnormal midpoints are odd multiples of 2^-150
        if np.any((scaled % 2.0) == 1.0):
            return None
    return narrow


def frame(chunk: bytes) -> bytes:
    """The chunk as a JSON array (callers that read from files frame while reading)."""
    return b"[" + chunk + b"]"


def parse_numbers(framed: bytes | bytearray, dtype: np.dtype) -> np.ndarray | None:
    """Values of a framed chunk (``[...]``) as ``dtype`` (native byte order), or None
    to use the general path."""
    try:
        document = _parser().parse(framed)
    except (ValueError, RuntimeError):  # RuntimeError: e.g. an integer beyond 64 bits
        return None
    kind: Literal["d", "i", "u"] = "d" if dtype.kind == "f" else "i" if dtype.kind == "i" else "u"
    try:
        if not isinstance(document, simdjson.Array):
            return None
        buffer = document.as_buffer(of_type=kind)
        count = len(document)
    except (TypeError, ValueError):
        return None
    finally:
        del document
    wide = np.frombuffer(buffer, dtype={"d": np.float64, "i": np.int64, "u": np.uint64}[kind])
    if wide.size != count or framed.find(b"[", 1) != -1:
        return None  # nested arrays are flattened by as_buffer: not a list of numbers
    if dtype.kind == "f":
        if not wide.all() and b"-0" in framed:
            return None
        if dtype.itemsize == 4:
            return _float32_exact(wide)
        return wide
    if dtype.itemsize < 8:
        info = np.iinfo(dtype)
        if wide.size and (wide.min() < info.min or wide.max() > info.max):
            return None
        return wide.astype(dtype)
    return wide
