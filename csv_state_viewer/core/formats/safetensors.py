"""safetensors files (Hugging Face; PyTorch, JAX, Keras 3) as states: lazy per tensor.

A file is an 8-byte little-endian header length, a JSON header naming every tensor's
dtype, shape and byte range, then the bytes. The header is checked here before anything
is allocated (its length against the file, every range against the data and against the
others, every size in Python integers), so a hostile header is one line, never a huge
allocation. Each tensor is then read with ``preadv`` into a new array, from the file
opened at the start. Not through the ``safetensors`` package, whose reader memory-maps
the file: a file that another program truncates while it is open then kills the viewer
with SIGBUS, where a short read is a bad row; its NumPy API also cannot return float8
(0.8) and refuses files with gaps between ranges. The package's own writer and reader are
what the tests check our files against, both ways. The writer streams one tensor at a
time, so a state of any size converts in the memory of its largest tensor. Our writer
keeps the original order and our per-tensor metadata in ``__metadata__["csv_state"]``,
like the ``.npz`` sidecar; other tools' files have none.
"""

from __future__ import annotations

import functools
import json
import math
import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.dtypes import DtypeError, dtype_name, is_ml_dtype, resolve_dtype
from csv_state_viewer.core.errors import NotAStateError, StateWriteError
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.formatting import one_line, shape_text
from csv_state_viewer.core.lazystate import LazyState, LazyTensor, unreadable
from csv_state_viewer.core.limits import MAX_DIMS, MAX_SAFETENSORS_HEADER_BYTES, size_text
from csv_state_viewer.core.openfiles import register, unregister
from csv_state_viewer.core.preads import read_array
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.tensors import TensorItem, Tensors, iter_loaded, tensor_items

METADATA = "__metadata__"
OUR_KEY = "csv_state"  # our entry of __metadata__: {"order": [...], "tensors": {...}}
_LENGTH = struct.Struct("<Q")
_SHOWN = 80  # characters of a name or value quoted in a message
# safetensors dtype -> (NumPy kind, itemsize) or an ml_dtypes name; sub-byte types unread.
_NUMPY = {"BOOL": ("b", 1), "U8": ("u", 1), "I8": ("i", 1), "I16": ("i", 2), "U16": ("u", 2)}
_NUMPY |= {"I32": ("i", 4), "U32": ("u", 4), "I64": ("i", 8), "U64": ("u", 8)}
_NUMPY |= {"F16": ("f", 2), "F32": ("f", 4), "F64": ("f", 8), "C64": ("c", 8)}
_ML = {"BF16": "bfloat16", "F8_E5M2": "float8_e5m2", "F8_E4M3": "float8_e4m3fn"}
_ML |= {"F8_E8M0": "float8_e8m0fnu"}
_Entry = tuple[TensorItem, str, int, int]  # a tensor to write: dtype string, byte range
_SUB_BYTE = frozenset({"F4", "F6_E2M3", "F6_E3M2"})


def _clipped(text: str) -> str:
    return one_line(text, _SHOWN)


@functools.cache
def _dtype_of(code: str) -> np.dtype | None:
    """The dtype a safetensors dtype string reads as; None when it is not read."""
    if code in _NUMPY:
        kind, size = _NUMPY[code]
        return np.dtype(f"<{kind}{size}")
    try:
        return resolve_dtype(_ML[code]) if code in _ML else None
    except DtypeError:  # an ml_dtypes without float8_e8m0fnu
        return None


def _code_of(dtype: np.dtype) -> str | None:
    """The safetensors dtype string of ``dtype`` (either byte order), or None."""
    if is_ml_dtype(dtype):
        return next((c for c, n in _ML.items() if n == dtype.name), None)
    return next((c for c, k in _NUMPY.items() if k == (dtype.kind, dtype.itemsize)), None)


@dataclass(frozen=True)
class _Layout:
    """One tensor as the header declares it; ``error`` when it is listed but not read."""

    name: str
    code: str
    shape: tuple[int, ...]
    begin: int
    end: int
    dtype: np.dtype | None
    error: str | None = None


