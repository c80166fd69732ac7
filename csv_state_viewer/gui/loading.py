"""Opening a state for the viewer, in a worker: the lazy state and its tree."""

from __future__ import annotations

import os
import threading

from csv_state_viewer.core.analysis.tree import Node, build_tree
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.core.registry import format_for_reading
from csv_state_viewer.core.state import State
from csv_state_viewer.gui.tfready import TF_FREE

# The TensorFlow/Keras readers are not safe to run in parallel (Keras's warning capture
# is process-global), so such files open one at a time; CSV and .npz never wait.
_LIBRARY_LOCK = threading.Lock()


def open_tree(path: str, progress: Progress) -> tuple[State, Node]:
    fmt = format_for_reading(path)
    assert fmt.open is not None
    if fmt.name in TF_FREE:
        state = fmt.open(path, progress)
    else:
        with _LIBRARY_LOCK:
            state = fmt.open(path, progress)
    try:
        return state, build_tree(state, os.path.basename(path.rstrip("/\\")) or path)
    except BaseException:
        state.close()
        raise
