"""Save and restore a live Keras model's whole training state, beyond what Keras saves.

:func:`save_training_state` writes the model's weights, its optimizer's variables, the
states of its random generators (what Dropout and other random layers draw next: no
Keras format carries them, so a model with Dropout saved by Keras does not resume
exactly) and optional counters of your own (``epoch``...) to any format ``csv-state``
writes (CSV, ``.npz``...). :func:`restore_training_state` writes such a state into a
model built in any process, with the same matching as ``csv-state apply`` (auto-numbered
names included), and returns the counters::

    save_training_state(model, "run/epoch-3.csv", counters={"epoch": 3})
    ...
    restored = restore_training_state(model, "run/epoch-3.csv")
    model.fit(x, y, initial_epoch=restored.counters["epoch"], ...)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from csv_state_viewer.bridge.apply import apply_state
from csv_state_viewer.bridge.kerasmodel import ROLE_COUNTER, named_variables, variable_value
from csv_state_viewer.bridge.mapping import MappingReport
from csv_state_viewer.core import api
from csv_state_viewer.core.errors import CsvStateError
from csv_state_viewer.core.progress import NO_PROGRESS, Progress

COUNTER_PREFIX = "counters/"


@dataclass
class Restored:
    """What :func:`restore_training_state` did: the mapping report and your counters."""

    report: MappingReport
    counters: dict[str, int] = field(default_factory=dict)


def save_training_state(
    model: Any,
    path: str | os.PathLike[str],
    *,
    counters: Mapping[str, int] | None = None,
    overwrite: bool = True,
    progress: Progress = NO_PROGRESS,
    **options: Any,
) -> int:
    """Write ``model``'s full training state to ``path`` (atomically; the format follows the
        extension; an existing file is replaced, as Keras's savers do, unless ``overwrite`` is
    false; ``options`` go to its writer, e.g. ``encoding="base64"`` for CSV). Returns
        the number of tensors written."""
    tensors: dict[str, np.ndarray] = {}
    metadata: dict[str, dict[str, Any]] = {}
    for item in named_variables(model, include_rng=True):
        tensors[item.name] = variable_value(item.variable)
        metadata[item.name] = dict(item.metadata)
    for key, value in (counters or {}).items():
        name = COUNTER_PREFIX + str(key)
        if name in tensors:
            raise CsvStateError(f"counter {key!r} is named like a variable of the model")
        tensors[name] = np.asarray(int(value), dtype=np.int64)
        metadata[name] = {"role": ROLE_COUNTER}
    return api.save_state(
        os.fspath(path),
        tensors,
        metadata=metadata,
        progress=progress,
        overwrite=overwrite,
        options=options,
    )


def restore_training_state(
    model: Any,
    path: str | os.PathLike[str],
    *,
    match: str = "auto",
    allow_partial: bool = False,
    progress: Progress = NO_PROGRESS,
) -> Restored:
    """Write the state at ``path`` into ``model`` (weights, optimizer, RNG states), all or
    nothing unless ``allow_partial``; raises :class:`~.apply.MappingError` on a refused
    mapping. Counters come back in :attr:`Restored.counters`."""
    with api.open_state(os.fspath(path)) as state:
        report = apply_state(
            state, model, match=match, allow_partial=allow_partial, progress=progress
        )
        counters = {
            entry.name[len(COUNTER_PREFIX) :]: int(state.read(entry))
            for entry in state.entries
            if entry.ok and entry.metadata.get("role") == ROLE_COUNTER
        }
    return Restored(report, counters)
