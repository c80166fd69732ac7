"""NumPy ``.npz`` archives as states: lazy per member, never unpickled.

The ``.npy`` format cannot name ml_dtypes types (bfloat16, float8, ...) nor carry our
metadata, so the writer adds a small JSON member, :data:`SIDECAR`, mapping tensor names to
their dtype name and metadata; such tensors are stored as unsigned integers of the same
width. Archives from other tools simply have no sidecar.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.dtypes import DtypeError, dtype_name, is_ml_dtype, resolve_dtype
from csv_state_viewer.core.errors import NotAStateError, StateWriteError
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.limits import MAX_SIDECAR_BYTES, MAX_ZIP_NAME_BYTES, size_text
from csv_state_viewer.core.npyheader import (
    NPY_SUFFIX,
    NpyHeaderError,
    check_header,
    clipped,
    read_npy_header,
)
from csv_state_viewer.core.openfiles import register, unregister
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.state import State, TensorEntry
from csv_state_viewer.core.tensors import TensorItem, Tensors, iter_loaded, tensor_items
from csv_state_viewer.core.zipmember import MemberError, MemberReader

ZIP_MAGIC = b"PK\x03\x04"
SIDECAR = "__csv_state__.json"
# What zipfile (listing the central directory) raises on a damaged archive.
_ZIP_FAILURES = (
    OSError,
    zipfile.BadZipFile,
    ValueError,
    struct.error,
    EOFError,
    OverflowError,
    NotImplementedError,
)


@dataclass(frozen=True)
class _Layout:
    """Where one member's array is: its header's length, and what the header declares."""

    info: zipfile.ZipInfo
    offset: int  # bytes of magic, length field and header before the data
    shape: tuple[int, ...]
    stored: np.dtype
    fortran: bool


def _read_sidecar(fd: int, infos: list[zipfile.ZipInfo]) -> tuple[dict[str, dict[str, Any]], str]:
    """The sidecar's tensors, and why it was ignored ("" when it was read or is absent)."""
    found = [info for info in infos if info.filename == SIDECAR]
    if not found:
        return {}, ""
    info = found[-1]
    if info.file_size > MAX_SIDECAR_BYTES:
        return {}, f"it declares {size_text(info.file_size)}"
    try:
        reader = MemberReader(fd, info)
        text = reader.read(info.file_size)
        reader.finish()
        tensors = json.loads(text).get("tensors", {})
    except MemberError as err:
        return {}, str(err)
    except (ValueError, AttributeError, RecursionError):
        return {}, "it is not the JSON this writer writes"
    if not isinstance(tensors, dict):
        return {}, "it is not the JSON this writer writes"
    return {k: v for k, v in tensors.items() if isinstance(v, dict)}, ""


def _member_entry(
    fd: int, info: zipfile.ZipInfo, extra: dict[str, Any]
) -> tuple[TensorEntry, _Layout | None]:
    """The entry of one ``.npy`` member, from its first bytes only; what does not fit what
    the member declares (a shape needing more bytes than it holds, a header larger than any
    header) is the entry's error."""
    entry = TensorEntry(
        name=info.filename.removesuffix(NPY_SUFFIX), shape=None, dtype=None, encoding="npy"
    )
    try:
        reader = MemberReader(fd, info)
        header = read_npy_header(reader.read_exact)
    except (MemberError, NpyHeaderError) as err:
        entry.error = str(err)
        return entry, None
    entry.error = check_header(header, reader.left, "member")
    if entry.error is not None:
        return entry, None
    offset, shape, fortran, dtype = header.offset, header.shape, header.fortran, header.dtype
    stored = dtype
    declared = extra.get("dtype")
    if isinstance(declared, str) and declared != str(dtype):
        try:
            real = resolve_dtype(declared)
        except DtypeError as err:
            entry.error = str(err)
            return entry, None
        if real.itemsize != dtype.itemsize:
            entry.error = f"stored as {dtype} but the archive says {declared}"
            return entry, None
        dtype = real
    entry.shape, entry.dtype = tuple(shape), dtype
    entry.metadata = {**extra, "shape": list(shape), "dtype": str(dtype)}
    if fortran:
        entry.metadata["fortran_order"] = True
    return entry, _Layout(info, offset, tuple(shape), stored, fortran)


