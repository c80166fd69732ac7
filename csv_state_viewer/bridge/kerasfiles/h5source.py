"""The HDF5 side of the Keras-file readers: an open h5py file, walks and lazy tensors.

Every tensor is read lazily from the open HDF5 file (a stored ``.keras`` member is read
in place, a compressed one through a temporary copy), and closing the state releases it.
Only hard links are followed: a soft or external link (which would open another file) is
not.

Structural names (a Keras 3 ``.weights.h5`` file, and the ``model.weights.h5`` of a
``.keras`` archive whose model cannot be rebuilt): the HDF5 path of each dataset, as
Keras 3 lays it out: ``layers/<layer key>/vars/<i>`` (the key is Keras's attribute-style
name such as ``dense``, ``dense_1``, ``batch_normalization``; the layer's own name is in
the ``vars`` group's ``name`` attribute and copied to the metadata as ``"layer"``),
nested layers ``layers/<model key>/layers/<layer key>/vars/<i>``, the model's own
variables ``vars/<i>`` and the optimizer's ``optimizer/vars/<i>`` (``<i>`` is the
variable's index; ``optimizer/vars/0`` is the step counter for built-in optimizers).
Role: ``"optimizer"`` under the top-level ``optimizer`` group, ``"weight"`` elsewhere.
Order: model tensors first, then the optimizer's; numeric parts sort as numbers. The
metadata also says ``{"names": "structural", "reason": "<one line>"}``.
"""

from __future__ import annotations

import contextlib
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from csv_state_viewer.bridge import kerasmodel
from csv_state_viewer.bridge.kerasfiles.reasons import _one_line, _unreadable
from csv_state_viewer.core.dtypes import NUMERIC_KINDS, DtypeError, is_ml_dtype, resolve_dtype
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.lazystate import LazyTensor
from csv_state_viewer.core.limits import MAX_DIMS, over_ratio, size_text
from csv_state_viewer.core.openfiles import register, unregister
from csv_state_viewer.core.progress import Progress, check_cancelled

MAX_DEPTH = 64
# What h5py raises on a damaged or hostile file (HDF5's errors are OSError, RuntimeError,
# KeyError or ValueError; sizes beyond 64 bits OverflowError).
H5_FAILURES: tuple[type[Exception], ...] = (
    OSError,
    RuntimeError,
    ValueError,
    TypeError,
    OverflowError,
)
# Everything a reader of a Keras file turns into one NotAStateError: h5py's failures, and
# those of zipfile, zlib, struct and the JSON parser on a damaged archive.
READ_FAILURES: tuple[type[Exception], ...] = (
    *H5_FAILURES,
    KeyError,
    MemoryError,
    RecursionError,
    EOFError,
    struct.error,
    zlib.error,
    zipfile.BadZipFile,
)


# ------------------------------------------------------------------ the HDF5 source
class _H5Source:
    """An open h5py file and what to release with it; registered as open for reading."""

    def __init__(self, path: str, file: Any, cleanups: list[Callable[[], None]]) -> None:
        self.file = file
        self._cleanups = cleanups
        self._key = register(path)
        self._closed = False

    @classmethod
    def open(cls, path: str) -> _H5Source:
        import h5py

        try:
            file = h5py.File(path, "r")
        except H5_FAILURES as err:
            raise NotAStateError(path, f"not a readable HDF5 file ({_one_line(err)})") from None
        return cls(path, file, [])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self.file.close()
        _run(self._cleanups)
        unregister(self._key)


def _run(cleanups: list[Callable[[], None]]) -> None:
    for cleanup in reversed(cleanups):
        with contextlib.suppress(Exception):
            cleanup()


@contextlib.contextmanager
def _closed_on_error(source: _H5Source, path: str, what: str) -> Iterator[None]:
    """Release ``source`` if the block fails; library errors become one NotAStateError."""
    try:
        yield
    except READ_FAILURES as err:
        source.close()
        detail = "more than this machine's memory holds" if isinstance(err, MemoryError) else ""
        raise NotAStateError(path, f"{what} ({detail or _one_line(err)})") from None
    except BaseException:  # NotAStateError, Cancelled, KeyboardInterrupt...: release it too
        source.close()
        raise


