"""``.keras`` archives (format ``keras``): the zip, its ``config.json`` and its weights.

A zip with ``config.json``, ``metadata.json`` and ``model.weights.h5``. The model is
rebuilt (see :mod:`~csv_state_viewer.bridge.kerasfiles.rebuild`) and its variables are
named as :func:`~csv_state_viewer.bridge.kerasmodel.model_tensors` names them
(``sequential/dense/kernel``, ``adam/sequential_dense_kernel_momentum`` with
``slot_of``/``slot``, ``adam/iteration`` with ``optimizer_variable``). When the model
cannot be rebuilt (a custom layer that is not importable, a ``Lambda`` refused by safe
mode, TensorFlow missing, a variable that did not load), ``model.weights.h5`` is read
with h5py and the tensors get *structural* names (see
:mod:`~csv_state_viewer.bridge.kerasfiles.h5source`) and the metadata
``{"names": "structural", "reason": "<one line>"}``.

A stored ``model.weights.h5`` member is read in place, a compressed one through a
temporary copy. The optimizer class named in ``config.json`` (or in a legacy file's
``training_config``) is read by :func:`_optimizer_class`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Callable
from typing import Any

from csv_state_viewer.bridge.kerasfiles.h5source import (
    _closed_on_error,
    _H5Source,
    _has_vars_group,
    _run,
    _structural_tensors,
)
from csv_state_viewer.bridge.kerasfiles.reasons import _one_line
from csv_state_viewer.bridge.kerasfiles.rebuild import _model_state, _NotRebuilt, _rebuild_model
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.lazystate import LazyState
from csv_state_viewer.core.progress import Progress

ZIP_MAGIC = b"PK\x03\x04"
CONFIG_MEMBER = "config.json"
WEIGHTS_MEMBER = "model.weights.h5"
FORMAT_KERAS = "keras"
MAX_CONFIG_BYTES = 64 << 20


# --------------------------------------------------------------------------- sniffing
def looks_like_keras(path: str, head: bytes) -> bool:
    """A zip named ``*.keras``, or a zip holding ``config.json`` and ``model.weights.h5``."""
    if not head.startswith(ZIP_MAGIC):
        return False
    if os.fspath(path).lower().endswith(".keras"):
        return True
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False
    return CONFIG_MEMBER in names and WEIGHTS_MEMBER in names


# --------------------------------------------------------------------------- opening
def _open_archive(path: str, progress: Progress) -> LazyState:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as err:
        raise NotAStateError(path, f"not a readable zip archive ({_one_line(err)})") from None
    with archive:
        names = set(archive.namelist())
        if CONFIG_MEMBER not in names:
            raise NotAStateError(path, "a zip archive but not a Keras model (no config.json)")
        if WEIGHTS_MEMBER not in names:
            raise NotAStateError(path, f"a Keras archive without {WEIGHTS_MEMBER}")
        config = _read_config(archive)
        source = _member_source(path, archive, archive.getinfo(WEIGHTS_MEMBER))
    optimizer_class = _optimizer_class(config.get("compile_config"))
    with _closed_on_error(source, path, f"unreadable {WEIGHTS_MEMBER}"):
        if not _has_vars_group(source.file):
            raise NotAStateError(path, f"{WEIGHTS_MEMBER} holds no Keras variables")
        try:
            model = _rebuild_model(path)
        except _NotRebuilt as err:
            tensors = _structural_tensors(source.file, progress, err.reason, optimizer_class)
            return LazyState(path, FORMAT_KERAS, tensors, on_close=source.close)
        return _model_state(
            path, FORMAT_KERAS, model, source, progress, optimizer_class=optimizer_class
        )


# ------------------------------------------------------------ the weights member
def _member_source(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> _H5Source:
    """The archive's ``model.weights.h5`` open with h5py: in place when it is stored, else
    through a temporary copy (removed when the source is closed)."""
    import h5py

    cleanups: list[Callable[[], None]] = []
    try:
        if info.flag_bits & 0x1:
            raise NotAStateError(path, f"{WEIGHTS_MEMBER} is encrypted")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size == info.file_size:
            window = _MemberWindow(path, _member_data_offset(path, info), info.file_size)
            cleanups.append(window.close)
            file = h5py.File(window, "r")
        else:
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - removed by cleanup
                prefix="csv-state-", suffix=".weights.h5", delete=False
            )
            cleanups.append(lambda: _remove(handle.name))
            with handle, archive.open(info) as member:
                shutil.copyfileobj(member, handle, 1 << 20)
            file = h5py.File(handle.name, "r")
    except NotAStateError:
        _run(cleanups)
        raise
    except (OSError, ValueError, RuntimeError, EOFError, zipfile.BadZipFile) as err:
        _run(cleanups)
        reason = f"{WEIGHTS_MEMBER} is not readable HDF5 ({_one_line(err)})"
        raise NotAStateError(path, reason) from None
    return _H5Source(path, file, cleanups)


def _remove(name: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(name)


class _MemberWindow(io.RawIOBase):
    """A read-only, seekable view of a stored (uncompressed) zip member, read in place."""

    def __init__(self, path: str, offset: int, size: int) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._offset = offset
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = max(0, min(len(view), self._size - self._pos))
        if count == 0:
            return 0
        self._file.seek(self._offset + self._pos)
        got = self._file.readinto(view[:count]) or 0
        self._pos += got
        return got

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


def _member_data_offset(path: str, info: zipfile.ZipInfo) -> int:
    """Where a member's bytes start: after its local header (whose extra field may differ)."""
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(30)
    if len(header) != 30 or not header.startswith(ZIP_MAGIC):
        raise zipfile.BadZipFile("bad local header of model.weights.h5")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


# ------------------------------------------------------------------ config.json
def _read_config(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        info = archive.getinfo(CONFIG_MEMBER)
        if info.file_size > MAX_CONFIG_BYTES:
            return {}
        config = json.loads(archive.read(info))
    except (KeyError, ValueError, RecursionError, OSError, zipfile.BadZipFile, EOFError):
        return {}
    return config if isinstance(config, dict) else {}


def _optimizer_class(config: object) -> str | None:
    """``"Adam"`` from a serialized optimizer (``{"class_name": "Adam", ...}``) or from a
    compile config holding one under ``"optimizer"``."""
    if not isinstance(config, dict):
        return None
    if "class_name" not in config and "optimizer" in config:
        return _optimizer_class(config["optimizer"])
    name = config.get("class_name")
    if not isinstance(name, str) or not name:
        return None
    return name.rpartition(">")[2]  # "Custom>Adam" (Keras 2.11+) → "Adam"