class NpzState(State):
    """An ``.npz`` read member by member with
    :class:`~csv_state_viewer.core.zipmember.MemberReader`; :mod:`zipfile` only lists it.
    Every failure of the archive is a :class:`NotAStateError`, every failure of a member
    its entry's error (or, met while reading the data, a ``ValueError`` that
    :meth:`State.read` makes a bad row)."""

    format_name = "npz"

    def __init__(self, path: str, progress: Progress = NO_PROGRESS) -> None:
        try:
            self._file: IO[bytes] | None = open(path, "rb")  # noqa: SIM115 - closed by close()
        except OSError as err:
            raise NotAStateError(path, err.strerror or str(err)) from None
        self._open_key = register(path)
        try:
            entries = self._index(path, progress)
        except BaseException:
            self.close()
            raise
        super().__init__(path, entries)
        if self._sidecar_problem:
            self.notes.append(f"{SIDECAR} was ignored: {self._sidecar_problem}")

    def _index(self, path: str, progress: Progress) -> list[TensorEntry]:
        assert self._file is not None
        try:
            with zipfile.ZipFile(self._file) as archive:  # the central directory only
                infos = archive.infolist()
        except _ZIP_FAILURES as err:
            reason = clipped(str(err) or type(err).__name__)
            raise NotAStateError(path, f"not a readable .npz archive ({reason})") from None
        fd = self._file.fileno()
        members = [i for i in infos if i.filename.endswith(NPY_SUFFIX)]
        if not members:
            raise NotAStateError(path, "the archive holds no .npy arrays")
        sidecar, self._sidecar_problem = _read_sidecar(fd, infos)
        self._layouts: dict[int, _Layout] = {}
        entries = []
        for index, info in enumerate(members):
            check_cancelled(progress)
            name = info.filename.removesuffix(NPY_SUFFIX)
            entry, layout = _member_entry(fd, info, sidecar.get(name, {}))
            if layout is not None:
                self._layouts[id(entry)] = layout
            entries.append(entry)
            progress.report(index + 1, len(members))
        return entries

    def _decode(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
        if self._file is None:
            raise ValueError("the state is closed")
        layout = self._layouts[id(entry)]
        reader = MemberReader(self._file.fileno(), layout.info)
        reader.read_exact(layout.offset, "its .npy header")
        count = math.prod(layout.shape)
        try:
            flat = np.empty(count, dtype=layout.stored)
        except MemoryError:
            needed = size_text(count * layout.stored.itemsize)
            raise ValueError(f"needs {needed}, more than this machine's memory holds") from None
        reader.readinto(flat.view(np.uint8).data)
        reader.finish()
        if layout.fortran:
            array = flat.reshape(layout.shape[::-1]).transpose()
        else:
            array = flat.reshape(layout.shape)
        if entry.dtype is not None and array.dtype != entry.dtype:
            array = array.view(entry.dtype)
        return np.require(array, requirements="C")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            unregister(self._open_key)


def _name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a member name of an ``.npz`` archive, or None."""
    if "\x00" in name:
        return "holds a NUL character, which zip member names cannot (zip cuts names there)"
    try:
        length = len((name + NPY_SUFFIX).encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid Unicode (it holds a lone surrogate)"
    if length > MAX_ZIP_NAME_BYTES:
        return (
            f"is {length - len(NPY_SUFFIX):,} bytes of UTF-8; a zip member name holds at most "
            f"{MAX_ZIP_NAME_BYTES:,} with the {NPY_SUFFIX} suffix"
        )
    return None


def _check_names(path: str, items: list[TensorItem]) -> None:
    for item in items:
        problem = _name_problem(item.name)
        if problem is not None:
            shown = clipped(repr(item.name))
            raise StateWriteError(
                f"{path}: tensor {shown} cannot be written to .npz: its name {problem}"
            )


def save_npz_state(
    path: str,
    tensors: Tensors,
    *,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress = NO_PROGRESS,
    overwrite: bool = True,
    skip_bad: bool = False,
    **_options: Any,
) -> int:
    """Write an uncompressed ``.npz``, one member per tensor, streamed; return the count."""
    items = tensor_items(tensors, metadata, skip_bad=skip_bad)
    _check_names(path, items)
    with atomic_write(path, overwrite=overwrite) as handle:
        return _write_members(handle, items, progress, skip_bad)


def _write_members(
    handle: IO[bytes], items: list[TensorItem], progress: Progress, skip_bad: bool
) -> int:
    written = 0
    sidecar: dict[str, dict[str, Any]] = {}
    with zipfile.ZipFile(handle, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for index, (item, array) in enumerate(iter_loaded(items, skip_bad=skip_bad)):
            check_cancelled(progress)
            stored = array
            extra: dict[str, Any] = dict(item.metadata)
            if is_ml_dtype(array.dtype):
                stored = array.view(f"u{array.dtype.itemsize}")
                extra["dtype"] = dtype_name(array.dtype)
            if extra:
                sidecar[item.name] = extra
            with zf.open(item.name + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, stored, allow_pickle=False)
            written += 1
            progress.report(index + 1, len(items))
        if sidecar:
            text = json.dumps({"tensors": sidecar}, ensure_ascii=False, default=str)
            zf.writestr(SIDECAR, text.encode("utf-8"))
    return written


def open_npz_state(path: str | os.PathLike[str], progress: Progress = NO_PROGRESS) -> NpzState:
    return NpzState(os.fspath(path), progress)


def _sniff(path: str, head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC) and path.lower().endswith(".npz")


FORMAT = Format(
    name="npz",
    description="NumPy .npz archive of named arrays",
    label="NumPy archive",
    extensions=(".npz",),
    binary=True,
    sniff=_sniff,
    open=open_npz_state,
    save=save_npz_state,
)
