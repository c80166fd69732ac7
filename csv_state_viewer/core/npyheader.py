"""The header of a NumPy ``.npy`` array, read and judged before any of its data.

An ``.npy`` file (alone, or a member of an ``.npz``) starts with a magic, a version, a
length field and a Python-literal header giving dtype, shape and order. Everything in it
is a declaration: the length is checked against
:data:`~csv_state_viewer.core.limits.MAX_NPY_HEADER_BYTES` before the header is read, the
shape against :data:`~csv_state_viewer.core.limits.MAX_DIMS`, the dtype is refused unless
numeric (or an ml_dtypes type), and the bytes the shape needs are compared with the bytes
the source holds, in Python integers, so a hostile declaration costs nothing. NumPy only
parses the header text (``ast.literal_eval`` and ``np.dtype``): an object dtype is named,
never unpickled, because no data is read here.

The bytes come from a ``read_exact(count, what)`` callable, so a zip member reader and a
plain file share this code; each problem is a :class:`NpyHeaderError` worded for a user
(the reader's own errors pass unchanged).
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from csv_state_viewer.core.dtypes import NUMERIC_KINDS, is_ml_dtype
from csv_state_viewer.core.formatting import shape_text
from csv_state_viewer.core.limits import MAX_DIMS, MAX_NPY_HEADER_BYTES, size_text

NPY_MAGIC = b"\x93NUMPY"
NPY_SUFFIX = ".npy"
_LENGTH_FIELD = {(1, 0): "<H", (2, 0): "<I", (3, 0): "<I"}  # .npy version: header length
_SHOWN = 80  # characters of a header or name quoted in a message

ReadExact = Callable[[int, str], bytes]


class NpyHeaderError(ValueError):
    """An ``.npy`` header that is not read: not one, too large, unreadable."""


@dataclass(frozen=True)
class NpyHeader:
    """What an ``.npy`` header declares, and where its data starts."""

    offset: int  # bytes of magic, version, length field and header before the data
    shape: tuple[Any, ...]  # as declared: check it with check_shape before trusting it
    fortran: bool
    dtype: np.dtype


def clipped(text: str) -> str:
    """``text`` on one line, cut to what a message quotes."""
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def read_npy_header(read_exact: ReadExact) -> NpyHeader:
    """The header of the ``.npy`` whose bytes ``read_exact`` gives, reading only its first
    bytes: the header's length is checked before the header is read."""
    magic = read_exact(len(NPY_MAGIC) + 2, "its .npy magic")
    if not magic.startswith(NPY_MAGIC):
        raise NpyHeaderError("not an .npy array (no NumPy magic at its start)")
    version = (magic[-2], magic[-1])
    code = _LENGTH_FIELD.get(version)
    if code is None:
        raise NpyHeaderError(f"an .npy file of version {version[0]}.{version[1]}, not read")
    field = read_exact(struct.calcsize(code), "its .npy header")
    length = struct.unpack(code, field)[0]
    if length > MAX_NPY_HEADER_BYTES:
        raise NpyHeaderError(
            f"its .npy header declares {size_text(length)}; a header is never larger than "
            f"{size_text(MAX_NPY_HEADER_BYTES)}"
        )
    text = read_exact(length, "its .npy header")
    parse = np.lib.format.read_array_header_1_0
    if version != (1, 0):
        parse = np.lib.format.read_array_header_2_0
    try:
        with warnings.catch_warnings():  # headers written by Python 2 warn, and still read
            warnings.simplefilter("ignore")
            shape, fortran, dtype = parse(io.BytesIO(field + text), MAX_NPY_HEADER_BYTES)
    except Exception as err:
        # ast.literal_eval and np.dtype on hostile text raise ValueError, SyntaxError,
        # tokenize.TokenError, RecursionError, MemoryError...: all say the header is bad
        reason = clipped(str(err).partition(":")[0] or type(err).__name__)
        raise NpyHeaderError(f"its .npy header is not readable ({reason})") from None
    return NpyHeader(len(magic) + len(field) + length, shape, bool(fortran), dtype)


def check_shape(shape: tuple[Any, ...]) -> str | None:
    """Why a declared shape is not read (too many dimensions, not integers), or None."""
    if len(shape) > MAX_DIMS:
        return f"its .npy header declares {len(shape)} dimensions; at most {MAX_DIMS} are read"
    if not all(type(d) is int and d >= 0 for d in shape):
        return clipped(f"its .npy header declares shape {shape!r}, which is not a shape")
    return None


def check_dtype(dtype: np.dtype) -> str | None:
    """Why a declared dtype is refused (object, structured, string...), or None: only
    numeric, bool and ml_dtypes tensors are read, so nothing is ever unpickled."""
    if (dtype.kind not in NUMERIC_KINDS and not is_ml_dtype(dtype)) or dtype.fields:
        return clipped(f"dtype {dtype} is refused: only numeric and bool tensors are read")
    return None


def check_size(shape: tuple[int, ...], dtype: np.dtype, held: int, where: str) -> str | None:
    """Why ``held`` bytes cannot back ``shape`` x ``dtype`` (``where`` names the source:
    "member", "file"), or None. Python integers: a huge shape allocates nothing."""
    needed = math.prod(shape) * dtype.itemsize
    if needed <= held:
        return None
    return (
        f"its .npy header declares {clipped(shape_text(shape))} {dtype} "
        f"({size_text(needed)}) but the {where} holds {size_text(held)}"
    )


def check_header(header: NpyHeader, held: int, where: str) -> str | None:
    """The first problem of a read header, given the ``held`` bytes after it, or None."""
    return (
        check_shape(header.shape)
        or check_dtype(header.dtype)
        or check_size(tuple(header.shape), header.dtype, held, where)
    )