def _read_header(path: str, fd: int, size: int) -> tuple[dict[str, Any], int]:
    """The parsed header and where the data starts, from one bounded read."""
    if size < _LENGTH.size:
        raise NotAStateError(path, f"not a safetensors file ({size_text(size)}, too short)")
    length = _LENGTH.unpack(os.pread(fd, _LENGTH.size, 0))[0]
    if length > MAX_SAFETENSORS_HEADER_BYTES:
        raise NotAStateError(
            path,
            f"not a safetensors file (its header declares {size_text(length)}; a header is "
            f"never larger than {size_text(MAX_SAFETENSORS_HEADER_BYTES)})",
        )
    if _LENGTH.size + length > size:
        raise NotAStateError(
            path,
            f"not a safetensors file (its header declares {length:,} bytes but the file "
            f"holds {size - _LENGTH.size:,} after its length; was it truncated?)",
        )
    raw = os.pread(fd, length, _LENGTH.size)
    try:
        header = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise NotAStateError(path, "not a safetensors file (its header is not UTF-8)") from None
    except (ValueError, RecursionError) as err:
        reason = _clipped(str(err) or type(err).__name__)
        raise NotAStateError(
            path, f"not a safetensors file (its header is not JSON: {reason})"
        ) from None
    if not isinstance(header, dict):
        kind = type(header).__name__
        raise NotAStateError(path, f"not a safetensors file (its header is a JSON {kind})")
    return header, _LENGTH.size + length


def _layout(path: str, name: str, spec: object, data_size: int) -> _Layout:
    """One tensor's declaration, checked; what makes the file unreadable raises."""
    shown = _clipped(repr(name))

    def bad(reason: str) -> NotAStateError:
        return NotAStateError(path, f"tensor {shown} {reason}")

    if not isinstance(spec, dict):
        raise bad("is not described by a JSON object")
    code, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
    if not isinstance(code, str):
        raise bad(f"has dtype {_clipped(repr(code))}, not a dtype name")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise bad(f"declares shape {_clipped(repr(shape))}, which is not a shape")
    if len(shape) > MAX_DIMS:
        raise bad(f"declares {len(shape)} dimensions; at most {MAX_DIMS} are read")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(o) is int for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise bad(f"has data_offsets {_clipped(repr(offsets))}, not [begin, end]")
    begin, end = offsets
    if end > data_size:
        raise bad(f"declares bytes {begin}-{end} past the end of the data ({data_size:,} bytes)")
    dtype = _dtype_of(code)
    if dtype is None:
        why = "a sub-byte type" if code in _SUB_BYTE else "not a dtype this reader knows"
        error = f"dtype {_clipped(code)} is not read ({why})"
        return _Layout(name, code, tuple(shape), begin, end, None, error)
    needed = math.prod(shape) * dtype.itemsize
    if needed != end - begin:
        raise bad(
            f"declares {_clipped(shape_text(shape))} {code} ({size_text(needed)}) but its "
            f"data_offsets hold {end - begin:,} bytes"
        )
    return _Layout(name, code, tuple(shape), begin, end, dtype)


def _check_overlaps(path: str, layouts: list[_Layout]) -> None:
    last: _Layout | None = None  # the non-empty range reaching furthest so far
    for layout in sorted(layouts, key=lambda x: (x.begin, x.end)):
        if layout.begin == layout.end:
            continue
        if last is not None and layout.begin < last.end:
            names = f"{_clipped(repr(last.name))} and {_clipped(repr(layout.name))}"
            span = f"{layout.begin}-{min(last.end, layout.end)}"
            raise NotAStateError(path, f"tensors {names} overlap (bytes {span})")
        if last is None or layout.end > last.end:
            last = layout


