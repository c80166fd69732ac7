"""A NumPy ``.npy`` file as a state of one tensor, named by the file's stem; never unpickled.

The header is read and judged before any data (:mod:`csv_state_viewer.core.npyheader`):
object and structured dtypes are refused from their name, a shape is believed only when
the file holds its bytes. The data is read (``pread`` into a new array) when the tensor
is read, from the file opened at the start: not memory-mapped, because a map of a file
that another program truncates kills the process with SIGBUS on the next access, where a
short read is a bad row.

Like the ``.npz`` writer, the writer stores ml_dtypes tensors (bfloat16, float8...) as
unsigned integers of the same width, and records their dtype and our metadata in a JSON
sidecar beside the file, ``<file>.json`` (``k.npy.json``), which the format declares as its
companion so that a folder of ``.npy`` files does not list it as a tensor. A file from
another tool simply has no sidecar; a sidecar that does not fit its file is ignored with a
note. A destination ending with ``/`` (or an existing folder) gets one ``.npy`` per tensor.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from csv_state_viewer.core.atomic import after_success, atomic_write
from csv_state_viewer.core.dtypes import DtypeError, dtype_name, is_ml_dtype, resolve_dtype
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.layouts.perfile import write_each
from csv_state_viewer.core.lazystate import LazyState, LazyTensor
from csv_state_viewer.core.limits import MAX_SIDECAR_BYTES, size_text
from csv_state_viewer.core.npyheader import (
    NPY_MAGIC,
    NPY_SUFFIX,
    NpyHeader,
    NpyHeaderError,
    ReadExact,
    check_header,
    clipped,
    read_npy_header,
)
from csv_state_viewer.core.openfiles import register, unregister
from csv_state_viewer.core.preads import read_array
from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.tensors import TensorItem, Tensors, tensor_items

SIDECAR_SUFFIX = ".json"
SIDECAR_VERSION = 1
_NOT_OURS = "it is not the JSON this writer writes"


def _exact_reader(handle: IO[bytes]) -> ReadExact:
    def read_exact(count: int, what: str) -> bytes:
        data = handle.read(count)
        if len(data) < count:
            raise NpyHeaderError(f"the file ends inside {what}")
        return data

    return read_exact


def _read_sidecar(path: str) -> tuple[dict[str, Any] | None, str]:
    """The sidecar's content, and why it was ignored ("" when it was read or is absent)."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return None, ""
    if size > MAX_SIDECAR_BYTES:
        return None, f"it holds {size_text(size)}, more than {size_text(MAX_SIDECAR_BYTES)}"
    try:
        with open(path, "rb") as handle:
            content = json.loads(handle.read(MAX_SIDECAR_BYTES + 1))
    except OSError as err:
        return None, err.strerror or str(err)
    except (ValueError, RecursionError):
        return None, _NOT_OURS
    if not isinstance(content, dict) or content.get("csv_state") != SIDECAR_VERSION:
        return None, _NOT_OURS
    if not isinstance(content.get("metadata", {}), dict):
        return None, _NOT_OURS
    return content, ""


def _declared_dtype(sidecar: dict[str, Any], stored: np.dtype) -> tuple[np.dtype, str]:
    """The dtype the sidecar gives the stored data, and why it was refused ("" when not):
    only an ml_dtypes type stored as the native unsigned integer of its width."""
    declared = sidecar.get("dtype")
    if declared is None or declared == str(stored):
        return stored, ""
    try:
        real = resolve_dtype(declared)
    except DtypeError as err:
        return stored, str(err)
    if not is_ml_dtype(real) or stored != np.dtype(f"u{real.itemsize}"):
        return stored, clipped(f"it says {declared} but the file stores {stored}")
    return real, ""


def _loader(fd: int, header: NpyHeader, dtype: np.dtype) -> Any:
    shape = tuple(header.shape)

    def load() -> np.ndarray:
        flat = read_array(fd, header.offset, shape, header.dtype)
        array = flat.reshape(shape, order="F" if header.fortran else "C")
        if array.dtype != dtype:
            array = array.view(dtype)
        return np.require(array, requirements="C")

    return load


