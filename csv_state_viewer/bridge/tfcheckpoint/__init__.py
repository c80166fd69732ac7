"""TensorFlow checkpoints (and a SavedModel's variables) as states, and states as checkpoints.

By job: :mod:`.locate` finds the checkpoint a path names (and sniffs, without
TensorFlow), :mod:`.naming` names the tensors and gives them roles, :mod:`.read` opens a
checkpoint as a lazy state, :mod:`.write` writes a state as a checkpoint.
"""

from __future__ import annotations

from csv_state_viewer.bridge.tfcheckpoint.locate import (
    looks_like_saved_model,
    looks_like_tf_checkpoint,
    prefix_for_writing,
)
from csv_state_viewer.bridge.tfcheckpoint.read import open_tf_checkpoint
from csv_state_viewer.bridge.tfcheckpoint.write import place_checkpoint, save_tf_checkpoint

__all__ = [
    "looks_like_saved_model",
    "looks_like_tf_checkpoint",
    "open_tf_checkpoint",
    "place_checkpoint",
    "prefix_for_writing",
    "save_tf_checkpoint",
]
