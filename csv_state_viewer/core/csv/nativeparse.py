"""Optional C accelerator for decimal float text (``_native/textparse.c``), via ctypes.

The install compiles ``_native/_textparse.so`` when a C compiler is there (see
``hatch_build.py``); without it, or with ``CSV_STATE_PURE_PYTHON=1`` in the environment,
:func:`library` is None and text goes through the simdjson/pyarrow path alone. ctypes
releases the GIL during the call, so chunks of one tensor are parsed on several cores.

The accelerator only accepts plain numbers and never judges input: a chunk it does not
take (``nan``, ``inf``, spaces, a bad value) returns None and the caller parses that
chunk with the general path, which gives the same values and words the errors.

float16 and the float types of ml_dtypes are parsed as float64 by the accelerator and
narrowed here with one correct rounding of each text (:mod:`.narrowing`, which reads the
text again only for the rare values on a rounding boundary).
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from csv_state_viewer.core.csv import narrowing
from csv_state_viewer.core.dtypes import is_small_float

ABI = 6
PADDING = 16  # zero bytes after the data: the parser reads up to 8 bytes ahead
LIBRARY_PATH = Path(__file__).with_name("_native") / "_textparse.so"
_SELF_TEST = b"1.5,-0.25,3e-07,0.1,-0,123456789,1e-40,2.5e+38,0.012345678,1234567890123456789012"
_local = threading.local()


_INT, _I64, _PTR = ctypes.c_int, ctypes.c_int64, ctypes.c_void_p
# each C function's (result, arguments), as textparse.c declares them
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "csv_textparse_abi": (_INT, []),
    "csv_textparse_padding": (_INT, []),
    "csv_parse_f32": (_I64, [_PTR, _I64, _PTR, _I64]),
    "csv_parse_f64": (_I64, [_PTR, _I64, _PTR, _I64]),
    "csv_parse_span_f32": (_I64, [_INT, _I64, _I64, _PTR, _I64, _INT, _PTR, _I64]),
    "csv_parse_span_f64": (_I64, [_INT, _I64, _I64, _PTR, _I64, _INT, _PTR, _I64]),
    "csv_histogram_f32": (_I64, [_PTR, _I64, _PTR, _I64, _PTR]),
    "csv_histogram_f64": (_I64, [_PTR, _I64, _PTR, _I64, _PTR]),
    "csv_scan_until": (_I64, [_INT, _I64, _I64, ctypes.c_char_p, _INT, ctypes.POINTER(_I64)]),
    "csv_scan_quoted": (_I64, [_INT, _I64, _I64, ctypes.POINTER(_I64), ctypes.POINTER(_INT)]),
}


def _bind(lib: ctypes.CDLL) -> None:
    for name, (result, arguments) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.restype = result
        function.argtypes = arguments


def _passes_self_test(lib: ctypes.CDLL) -> bool:
    """The library agrees with Python's own parser bit for bit on a few tricky numbers."""
    for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        got = _parse_with(lib, bytearray(_SELF_TEST + bytes(PADDING)), len(_SELF_TEST), dtype)
        expected = np.array([float(t) for t in _SELF_TEST.split(b",")]).astype(dtype)
        if got is None or got.tobytes() != expected.tobytes():
            return False
    return True


@functools.cache
def library() -> ctypes.CDLL | None:
    """The loaded accelerator, or None when it is absent, disabled or misbehaving."""
    if os.environ.get("CSV_STATE_PURE_PYTHON") or not LIBRARY_PATH.is_file():
        return None
    try:
        lib = ctypes.CDLL(str(LIBRARY_PATH))
        _bind(lib)
        if lib.csv_textparse_abi() != ABI or lib.csv_textparse_padding() > PADDING:
            return None  # a stale build from another version of this package
    except (OSError, AttributeError):
        return None
    return lib if _passes_self_test(lib) else None


def supports(dtype: np.dtype) -> bool:
    """Whether :func:`parse` handles this dtype (float64, float32, float16 in either byte
    order, and the float types of ml_dtypes)."""
    wide = dtype.kind == "f" and dtype.itemsize in (4, 8)
    return (wide or is_small_float(dtype)) and library() is not None


def supports_span(dtype: np.dtype) -> bool:
    """Whether :func:`parse_span` handles this dtype (float32 and float64, native order)."""
    return (
        dtype.kind == "f" and dtype.itemsize in (4, 8) and dtype.isnative and library() is not None
    )


def parse_span(fd: int, offset: int, length: int, out: np.ndarray, threads: int) -> int | None:
    """Parse the comma-separated numbers of a file span straight into ``out``.

    The span is split at commas over ``threads`` threads, each reading and parsing its part
    in C without the GIL. Returns the number of values written to ``out`` (a contiguous
    float32 or float64 array, which may hold more), or None when the span is not plain
    numbers, holds more values than ``out`` or cannot be read: the caller then parses it
    with the general path, which words any error.
    """
    lib = library()
    if lib is None or length <= 0 or out.size == 0 or not supports_span(out.dtype):
        return None
    function = lib.csv_parse_span_f32 if out.itemsize == 4 else lib.csv_parse_span_f64
    scratch = _scratch(length + threads * PADDING)
    count = function(
        fd, offset, length, out.ctypes.data, out.size, threads, scratch.ctypes.data, scratch.size
    )
    return None if count < 0 else int(count)


