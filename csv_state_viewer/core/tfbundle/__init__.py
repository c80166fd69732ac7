"""TensorFlow checkpoints (tensor bundles) read in pure Python and NumPy, no TensorFlow.

By layer: :mod:`.crc32c` (checksums), :mod:`.wire` (protocol buffer wire format),
:mod:`.table` (the ``.index`` file's sorted string table), :mod:`.protos` (the bundle's
header and entries, the object graph), :mod:`.dtypes` (TensorFlow types as NumPy's),
:mod:`.entries` (each tensor's declaration, checked), :mod:`.slices` (partitioned
variables), :mod:`.reader` (the open checkpoint), :mod:`.statefile` (a training
directory's ``checkpoint`` file).

Nothing here imports TensorFlow, protobuf or Qt, and no input makes it do more than raise
:class:`~csv_state_viewer.core.errors.NotAStateError` (the file) or mark one tensor bad.
"""

from __future__ import annotations

from csv_state_viewer.core.tfbundle.entries import Entry
from csv_state_viewer.core.tfbundle.protos import TrackableObjectGraph, WireError, parse_graph
from csv_state_viewer.core.tfbundle.reader import Bundle, TensorReadError, data_file, open_bundle
from csv_state_viewer.core.tfbundle.statefile import StateFileError, latest_checkpoint

__all__ = [
    "Bundle",
    "Entry",
    "StateFileError",
    "TensorReadError",
    "TrackableObjectGraph",
    "WireError",
    "data_file",
    "latest_checkpoint",
    "open_bundle",
    "parse_graph",
]
