"""Atomic file replacement: a write either lands whole or leaves the old file untouched.

A write goes into a temporary file beside the destination, which is fsynced and renamed
over it at the end. Its name says what it is and whose it is:
``.<name>.<pid>-<host>-<token>.csv-state-tmp[<suffix>]`` (``.state.csv.4711-3fa09c-k2x9qe
.csv-state-tmp``): the destination's file name (shortened with a hash when very long), the
writing process's id, a tag of the machine it runs on, a random token, and the suffix a
writer needs to see (``.keras``). A write that fails or is cancelled removes its temporary
file itself. A process that is killed (``kill -9``, out of memory, power loss) cannot: its
temporary file stays, hidden, as big as what was written. The next write into the same
folder removes it (:func:`sweep_stale`): every temporary file of ours there whose writer
process is gone (``os.kill(pid, 0)`` finds no such process on this machine) and that
belongs to this user. A live writer's file, another machine's (a shared network folder),
another user's and anything not named by this scheme are never touched.

Missing parent folders of a destination are created here, at write time, and removed
again when the write fails or is cancelled (see :func:`created_folders`).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import stat
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import IO

from csv_state_viewer.core.errors import StateWriteError
from csv_state_viewer.core.messages import Hint, hinted
from csv_state_viewer.core.openfiles import is_open_for_reading
from csv_state_viewer.core.writeback import early_writeback

MARKER = ".csv-state-tmp"
_TOKEN_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_TOKEN_LENGTH = 6
MAX_STEM_BYTES = 150  # of the destination's name kept in a temporary name (NAME_MAX 255)
# .<stem>.<pid>-<host>-<token>.csv-state-tmp<suffix>; the stem is greedy, so a name that
# holds the pattern twice is read by its last occurrence: the one its writer appended.
_TEMPORARY = re.compile(
    r"\.(?P<stem>.+)\.(?P<pid>[1-9][0-9]{0,9})-(?P<host>[0-9a-f]{6})-[0-9a-z]{6}"
    + re.escape(MARKER)
    + r"(?P<suffix>(?:\.[0-9A-Za-z_-]+)*)",
    re.DOTALL,
)


def host_tag() -> str:
    """Six hex digits naming this machine: a temporary file made on another machine (a
    shared folder) has another tag, and its writer's id means nothing here."""
    return f"{zlib.crc32(socket.gethostname().encode('utf-8', 'replace')) & 0xFFFFFF:06x}"


def _stem(name: str) -> str:
    """``name`` as a temporary name holds it: whole, or cut with a hash of the whole when
    it is too long for a file name with the rest around it."""
    raw = os.fsencode(name)
    if len(raw) <= MAX_STEM_BYTES:
        return name
    cut = raw[: MAX_STEM_BYTES - 9].decode("utf-8", "ignore")  # whole characters only
    return f"{cut}~{zlib.crc32(raw):08x}"


def temporary_name(destination: str, suffix: str = "") -> str:
    """A new temporary file name (no folder) for a write to ``destination`` by this
    process: ``.<name>.<pid>-<host>-<token>.csv-state-tmp<suffix>``."""
    if MARKER in suffix or not re.fullmatch(r"(?:\.[0-9A-Za-z_-]+)*", suffix):
        raise ValueError(f"a temporary file's suffix must be like .keras, not {suffix!r}")
    token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(_TOKEN_LENGTH))
    stem = _stem(os.path.basename(os.path.normpath(destination)))
    return f".{stem}.{os.getpid()}-{host_tag()}-{token}{MARKER}{suffix}"


def writer_of(name: str) -> tuple[int, str] | None:
    """(pid, host tag) of the writer of a temporary file named ``name``; None when the
    name is not one of ours."""
    match = _TEMPORARY.fullmatch(name)
    if match is None:
        return None
    return int(match["pid"]), match["host"]