# --------------------------------------------------------------------- HDF5 walking
def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _hard_child(group: Any, key: str) -> Any:
    """``group[key]`` when it is reached by a hard link; soft and external links are not
    followed (an external link would open another file)."""
    import h5py

    try:
        link = group.get(key, getlink=True)
    except (KeyError, ValueError, OSError, RuntimeError):
        return None
    if not isinstance(link, h5py.HardLink):
        return None
    return group[key]


def _resolve(group: Any, relative: str) -> Any:
    """An object by a relative path of hard links, or None."""
    node = group
    for part in relative.split("/"):
        if not part:
            continue
        if not hasattr(node, "keys"):
            return None
        node = _hard_child(node, part)
        if node is None:
            return None
    return node


def _children(group: Any) -> list[tuple[str, Any]]:
    out = []
    for key in sorted(group.keys(), key=_natural_key):
        child = _hard_child(group, key)
        if child is not None:
            out.append((key, child))
    return out


def _is_group(node: Any) -> bool:
    import h5py

    return isinstance(node, h5py.Group)


def _is_dataset(node: Any) -> bool:
    import h5py

    return isinstance(node, h5py.Dataset)


def _has_vars_group(root: Any) -> bool:
    """True for the Keras 3 layout (a ``vars`` group somewhere)."""
    found = root.visit(lambda name: True if name.rsplit("/", 1)[-1] == "vars" else None)
    return bool(found)


def _walk(group: Any, prefix: str, seen: set[Any], depth: int = 0) -> Iterator[tuple[str, Any]]:
    """(path, dataset) of every dataset under ``group``, each object once."""
    if depth > MAX_DEPTH:
        return
    for key, child in _children(group):
        if child.id in seen:
            continue
        seen.add(child.id)
        name = f"{prefix}{key}"
        if _is_dataset(child):
            yield name, child
        elif _is_group(child):
            yield from _walk(child, name + "/", seen, depth + 1)


def _attr_text(attrs: Any, key: str) -> str | None:
    try:
        value = attrs.get(key)
    except (OSError, RuntimeError, TypeError, ValueError):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _string_list(group: Any, key: str) -> list[str]:
    """A list-of-names attribute, joining the chunks (``key0``, ``key1``...) Keras splits
    large attributes into."""
    attrs = group.attrs
    if key in attrs:
        chunks = [attrs[key]]
    else:
        chunks = []
        while f"{key}{len(chunks)}" in attrs:
            chunks.append(attrs[f"{key}{len(chunks)}"])
    out = []
    for chunk in chunks:
        for item in np.atleast_1d(np.asarray(chunk, dtype=object)).ravel():
            if isinstance(item, bytes):
                out.append(item.decode("utf-8", "replace"))
            elif isinstance(item, str):
                out.append(item)
    return out


def _storage_problem(dataset: Any, shape: tuple[int, ...], itemsize: int) -> str | None:
    """Why the values ``dataset`` declares are not what its file stores, or None: checked
    before anything is read, from HDF5's own record of the dataset's storage.

    A dataset's shape is a declaration; HDF5 answers a read of storage that was never
    written with the fill value, however large. So: values in another file (external
    storage, a virtual dataset) are not read; a dataset that declares bytes but stores none
    (unallocated), or an unfiltered one storing fewer bytes than it declares (chunks never
    written), is refused; a filtered (compressed) one may declare at most
    :func:`~csv_state_viewer.core.limits.inflation_ceiling` of what it stores.
    """
    if len(shape) > MAX_DIMS:
        return f"declares {len(shape)} dimensions; at most {MAX_DIMS} are read"
    declared = math.prod(shape) * itemsize
    try:
        if dataset.is_virtual:
            return "its values are in other files (a virtual dataset), which are not read"
        plist = dataset.id.get_create_plist()
        if plist.get_external_count() > 0:
            return "its values are in an external file, which is not read"
        filtered = plist.get_nfilters() > 0
        stored = dataset.id.get_storage_size()
    except H5_FAILURES as err:
        return f"its storage cannot be read ({_one_line(err)})"
    if declared == 0:
        return None
    if stored == 0:
        return f"declares {size_text(declared)} but stores 0 bytes (unallocated)"
    if filtered:
        return over_ratio(declared, stored)
    if stored < declared:
        return f"declares {size_text(declared)} but stores {size_text(stored)} (partly unallocated)"
    return None


