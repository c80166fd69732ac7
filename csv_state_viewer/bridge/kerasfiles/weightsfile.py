"""Keras HDF5 files: Keras 3 weights files ``*.weights.h5`` (format ``keras-weights``).

:func:`looks_like_keras_h5` accepts every Keras HDF5 file; :func:`_open_h5` tells them
apart by content: a ``layer_names`` attribute or a ``model_weights`` group is a legacy
Keras 2 file (:mod:`~csv_state_viewer.bridge.kerasfiles.legacy`), a ``vars`` group a
Keras 3 weights file.

A Keras 3 weights file has no model configuration, so its names are structural (see
:mod:`~csv_state_viewer.bridge.kerasfiles.h5source`): the HDF5 path of each dataset,
``layers/<layer key>/vars/<i>``, ``vars/<i>``, ``optimizer/vars/<i>``... Given ``model=``,
the weights are loaded into that model (``model.load_weights``; an unbuilt optimizer of a
compiled model is built first) and the real names are returned.
"""

from __future__ import annotations

import os
from typing import Any

from csv_state_viewer.bridge.kerasfiles.h5source import (
    _closed_on_error,
    _H5Source,
    _hard_child,
    _has_vars_group,
    _structural_tensors,
)
from csv_state_viewer.bridge.kerasfiles.legacy import FORMAT_KERAS_H5, _legacy_tensors
from csv_state_viewer.bridge.kerasfiles.rebuild import (
    _load_weights_into,
    _model_state,
    _NotRebuilt,
)
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.lazystate import LazyState
from csv_state_viewer.core.progress import Progress

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
H5_EXTENSIONS = (".h5", ".hdf5")
FORMAT_KERAS_WEIGHTS = "keras-weights"


def looks_like_keras_h5(path: str, head: bytes) -> bool:
    """An HDF5 file (signature at offset 0) named ``*.h5``, ``*.hdf5`` or ``*.weights.h5``."""
    return head.startswith(HDF5_MAGIC) and os.fspath(path).lower().endswith(H5_EXTENSIONS)


def _open_h5(path: str, progress: Progress, model: Any) -> LazyState:
    source = _H5Source.open(path)
    with _closed_on_error(source, path, "unreadable Keras HDF5 file"):
        root = source.file
        if "layer_names" in root.attrs or _hard_child(root, "model_weights") is not None:
            tensors = _legacy_tensors(root, progress)
            return LazyState(path, FORMAT_KERAS_H5, tensors, on_close=source.close)
        if not _has_vars_group(root):
            raise NotAStateError(
                path, "an HDF5 file but not a Keras weights file (no layer_names or vars)"
            )
        if model is not None:
            try:
                _load_weights_into(model, path, source)
            except _NotRebuilt as err:
                reason = err.reason
            else:
                return _model_state(
                    path, FORMAT_KERAS_WEIGHTS, model, source, progress, optimizer_class=None
                )
        else:
            reason = "a weights file has no model configuration; pass a model for real names"
        tensors = _structural_tensors(root, progress, reason, None)
        return LazyState(path, FORMAT_KERAS_WEIGHTS, tensors, on_close=source.close)
