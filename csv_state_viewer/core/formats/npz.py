"""NumPy ``.npz`` archives as states: lazy per member, never unpickled.

The ``.npy`` format cannot name ml_dtypes types (bfloat16, float8, ...) nor carry our
metadata, so the writer adds a small JSON member, :data:`SIDECAR`, mapping tensor names to
their dtype name and metadata; such tensors are stored as unsigned integers of the same
width. Archives from other tools simply have no sidecar.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.dtypes import (
    NUMERIC_KINDS,
    DtypeError,
    dtype_name,
    is_ml_dtype,
    resolve_dtype,
)
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.openfiles import register, unregister
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.state import State, TensorEntry
from csv_state_viewer.core.tensors import TensorItem, Tensors, iter_loaded, tensor_items

ZIP_MAGIC = b"PK\x03\x04"
SIDECAR = "__csv_state__.json"
MAX_SIDECAR_BYTES = 16 << 20


def _read_sidecar(archive: zipfile.ZipFile) -> dict[str, dict[str, Any]]:
    try:
        info = archive.getinfo(SIDECAR)
    except KeyError:
        return {}
    if info.file_size > MAX_SIDECAR_BYTES:
        return {}
    try:
        tensors = json.loads(archive.read(info)).get("tensors", {})
    except (ValueError, AttributeError, RecursionError, zipfile.BadZipFile):
        return {}
    if not isinstance(tensors, dict):
        return {}
    return {k: v for k, v in tensors.items() if isinstance(v, dict)}


def _member_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, extra: dict[str, Any]
) -> TensorEntry:
    name = info.filename.removesuffix(".npy")
    entry = TensorEntry(name=name, shape=None, dtype=None, encoding="npy")
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        entry.error = f"not a readable .npy member ({err})"
        return entry
    if (dtype.kind not in NUMERIC_KINDS and not is_ml_dtype(dtype)) or dtype.fields:
        entry.error = f"dtype {dtype} is refused: only numeric and bool tensors are read"
        return entry
    declared = extra.get("dtype")
    if isinstance(declared, str) and declared != str(dtype):
        try:
            real = resolve_dtype(declared)
        except DtypeError as err:
            entry.error = str(err)
            return entry
        if real.itemsize != dtype.itemsize:
            entry.error = f"stored as {dtype} but the archive says {declared}"
            return entry
        dtype = real
    entry.shape, entry.dtype = tuple(shape), dtype
    entry.metadata = {**extra, "shape": list(shape), "dtype": str(dtype)}
    if fortran:
        entry.metadata["fortran_order"] = True
    return entry


class NpzState(State):
    format_name = "npz"

    def __init__(self, path: str, progress: Progress = NO_PROGRESS) -> None:
        try:
            self._archive: zipfile.ZipFile | None = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as err:
            raise NotAStateError(path, f"not a readable .npz archive ({err})") from None
        self._open_key = register(path)
        members = [i for i in self._archive.infolist() if i.filename.endswith(".npy")]
        sidecar = _read_sidecar(self._archive)
        if not members:
            self.close()
            raise NotAStateError(path, "the archive holds no .npy arrays")
        entries = []
        for index, info in enumerate(members):
            check_cancelled(progress)
            name = info.filename.removesuffix(".npy")
            entries.append(_member_entry(self._archive, info, sidecar.get(name, {})))
            progress.report(index + 1, len(members))
        super().__init__(path, entries)

    def _decode(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
        if self._archive is None:
            raise ValueError("the state is closed")
        with self._archive.open(entry.name + ".npy") as member:
            try:
                array = np.lib.format.read_array(member, allow_pickle=False)
            except (OSError, EOFError, zipfile.BadZipFile) as err:
                raise ValueError(f"cannot read the array ({err})") from None
        if entry.dtype is not None and array.dtype != entry.dtype:
            array = array.view(entry.dtype)
        return np.require(array, requirements="C")

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None
            unregister(self._open_key)


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