def _our_metadata(text: str, names: list[str]) -> tuple[list[str], dict[str, Any]]:
    """(order, per-tensor metadata) of our writer's entry; ValueError when malformed."""
    value = json.loads(text)
    order, tensors = value.get("order"), value.get("tensors", {})
    if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
        raise ValueError("its order is not a list of names")
    if sorted(order) != sorted(names):
        raise ValueError("its order does not list the file's tensors")
    if not isinstance(tensors, dict) or not all(isinstance(v, dict) for v in tensors.values()):
        raise ValueError("its tensors are not objects")
    return order, tensors


def open_safetensors_state(
    path: str | os.PathLike[str], progress: Progress = NO_PROGRESS
) -> LazyState:
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError as err:
        raise NotAStateError(path, err.strerror or str(err)) from None
    key = register(path)

    def close() -> None:
        os.close(fd)
        unregister(key)

    try:
        size = os.fstat(fd).st_size
        header, start = _read_header(path, fd, size)
        meta = header.pop(METADATA, {})
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise NotAStateError(path, f"its {METADATA} is not an object of strings")
        data_size = size - start
        layouts = []
        for index, (name, spec) in enumerate(header.items()):
            check_cancelled(progress)
            layouts.append(_layout(path, name, spec, data_size))
            progress.report(index + 1, len(header))
        _check_overlaps(path, layouts)
        tensors, notes = _tensors(layouts, meta, functools.partial(_load, fd, start))
    except BaseException:
        close()
        raise
    state = LazyState(path, "safetensors", tensors, on_close=close)
    state.notes.extend(notes)
    return state


def _tensors(
    layouts: list[_Layout], meta: dict[str, str], load: Callable[[_Layout], np.ndarray]
) -> tuple[list[LazyTensor], list[str]]:
    """The state's tensors in their original order (ours) or the data's, and its notes."""
    notes: list[str] = []
    extra: dict[str, Any] = {}
    by_name = {x.name: x for x in sorted(layouts, key=lambda x: x.begin)}
    order = list(by_name)
    if OUR_KEY in meta:
        try:
            order, extra = _our_metadata(meta[OUR_KEY], order)
        except (ValueError, AttributeError, RecursionError) as err:
            notes.append(f"safetensors metadata {OUR_KEY} was ignored: {_clipped(str(err))}")
    others = [f"{k}={_clipped(v)}" for k, v in meta.items() if k != OUR_KEY]
    if others:
        notes.append(one_line("safetensors metadata: " + ", ".join(others), 400))
    tensors = []
    for name in order:
        layout = by_name[name]
        info = {**extra.get(name, {}), "shape": list(layout.shape)}
        if layout.dtype is None:
            tensors.append(LazyTensor(name, layout.shape, None, unreadable, info, layout.error))
            continue
        info["dtype"] = dtype_name(layout.dtype)
        tensors.append(
            LazyTensor(name, layout.shape, layout.dtype, functools.partial(load, layout), info)
        )
    return tensors, notes


def _load(fd: int, start: int, layout: _Layout) -> np.ndarray:
    """One tensor, exactly as declared; ValueError (a bad row) when it cannot be."""
    assert layout.dtype is not None
    flat = read_array(fd, start + layout.begin, layout.shape, layout.dtype)
    return flat.reshape(layout.shape)


def _header(entries: list[_Entry], meta: dict[str, str]) -> bytes:
    """The header, padded with spaces to a multiple of 8 bytes (as the package pads it)."""
    header: dict[str, Any] = {METADATA: meta} if meta else {}
    for item, code, begin, end in entries:
        header[item.name] = {"dtype": code, "shape": list(item.shape), "data_offsets": [begin, end]}
    raw = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return raw + b" " * (-len(raw) % 8)