def _process_exists(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # Windows: os.kill(pid, 0) is a Ctrl-C
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user's process
        return True
    return True


def sweep_stale(folder: str) -> list[str]:
    """Remove the temporary files (and folders) that killed writes left in ``folder``;
    returns the paths removed.

    Removed is only what is named as :func:`temporary_name` names it, was written on this
    machine by a process that no longer exists, belongs to this user and is a plain file
    or folder (not a link). Nothing else is touched, and failures are ignored: a sweep is
    housekeeping, never a reason for a write to fail. It costs one listing of the folder
    (a few milliseconds for ten thousand entries); a writer of many files into one folder
    sweeps it once and writes with ``sweep=False``.
    """
    key = os.path.abspath(folder)
    here, uid = host_tag(), os.getuid() if hasattr(os, "getuid") else None
    removed: list[str] = []
    try:
        with os.scandir(key) as entries:
            found = [e for e in entries if e.name.startswith(".") and MARKER in e.name]
    except OSError:
        return removed
    for entry in found:
        writer = writer_of(entry.name)
        if writer is None or writer[1] != here or _process_exists(writer[0]):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if uid is not None and info.st_uid != uid:
                continue
            if stat.S_ISREG(info.st_mode):
                os.unlink(entry.path)
            elif stat.S_ISDIR(info.st_mode):
                shutil.rmtree(entry.path)
            else:
                continue
            removed.append(entry.path)
    return removed


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
    path: str | os.PathLike[str], *, overwrite: bool = True, suffix: str = "", sweep: bool = True
) -> Iterator[str]:
    """A temporary path beside ``path`` for a writer that wants a file name (Keras, h5py).

    On success the file is fsynced and renamed over ``path``, keeping the old file's
    permissions; on any exception it is removed and ``path`` keeps its old content. A
    process killed meanwhile leaves it behind; the next write into the folder removes it
    (see the module docstring). ``suffix`` lets writers that check extensions see the
    right one. Missing parent folders are created, and removed again when the write
    fails. ``OSError`` (disk full, no permission, ...) becomes :class:`StateWriteError`.
    ``sweep=False`` leaves the folder's stale temporary files to the caller (who swept it
    already: :func:`sweep_stale`).
    """
    path = os.fspath(path)
    check_destination(path, overwrite=overwrite)
    folder = os.path.dirname(os.path.abspath(path))
    with created_folders(folder) as made:
        if sweep and not made:  # a folder made just now holds nothing stale
            sweep_stale(folder)
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        tmp = _create_temporary(path, folder, suffix)
        try:
            yield tmp
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(tmp, mode)
            pending = getattr(_TRANSACTION, "pending", None)
            if pending is not None:  # renamed with the others when the transaction ends
                pending.append((tmp, path))
                _TRANSACTION.folders.extend(made)
                return
            os.replace(tmp, path)
        except BaseException as err:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            if isinstance(err, OSError):
                raise StateWriteError(f"{path}: write failed ({err.strerror or err})") from None
            raise
        fsync_folders([folder, *(os.path.dirname(made_folder) for made_folder in made)])


_TRANSACTION = threading.local()


@contextlib.contextmanager
def all_or_nothing() -> Iterator[None]:
    """Writes made with :func:`atomic_path`/:func:`atomic_write` inside the block (this
    thread's) are renamed over their destinations only when the whole block succeeds; on
    any exception, Ctrl-C included, their temporary files are removed and every
    destination keeps its old content. For writers of several files (one per tensor in a
    folder), whose destination was otherwise half-written when interrupted; folders made
    for them are removed again. See :func:`after_success` for removals.
    """
    if getattr(_TRANSACTION, "pending", None) is not None:
        yield  # nested: the outer block decides
        return
    pending: list[tuple[str, str]] = []
    actions: list[Callable[[], None]] = []
    folders: list[str] = []  # made for the writes, in order: removed again on failure
    _TRANSACTION.pending, _TRANSACTION.actions, _TRANSACTION.folders = pending, actions, folders
    try:
        yield
    except BaseException:
        for tmp, _path in pending:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        for folder in reversed(folders):
            with contextlib.suppress(OSError):  # only while empty
                os.rmdir(folder)
        raise
    finally:
        _TRANSACTION.pending = _TRANSACTION.actions = _TRANSACTION.folders = None
    for tmp, path in pending:
        try:
            os.replace(tmp, path)
        except OSError as err:
            raise StateWriteError(f"{path}: write failed ({err.strerror or err})") from None
    for action in actions:
        action()
    fsync_folders(sorted({os.path.dirname(os.path.abspath(p)) for _t, p in pending}))


def after_success(action: Callable[[], None]) -> None:
    """Run ``action`` (removing an obsolete file) once the :func:`all_or_nothing` block
    around it succeeds; at once outside such a block."""
    actions = getattr(_TRANSACTION, "actions", None)
    if actions is None:
        action()
    else:
        actions.append(action)


def _create_temporary(path: str, folder: str, suffix: str) -> str:
    """Create an empty temporary file (mode 0600, as ``mkstemp`` makes them) for ``path``."""
    for _attempt in range(100):
        tmp = os.path.join(folder, temporary_name(path, suffix))
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        except OSError as err:
            raise StateWriteError(f"{path}: cannot write here ({err.strerror or err})") from None
        return tmp
    raise StateWriteError(f"{path}: cannot write here (no free temporary file name)")


@contextlib.contextmanager
def temporary_folder(path: str | os.PathLike[str]) -> Iterator[str]:
    """A new, empty temporary folder beside ``path``, named as temporary files are (so a
    killed write's folder is swept too), for writers that produce several files at once
    (a checkpoint); removed with its content when the block ends. The folder of ``path``
    must exist (:func:`created_folders`)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    sweep_stale(folder)
    for _attempt in range(100):
        work = os.path.join(folder, temporary_name(path))
        try:
            os.mkdir(work, 0o700)
        except FileExistsError:
            continue
        except OSError as err:
            raise StateWriteError(f"{path}: cannot write here ({err.strerror or err})") from None
        break
    else:
        raise StateWriteError(f"{path}: cannot write here (no free temporary folder name)")
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


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
def atomic_write(
    path: str | os.PathLike[str], *, overwrite: bool = True, sweep: bool = True
) -> Iterator[IO[bytes]]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    On any exception the temporary file is removed and ``path`` keeps its old content; a
    killed process's is removed by the next write into the folder (see the module
    docstring); ``sweep`` as for :func:`atomic_path`. ``OSError`` (disk full, no
    permission, ...) becomes :class:`StateWriteError`.
    """
    with (
        atomic_path(path, overwrite=overwrite, sweep=sweep) as tmp,
        open(tmp, "wb") as handle,
        early_writeback(handle.fileno()),
    ):
        yield handle