def _dataset_tensor(name: str, dataset: Any, metadata: dict[str, Any]) -> LazyTensor:
    """A lazily read dataset; Keras 3 marks bfloat16 values (stored opaque) with a ``dtype``
    attribute, which is honoured. A dataset whose storage cannot back what it declares
    (see :func:`_storage_problem`) is listed with that error and never read."""
    try:
        shape = dataset.shape
        stored = dataset.dtype
    except H5_FAILURES as err:
        error = f"the dataset cannot be read ({_one_line(err)})"
        return LazyTensor(name, None, None, _unreadable, metadata, error)
    if shape is None:
        return LazyTensor(name, None, None, _unreadable, metadata, "the dataset has no data")
    dtype = stored
    declared = _attr_text(dataset.attrs, "dtype")
    if declared is not None and declared != str(stored):
        with contextlib.suppress(DtypeError):
            real = resolve_dtype(declared)
            if is_ml_dtype(real) and real.itemsize == stored.itemsize:
                dtype = real
    if dtype is stored and (
        stored.kind not in NUMERIC_KINDS or stored.fields is not None or stored.subdtype
    ):
        error = f"dtype {stored} is refused: only numeric and bool tensors are read"
        return LazyTensor(name, tuple(shape), None, _unreadable, metadata, error)
    problem = _storage_problem(dataset, tuple(shape), stored.itemsize)
    if problem is not None:
        return LazyTensor(name, None, None, _unreadable, metadata, problem)

    def load() -> np.ndarray:
        try:
            value = np.asarray(dataset[()])
        except READ_FAILURES as err:
            raise ValueError(f"cannot read the dataset ({_one_line(err)})") from None
        return value.view(dtype) if value.dtype != dtype else value

    return LazyTensor(name, tuple(shape), dtype, load, metadata)


# ---------------------------------------------------------- Keras 3 structural names
def _structural_tensors(
    root: Any,
    progress: Progress,
    reason: str,
    optimizer_class: str | None,
    *,
    only: str | None = None,
) -> list[LazyTensor]:
    """Every dataset of a Keras 3 weights file, named by its HDF5 path (see the module doc).

    ``only`` restricts the walk to one top-level group (``"optimizer"``).
    """
    tops = [(key, child) for key, child in _children(root) if only is None or key == only]
    tops.sort(key=lambda item: item[0] == "optimizer")  # stable: the model's groups first
    found: list[tuple[str, Any]] = []
    seen: set[Any] = set()
    for key, child in tops:
        check_cancelled(progress)
        if _is_dataset(child):
            found.append((key, child))
        elif _is_group(child):
            for item in _walk(child, key + "/", seen):
                check_cancelled(progress)
                found.append(item)
    tensors = []
    for index, (name, dataset) in enumerate(found):
        metadata: dict[str, Any] = {"names": "structural", "reason": reason}
        owner = _attr_text(dataset.parent.attrs, "name")
        if name.split("/", 1)[0] == "optimizer":
            metadata["role"] = kerasmodel.ROLE_OPTIMIZER
            if optimizer_class:
                metadata["optimizer"] = optimizer_class
            if owner:
                metadata["optimizer_name"] = owner
        else:
            metadata["role"] = kerasmodel.ROLE_WEIGHT
            if owner:
                metadata["layer"] = owner
        tensors.append(_dataset_tensor(name, dataset, metadata))
        progress.report(index + 1, len(found))
    return tensors


def _stored_bytes(root: Any) -> int:
    """Bytes the file's datasets store (HDF5's own record, not their declared shapes)."""
    total = 0
    for _name, dataset in _walk(root, "", set()):
        with contextlib.suppress(*H5_FAILURES):
            total += dataset.id.get_storage_size()
    return total


def _count_datasets(root: Any, top: str) -> int:
    group = _hard_child(root, top)
    if group is None or not _is_group(group):
        return 0
    return sum(1 for _ in _walk(group, "", set()))


def _count_optimizer_variables(root: Any) -> int:
    """How many values the file's optimizer stores for its own ``variables``: the datasets
    of ``optimizer/vars`` (a wrapper optimizer stores its inner optimizers' values there
    too, and again in their own groups), or every dataset under ``optimizer`` in a file
    without that group."""
    group = _resolve(root, "optimizer/vars")
    if group is None or not _is_group(group):
        return _count_datasets(root, "optimizer")
    return sum(1 for _key, child in _children(group) if _is_dataset(child))
