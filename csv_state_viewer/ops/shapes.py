"""Tensor shapes taken from a model or another state (``--like``, "Take shapes from a model…";
:func:`csv_state_viewer.ops.opening.open_like` opens a file this way).

Layouts without shapes (one ``np.savetxt`` matrix per layer, conv kernels flattened to
2-D; unnamed rows) get the model's shapes by order: the i-th weight of the state takes
the shape of the i-th weight of the model when their element counts agree, and the state
says which tensors were reshaped. A file of unnamed rows is cut into tensors named and
shaped as the model's weights.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from csv_state_viewer.core.errors import RowError
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.core.state import State, TensorEntry

Shapes = list[tuple[str, tuple[int, ...]]]


def weight_shapes(like: State) -> Shapes:
    """(name, shape) of the weights of ``like`` (a model's or a state's), in its order;
    optimizer variables are left out."""
    return [
        (e.name, tuple(e.shape))
        for e in like.entries
        if e.ok and e.shape is not None and e.metadata.get("role", "weight") == "weight"
    ]


class ReshapedState(State):
    """Another state's tensors, some of them under new shapes (same element count)."""

    def __init__(self, inner: State, shapes: dict[int, tuple[int, ...]]) -> None:
        self.inner = inner
        self.format_name = inner.format_name
        self._sources: dict[int, TensorEntry] = {}
        entries = []
        for entry in inner.entries:
            shape = shapes.get(id(entry))
            made = replace(entry, shape=shape) if shape is not None else replace(entry)
            self._sources[id(made)] = entry
            entries.append(made)
        super().__init__(inner.path, entries)
        self.notes = list(inner.notes)

    def _decode(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
        try:
            array = self.inner.read(self._sources[id(entry)], progress)
        except RowError as err:
            raise ValueError(err.problem.message) from None
        return array.reshape(entry.shape) if entry.shape is not None else array

    def close(self) -> None:
        self.inner.close()


def reshape_like(state: State, shapes: Shapes) -> State:
    """``state`` with its weights shaped as ``shapes`` by order, where the sizes agree."""
    weights = [e for e in state.entries if e.ok and e.metadata.get("role", "weight") == "weight"]
    new: dict[int, tuple[int, ...]] = {}
    notes: list[str] = []
    for entry, (target, shape) in zip(weights, shapes, strict=False):
        if entry.shape == shape:
            continue
        if entry.shape is not None and math.prod(entry.shape) == math.prod(shape):
            new[id(entry)] = shape
            notes.append(
                f"{entry.name}: reshaped {list(entry.shape)} -> {list(shape)} (as {target})"
            )
        else:
            notes.append(
                f"{entry.name}: {entry.size} values, {target} has {math.prod(shape)}: not reshaped"
            )
    if len(weights) != len(shapes):
        notes.append(f"the state has {len(weights)} weights, the model {len(shapes)}")
    reshaped = ReshapedState(state, new)
    reshaped.notes += notes
    return reshaped
