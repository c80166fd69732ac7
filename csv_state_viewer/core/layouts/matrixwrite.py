"""Write tensors as ``np.savetxt``-style matrices: one comma-delimited file per tensor.

A 2-D tensor is written as rows x columns; any other rank as
``(prod(shape[:-1]), shape[-1])`` after a ``# shape: [..]`` comment line, which the reader
uses to restore the shape (0-D and 1-D get one too, so that every shape round-trips).
Values are the shortest decimals that read back to the same bits (the CSV format's own
formatter), integers as integers; ``np.loadtxt(path, delimiter=",")`` reads every file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.csv import textcodec
from csv_state_viewer.core.errors import StateWriteError
from csv_state_viewer.core.layouts.matrixtext import parse_scale
from csv_state_viewer.core.layouts.perfile import write_each
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.tensors import TensorItem, Tensors, tensor_items

EXTENSION = ".csv"
BLOCK_VALUES = 1 << 20  # values formatted at a time


def matrix_rows(array: np.ndarray) -> np.ndarray:
    """The 2-D view the file holds: rows x columns, other ranks as (prod(rest), last)."""
    if array.ndim == 2:
        return array
    columns = array.shape[-1] if array.ndim else 1
    return array.reshape(math.prod(array.shape[:-1]) if array.ndim else 1, columns)


def holds_real_numbers(dtype: np.dtype) -> bool:
    """Whether a matrix of text numbers can hold ``dtype``: bool, integers, floats (the
    2-byte ml_dtypes floats too), not complex, strings or objects."""
    return dtype.kind in "biuf" or (dtype.kind == "V" and dtype.itemsize <= 2)


def _checked(array: np.ndarray, name: str, scale: float | None) -> np.ndarray:
    if not holds_real_numbers(array.dtype):
        raise StateWriteError(f"{name!r}: a matrix file holds real numbers, not {array.dtype}")
    if scale is None:
        return array
    fixed = array.astype(np.float64) / scale
    if not (np.isfinite(fixed).all() and (fixed == np.rint(fixed)).all()):
        raise StateWriteError(f"{name!r}: not every value is an integer multiple of {scale!r}")
    return fixed.astype(np.int64)


def matrix_text(array: np.ndarray, *, scale: float | None = None) -> Iterator[bytes]:
    """The file's content in pieces: comments, then one line per row."""
    if array.ndim != 2:
        yield f"# shape: {list(array.shape)}\n".encode()
    if scale is not None:
        yield f"# scale: {scale!r}\n".encode()
    yield from table_text(matrix_rows(array))


def table_text(
    table: np.ndarray, *, separator: bytes = b",", progress: Progress = NO_PROGRESS
) -> Iterator[bytes]:
    """The lines of a 2-D table in pieces of whole rows, values separated by
    ``separator``, each the shortest decimal that reads back to the same bits."""
    rows, columns = table.shape
    if table.size == 0:
        return
    step = max(1, BLOCK_VALUES // columns)  # rows per piece
    for start in range(0, rows, step):
        check_cancelled(progress)
        block = np.ascontiguousarray(table[start : start + step]).reshape(-1)
        text = bytearray(textcodec.format_chunk(block))
        raw = np.frombuffer(text, dtype=np.uint8)
        raw[np.flatnonzero(raw == 0x2C)[columns - 1 :: columns]] = 0x0A  # rows' last commas
        del raw
        if separator != b",":
            text = text.replace(b",", separator)
        yield bytes(text) + b"\n"
        progress.report(min(start + step, rows), rows)


def save_matrix_state(
    path: str | os.PathLike[str],
    tensors: Tensors,
    *,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress = NO_PROGRESS,
    overwrite: bool = True,
    skip_bad: bool = False,
    scale: float | str | None = None,
    **_options: Any,
) -> int:
    """Write one matrix file per tensor into a folder (``path`` ending with ``/`` or an
    existing folder; missing folders are created with each file, see ``atomic_write``), or a
    single ``.csv``/``.txt`` file when there is one tensor. Names keep their ``/`` as
    subfolders. ``scale`` writes fixed-point integers (value / scale, which must be exact)
    after a ``# scale:`` comment.
    Returns the number of tensors written. The files replace the old ones together, once
    all are written: a write that fails or is interrupted half-way changes none
    (:func:`~csv_state_viewer.core.layouts.perfile.write_each`).
    """
    factor = None if scale is None else parse_scale(scale)
    items = tensor_items(tensors, metadata, skip_bad=skip_bad)

    def write(target: str, item: TensorItem, array: np.ndarray) -> None:
        values = _checked(array, item.name, factor)
        with atomic_write(target, overwrite=overwrite, sweep=False) as handle:
            for piece in matrix_text(values, scale=factor):
                handle.write(piece)

    return write_each(
        os.fspath(path),
        items,
        EXTENSION,
        "a single matrix file",
        write=write,
        skip_bad=skip_bad,
        progress=progress,
    )
