"""What writers consume: named tensors, loaded one at a time so that conversions stream."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from csv_state_viewer.core.dtypes import NUMERIC_KINDS, is_ml_dtype
from csv_state_viewer.core.errors import BadRowsError, RowError, StateWriteError
from csv_state_viewer.core.state import State

# Keys every format derives from the data itself; user metadata never overrides them.
FORMAT_KEYS = frozenset({"shape", "dtype", "encoding", "crc32"})

Tensors = Mapping[str, Any] | State


@dataclass
class TensorItem:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    load: Callable[[], np.ndarray]
    metadata: dict[str, Any] = field(default_factory=dict)


def check_writable_dtype(name: str, dtype: np.dtype) -> None:
    if dtype.kind in NUMERIC_KINDS and dtype.fields is None and dtype.subdtype is None:
        return
    if is_ml_dtype(dtype):
        return
    raise StateWriteError(
        f"tensor {name!r}: dtype {dtype} cannot be written (only numeric and bool tensors)"
    )


def _user_metadata(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (meta or {}).items() if k not in FORMAT_KEYS}


def tensor_items(
    tensors: Tensors,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    skip_bad: bool = False,
) -> list[TensorItem]:
    """Normalise a mapping of arrays, or an open :class:`State`, into writable items.

    Every dtype is checked before anything is written. For a state with bad rows,
    :class:`BadRowsError` is raised unless ``skip_bad``.
    """
    metadata = metadata or {}
    items: list[TensorItem] = []
    if isinstance(tensors, State):
        state = tensors
        if state.errors and not skip_bad:
            raise BadRowsError(state.path, state.errors)
        for entry in state.entries:
            if not entry.ok or state.entry(entry.name) is not entry:
                continue
            assert entry.shape is not None and entry.dtype is not None
            meta = _user_metadata(entry.metadata) | _user_metadata(metadata.get(entry.name))
            items.append(
                TensorItem(entry.name, entry.shape, entry.dtype, _reader(state, entry), meta)
            )
        return items
    for name, value in tensors.items():
        array = np.asarray(value)
        check_writable_dtype(str(name), array.dtype)
        items.append(
            TensorItem(
                str(name),
                array.shape,
                array.dtype,
                _constant(array),
                _user_metadata(metadata.get(name)),
            )
        )
    return items


def _reader(state: State, entry: Any) -> Callable[[], np.ndarray]:
    return lambda: state.read(entry)


def _constant(array: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: array


def iter_loaded(
    items: list[TensorItem], *, skip_bad: bool
) -> Iterator[tuple[TensorItem, np.ndarray]]:
    """Load each item in turn; a row whose data turns out bad is skipped or raised."""
    for item in items:
        try:
            array = item.load()
        except RowError as err:
            if skip_bad:
                continue
            raise BadRowsError(err.problem.path, [err.problem]) from None
        yield item, np.require(array, requirements="C")
