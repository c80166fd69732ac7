"""Atomic file replacement: a write either lands whole or leaves the old file untouched.

Missing parent folders of a destination are created here, at write time, and removed
again when the write fails or is cancelled (see :func:`created_folders`).
"""

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


def missing_folders(folder: str) -> list[str]:
    """The folders from ``folder`` up that do not exist yet, the outermost first."""
    missing: list[str] = []
    current = os.path.abspath(folder)
    while not os.path.lexists(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return missing[::-1]


def check_folder(folder: str) -> None:
    """Refuse a destination folder that neither exists nor can be created.

    A missing ``folder`` is fine when its nearest existing ancestor is a folder this
    process may create folders in; the refusal names that ancestor.
    """
    missing = missing_folders(folder)
    ancestor = os.path.dirname(missing[0]) if missing else os.path.abspath(folder)
    if not os.path.isdir(ancestor):
        what = "is a file" if os.path.lexists(ancestor) else "does not exist"
        raise StateWriteError(f"{ancestor}: {what}, not a folder (needed for {folder})")
    if missing and not os.access(ancestor, os.W_OK | os.X_OK):
        raise StateWriteError(f"{ancestor}: no permission to create the folder {missing[0]}")


@contextlib.contextmanager
def created_folders(folder: str) -> Iterator[list[str]]:
    """Create ``folder`` and its missing parents for a write; yield the ones created.

    When the body raises (a failed or cancelled write) the folders created here are
    removed again, the deepest first, each only while empty: a refused write leaves
    nothing behind. A folder made meanwhile by someone else is never removed.
    """
    check_folder(folder)
    made: list[str] = []
    try:
        for missing in missing_folders(folder):
            try:
                os.mkdir(missing)
            except FileExistsError:
                if os.path.isdir(missing):
                    continue  # made by a concurrent writer: not ours to remove
                raise StateWriteError(f"{missing}: is a file, not a folder") from None
            except OSError as err:
                raise StateWriteError(
                    f"{missing}: cannot create the folder ({err.strerror or err})"
                ) from None
            made.append(missing)
        yield made
    except BaseException:
        for made_folder in reversed(made):
            try:
                os.rmdir(made_folder)
            except OSError:
                break  # not empty: its parents are not either
        raise


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, overwrite: bool = True, suffix: str = ".tmp"
) -> Iterator[str]:
    """A temporary path beside ``path`` for a writer that wants a file name (Keras, h5py).

    On success the file is fsynced and renamed over ``path``, keeping the old file's
    permissions; on any exception (or a crash) it is removed and ``path`` keeps its old
    content. ``suffix`` lets writers that check extensions see the right one. Missing
    parent folders are created, and removed again when the write fails.
    ``OSError`` (disk full, no permission, ...) becomes :class:`StateWriteError`.
    """
    path = os.fspath(path)
    check_destination(path, overwrite=overwrite)
    folder = os.path.dirname(os.path.abspath(path))
    with created_folders(folder) as made:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        try:
            fd, tmp = tempfile.mkstemp(
                prefix=f".{os.path.basename(path)}.", suffix=suffix, dir=folder
            )
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
        fsync_folders([folder, *(os.path.dirname(made_folder) for made_folder in made)])


def fsync_folders(folders: list[str]) -> None:
    """Make the entries of ``folders`` durable (best effort: not every system can)."""
    for folder in folders:
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
