"""Keras files as states: ``.keras`` archives, Keras 3 ``.weights.h5`` and legacy HDF5.

Three kinds of file are read, each with its own naming rule:

``.keras`` archive (format ``keras``)
    A zip with ``config.json``, ``metadata.json`` and ``model.weights.h5``. The model is
    rebuilt with ``keras.saving.load_model(path, compile=True, safe_mode=True)`` and its
    variables are named as :func:`~csv_state_viewer.bridge.kerasmodel.model_tensors` names
    them (``sequential/dense/kernel``, ``adam/sequential_dense_kernel_momentum`` with
    ``slot_of``/``slot``, ``adam/iteration`` with ``optimizer_variable``). When the model
    cannot be rebuilt (a custom layer that is not importable, a ``Lambda`` refused by safe
    mode, TensorFlow missing, a variable that did not load), ``model.weights.h5`` is read
    with h5py and the tensors get *structural* names (below) and the metadata
    ``{"names": "structural", "reason": "<one line>"}``.

Keras 3 weights file ``*.weights.h5`` (format ``keras-weights``)
    No model configuration, so names are structural: the HDF5 path of each dataset, as
    Keras 3 lays it out: ``layers/<layer key>/vars/<i>`` (the key is Keras's attribute-style
    name such as ``dense``, ``dense_1``, ``batch_normalization``; the layer's own name is in
    the ``vars`` group's ``name`` attribute and copied to the metadata as ``"layer"``),
    nested layers ``layers/<model key>/layers/<layer key>/vars/<i>``, the model's own
    variables ``vars/<i>`` and the optimizer's ``optimizer/vars/<i>`` (``<i>`` is the
    variable's index; ``optimizer/vars/0`` is the step counter for built-in optimizers).
    Role: ``"optimizer"`` under the top-level ``optimizer`` group, ``"weight"`` elsewhere.
    Order: model tensors first, then the optimizer's; numeric parts sort as numbers.
    Given ``model=``, the weights are loaded into that model (``model.load_weights``; an
    unbuilt optimizer of a compiled model is built first) and the real names are returned.

Legacy Keras 2 HDF5 ``*.h5`` / ``*.hdf5`` (format ``keras-h5``)
    A full model (``model_weights`` group, maybe ``optimizer_weights``) or weights only
    (the root is the weights group). Each layer listed in the ``layer_names`` attribute is
    a group whose ``weight_names`` attribute lists its datasets; a tensor is named by its
    weight name as written (``dense/kernel:0`` from Keras 2, ``sequential/dense/kernel``
    from Keras 3's legacy writer), metadata ``{"role": "weight", "layer": "dense"}``; a
    name met twice becomes ``<layer>/<weight name>``. Attributes split by Keras into
    ``weight_names0``, ``weight_names1``... are joined. Optimizer weights keep their
    names too (``training/Adam/dense/kernel/m:0``), role ``"optimizer"``, and are linked
    to their variable by :func:`legacy_slot_owner`; the others get ``optimizer_variable``
    (``iter``, ``iteration``, ``learning_rate``...). The optimizer class comes from the
    ``training_config`` attribute when present.

Every tensor is read lazily from the open HDF5 file (a stored ``.keras`` member is read
in place, a compressed one through a temporary copy), and closing the state releases it.
Anything that is not one of these files raises :class:`NotAStateError` with one line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from csv_state_viewer.bridge import kerasmodel, tfimport
from csv_state_viewer.core.dtypes import NUMERIC_KINDS, DtypeError, is_ml_dtype, resolve_dtype
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.lazystate import LazyState, LazyTensor
from csv_state_viewer.core.openfiles import register, unregister
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled

ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
CONFIG_MEMBER = "config.json"
WEIGHTS_MEMBER = "model.weights.h5"
H5_EXTENSIONS = (".h5", ".hdf5")

FORMAT_KERAS = "keras"
FORMAT_KERAS_WEIGHTS = "keras-weights"
FORMAT_KERAS_H5 = "keras-h5"

MAX_REASON = 240
MAX_CONFIG_BYTES = 64 << 20
MAX_DEPTH = 64

# Keras warns (instead of raising) when some saved values were not loaded into the model.
_LOAD_FAILURE_WARNINGS = ("could not be loaded", "Skipping nested container")
# Handled here: the optimizer's values are then read from the file instead.
_OPTIMIZER_SKIPPED_WARNING = "Skipping variable loading for optimizer"
# Keras 2 writes names with a ``:<index>`` suffix (``dense/kernel:0``).
_VARIABLE_SUFFIX = re.compile(r":\d+$")


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


def looks_like_keras_h5(path: str, head: bytes) -> bool:
    """An HDF5 file (signature at offset 0) named ``*.h5``, ``*.hdf5`` or ``*.weights.h5``."""
    return head.startswith(HDF5_MAGIC) and os.fspath(path).lower().endswith(H5_EXTENSIONS)


# --------------------------------------------------------------------------- opening
def open_keras_file(
    path: str | os.PathLike[str], progress: Progress = NO_PROGRESS, model: Any = None
) -> LazyState:
    """Open a ``.keras`` archive, a Keras 3 ``.weights.h5`` or a legacy Keras HDF5 file.

    ``model`` (a built Keras 3 model) is used for Keras 3 weights files only: the weights
    are loaded into it and its real variable names are returned. It is ignored otherwise.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise NotAStateError(path, "a directory, not a Keras file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(HDF5_MAGIC))
    except OSError as err:
        raise NotAStateError(path, err.strerror or _one_line(err)) from None
    if head.startswith(ZIP_MAGIC):
        return _open_archive(path, progress)
    if head.startswith(HDF5_MAGIC):
        return _open_h5(path, progress, model)
    raise NotAStateError(path, "not a Keras file (neither a .keras zip archive nor HDF5)")


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
        source = _H5Source.from_member(path, archive, archive.getinfo(WEIGHTS_MEMBER))
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


def _open_h5(path: str, progress: Progress, model: Any) -> LazyState:
    source = _H5Source.open(path)
    with _closed_on_error(source, path, "unreadable Keras HDF5 file"):
        root = source.file
        if "layer_names" in root.attrs or _hard_child(root, "model_weights") is not None:
            tensors = _legacy_tensors(root, progress)
            return LazyState(path, FORMAT_KERAS_H5, tensors, on_close=source.close)
        if not _has_vars_group(root):
            raise NotAStateError(
                path, "an HDF5 file but not a Keras weights file (no layer_names or vars)"
            )
        if model is not None:
            try:
                _load_weights_into(model, path, source)
            except _NotRebuilt as err:
                reason = err.reason
            else:
                return _model_state(
                    path, FORMAT_KERAS_WEIGHTS, model, source, progress, optimizer_class=None
                )
        else:
            reason = "a weights file has no model configuration; pass a model for real names"
        tensors = _structural_tensors(root, progress, reason, None)
        return LazyState(path, FORMAT_KERAS_WEIGHTS, tensors, on_close=source.close)


@contextlib.contextmanager
def _closed_on_error(source: _H5Source, path: str, what: str) -> Iterator[None]:
    """Release ``source`` if the block fails; library errors become one NotAStateError."""
    try:
        yield
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as err:
        source.close()
        raise NotAStateError(path, f"{what} ({_one_line(err)})") from None
    except BaseException:  # NotAStateError, Cancelled, KeyboardInterrupt...: release it too
        source.close()
        raise


# ------------------------------------------------------------------ the HDF5 source
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
        except (OSError, ValueError, RuntimeError) as err:
            raise NotAStateError(path, f"not a readable HDF5 file ({_one_line(err)})") from None
        return cls(path, file, [])

    @classmethod
    def from_member(cls, path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> _H5Source:
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
        return cls(path, file, cleanups)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self.file.close()
        _run(self._cleanups)
        unregister(self._key)


def _remove(name: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(name)


def _run(cleanups: list[Callable[[], None]]) -> None:
    for cleanup in reversed(cleanups):
        with contextlib.suppress(Exception):
            cleanup()


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


def _unreadable() -> np.ndarray:
    raise ValueError("the tensor cannot be read")


def _dataset_tensor(name: str, dataset: Any, metadata: dict[str, Any]) -> LazyTensor:
    """A lazily read dataset; Keras 3 marks bfloat16 values (stored opaque) with a ``dtype``
    attribute, which is honoured."""
    shape = dataset.shape
    stored = dataset.dtype
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

    def load() -> np.ndarray:
        try:
            value = np.asarray(dataset[()])
        except (OSError, RuntimeError, KeyError, TypeError) as err:
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


def _count_datasets(root: Any, top: str) -> int:
    group = _hard_child(root, top)
    if group is None or not _is_group(group):
        return 0
    return sum(1 for _ in _walk(group, "", set()))


# -------------------------------------------------------------- rebuilding a model
class _NotRebuilt(Exception):  # noqa: N818 - an outcome, carried to the fallback
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@contextlib.contextmanager
def _named(path: str, suffix: str) -> Iterator[str]:
    """``path``, or a link to it named ``*<suffix>`` (Keras picks its reader by the name)."""
    if path.endswith(suffix):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="csv-state-") as folder:
        alias = os.path.join(folder, "model" + suffix)
        try:
            os.symlink(os.path.abspath(path), alias)
        except OSError:
            shutil.copyfile(path, alias)
        yield alias


def _call_keras(call: Callable[[], Any], failure: str) -> Any:
    """Run a Keras load; a raised error or a "not loaded" warning becomes :class:`_NotRebuilt`.

    Every warning is recorded (so none is lost to the once-per-location registry); the
    ones that are not about loading are re-issued for the caller's filters to judge.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except Exception as err:  # Keras raises anything from a bad config or file
            raise _NotRebuilt(f"{failure}: {_describe(err)}") from None
    for item in caught:
        text = str(item.message)
        if any(marker in text for marker in _LOAD_FAILURE_WARNINGS):
            raise _NotRebuilt(f"{failure}: {_clip(_first_line(text))}")
    for item in caught:
        if _OPTIMIZER_SKIPPED_WARNING not in str(item.message):
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return result


def _rebuild_model(path: str) -> Any:
    try:
        keras = tfimport.keras()
    except ImportError as err:
        raise _NotRebuilt(f"Keras is not available ({_describe(err)})") from None
    # building the model probes devices, and TensorFlow's C++ runtime reports a missing
    # GPU on file descriptor 2: keep it out of the CLI's stderr, as for the import
    with _named(path, ".keras") as alias, tfimport.quiet_native_stderr():
        return _call_keras(
            lambda: keras.saving.load_model(alias, compile=True, safe_mode=True),
            "the model could not be rebuilt",
        )


def _load_weights_into(model: Any, path: str, source: _H5Source) -> None:
    optimizer = getattr(model, "optimizer", None)
    if (
        optimizer is not None
        and not getattr(optimizer, "built", True)
        and getattr(model, "built", False)
        and _count_datasets(source.file, "optimizer")
    ):
        with contextlib.suppress(Exception):  # as Keras does when it compiles a loaded model
            optimizer.build(model.trainable_variables)
    with _named(path, ".weights.h5") as alias:
        _call_keras(lambda: model.load_weights(alias), "the weights do not fit the given model")


def _model_state(
    path: str,
    format_name: str,
    model: Any,
    source: _H5Source,
    progress: Progress,
    *,
    optimizer_class: str | None,
) -> LazyState:
    """The model's variables by their real names; stored optimizer values the model did not
    take (no optimizer, or a different number of variables) are added by structural name."""
    stored = _count_datasets(source.file, "optimizer")
    optimizer = getattr(model, "optimizer", None)
    loaded = (
        stored > 0
        and optimizer is not None
        and getattr(optimizer, "built", False)
        and len(optimizer.variables) == stored
    )
    tensors = kerasmodel.model_tensors(model, include_optimizer=loaded)
    if stored and not loaded:
        if optimizer is None:
            reason = "the model has no optimizer to load the stored optimizer variables into"
        else:
            count = len(optimizer.variables) if getattr(optimizer, "built", False) else 0
            reason = f"the model's optimizer has {count} variables, the file stores {stored}"
        kind = optimizer_class or (type(optimizer).__name__ if optimizer is not None else None)
        tensors += _structural_tensors(source.file, progress, reason, kind, only="optimizer")
        return LazyState(path, format_name, tensors, on_close=source.close)
    source.close()
    progress.report(1, 1)
    return LazyState(path, format_name, tensors)


# ------------------------------------------------------------------- legacy HDF5
def _bare(name: str) -> str:
    return _VARIABLE_SUFFIX.sub("", name)


def legacy_slot_owner(name: str, weight_names: list[str]) -> tuple[str, str] | None:
    """(model weight name as written, slot) of a legacy optimizer weight, or None.

    Names are compared without their ``:<n>`` suffix; the longest matching weight wins.

    * Keras 2 ``OptimizerV2``: ``<prefix>/<weight>/<slot>`` (``training/Adam/dense/kernel/m:0``,
      ``Adam/dense/kernel/m:0``) → (``dense/kernel:0``, ``m``);
    * Keras 2.11+ optimizers: ``<prefix>/<slot>/<weight>`` (``Adam/m/dense/kernel:0``,
      ``m/dense/kernel:0``) → (``dense/kernel:0``, ``m``);
    * Keras 3's legacy writer: ``<optimizer>/<weight path with / as _>_<slot>``
      (``adam/sequential_dense_kernel_momentum``) → (``sequential/dense/kernel``,
      ``momentum``), by :func:`kerasmodel.slot_owner`.

    Unlinked names (``Adam/iter:0``, TF1 ``training/Adam/Variable:0``) return None.
    """
    bare = _bare(name)
    best: tuple[int, str, str] | None = None
    for written in weight_names:
        weight = _bare(written)
        if not weight or (best is not None and len(weight) <= best[0]):
            continue
        head, sep, slot = bare.rpartition("/")
        if sep and slot and (head == weight or head.endswith("/" + weight)):
            best = (len(weight), written, slot)
            continue
        if bare.endswith("/" + weight):
            slot = bare[: -len(weight) - 1].rpartition("/")[2]
            if slot:
                best = (len(weight), written, slot)
    if best is not None:
        return best[1], best[2]
    owners = {_bare(w).replace("/", "_"): w for w in weight_names if _bare(w)}
    return kerasmodel.slot_owner(bare.rpartition("/")[2], owners)


def _training_optimizer_class(root: Any) -> str | None:
    text = _attr_text(root.attrs, "training_config")
    if not text or len(text) > MAX_CONFIG_BYTES:
        return None
    try:
        config = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(config, dict):
        return None
    return _optimizer_class(config.get("optimizer_config"))


def _legacy_tensors(root: Any, progress: Progress) -> list[LazyTensor]:
    weights_group = _hard_child(root, "model_weights")
    if weights_group is None or not _is_group(weights_group):
        weights_group = root
    layers = _string_list(weights_group, "layer_names")
    if "top_level_model_weights" not in layers and _hard_child(
        weights_group, "top_level_model_weights"
    ):
        layers.append("top_level_model_weights")  # Keras 3 writes the model's own here
    tensors: list[LazyTensor] = []
    used: set[str] = set()
    weight_names: list[str] = []
    for layer in layers:
        check_cancelled(progress)
        group = _resolve(weights_group, layer)
        if group is None or not _is_group(group):
            tensors.append(
                LazyTensor(layer, None, None, _unreadable, {"role": "weight"}, "no layer group")
            )
            continue
        for written in _string_list(group, "weight_names"):
            name = written if written not in used else f"{layer}/{written}"
            used.add(name)
            weight_names.append(written)
            metadata = {"role": kerasmodel.ROLE_WEIGHT, "layer": layer}
            tensors.append(_legacy_tensor(name, group, written, metadata))
    optimizer_group = _hard_child(root, "optimizer_weights")
    if optimizer_group is not None and _is_group(optimizer_group):
        kind = _training_optimizer_class(root)
        for written in _string_list(optimizer_group, "weight_names"):
            check_cancelled(progress)
            name = written if written not in used else f"optimizer_weights/{written}"
            used.add(name)
            metadata = {"role": kerasmodel.ROLE_OPTIMIZER}
            if kind:
                metadata["optimizer"] = kind
            owner = legacy_slot_owner(written, weight_names)
            if owner is not None:
                metadata["slot_of"], metadata["slot"] = owner
            else:
                metadata["optimizer_variable"] = _bare(written).rpartition("/")[2]
            tensors.append(_legacy_tensor(name, optimizer_group, written, metadata))
    progress.report(1, 1)
    return tensors


def _legacy_tensor(name: str, group: Any, written: str, metadata: dict[str, Any]) -> LazyTensor:
    dataset = _resolve(group, written)
    if dataset is None or not _is_dataset(dataset):
        return LazyTensor(name, None, None, _unreadable, metadata, "no dataset for this weight")
    return _dataset_tensor(name, dataset, metadata)


# ------------------------------------------------------------------------ helpers
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


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _clip(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _one_line(err: BaseException) -> str:
    return _clip(" ".join(str(err).split()) or type(err).__name__)


def _describe(err: BaseException) -> str:
    """``TypeError: <first line of the message>`` on one line.

    Keras wraps a failed layer in "<class> could not be deserialized properly ... Exception
    encountered: <the cause>. <advice> Full object config: ..."; the cause's first sentence
    is what says why.
    """
    text = str(err)
    marker = "Exception encountered:"
    if marker in text:
        cause = _first_line(text.rpartition(marker)[2])
        sentence, dot, _rest = cause.partition(". ")
        text = sentence + dot.strip()
    return _clip(f"{type(err).__name__}: {_first_line(text)}".rstrip(": "))
