"""Open a state for a front end: in this process, or through the TensorFlow worker."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from csv_state_viewer.core import api
from csv_state_viewer.core.analysis.tree import Node, build_tree
from csv_state_viewer.core.errors import CsvStateError, NotAStateError, UnsupportedFormatError
from csv_state_viewer.core.layouts.unnamed import split_rows
from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.registry import format_for_reading
from csv_state_viewer.core.state import State
from csv_state_viewer.ops.isolation import isolating
from csv_state_viewer.ops.shapes import reshape_like, weight_shapes

# Readers that must not run in parallel (Keras's warning capture is process-global) take
# turns when they run in this process; in the worker, requests take turns anyway.
_ONE_AT_A_TIME = threading.Lock()


def open_state(
    path: str, progress: Progress = NO_PROGRESS, layout: str | None = None, **options: Any
) -> State:
    """Open ``path`` lazily, as :func:`csv_state_viewer.open_state` does, but with
    formats whose reader needs TensorFlow (Keras files) opened in the worker process
    (reads go there too; checkpoints are read here). ``layout`` names the format when the
    content fits several."""
    path = os.fspath(path)
    fmt = format_for_reading(path, layout)
    isolate = isolating(reads=(fmt,))
    if options and isolate:
        raise UnsupportedFormatError(f"{path}: the {fmt.name} format has no reading options")
    if isolate:
        from csv_state_viewer.ops.tfworker import shared_worker

        return shared_worker().open_state(path, progress)
    if fmt.one_at_a_time:
        with _ONE_AT_A_TIME:
            return api.open_state(path, progress, fmt.name, **options)
    return api.open_state(path, progress, fmt.name, **options)


def open_like(
    path: str,
    like: str,
    progress: Progress = NO_PROGRESS,
    layout: str | None = None,
    **options: Any,
) -> State:
    """Open ``path`` with the weight shapes of ``like`` (a model or a state) by order,
    where the element counts agree; a file of unnamed rows (which nothing reads without
    shapes) is cut into the model's tensors. What was reshaped is in ``state.notes``."""
    with open_state(like, progress) as model:
        shapes = weight_shapes(model)
    try:
        state = open_state(path, progress, layout, **options)
    except NotAStateError as refused:
        try:
            state = split_rows(path, shapes)
        except CsvStateError:
            raise refused from None
        state.notes.append(f"unnamed rows cut into the {len(shapes)} weights of {like}")
        return state
    return reshape_like(state, shapes)


@dataclass
class Opened:
    """A state opened for viewing, with its tensor tree."""

    state: State
    root: Node


def open_for_viewing(
    path: str,
    progress: Progress = NO_PROGRESS,
    layout: str | None = None,
    like: str | None = None,
    **options: Any,
) -> Opened:
    """The state at ``path`` (as ``layout``, shaped ``like`` a model when given) and its tree."""
    state = (
        open_like(path, like, progress, layout, **options)
        if like
        else open_state(path, progress, layout, **options)
    )
    return _viewed(state, os.path.basename(path.rstrip("/\\")) or path)


def open_together_for_viewing(
    paths: list[str], progress: Progress = NO_PROGRESS, **options: Any
) -> Opened:
    """Several files chosen or dropped together as one state (one tensor per file)."""
    from csv_state_viewer.core.formats.folder import open_files_state

    state = open_files_state(paths, progress, **options)
    folder = os.path.basename(os.path.normpath(state.path)) or state.path
    return _viewed(state, f"{len(paths)} files in {folder}")


def _viewed(state: State, label: str) -> Opened:
    """``state`` with its tree under ``label``; the state is closed if that fails."""
    try:
        return Opened(state, build_tree(state, label))
    except BaseException:
        state.close()
        raise
