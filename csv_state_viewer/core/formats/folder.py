"""A folder of per-tensor files (one ``np.savetxt`` matrix or ``.npy`` per layer) as a state.

Tried after every other format, so checkpoint and SavedModel folders keep theirs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from csv_state_viewer.core.format import Format
from csv_state_viewer.core.layouts.folderstate import (
    FolderState,
    folder_files,
    natural_key,
    without_companions,
)
from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.state import State


def _sniff(path: str, head: bytes) -> bool:
    if not os.path.isdir(path):
        return False
    with os.scandir(path) as found:
        return any(not e.name.startswith(".") for e in found)


def _per_file_format(path: str) -> Format:
    from csv_state_viewer.core.errors import NotAStateError
    from csv_state_viewer.core.registry import format_for_reading

    fmt = format_for_reading(path)
    if fmt.name == FORMAT.name:
        raise NotAStateError(path, "a folder inside the folder")
    if fmt.needs_tensorflow or fmt.writes_prefix or not fmt.extensions:
        # a Keras model to rebuild, or a state of several files (a checkpoint prefix) or
        # of a folder (a SavedModel): not one tensor file of the folder
        raise NotAStateError(path, f"a {fmt.description}: open it on its own")
    return fmt


def _opener(**options: Any) -> Callable[[str, Progress], tuple[Format, State]]:
    """Opens one file of the folder; reading options go to the files whose format takes
    them (a scale to the fixed-point matrices)."""

    def open_file(path: str, progress: Progress) -> tuple[Format, State]:
        from csv_state_viewer.core.registry import open_with

        fmt = _per_file_format(path)
        taken = {k: v for k, v in options.items() if k in fmt.open_options}
        return fmt, open_with(fmt, path, progress, **taken)

    return open_file


def _extensions() -> list[str]:
    from csv_state_viewer.core.registry import formats

    return [ext for fmt in formats() for ext in fmt.extensions]


def _own_files(files: list[str]) -> list[str]:
    """``files`` less the companions (sidecars) of other files among them."""
    from csv_state_viewer.core.registry import formats

    return without_companions(files, formats())


def open_folder_state(path: str, progress: Progress = NO_PROGRESS, **options: Any) -> FolderState:
    """Every file below ``path`` as one state (see :mod:`..layouts.folderstate`)."""
    folder = path.rstrip("/\\") or path
    files = _own_files(folder_files(folder))
    return FolderState(
        folder, files, _opener(**options), _extensions(), progress=progress, base=folder
    )


def open_files_state(
    paths: list[str], progress: Progress = NO_PROGRESS, **options: Any
) -> FolderState:
    """Several files chosen together as one state, each named by its file name's stem."""
    common = os.path.commonpath([os.path.abspath(p) for p in paths]) if paths else ""
    base = common if paths and all(os.path.dirname(os.path.abspath(p)) for p in paths) else None
    if base is not None and os.path.isfile(base):
        base = os.path.dirname(base)
    files = sorted(_own_files(paths), key=lambda p: natural_key(os.path.basename(p)))
    return FolderState(
        base or ".", files, _opener(**options), _extensions(), progress=progress, base=base
    )


FORMAT = Format(
    name="folder",
    description="folder of per-tensor files (one np.savetxt matrix, .npy or state per file)",
    label="Folder of per-tensor files",
    extensions=(),
    sniff=_sniff,
    open=open_folder_state,
    open_options=("scale",),
    fallback=True,
)