def _plan(path: str, items: list[TensorItem]) -> list[_Entry]:
    """Each item with its dtype string and byte range, in data order: by alignment
    (itemsize) descending then name, as the package orders them, so every one is aligned.
    What cannot be written is refused here, before anything is."""
    codes: dict[str, str] = {}
    for item in items:
        shown = _clipped(repr(item.name))
        if item.name == METADATA:
            raise StateWriteError(f"{path}: a tensor cannot be named {METADATA} in safetensors")
        try:
            item.name.encode("utf-8")
        except UnicodeEncodeError:
            raise StateWriteError(
                f"{path}: tensor {shown}: its name is not valid Unicode (a lone surrogate)"
            ) from None
        code = _code_of(item.dtype)
        if code is None or _dtype_of(code) is None:
            raise StateWriteError(f"{path}: tensor {shown}: safetensors has no dtype {item.dtype}")
        codes[item.name] = code
    entries, offset = [], 0
    for item in sorted(items, key=lambda x: (-x.dtype.itemsize, x.name)):
        size = math.prod(item.shape) * item.dtype.itemsize
        entries.append((item, codes[item.name], offset, offset + size))
        offset += size
    return entries


def _our_entry(items: list[TensorItem], entries: list[_Entry]) -> dict[str, str]:
    """``__metadata__``: our entry when the order or any metadata needs it, else none."""
    extra = {item.name: item.metadata for item in items if item.metadata}
    if not extra and [i.name for i in items] == [e[0].name for e in entries]:
        return {}
    value = {"order": [i.name for i in items], "tensors": extra}
    return {OUR_KEY: json.dumps(value, default=str)}  # ASCII: lone surrogates survive


def save_safetensors_state(
    path: str,
    tensors: Tensors,
    *,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress = NO_PROGRESS,
    overwrite: bool = True,
    skip_bad: bool = False,
    **_options: Any,
) -> int:
    """Write a safetensors file, streamed one tensor at a time; return the count.

    The header goes first and is built from what is known before loading (names, shapes,
    dtypes); rows skipped while loading (``skip_bad``) leave it shorter, and it is
    rewritten in place, padded to its old length (offsets only shrink, and stay aligned).
    """
    items = tensor_items(tensors, metadata, skip_bad=skip_bad)
    entries = _plan(path, items)
    plan = {id(entry[0]): entry for entry in entries}
    header = _header(entries, _our_entry(items, entries))
    written: list[_Entry] = []
    offset = 0
    with atomic_write(path, overwrite=overwrite) as handle:
        handle.write(_LENGTH.pack(len(header)) + header)
        loaded = iter_loaded([entry[0] for entry in entries], skip_bad=skip_bad)
        for index, (item, array) in enumerate(loaded):
            check_cancelled(progress)
            _, code, begin, end = plan[id(item)]
            if _code_of(array.dtype) != code or array.nbytes != end - begin:
                raise StateWriteError(
                    f"{path}: tensor {_clipped(repr(item.name))} loaded as "
                    f"{shape_text(array.shape)} {array.dtype}, not {shape_text(item.shape)} {code}"
                )
            little = array  # little-endian always
            if not is_ml_dtype(array.dtype):
                little = array.astype(array.dtype.newbyteorder("<"), copy=False)
            handle.write(little.reshape(-1).view(np.uint8).data)
            written.append((item, code, offset, offset + end - begin))
            offset += end - begin
            progress.report(index + 1, len(entries))
        if len(written) < len(entries):
            kept_ids = {id(entry[0]) for entry in written}
            kept = [item for item in items if id(item) in kept_ids]
            shorter = _header(written, _our_entry(kept, written))
            handle.seek(_LENGTH.size)
            handle.write(shorter + b" " * (len(header) - len(shorter)))
    return len(written)


def _sniff(path: str, head: bytes) -> bool:
    if len(head) < _LENGTH.size + 1:
        return False
    length = _LENGTH.unpack_from(head)[0]
    return 2 <= length <= MAX_SAFETENSORS_HEADER_BYTES and head[_LENGTH.size] == ord("{")


FORMAT = Format(
    name="safetensors",
    description="safetensors file (Hugging Face; PyTorch, JAX, Keras 3)",
    label="safetensors",
    extensions=(".safetensors",),
    binary=True,
    sniff=_sniff,
    open=open_safetensors_state,
    save=save_safetensors_state,
)
