"""csv-state-viewer: inspect, validate and convert neural-network training state stored as CSV.

The public API is re-exported here; see the README for the format specification.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from csv_state_viewer.bridge import formats as _bridge_formats
from csv_state_viewer.core.api import load_state, open_state, save_state
from csv_state_viewer.core.errors import (
    BadRowsError,
    CsvStateError,
    NotAStateError,
    RowError,
    RowProblem,
    StateWriteError,
    UnsupportedFormatError,
)
from csv_state_viewer.core.progress import Cancelled, Progress
from csv_state_viewer.core.registry import add_provider as _add_provider
from csv_state_viewer.core.state import State, TensorEntry

if TYPE_CHECKING:
    from csv_state_viewer.bridge.callback import CsvStateCheckpoint
    from csv_state_viewer.bridge.training import (
        Restored,
        restore_training_state,
        save_training_state,
    )

# Saving a live model's training state needs Keras: imported on first use, so reading a
# CSV never loads the bridge's TensorFlow side.
_TRAINING = frozenset({"Restored", "restore_training_state", "save_training_state"})
_CALLBACK = frozenset({"CsvStateCheckpoint"})  # a keras.callbacks.Callback: imports Keras


def __getattr__(name: str) -> Any:
    if name in _TRAINING:
        return getattr(importlib.import_module("csv_state_viewer.bridge.training"), name)
    if name in _CALLBACK:
        return getattr(importlib.import_module("csv_state_viewer.bridge.callback"), name)
    raise AttributeError(f"module 'csv_state_viewer' has no attribute {name!r}")


# The TensorFlow/Keras formats join the one registry; TensorFlow loads only when used.
_add_provider(_bridge_formats.register_all)

__version__ = "0.1.0"

__all__ = [
    "BadRowsError",
    "Cancelled",
    "CsvStateCheckpoint",
    "CsvStateError",
    "NotAStateError",
    "Progress",
    "Restored",
    "RowError",
    "RowProblem",
    "State",
    "StateWriteError",
    "TensorEntry",
    "UnsupportedFormatError",
    "__version__",
    "load_state",
    "open_state",
    "restore_training_state",
    "save_state",
    "save_training_state",
]
