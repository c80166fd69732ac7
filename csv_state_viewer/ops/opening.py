"""Open a state for a front end: in this process, or through the TensorFlow worker."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from csv_state_viewer.core import api
from csv_state_viewer.core.analysis.tree import Node, build_tree
from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.registry import format_for_reading
from csv_state_viewer.core.state import State
from csv_state_viewer.ops.isolation import isolating

# Readers that must not run in parallel (Keras's warning capture is process-global) take
# turns when they run in this process; in the worker, requests take turns anyway.
_ONE_AT_A_TIME = threading.Lock()


def open_state(path: str, progress: Progress = NO_PROGRESS, layout: str | None = None) -> State:
    """Open ``path`` lazily, as :func:`csv_state_viewer.open_state` does, but with
    TensorFlow formats opened in the worker process (reads go there too). ``layout``
    names the format when the content fits several."""
    path = os.fspath(path)
    fmt = format_for_reading(path, layout)
    if isolating(fmt):
        from csv_state_viewer.ops.tfworker import shared_worker

        return shared_worker().open_state(path, progress)
    if fmt.one_at_a_time:
        with _ONE_AT_A_TIME:
            return api.open_state(path, progress, fmt.name)
    return api.open_state(path, progress, fmt.name)


@dataclass
class Opened:
    """A state opened for viewing, with its tensor tree."""

    state: State
    root: Node


def open_for_viewing(
    path: str, progress: Progress = NO_PROGRESS, layout: str | None = None
) -> Opened:
    state = open_state(path, progress, layout)
    try:
        return Opened(state, build_tree(state, os.path.basename(path.rstrip("/\\")) or path))
    except BaseException:
        state.close()
        raise
