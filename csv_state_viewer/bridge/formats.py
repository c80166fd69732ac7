"""Registration of the TensorFlow and Keras formats (no TensorFlow import until used).

Reading: TensorFlow checkpoints (prefix, ``.index``, folder), SavedModel folders, Keras 3
``.keras`` and ``.weights.h5``, legacy Keras ``.h5``. Writing: a checkpoint prefix (each
tensor a variable under its own name, or with ``model`` the model's own checkpoint), and
``.keras`` / ``.weights.h5`` through a model.
"""

from __future__ import annotations

from typing import Any

from csv_state_viewer.bridge import kerasfiles, tfcheckpoint
from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.registry import Format, register_format
from csv_state_viewer.core.state import State
from csv_state_viewer.core.tensors import Tensors

MODEL_OPTIONS = ("model", "match", "allow_partial", "unsafe")


def _open_checkpoint(path: str, progress: Progress = NO_PROGRESS) -> State:
    return tfcheckpoint.open_tf_checkpoint(path, progress)


def _open_keras(path: str, progress: Progress = NO_PROGRESS) -> State:
    return kerasfiles.open_keras_file(path, progress)


def _save_checkpoint(path: str, tensors: Tensors, **options: Any) -> int:
    if options.get("model") is not None:
        return _save_model(path, tensors, **options)
    for key in MODEL_OPTIONS:
        options.pop(key, None)
    return tfcheckpoint.save_tf_checkpoint(path, tensors, **options)


def _save_model(path: str, tensors: Tensors, **options: Any) -> int:
    from csv_state_viewer.bridge.apply import save_into_model

    return save_into_model(path, tensors, **options)


def register_all() -> None:
    register_format(
        Format(
            name="tf-checkpoint",
            description="TensorFlow checkpoint (prefix, its .index file, or its folder)",
            extensions=(".index", ".ckpt"),
            sniff=tfcheckpoint.looks_like_tf_checkpoint,
            open=_open_checkpoint,
            save=_save_checkpoint,
            save_options=MODEL_OPTIONS,
            writes_prefix=True,
        )
    )
    register_format(
        Format(
            name="savedmodel",
            description="TensorFlow SavedModel folder (its variables)",
            extensions=(),
            sniff=tfcheckpoint.looks_like_saved_model,
            open=_open_checkpoint,
        )
    )
    register_format(
        Format(
            name="keras",
            description="Keras 3 model archive (.keras); writing needs --model",
            extensions=(".keras",),
            sniff=kerasfiles.looks_like_keras,
            open=_open_keras,
            save=_save_model,
            save_options=MODEL_OPTIONS,
            needs_model=True,
        )
    )
    register_format(
        Format(
            name="keras-weights",
            description="Keras 3 weights file (.weights.h5); writing needs --model",
            extensions=(".weights.h5",),
            sniff=kerasfiles.looks_like_keras_h5,
            open=_open_keras,
            save=_save_model,
            save_options=MODEL_OPTIONS,
            needs_model=True,
        )
    )
    register_format(
        Format(
            name="keras-h5",
            description="legacy Keras HDF5 model or weights (.h5)",
            extensions=(".h5", ".hdf5"),
            sniff=kerasfiles.looks_like_keras_h5,
            open=_open_keras,
        )
    )
