"""Keras files as states: ``.keras`` archives, Keras 3 ``.weights.h5`` and legacy HDF5.

Three kinds of file are read, each with its own naming rule: a ``.keras`` archive
(format ``keras``, :mod:`.archive`: the model rebuilt by :mod:`.rebuild` names its
variables), a Keras 3 weights file ``*.weights.h5`` (format ``keras-weights``,
:mod:`.weightsfile`: structural names, see :mod:`.h5source`, or a given model's names) and
a legacy Keras 2 HDF5 file ``*.h5`` / ``*.hdf5`` (format ``keras-h5``, :mod:`.legacy`: the
weight names as written). :func:`open_keras_file` is the entry point for all three.
Anything that is not one of these files raises :class:`NotAStateError` with one line.
"""

from __future__ import annotations

import os
from typing import Any

from csv_state_viewer.bridge.kerasfiles.archive import ZIP_MAGIC, _open_archive, looks_like_keras
from csv_state_viewer.bridge.kerasfiles.legacy import legacy_slot_owner
from csv_state_viewer.bridge.kerasfiles.reasons import _one_line
from csv_state_viewer.bridge.kerasfiles.weightsfile import (
    HDF5_MAGIC,
    _open_h5,
    looks_like_keras_h5,
)
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.lazystate import LazyState
from csv_state_viewer.core.progress import NO_PROGRESS, Progress

__all__ = ["legacy_slot_owner", "looks_like_keras", "looks_like_keras_h5", "open_keras_file"]


def open_keras_file(
    path: str | os.PathLike[str], progress: Progress = NO_PROGRESS, model: Any = None
) -> LazyState:
    """Open a ``.keras`` archive, a Keras 3 ``.weights.h5`` or a legacy Keras HDF5 file.

    ``model`` (a built Keras 3 model) is used for Keras 3 weights files only: the weights
    are loaded into it and its real variable names are returned. It is ignored otherwise.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise NotAStateError(path, "a directory, not a Keras file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(HDF5_MAGIC))
    except OSError as err:
        raise NotAStateError(path, err.strerror or _one_line(err)) from None
    if head.startswith(ZIP_MAGIC):
        return _open_archive(path, progress)
    if head.startswith(HDF5_MAGIC):
        return _open_h5(path, progress, model)
    raise NotAStateError(path, "not a Keras file (neither a .keras zip archive nor HDF5)")
