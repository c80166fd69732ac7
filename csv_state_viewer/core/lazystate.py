"""A state over named loaders: for formats whose library reads one tensor at a time.

Checkpoint and Keras readers know every tensor's name, shape and dtype up front and can
load each one on demand; they describe them as :class:`LazyTensor` items and get the
whole :class:`~csv_state_viewer.core.state.State` behaviour (errors as data, read_all,
validate, context manager) from :class:`LazyState`.

A loader reports bad data with ``ValueError``; whatever its library raises on a damaged
file (h5py's ``KeyError``, ``OSError``, ``zlib.error``, ``MemoryError``...) becomes the
tensor's bad row too (:meth:`State.read <csv_state_viewer.core.state.State.read>`), never
a crash. Only a bug in our own code (a frame of this package raising ``AttributeError``...)
passes as itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from csv_state_viewer.core.progress import Progress
from csv_state_viewer.core.state import State, TensorEntry, check_decoded


@dataclass
class LazyTensor:
    """One tensor of a state: how to load it and what is known without loading it."""

    name: str
    shape: tuple[int, ...] | None
    dtype: np.dtype | None
    load: Callable[[], np.ndarray]
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # a tensor that is listed but cannot be read
    line: int | None = None  # where it starts in a text file (for FILE:LINE messages)


class LazyState(State):
    """A state whose tensors are loaded by callables; ``on_close`` releases the source."""

    def __init__(
        self,
        path: str,
        format_name: str,
        tensors: Sequence[LazyTensor],
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.format_name = format_name
        self._loaders: dict[int, Callable[[], np.ndarray]] = {}
        self._on_close = on_close
        self._closed = False
        entries = []
        for tensor in tensors:
            entry = TensorEntry(
                name=tensor.name,
                shape=tensor.shape,
                dtype=tensor.dtype,
                encoding=None,
                line=tensor.line,
                metadata=dict(tensor.metadata),
                error=tensor.error,
            )
            self._loaders[id(entry)] = tensor.load
            entries.append(entry)
        super().__init__(path, entries)

    def _decode(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
        if self._closed:
            raise ValueError("the state is closed")
        return check_decoded(entry, self._loaders[id(entry)]())

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._on_close is not None:
                self._on_close()


def tensor_from_array(name: str, array: Any, metadata: dict[str, Any] | None = None) -> LazyTensor:
    """A LazyTensor for an array already in memory (or anything ``np.asarray`` takes)."""
    value = np.asarray(array)
    return LazyTensor(name, value.shape, value.dtype, lambda: value, dict(metadata or {}))


def unreadable() -> np.ndarray:
    """The loader of a tensor listed with an error: never called, since a read of a bad
    entry stops at its error; raises if it ever is."""
    raise ValueError("the tensor has a bad row")
