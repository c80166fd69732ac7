"""Registration of the TensorFlow and Keras formats (no TensorFlow import until used).

Reading: TensorFlow checkpoints (prefix, ``.index``, folder), SavedModel folders, Keras 3
``.keras`` and ``.weights.h5``, legacy Keras ``.h5``. Writing: a checkpoint prefix (each
tensor a variable under its own name, or with ``model`` the model's own checkpoint), and
``.keras`` / ``.weights.h5`` through a model.

Checkpoints and SavedModels are read by our own parser (:mod:`csv_state_viewer.core.tfbundle`),
in the calling process; only writing them needs TensorFlow (and the worker).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from csv_state_viewer.core.format import Format
from csv_state_viewer.core.registry import register_format
from csv_state_viewer.core.tensors import Tensors

MODEL_OPTIONS = ("model", "match", "allow_partial", "unsafe")


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """``csv_state_viewer.bridge.<module>.<name>``, imported on first call: importing
    the package (to open a CSV) does not load the readers."""

    def call(*args: Any, **kwargs: Any) -> Any:
        found = importlib.import_module(f"csv_state_viewer.bridge.{module}")
        return getattr(found, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def _save_checkpoint(path: str, tensors: Tensors, **options: Any) -> int:
    if options.get("model") is not None:
        return _save_model(path, tensors, **options)
    for key in MODEL_OPTIONS:
        options.pop(key, None)
    save: Callable[..., int] = _lazy("tfcheckpoint", "save_tf_checkpoint")
    return save(path, tensors, **options)


_save_model: Callable[..., int] = _lazy("apply", "save_into_model")


def register_all() -> None:
    register_format(
        Format(
            name="tf-checkpoint",
            description="TensorFlow checkpoint (prefix, its .index file, or its folder)",
            label="TensorFlow checkpoint",
            extensions=(".index", ".ckpt"),
            binary=True,
            sniff=_lazy("tfcheckpoint", "looks_like_tf_checkpoint"),
            open=_lazy("tfcheckpoint", "open_tf_checkpoint"),
            save=_save_checkpoint,
            save_options=MODEL_OPTIONS,
            reads_with_tensorflow=False,
            writes_with_tensorflow=True,
            takes_model=True,
            writes_prefix=True,
            marker_suffix=".index",
        )
    )
    register_format(
        Format(
            name="savedmodel",
            description="TensorFlow SavedModel folder (its variables)",
            label="TensorFlow SavedModel",
            extensions=(),
            binary=True,
            sniff=_lazy("tfcheckpoint", "looks_like_saved_model"),
            open=_lazy("tfcheckpoint", "open_tf_checkpoint"),
        )
    )
    register_format(
        Format(
            name="keras",
            description="Keras 3 model archive (.keras)",
            label="Keras model",
            extensions=(".keras",),
            binary=True,
            holds_model=True,
            sniff=_lazy("kerasfiles", "looks_like_keras"),
            open=_lazy("kerasfiles", "open_keras_file"),
            save=_save_model,
            save_options=MODEL_OPTIONS,
            needs_tensorflow=True,
            needs_model=True,
            takes_model=True,
            one_at_a_time=True,
        )
    )
    register_format(
        Format(
            name="keras-weights",
            description="Keras 3 weights file (.weights.h5)",
            label="Keras weights",
            extensions=(".weights.h5",),
            binary=True,
            sniff=_lazy("kerasfiles", "looks_like_keras_h5"),
            open=_lazy("kerasfiles", "open_keras_file"),
            save=_save_model,
            save_options=MODEL_OPTIONS,
            needs_tensorflow=True,
            needs_model=True,
            takes_model=True,
            one_at_a_time=True,
        )
    )
    register_format(
        Format(
            name="keras-h5",
            description="legacy Keras HDF5 model or weights (.h5)",
            label="Keras HDF5 (legacy)",
            holds_model=True,
            needs_tensorflow=True,
            one_at_a_time=True,
            extensions=(".h5", ".hdf5"),
            binary=True,
            sniff=_lazy("kerasfiles", "looks_like_keras_h5"),
            open=_lazy("kerasfiles", "open_keras_file"),
        )
    )
