"""NumPy ``.npz`` archives as states: lazy per member, never unpickled."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.dtypes import NUMERIC_KINDS, is_ml_dtype
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.openfiles import register, unregister
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.state import State, TensorEntry
from csv_state_viewer.core.tensors import TensorItem, Tensors, iter_loaded, tensor_items

ZIP_MAGIC = b"PK\x03\x04"


def _member_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> TensorEntry:
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
    entry.shape, entry.dtype = tuple(shape), dtype
    entry.metadata = {"shape": list(shape), "dtype": str(dtype)}
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
        if not members:
            self.close()
            raise NotAStateError(path, "the archive holds no .npy arrays")
        entries = []
        for index, info in enumerate(members):
            check_cancelled(progress)
            entries.append(_member_entry(self._archive, info))
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
) -> None:
    """Write an uncompressed ``.npz``, one member per tensor, streamed."""
    items = tensor_items(tensors, metadata, skip_bad=skip_bad)
    with atomic_write(path, overwrite=overwrite) as handle:
        _write_members(handle, items, progress, skip_bad)


def _write_members(
    handle: IO[bytes], items: list[TensorItem], progress: Progress, skip_bad: bool
) -> None:
    with zipfile.ZipFile(handle, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for index, (item, array) in enumerate(iter_loaded(items, skip_bad=skip_bad)):
            check_cancelled(progress)
            with zf.open(item.name + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
            progress.report(index + 1, len(items))


def open_npz_state(path: str | os.PathLike[str], progress: Progress = NO_PROGRESS) -> NpzState:
    return NpzState(os.fspath(path), progress)
