"""Can a state be written here? The one check every writing operation makes first.

Used by convert, export, save-as and the write into a model, in the command line and the
viewer alike; refusals are :class:`~csv_state_viewer.core.errors.StateWriteError` with
a :class:`~csv_state_viewer.core.messages.Hint` where the user can do something about it.
A destination in a folder that does not exist yet is fine when the folder can be created:
the writers create it (:func:`~csv_state_viewer.core.atomic.created_folders`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from csv_state_viewer.core.atomic import check_destination as check_file
from csv_state_viewer.core.atomic import check_folder
from csv_state_viewer.core.errors import StateWriteError
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.messages import Hint, hinted


def _real(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path))


def check_destination(
    path: str,
    fmt: Format,
    *,
    overwrite: bool,
    sources: Iterable[str] = (),
    produced: Iterable[str] = (),
) -> None:
    """Refuse ``path`` as the destination of ``fmt`` when writing there would lose data.

    ``sources`` are files the job reads (the state first, then the model, the other
    files of a queue): never written over. ``produced`` are files this job already
    wrote (a queue writing two sources to one name). An existing destination needs ``overwrite``.
    """
    marker = fmt.destination_marker(path)
    targets = {_real(path), _real(marker)}
    sources = [source for source in sources if source]
    if sources and _real(sources[0]) in targets:
        raise StateWriteError(f"{path}: the destination is the source file")
    for source in sources[1:]:
        if _real(source) in targets:
            name = os.path.basename(source)
            raise StateWriteError(f"{path}: refusing to overwrite a source ({name})")
    if targets & {_real(p) for p in produced}:
        raise StateWriteError(f"{path}: was just written from another file of this job")
    folder = os.path.dirname(os.path.abspath(path.rstrip("/" + os.sep) or path))
    check_folder(folder)  # missing folders are created by the write
    if fmt.writes_folder and os.path.isdir(path):  # a folder of files: empty, or replaced
        if not overwrite and fmt.destination_exists(path):
            raise hinted(StateWriteError(f"{path}: already exists"), Hint.OVERWRITE)
        return
    # the file the write replaces (a prefix's .index): what every atomic write checks
    check_file(marker, overwrite=overwrite)
