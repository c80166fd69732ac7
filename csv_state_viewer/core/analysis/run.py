"""A run: the states one training saved over time (one file per epoch or step), in order.

A run is given as files, glob patterns or a folder (its state files, not its
subfolders). Its states are ordered by the optimizer's step count when every state holds
one (``iteration``, ``iterations``, ``global_step``...: a scalar integer the roles call an
optimizer scalar or counter), otherwise in natural file order (``epoch_2`` before
``epoch_10``). Only indexes and that one scalar are read.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from csv_state_viewer.core.analysis.roles import COUNTER, OPTIMIZER_SCALAR, kind_of
from csv_state_viewer.core.errors import CsvStateError, RowError
from csv_state_viewer.core.layouts.folderstate import natural_key, without_companions
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.state import State, TensorEntry

# Names (last segment, lower case) of a step count, most telling first.
STEP_NAMES = ("iteration", "iterations", "global_step", "step")
_SKIPPED_PARTS = (".data-",)  # a checkpoint's data shards: its .index is the state
T = TypeVar("T")


@dataclass(frozen=True)
class RunMember:
    """One state of a run: its file and the step it was saved at (None when unknown)."""

    path: str
    step: int | None


def run_paths(arguments: Sequence[str]) -> list[str]:
    """The state files that ``arguments`` (files, glob patterns, folders) name, each once.

    A folder gives the files directly in it whose extension a registered format reads
    (hidden files, checkpoint data shards and companion files such as ``k.npy.json``
    left out), in natural order. A pattern that matches nothing, or a missing file, is a
    :class:`CsvStateError`.
    """
    found: list[str] = []
    for argument in arguments:
        if os.path.isdir(argument):
            found += _folder_states(argument)
        elif glob.has_magic(argument):
            matches = sorted(glob.glob(argument), key=lambda p: natural_key(os.path.basename(p)))
            if not matches:
                raise CsvStateError(f"{argument}: no file matches")
            found += [m for m in matches if not os.path.isdir(m)]
        elif os.path.exists(argument) or os.path.exists(argument + ".index"):
            found.append(argument)
        else:
            raise CsvStateError(f"{argument}: no such file or directory")
    unique = list(dict.fromkeys(os.path.normpath(p) for p in found))
    if not unique:
        raise CsvStateError(f"{', '.join(arguments)}: no state files")
    return unique


def _folder_states(folder: str) -> list[str]:
    from csv_state_viewer.core.registry import formats

    readable = [f for f in formats() if f.open is not None and f.extensions]
    with os.scandir(folder) as entries:
        files = [
            os.path.join(folder, e.name)
            for e in entries
            if e.is_file()
            and not e.name.startswith(".")
            and not any(part in e.name.lower() for part in _SKIPPED_PARTS)
        ]
    kept = [
        p
        for p in without_companions(files, readable)
        if any(f.matches_extension(p) for f in readable)
    ]
    return sorted(kept, key=lambda p: natural_key(os.path.basename(p)))


def counts_steps(entry: TensorEntry) -> bool:
    """Whether ``entry`` may count steps: a good scalar integer that the roles call an
    optimizer scalar or a counter."""
    return (
        entry.ok
        and entry.size == 1
        and entry.dtype is not None
        and entry.dtype.kind in "iu"
        and kind_of(entry) in (OPTIMIZER_SCALAR, COUNTER)
    )


def step_entry(state: State) -> TensorEntry | None:
    """The scalar integer that counts the optimizer's steps, if the state holds one."""
    candidates = [e for e in state.entries if counts_steps(e)]
    for wanted in STEP_NAMES:
        for entry in candidates:
            if entry.name.rsplit("/", 1)[-1].lower() == wanted:
                return entry
    return None


def step_of(state: State) -> int | None:
    """The optimizer's step count saved in ``state`` (None when it holds none)."""
    entry = step_entry(state)
    if entry is None:
        return None
    try:
        return int(np.asarray(state.read(entry)).reshape(-1)[0])
    except RowError:
        return None


def order_run(
    paths: Sequence[str],
    progress: Progress = NO_PROGRESS,
    opener: Callable[[str], State] | None = None,
) -> list[RunMember]:
    """The states of ``paths`` (see :func:`run_paths`) in training order: by step when
    every state has one, else as given (natural order). Opens each state's index only,
    with ``opener`` (front ends pass one that reads Keras files in the TensorFlow worker)."""
    from csv_state_viewer.core.api import open_state

    open_one = opener or open_state
    members = []
    for index, path in enumerate(paths):
        check_cancelled(progress)
        with open_one(path) as state:
            members.append(RunMember(path, step_of(state)))
        progress.report(index + 1, len(paths))
    return in_training_order(members, lambda m: m.step)


def in_training_order(items: list[T], step: Callable[[T], int | None]) -> list[T]:
    """``items`` sorted by their ``step`` when every one has a step, else as given; the
    sort is stable (equal steps keep the given order)."""
    if all(step(item) is not None for item in items):
        return sorted(items, key=lambda item: step(item) or 0)
    return list(items)
