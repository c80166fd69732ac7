"""Reading a TensorFlow checkpoint (or a SavedModel's variables) as a lazy state.

:func:`open_tf_checkpoint` opens the checkpoint any of the paths of
:mod:`~csv_state_viewer.bridge.tfcheckpoint.locate` names with our own reader
(:mod:`csv_state_viewer.core.tfbundle`: no TensorFlow is imported, and no file can abort
the process), and names its tensors and gives them roles by the rules of
:mod:`~csv_state_viewer.bridge.tfcheckpoint.naming`. Tensors are loaded one at a time, on
demand, each checked against its checksum.

dtypes: TensorFlow's types become NumPy's; bfloat16, float8 (``e4m3fn``, ``e5m2`` and the
``fnuz`` variants), ``int4``/``uint4``/``int2``/``uint2`` and ``float4_e2m1fn`` come back as
``ml_dtypes`` arrays; quantized types (``qint8``...) are read as their integer type with
``tf_dtype`` in the metadata. String, resource and variant tensors are listed with an
error: shown, never read. So is a tensor whose index entry cannot be trusted (a negative
or absurd shape, bytes outside its data file, a partitioned variable): a bad row, while
the rest of the checkpoint opens.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from csv_state_viewer.bridge.tfcheckpoint.locate import _checkpoint_files, _locate
from csv_state_viewer.bridge.tfcheckpoint.naming import (
    GRAPH_KEY,
    _name_based_specs,
    _object_specs,
    _role_of_key,
    _Spec,
    _strip_key,
)
from csv_state_viewer.core.lazystate import LazyState, LazyTensor
from csv_state_viewer.core.openfiles import register, unregister
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.tfbundle import (
    Bundle,
    Entry,
    TensorReadError,
    TrackableObjectGraph,
    WireError,
    open_bundle,
    parse_graph,
)


def _parse_graph(bundle: Bundle, entry: Entry | None) -> TrackableObjectGraph | None:
    """The object graph, or None when there is none or it is damaged (the keys still
    name the tensors)."""
    if entry is None or entry.shape != ():
        return None
    try:
        graph = parse_graph(bundle.read_strings(entry)[0])
    except (TensorReadError, WireError):
        return None
    return graph if graph.nodes else None


def _specs(bundle: Bundle, keys: list[str], graph_entry: Entry | None) -> list[_Spec]:
    graph = _parse_graph(bundle, graph_entry)
    if graph is not None:
        return _object_specs(graph, keys)
    if graph_entry is None:
        return _name_based_specs(keys)
    specs = []
    for key in keys:
        if key != GRAPH_KEY:
            role, rank = _role_of_key(key)
            specs.append(_Spec(key, _strip_key(key), {**role, "checkpoint_key": key}, rank))
    specs.sort(key=lambda s: s.rank)
    return specs


class _Shared:
    """The open checkpoint of a state, shared by its loaders, closed once."""

    def __init__(self, bundle: Bundle, files: list[str]) -> None:
        self.bundle = bundle
        self._keys = [register(f) for f in files]

    def loader(self, entry: Entry) -> Callable[[], np.ndarray]:
        return lambda: self.bundle.read(entry)

    def close(self) -> None:
        self.bundle.close()
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
    bundle = open_bundle(prefix, path)
    try:
        by_key = {entry.key: entry for entry in bundle.entries}
        specs = _specs(bundle, sorted(by_key), by_key.get(GRAPH_KEY))
        shared = _Shared(bundle, _checkpoint_files(prefix))
    except BaseException:
        bundle.close()
        raise
    tensors = []
    try:
        for index, spec in enumerate(specs):
            check_cancelled(progress)
            entry = by_key[spec.key]
            metadata = {**spec.metadata, **entry.metadata}
            if entry.error is not None or entry.dtype is None:
                error = entry.error or "this tensor cannot be read"
                tensors.append(
                    LazyTensor(spec.name, entry.shape, None, _unreadable, metadata, error)
                )
            else:
                loader = shared.loader(entry)
                tensors.append(LazyTensor(spec.name, entry.shape, entry.dtype, loader, metadata))
            progress.report(index + 1, len(specs))
    except BaseException:
        shared.close()
        raise
    return LazyState(path, format_name, tensors, on_close=shared.close)


def _unreadable() -> np.ndarray:
    raise ValueError("this tensor cannot be read")
