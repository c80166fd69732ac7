"""Export single tensors: NumPy ``.npy``, a CSV matrix (``np.savetxt``-style) or text.

One Qt-free job shared by the viewer's *Export tensor…* and anything else that needs it.
Every file is written atomically (:func:`~csv_state_viewer.core.atomic.atomic_write`)
and an existing file is replaced only when ``overwrite`` is true: the caller has asked.

The CSV matrix is 2-D as ``np.loadtxt(path, delimiter=",")`` reads it: a 2-D tensor as it
is, a scalar as one cell, a vector as one value per line, and higher ranks reshaped to
``(shape[0], prod(shape[1:]))``, which the result's ``note`` says. The text form is the
same matrix separated by spaces after ``#`` lines naming the tensor, its shape and dtype,
so that it is readable and ``np.loadtxt(path)`` still reads it. Numbers are the shortest
decimals that read back to the same bits (the CSV format's formatter).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.errors import StateWriteError
from csv_state_viewer.core.layouts.matrixwrite import holds_real_numbers, table_text
from csv_state_viewer.core.progress import NO_PROGRESS, Progress

KINDS = {"npy": ".npy", "csv": ".csv", "txt": ".txt"}
LABELS = {"npy": "NumPy array", "csv": "CSV matrix", "txt": "Text"}


@dataclass(frozen=True)
class ExportedTensor:
    name: str
    path: str
    note: str = ""  # e.g. "reshaped (3, 3, 2, 4) to (3, 24)"


def kind_of(path: str) -> str | None:
    """The export kind a file name's extension asks for, if any."""
    ext = os.path.splitext(path)[1].lower()
    return next((k for k, e in KINDS.items() if e == ext), None)


def file_name_for(name: str, kind: str) -> str:
    """A file name for tensor ``name`` (scopes joined by ``__``, unsafe characters as ``_``)."""
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name.replace("/", "__"))
    return (safe.strip(".") or "tensor") + KINDS[kind]


def matrix_of(array: np.ndarray) -> tuple[np.ndarray, str]:
    """The 2-D matrix a CSV or text export holds, and a note when it was reshaped."""
    if array.ndim == 2:
        return array, ""
    if array.ndim == 0:
        return array.reshape(1, 1), ""
    if array.ndim == 1:
        return array.reshape(-1, 1), ""
    first = array.shape[0]
    rest = math.prod(array.shape[1:])
    return array.reshape(first, rest), f"reshaped {tuple(array.shape)} to {(first, rest)}"


def export_tensor(
    array: np.ndarray,
    name: str,
    path: str,
    kind: str | None = None,
    *,
    overwrite: bool = False,
    progress: Progress = NO_PROGRESS,
) -> ExportedTensor:
    """Write ``array`` (tensor ``name``) to ``path`` as ``kind`` (from the extension when
    None). Raises :class:`StateWriteError` for an unknown kind, a complex or non-numeric
    dtype in a text form, or an existing file when ``overwrite`` is false."""
    kind = kind or kind_of(path)
    if kind not in KINDS:
        raise StateWriteError(f"{path}: cannot tell the export kind (use .npy, .csv or .txt)")
    if kind == "npy":
        with atomic_write(path, overwrite=overwrite) as handle:
            np.save(handle, array, allow_pickle=False)
        return ExportedTensor(name, path)
    if not holds_real_numbers(array.dtype):
        raise StateWriteError(f"{name!r}: a {LABELS[kind]} holds real numbers, not {array.dtype}")
    table, note = matrix_of(array)
    with atomic_write(path, overwrite=overwrite) as handle:
        if kind == "txt":
            handle.write(f"# {name}\n# shape: {list(array.shape)}\n".encode())
            handle.write(f"# dtype: {array.dtype}\n".encode())
            if note:
                handle.write(f"# {note}\n".encode())
        separator = b"," if kind == "csv" else b" "
        for chunk in table_text(table, separator=separator, progress=progress):
            handle.write(chunk)
    return ExportedTensor(name, path, note)
