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

Nothing is believed before it is checked (see :mod:`csv_state_viewer.core.limits`): every
member is checked as :func:`~csv_state_viewer.core.zipmember.member_problem` says
(encrypted, an unknown method, a declared size beyond the compression-ratio ceiling) and
every compressed one streamed through once within its declared size before Keras, which
believes them, opens the archive; a refused ``model.weights.h5`` refuses the file, another
refused member only the rebuild. The config is also weighed against the weights file
(:mod:`.configsize`): a config implying far more variables than are stored is not rebuilt.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import tempfile
import zipfile
from collections.abc import Callable
from typing import Any

from csv_state_viewer.bridge.kerasfiles.configsize import config_problem
from csv_state_viewer.bridge.kerasfiles.h5source import (
    READ_FAILURES,
    _closed_on_error,
    _H5Source,
    _has_vars_group,
    _run,
    _stored_bytes,
    _structural_tensors,
)
from csv_state_viewer.bridge.kerasfiles.reasons import _one_line
from csv_state_viewer.bridge.kerasfiles.rebuild import _model_state, _NotRebuilt, _rebuild_model
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.lazystate import LazyState
from csv_state_viewer.core.limits import MAX_CONFIG_BYTES, READ_PIECE, size_text
from csv_state_viewer.core.progress import Progress, check_cancelled
from csv_state_viewer.core.zipmember import MemberError, MemberReader, data_offset, member_problem

ZIP_MAGIC = b"PK\x03\x04"
CONFIG_MEMBER = "config.json"
WEIGHTS_MEMBER = "model.weights.h5"
FORMAT_KERAS = "keras"
# What zipfile raises listing a damaged archive's central directory.
_ZIP_FAILURES = (
    OSError,
    zipfile.BadZipFile,
    ValueError,
    EOFError,
    struct.error,
    OverflowError,
    NotImplementedError,
)


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
    except _ZIP_FAILURES:
        return False
    return CONFIG_MEMBER in names and WEIGHTS_MEMBER in names


# --------------------------------------------------------------------------- opening
def _open_archive(path: str, progress: Progress) -> LazyState:
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_FAILURES as err:
        raise NotAStateError(path, f"not a readable zip archive ({_one_line(err)})") from None
    with archive:
        infos = archive.infolist()
        names = {info.filename for info in infos}
        if CONFIG_MEMBER not in names:
            raise NotAStateError(path, "a zip archive but not a Keras model (no config.json)")
        if WEIGHTS_MEMBER not in names:
            raise NotAStateError(path, f"a Keras archive without {WEIGHTS_MEMBER}")
        weights = archive.getinfo(WEIGHTS_MEMBER)
        problem = member_problem(weights, os.path.getsize(path))
        if problem is not None:
            raise NotAStateError(path, f"{WEIGHTS_MEMBER} is refused: {problem}")
        config, not_rebuilt = _read_config(path, archive.getinfo(CONFIG_MEMBER))
        not_rebuilt = not_rebuilt or _refused_member(path, infos, progress)
        source = _member_source(path, weights, progress)
    optimizer_class = _optimizer_class(config.get("compile_config"))
    with _closed_on_error(source, path, f"unreadable {WEIGHTS_MEMBER}"):
        if not _has_vars_group(source.file):
            raise NotAStateError(path, f"{WEIGHTS_MEMBER} holds no Keras variables")
        not_rebuilt = not_rebuilt or config_problem(config, _stored_bytes(source.file)) or ""
        try:
            if not_rebuilt:
                raise _NotRebuilt(f"the model was not rebuilt: {not_rebuilt}")
            model = _rebuild_model(path, config)
        except _NotRebuilt as err:
            tensors = _structural_tensors(source.file, progress, err.reason, optimizer_class)
            return LazyState(path, FORMAT_KERAS, tensors, on_close=source.close)
        return _model_state(
            path, FORMAT_KERAS, model, source, progress, optimizer_class=optimizer_class
        )


def _refused_member(path: str, infos: list[zipfile.ZipInfo], progress: Progress) -> str:
    """Why Keras may not open the archive ("" when it may): Keras reads its members with
    :mod:`zipfile`, which believes them, so every member other than the weights (copied
    and checked by :func:`_member_source`) is checked, and a compressed one streamed
    through once within its declared size."""
    with open(path, "rb") as handle:
        fd = handle.fileno()
        for info in infos:
            check_cancelled(progress)
            if info.filename in (WEIGHTS_MEMBER, CONFIG_MEMBER) or info.is_dir():
                continue
            try:
                reader = MemberReader(fd, info)
                if info.compress_type != zipfile.ZIP_STORED:
                    reader.finish()
            except MemberError as err:
                return f"the member {info.filename!r} is refused: {err}"
    return ""


# ------------------------------------------------------------ the weights member
def _member_source(path: str, info: zipfile.ZipInfo, progress: Progress) -> _H5Source:
    """The archive's ``model.weights.h5`` open with h5py: in place when it is stored, else
    through a temporary copy (removed when the source is closed), inflated within the
    member's declared size and checked against its CRC."""
    import h5py

    cleanups: list[Callable[[], None]] = []
    try:
        if info.compress_type == zipfile.ZIP_STORED:
            with open(path, "rb") as archive_file:
                offset = data_offset(archive_file.fileno(), info)
            window = _MemberWindow(path, offset, info.file_size)
            cleanups.append(window.close)
            file = h5py.File(window, "r")
        else:
            copy = tempfile.NamedTemporaryFile(  # noqa: SIM115 - removed by cleanup
                prefix="csv-state-", suffix=".weights.h5", delete=False
            )
            cleanups.append(lambda: _remove(copy.name))
            with copy, open(path, "rb") as archive_file:
                reader = MemberReader(archive_file.fileno(), info)
                while reader.left:
                    check_cancelled(progress)
                    copy.write(reader.read(min(reader.left, READ_PIECE * 8)))
                reader.finish()
            file = h5py.File(copy.name, "r")
    except MemberError as err:
        _run(cleanups)
        raise NotAStateError(path, f"{WEIGHTS_MEMBER} is refused: {err}") from None
    except READ_FAILURES as err:
        _run(cleanups)
        reason = f"{WEIGHTS_MEMBER} is not readable HDF5 ({_one_line(err)})"
        raise NotAStateError(path, reason) from None
    except BaseException:
        _run(cleanups)
        raise
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


# ------------------------------------------------------------------ config.json
def _read_config(path: str, info: zipfile.ZipInfo) -> tuple[dict[str, Any], str]:
    """The parsed ``config.json``, and why the model is not rebuilt from it ("" when it
    may be): a config that cannot be read here is not handed to Keras either."""
    if info.file_size > MAX_CONFIG_BYTES:
        declared = size_text(info.file_size)
        return {}, f"{CONFIG_MEMBER} declares {declared}, more than is read"
    try:
        with open(path, "rb") as handle:
            reader = MemberReader(handle.fileno(), info)
            text = reader.read(info.file_size)
            reader.finish()
    except MemberError as err:
        return {}, f"{CONFIG_MEMBER} is refused: {err}"
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as err:
        return {}, f"{CONFIG_MEMBER} is not JSON ({_one_line(err)})"
    if not isinstance(config, dict):
        return {}, f"{CONFIG_MEMBER} is not a model config"
    return config, ""


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