def _scratch(size: int) -> np.ndarray:
    """This thread's reading buffer, at least ``size`` bytes: kept, so that its pages are
    not faulted in again by every call (a fresh buffer costs as much as a tenth of the
    parse)."""
    buffer: np.ndarray | None = getattr(_local, "scratch", None)
    if buffer is None or buffer.size < size:  # not zero-filled: the parser overwrites it
        buffer = _local.scratch = np.empty(size, dtype=np.uint8)
    return buffer


def scan_until(fd: int, pos: int, end: int, needles: bytes) -> tuple[int, int] | None:
    """(position of the first byte of ``needles`` in the file span [pos, end), or -1;
    the line breaks before it), read with pread in C without the GIL; None without the
    accelerator or when the file cannot be read (the caller then scans its mapping)."""
    lib = library()
    if lib is None:
        return None
    newlines = ctypes.c_int64(0)
    hit = lib.csv_scan_until(fd, pos, end, needles, len(needles), ctypes.byref(newlines))
    return None if hit < -1 else (int(hit), int(newlines.value))


def histogram_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray | None:
    """``numpy.histogram(values, bins=edges)[0]`` for equal-width ``edges``, counted in C
    without the GIL (values outside the edges and NaN are left out, as NumPy leaves
    them); None without the accelerator or for other dtypes (contiguous native float32 and
    float64 only): the caller then asks NumPy."""
    lib = library()
    wide = values.dtype.kind == "f" and values.dtype.itemsize in (4, 8)
    if lib is None or not wide or not values.dtype.isnative or not values.flags.c_contiguous:
        return None
    edges = np.ascontiguousarray(edges, dtype=np.float64)
    counts = np.zeros(edges.size - 1, dtype=np.int64)
    function = lib.csv_histogram_f32 if values.itemsize == 4 else lib.csv_histogram_f64
    function(values.ctypes.data, values.size, edges.ctypes.data, counts.size, counts.ctypes.data)
    return counts


def scan_quoted(fd: int, pos: int, end: int) -> tuple[int, int, bool] | None:
    """(position of the closing quote of the quoted field whose content starts at ``pos``,
    or -1; the line breaks inside; whether it holds doubled quotes), found in C in one
    call; None as for :func:`scan_until`."""
    lib = library()
    if lib is None:
        return None
    newlines, escaped = ctypes.c_int64(0), ctypes.c_int(0)
    hit = lib.csv_scan_quoted(fd, pos, end, ctypes.byref(newlines), ctypes.byref(escaped))
    return None if hit < -1 else (int(hit), int(newlines.value), bool(escaped.value))


def read_padded(fd: int, offset: int, length: int) -> bytearray:
    """``length`` bytes of a file followed by PADDING zero bytes, in this thread's buffer.

    The buffer is reused by the next call on the same thread: parse it before that.
    """
    buffer: bytearray | None = getattr(_local, "buffer", None)
    if buffer is None or len(buffer) < length + PADDING:
        buffer = _local.buffer = bytearray(length + PADDING)
    got = os.preadv(fd, [memoryview(buffer)[:length]], offset)
    if got != length:
        raise EOFError(f"the file ended early (read {got} of {length} bytes)")
    buffer[length : length + PADDING] = bytes(PADDING)
    return buffer


def parse(buffer: bytearray, length: int, dtype: np.dtype) -> np.ndarray | None:
    """Values of ``buffer[:length]`` as ``dtype``, or None for the general path.

    ``buffer`` must hold PADDING zero bytes after the data (see :func:`read_padded`).
    """
    lib = library()
    return None if lib is None else _parse_with(lib, buffer, length, dtype)


def _parse_with(
    lib: ctypes.CDLL, buffer: bytearray, length: int, dtype: np.dtype
) -> np.ndarray | None:
    if length <= 0 or len(buffer) < length + PADDING or any(buffer[length : length + PADDING]):
        return None
    native = dtype.newbyteorder("=")
    small = is_small_float(native)
    if not small and not (native.kind == "f" and native.itemsize in (4, 8)):
        return None  # the library writes float32 or float64 values, nothing else
    # at most one value per two bytes
    out = np.empty(length // 2 + 1, dtype=np.float64 if small else native)
    function = lib.csv_parse_f32 if out.itemsize == 4 else lib.csv_parse_f64
    address = ctypes.addressof(ctypes.c_char.from_buffer(buffer))
    count = function(address, length, out.ctypes.data, out.size)
    if count < 0:
        return None
    if small:
        texts = narrowing.comma_texts(buffer, 0, length)
        try:
            return narrowing.narrow(out[:count], native, texts).astype(dtype, copy=False)
        except ValueError:  # a text Decimal does not read: the general path words it
            return None
    return out[:count].astype(dtype, copy=False)
