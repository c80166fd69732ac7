"""Reading a TensorFlow checkpoint (or a SavedModel's variables) as a lazy state.

:func:`open_tf_checkpoint` opens the checkpoint any of the paths of
:mod:`~csv_state_viewer.bridge.tfcheckpoint.locate` names, and names its tensors and gives
them roles by the rules of :mod:`~csv_state_viewer.bridge.tfcheckpoint.naming`. Tensors
are loaded one at a time, on demand.

dtypes: TensorFlow's types become NumPy's (``DType.as_numpy_dtype``); bfloat16, float8
(``e4m3fn``, ``e5m2`` and the ``fnuz`` variants), ``int4``/``uint4``/``int2``/``uint2``
and ``float4_e2m1fn`` come back as ``ml_dtypes`` arrays; quantized types (``qint8``...)
are read as their integer type with ``tf_dtype`` in the metadata. String, resource and
variant tensors are listed with an error: shown, never read.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.tfcheckpoint.locate import (
    _DATA_FILE,
    _checkpoint_files,
    _locate,
    _one_line,
)
from csv_state_viewer.bridge.tfcheckpoint.naming import (
    GRAPH_KEY,
    _name_based_specs,
    _object_specs,
    _role_of_key,
    _Spec,
    _strip_key,
)
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.lazystate import LazyState, LazyTensor
from csv_state_viewer.core.openfiles import register, unregister
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled


def _parse_graph(reader: Any) -> Any | None:
    tfimport.tensorflow()
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    try:
        graph.ParseFromString(reader.get_tensor(GRAPH_KEY))
    except Exception:  # a damaged graph: the keys still name the tensors
        return None
    return graph if graph.nodes else None


# ------------------------------------------------------------------------- reading
def _numpy_dtype(tf_dtype: Any) -> tuple[np.dtype | None, str | None, dict[str, Any]]:
    """(dtype, error, extra metadata) of a checkpoint tensor's TensorFlow type."""
    tf_dtype = getattr(tf_dtype, "base_dtype", tf_dtype)
    name = getattr(tf_dtype, "name", str(tf_dtype))
    unreadable = f"a {name} tensor is not numeric: it is listed but cannot be read"
    if name in ("string", "resource", "variant"):
        return None, unreadable, {}
    try:
        dtype = np.dtype(tf_dtype.as_numpy_dtype)
    except (TypeError, ValueError, AttributeError):
        return None, unreadable, {}
    if getattr(tf_dtype, "is_quantized", False) and dtype.fields:
        return dtype[0], None, {"tf_dtype": name}
    if dtype.kind in "OSUVMm" and dtype.type.__module__ != "ml_dtypes":
        return None, unreadable, {}
    return dtype, None, {}


class _Reader:
    """The CheckpointReader of an open state, shared by its loaders, closed once."""

    def __init__(self, reader: Any, files: list[str]) -> None:
        self._reader: Any = reader
        self._lock = threading.Lock()
        self._keys = [register(f) for f in files]

    def loader(self, key: str, dtype: np.dtype) -> Callable[[], np.ndarray]:
        def load() -> np.ndarray:
            with self._lock:
                if self._reader is None:
                    raise ValueError("the state is closed")
                try:
                    value = self._reader.get_tensor(key)
                except Exception as err:  # OpError, IndexError on truncated data, ...
                    raise ValueError(
                        f"cannot read it from the checkpoint ({_one_line(err)})"
                    ) from None
            array = np.asarray(value)
            if array.dtype != dtype and array.dtype.itemsize == dtype.itemsize:
                array = array.view(dtype)
            return array

        return load

    def close(self) -> None:
        with self._lock:
            self._reader = None
        for key in self._keys:
            unregister(key)
        self._keys = []


def open_tf_checkpoint(path: str, progress: Progress = NO_PROGRESS) -> LazyState:
    """Open a TensorFlow checkpoint or a SavedModel's variables as a lazy state.

    See :mod:`~csv_state_viewer.bridge.tfcheckpoint.locate` for the accepted paths and
    :mod:`~csv_state_viewer.bridge.tfcheckpoint.naming` for the names and the roles. Raises
    :class:`NotAStateError` (one line) when ``path`` is no checkpoint or cannot be read.
    """
    path = os.fspath(path)
    prefix, format_name = _locate(path)
    tf = tfimport.tensorflow()
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except Exception as err:  # OpError, ValueError...: TensorFlow's message, one line
        raise NotAStateError(
            path, f"not a readable TensorFlow checkpoint ({_one_line(err)})"
        ) from None
    files = _checkpoint_files(prefix)
    if shapes and not any(_DATA_FILE.match(os.path.basename(f)) for f in files):
        raise NotAStateError(path, "the checkpoint's .data- files are missing")
    keys = sorted(shapes)
    graph = _parse_graph(reader) if GRAPH_KEY in shapes else None
    if graph is not None:
        specs = _object_specs(graph, keys)
    elif GRAPH_KEY in shapes:
        specs = []
        for key in keys:
            if key != GRAPH_KEY:
                role, rank = _role_of_key(key)
                specs.append(_Spec(key, _strip_key(key), {**role, "checkpoint_key": key}, rank))
        specs.sort(key=lambda s: s.rank)
    else:
        specs = _name_based_specs(keys)

    shared = _Reader(reader, files)
    tensors = []
    for index, spec in enumerate(specs):
        check_cancelled(progress)
        dtype, error, extra = _numpy_dtype(dtypes.get(spec.key))
        shape = tuple(int(d) for d in shapes.get(spec.key, ()))
        metadata = {**spec.metadata, **extra}
        if dtype is None:
            tensors.append(LazyTensor(spec.name, shape, None, _unreadable, metadata, error))
        else:
            tensors.append(
                LazyTensor(spec.name, shape, dtype, shared.loader(spec.key, dtype), metadata)
            )
        progress.report(index + 1, len(specs))
    return LazyState(path, format_name, tensors, on_close=shared.close)


def _unreadable() -> np.ndarray:
    raise ValueError("this tensor cannot be read")
