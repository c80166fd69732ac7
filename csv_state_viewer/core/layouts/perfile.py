"""Writing one file per tensor: the matrix writer's and the ``.npy`` writer's shared part.

A destination that ends with ``/`` (or is an existing folder) gets one file per tensor,
a ``/`` in a name making a subfolder; any other destination is a single file and needs
exactly one tensor. Each file is written by the format's own ``write`` (with
``atomic_write``), and the files are renamed into place together only when every one is
written: a write that fails or is interrupted half-way changes no file.
Each folder written into is swept of killed writes' temporary files once.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from csv_state_viewer.core.atomic import all_or_nothing, sweep_stale
from csv_state_viewer.core.errors import StateWriteError
from csv_state_viewer.core.progress import Progress, check_cancelled
from csv_state_viewer.core.tensors import TensorItem, iter_loaded

WriteOne = Callable[[str, TensorItem, np.ndarray], None]  # (file, item, its array)


def is_folder_destination(path: str) -> bool:
    """A destination that ends with ``/`` or is an existing folder: one file per tensor."""
    return path.endswith(("/", os.sep)) or os.path.isdir(path)


def file_for(folder: str, name: str, extension: str) -> str:
    """The file of tensor ``name`` in ``folder``; a ``/`` in a name is a subfolder."""
    parts = name.split("/")
    if (
        not name
        or os.path.isabs(name)
        or any(p in ("", ".", "..") for p in parts)
        or "\\" in name
        or "\x00" in name
    ):
        shown = repr(name) if len(name) <= 80 else repr(name[:79]) + "…"
        raise StateWriteError(
            f"{folder}: the tensor name {shown} cannot be a file name inside the folder"
        )
    return os.path.join(folder, *parts[:-1], parts[-1] + extension)


def targets(path: str, items: list[TensorItem], extension: str, single: str) -> list[str]:
    """The file each item goes to; ``single`` names what one file holds ("a .npy file")."""
    if is_folder_destination(path):
        root = path.rstrip("/" + os.sep) or path
        return [file_for(root, item.name, extension) for item in items]
    if len(items) != 1:
        raise StateWriteError(
            f"{path}: {single} holds one tensor, not {len(items)}; end the destination "
            "with '/' to write a folder of files (or pick one tensor with --tensor NAME)"
        )
    return [path]


def write_each(
    path: str,
    items: list[TensorItem],
    extension: str,
    single: str,
    *,
    write: WriteOne,
    skip_bad: bool,
    progress: Progress,
) -> int:
    """Write every item with ``write`` to its file (see :func:`targets`); the count."""
    by_name = dict(
        zip((item.name for item in items), targets(path, items, extension, single), strict=True)
    )
    written = 0
    swept: set[str] = set()
    with all_or_nothing():  # interrupted half-way, no file of the folder is replaced
        for index, (item, array) in enumerate(iter_loaded(items, skip_bad=skip_bad)):
            check_cancelled(progress)
            target = by_name[item.name]
            parent = os.path.dirname(os.path.abspath(target))
            if parent not in swept:
                swept.add(parent)
                sweep_stale(parent)  # a missing folder: nothing to sweep (and no error)
            write(target, item, array)
            written += 1
            progress.report(index + 1, len(items))
    return written