def open_npy_state(path: str | os.PathLike[str], progress: Progress = NO_PROGRESS) -> LazyState:
    """One ``.npy`` as a state of one tensor named by its stem (read only when asked)."""
    from csv_state_viewer.core.registry import file_stem

    path = os.fspath(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed with the state
    except OSError as err:
        raise NotAStateError(path, err.strerror or str(err)) from None
    try:
        size = os.fstat(handle.fileno()).st_size
        header = read_npy_header(_exact_reader(handle))
        problem = check_header(header, size - header.offset, "file")
    except OSError as err:
        handle.close()
        raise NotAStateError(path, err.strerror or str(err)) from None
    except NpyHeaderError as err:
        handle.close()
        raise NotAStateError(path, str(err)) from None
    if problem is not None:
        handle.close()
        raise NotAStateError(path, problem)
    sidecar, ignored = _read_sidecar(path + SIDECAR_SUFFIX)
    dtype, metadata = header.dtype, {}
    if sidecar is not None:
        dtype, ignored = _declared_dtype(sidecar, header.dtype)
        if not ignored:
            metadata = dict(sidecar.get("metadata", {}))
    metadata |= {"shape": list(header.shape), "dtype": str(dtype)}
    tensor = LazyTensor(
        file_stem(path),
        tuple(header.shape),
        dtype,
        _loader(handle.fileno(), header, dtype),
        metadata,
    )
    key = register(path)

    def close() -> None:
        handle.close()
        unregister(key)

    state = LazyState(path, FORMAT.name, [tensor], on_close=close)
    if ignored:
        state.notes.append(f"{os.path.basename(path)}{SIDECAR_SUFFIX} was ignored: {ignored}")
    progress.report(1, 1)
    return state


def _remove_stale_sidecar(path: str) -> None:
    """Remove an earlier write's sidecar of ``path`` (only one this writer wrote)."""
    if os.path.islink(path) or not os.path.isfile(path):
        return
    content, _ = _read_sidecar(path)
    if content is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _write_one(target: str, array: np.ndarray, metadata: dict[str, Any], overwrite: bool) -> None:
    stored = array
    sidecar: dict[str, Any] = {"csv_state": SIDECAR_VERSION}
    if is_ml_dtype(array.dtype):
        stored = array.view(f"u{array.dtype.itemsize}")
        sidecar["dtype"] = dtype_name(array.dtype)
    if metadata:
        sidecar["metadata"] = metadata
    with atomic_write(target, overwrite=overwrite, sweep=False) as handle:
        np.lib.format.write_array(handle, stored, allow_pickle=False)
    companion = target + SIDECAR_SUFFIX
    if len(sidecar) == 1:
        after_success(lambda: _remove_stale_sidecar(companion))
        return
    text = json.dumps(sidecar, ensure_ascii=False, default=str)
    with atomic_write(companion, overwrite=True, sweep=False) as handle:
        handle.write(text.encode("utf-8"))


def save_npy_state(
    path: str | os.PathLike[str],
    tensors: Tensors,
    *,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress = NO_PROGRESS,
    overwrite: bool = True,
    skip_bad: bool = False,
    **_options: Any,
) -> int:
    """Write one tensor to a ``.npy`` file, or one ``.npy`` per tensor into a folder (a
    destination ending with ``/`` or an existing folder; names keep their ``/`` as
    subfolders). The files (and sidecars) replace the old ones together, once all are
    written (:func:`~csv_state_viewer.core.layouts.perfile.write_each`).
    Returns the number of tensors written."""
    items = tensor_items(tensors, metadata, skip_bad=skip_bad)

    def write(target: str, item: TensorItem, array: np.ndarray) -> None:
        _write_one(target, array, item.metadata, overwrite)

    return write_each(
        os.fspath(path),
        items,
        NPY_SUFFIX,
        "a .npy file",
        write=write,
        skip_bad=skip_bad,
        progress=progress,
    )


def _sniff(path: str, head: bytes) -> bool:
    return head.startswith(NPY_MAGIC)


FORMAT = Format(
    name="npy",
    description=(
        "NumPy .npy array (one tensor); writes a folder (destination ending with '/' or an "
        "existing folder) of one .npy per tensor"
    ),
    label="NumPy array",
    extensions=(NPY_SUFFIX,),
    binary=True,
    sniff=_sniff,
    open=open_npy_state,
    save=save_npy_state,
    writes_folder=True,
    companion_suffix=SIDECAR_SUFFIX,
)
