"""Some tensors of a state as a state of their own: what ``convert --tensor NAME`` writes.

A name picks the tensor of that name, or every tensor of the scope it names
(``dense`` picks ``dense/kernel`` and ``dense/bias``), in the state's order. The selection
reads through the state it was made from and closes it when closed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from csv_state_viewer.core.errors import CsvStateError, RowError
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.core.state import State, TensorEntry


def chosen_entries(state: State, names: Sequence[str]) -> list[TensorEntry]:
    """The entries ``names`` pick, in the state's order; an unknown name is an error."""
    picked: set[int] = set()
    for name in names:
        scope = name.rstrip("/") + "/"
        found = [e for e in state.entries if e.name == name or e.name.startswith(scope)]
        if not found:
            raise CsvStateError(f"{state.path}: no tensor or scope named {name!r}")
        picked.update(id(e) for e in found)
    return [e for e in state.entries if id(e) in picked]


class Selection(State):
    """The entries of ``state`` that ``names`` pick (see :func:`chosen_entries`)."""

    def __init__(self, state: State, names: Sequence[str]) -> None:
        self._state = state
        self.format_name = state.format_name
        super().__init__(state.path, chosen_entries(state, names))
        self.notes = list(state.notes)

    def _decode(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
        try:
            return self._state.read(entry, progress)
        except RowError as err:  # the source's problem, as this state's bad row
            raise ValueError(err.problem.message) from None

    def close(self) -> None:
        self._state.close()


def select(state: State, names: Sequence[str]) -> State:
    """``state`` itself when no names are given, else the :class:`Selection` of them."""
    return Selection(state, names) if names else state
