"""One numeric matrix per file, as ``np.savetxt`` and ``pandas.DataFrame.to_csv`` write it.

The file is one tensor named by its stem (``dense_kernel.csv`` -> ``dense_kernel``), of
the shape ``np.loadtxt`` gives it, or the shape a ``# (4, 1, 3, 3)`` / ``# shape: [..]``
comment on top says. Opening reads the data once to count the rows, check them and decide
the dtype (int64 for integers, else float32 when every value is a float32 as written,
else float64; :mod:`..layouts.matrixtext`); the values are read when the tensor is.
A fixed-point ``scale`` multiplies the values (:func:`parse_scale` reads ``2^-4``).

Writing (:mod:`..layouts.matrixwrite`) makes a folder of such files, one per tensor,
when the destination ends with ``/`` or is a folder; a single file holds one tensor.
"""

from __future__ import annotations

import mmap
import os

import numpy as np

from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.layouts.matrixtext import (
    MatrixLayout,
    MatrixScan,
    MatrixValueError,
    count_of,
    loadtxt_shape,
    open_mmap,
    parse_scale,
    read_values,
    scan_layout,
    scan_values,
    sniff_matrix,
)
from csv_state_viewer.core.layouts.matrixwrite import save_matrix_state
from csv_state_viewer.core.layouts.values import DECIDED_KEY
from csv_state_viewer.core.lazystate import LazyState, LazyTensor, unreadable
from csv_state_viewer.core.openfiles import register, unregister
from csv_state_viewer.core.progress import NO_PROGRESS, Progress

__all__ = ["FORMAT", "open_matrix_state", "parse_scale", "save_matrix_state", "sniff"]

EXTENSIONS = (".csv", ".txt", ".tsv", ".dat")


def tensor_name(path: str) -> str:
    """The tensor a matrix file holds is named by the file's stem."""
    return os.path.splitext(os.path.basename(path))[0]


def _tensor(
    path: str, layout: MatrixLayout, scan: MatrixScan, scale: float | None, mm: mmap.mmap
) -> LazyTensor:
    name = tensor_name(path)
    found = layout.fields * scan.rows
    shape = loadtxt_shape(scan.rows, layout.fields)
    if layout.shape is not None:
        if count_of(layout.shape) != found:
            message = (
                f"the shape comment says {list(layout.shape)} ({count_of(layout.shape)} "
                f"values) but the file holds {scan.rows} rows of {layout.fields} ({found} values)"
            )
            return LazyTensor(name, None, None, unreadable, error=message, line=layout.shape_line)
        shape = layout.shape
    metadata = {
        "shape": list(shape),
        "dtype": str(scan.dtype),
        DECIDED_KEY: scan.reason,
        "rows": scan.rows,
        "columns": layout.fields,
    }
    if scale is not None:
        metadata |= {"scale": scale, "fixed_point": True}

    def load() -> np.ndarray:
        return read_values(mm, layout, scan, scale=scale).reshape(shape)

    return LazyTensor(name, shape, scan.dtype, load, metadata, line=layout.data_line)


def open_matrix_state(
    path: str | os.PathLike[str],
    progress: Progress = NO_PROGRESS,
    *,
    scale: float | str | None = None,
) -> LazyState:
    """Open a matrix file as a one-tensor state.

    ``scale`` (a number or text such as ``"2^-4"``; else a ``# scale:`` comment in the
    file) multiplies every value; the products get float32 or float64 by the usual rule.
    A bad value makes the tensor a row problem (``FILE:LINE: 'name': column N: ...``).
    """
    path = os.fspath(path)
    try:
        layout = scan_layout(path)
    except OSError as err:
        raise NotAStateError(path, err.strerror or str(err)) from None
    if isinstance(layout, str):
        raise NotAStateError(path, f"not a numeric matrix ({layout})")
    given = scale if scale is not None else layout.scale
    try:
        factor = None if given is None else parse_scale(given)
    except ValueError as err:
        raise NotAStateError(path, str(err)) from None
    fd, mm = open_mmap(path)
    key = register(path)

    def close() -> None:
        if mm is not None:
            mm.close()
        os.close(fd)
        unregister(key)

    try:
        if mm is None:
            raise NotAStateError(path, "the file is empty")
        scan = scan_values(mm, layout, scale=factor, progress=progress)
        tensor = _tensor(path, layout, scan, factor, mm)
    except MatrixValueError as err:
        tensor = LazyTensor(
            tensor_name(path), None, None, unreadable, error=str(err), line=err.line
        )
    except BaseException:
        close()
        raise
    return LazyState(path, "matrix", [tensor], on_close=close)


def sniff(path: str, head: bytes) -> bool:
    """A file whose first KB are rows of numbers with one delimiter (see ``sniff_matrix``)."""
    return os.path.isfile(path) and sniff_matrix(head)


FORMAT = Format(
    name="matrix",
    description=(
        "One numeric matrix per file, as np.savetxt or pandas write it; writes a folder "
        "(destination ending with '/' or an existing folder) of one .csv per tensor, "
        "or a single file for a single tensor"
    ),
    label="Matrix per tensor (np.savetxt)",
    extensions=EXTENSIONS,
    sniff=sniff,
    open=open_matrix_state,
    save=save_matrix_state,
    save_options=("scale",),
    open_options=("scale",),
    writes_folder=True,
)
