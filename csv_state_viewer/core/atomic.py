"""Atomic file replacement: a write either lands whole or leaves the old file untouched."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import IO

from csv_state_viewer.core.errors import StateWriteError
from csv_state_viewer.core.messages import Hint, hinted
from csv_state_viewer.core.openfiles import is_open_for_reading


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def check_destination(path: str, *, overwrite: bool) -> None:
    """Refuse a destination that is being read, or that exists when not overwriting."""
    if is_open_for_reading(path):
        raise StateWriteError(f"{path}: refusing to write over a file that is open for reading")
    if os.path.isdir(path):
        raise StateWriteError(f"{path}: is a directory")
    if not overwrite and os.path.lexists(path):
        raise hinted(StateWriteError(f"{path}: already exists"), Hint.OVERWRITE)


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, overwrite: bool = True, suffix: str = ".tmp"
) -> Iterator[str]:
    """A temporary path beside ``path`` for a writer that wants a file name (Keras, h5py).

    On success the file is fsynced and renamed over ``path``, keeping the old file's
    permissions; on any exception (or a crash) it is removed and ``path`` keeps its old
    content. ``suffix`` lets writers that check extensions see the right one.
    ``OSError`` (disk full, no permission, ...) becomes :class:`StateWriteError`.
    """
    path = os.fspath(path)
    check_destination(path, overwrite=overwrite)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=suffix, dir=folder)
        os.close(fd)
    except OSError as err:
        raise StateWriteError(f"{path}: cannot write here ({err.strerror or err})") from None
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise StateWriteError(f"{path}: write failed ({err.strerror or err})") from None
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[IO[bytes]]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    On any exception (or a crash) the temporary file is removed and ``path`` keeps its old
    content. ``OSError`` (disk full, no permission, ...) becomes :class:`StateWriteError`.
    """
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "wb") as handle:
        yield handle
