"""Legacy Keras 2 HDF5 files ``*.h5`` / ``*.hdf5`` (format ``keras-h5``).

A full model (``model_weights`` group, maybe ``optimizer_weights``) or weights only
(the root is the weights group). Each layer listed in the ``layer_names`` attribute is
a group whose ``weight_names`` attribute lists its datasets; a tensor is named by its
weight name as written (``dense/kernel:0`` from Keras 2, ``sequential/dense/kernel``
from Keras 3's legacy writer), metadata ``{"role": "weight", "layer": "dense"}``; a
name met twice becomes ``<layer>/<weight name>``. Attributes split by Keras into
``weight_names0``, ``weight_names1``... are joined. Optimizer weights keep their
names too (``training/Adam/dense/kernel/m:0``), role ``"optimizer"``, and are linked
to their variable by :func:`legacy_slot_owner`; the others get ``optimizer_variable``
(``iter``, ``iteration``, ``learning_rate``...). The optimizer class comes from the
``training_config`` attribute when present.
"""

from __future__ import annotations

import json
import re
from typing import Any

from csv_state_viewer.bridge import kerasmodel
from csv_state_viewer.bridge.kerasfiles.archive import _optimizer_class
from csv_state_viewer.bridge.kerasfiles.h5source import (
    _attr_text,
    _dataset_tensor,
    _hard_child,
    _is_dataset,
    _is_group,
    _resolve,
    _string_list,
)
from csv_state_viewer.bridge.kerasfiles.reasons import _unreadable
from csv_state_viewer.core.lazystate import LazyTensor
from csv_state_viewer.core.limits import MAX_CONFIG_BYTES
from csv_state_viewer.core.progress import Progress, check_cancelled

FORMAT_KERAS_H5 = "keras-h5"

# Keras 2 writes names with a ``:<index>`` suffix (``dense/kernel:0``).
_VARIABLE_SUFFIX = re.compile(r":\d+$")


def _bare(name: str) -> str:
    return _VARIABLE_SUFFIX.sub("", name)


def legacy_slot_owner(name: str, weight_names: list[str]) -> tuple[str, str] | None:
    """(model weight name as written, slot) of a legacy optimizer weight, or None.

    Names are compared without their ``:<n>`` suffix; the longest matching weight wins.

    * Keras 2 ``OptimizerV2``: ``<prefix>/<weight>/<slot>`` (``training/Adam/dense/kernel/m:0``,
      ``Adam/dense/kernel/m:0``) → (``dense/kernel:0``, ``m``);
    * Keras 2.11+ optimizers: ``<prefix>/<slot>/<weight>`` (``Adam/m/dense/kernel:0``,
      ``m/dense/kernel:0``) → (``dense/kernel:0``, ``m``);
    * Keras 3's legacy writer: ``<optimizer>/<weight path with / as _>_<slot>``
      (``adam/sequential_dense_kernel_momentum``) → (``sequential/dense/kernel``,
      ``momentum``), by :func:`kerasmodel.slot_owner`.

    Unlinked names (``Adam/iter:0``, TF1 ``training/Adam/Variable:0``) return None.
    """
    bare = _bare(name)
    best: tuple[int, str, str] | None = None
    for written in weight_names:
        weight = _bare(written)
        if not weight or (best is not None and len(weight) <= best[0]):
            continue
        head, sep, slot = bare.rpartition("/")
        if sep and slot and (head == weight or head.endswith("/" + weight)):
            best = (len(weight), written, slot)
            continue
        if bare.endswith("/" + weight):
            slot = bare[: -len(weight) - 1].rpartition("/")[2]
            if slot:
                best = (len(weight), written, slot)
    if best is not None:
        return best[1], best[2]
    owners = {_bare(w).replace("/", "_"): w for w in weight_names if _bare(w)}
    return kerasmodel.slot_owner(bare.rpartition("/")[2], owners)


def _training_optimizer_class(root: Any) -> str | None:
    text = _attr_text(root.attrs, "training_config")
    if not text or len(text) > MAX_CONFIG_BYTES:
        return None
    try:
        config = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(config, dict):
        return None
    return _optimizer_class(config.get("optimizer_config"))


def _legacy_tensors(root: Any, progress: Progress) -> list[LazyTensor]:
    weights_group = _hard_child(root, "model_weights")
    if weights_group is None or not _is_group(weights_group):
        weights_group = root
    layers = _string_list(weights_group, "layer_names")
    if "top_level_model_weights" not in layers and _hard_child(
        weights_group, "top_level_model_weights"
    ):
        layers.append("top_level_model_weights")  # Keras 3 writes the model's own here
    tensors: list[LazyTensor] = []
    used: set[str] = set()
    weight_names: list[str] = []
    for layer in layers:
        check_cancelled(progress)
        group = _resolve(weights_group, layer)
        if group is None or not _is_group(group):
            tensors.append(
                LazyTensor(layer, None, None, _unreadable, {"role": "weight"}, "no layer group")
            )
            continue
        for written in _string_list(group, "weight_names"):
            name = written if written not in used else f"{layer}/{written}"
            used.add(name)
            weight_names.append(written)
            metadata = {"role": kerasmodel.ROLE_WEIGHT, "layer": layer}
            tensors.append(_legacy_tensor(name, group, written, metadata))
    optimizer_group = _hard_child(root, "optimizer_weights")
    if optimizer_group is not None and _is_group(optimizer_group):
        kind = _training_optimizer_class(root)
        for written in _string_list(optimizer_group, "weight_names"):
            check_cancelled(progress)
            name = written if written not in used else f"optimizer_weights/{written}"
            used.add(name)
            metadata = {"role": kerasmodel.ROLE_OPTIMIZER}
            if kind:
                metadata["optimizer"] = kind
            owner = legacy_slot_owner(written, weight_names)
            if owner is not None:
                metadata["slot_of"], metadata["slot"] = owner
            else:
                metadata["optimizer_variable"] = _bare(written).rpartition("/")[2]
            tensors.append(_legacy_tensor(name, optimizer_group, written, metadata))
    progress.report(1, 1)
    return tensors


def _legacy_tensor(name: str, group: Any, written: str, metadata: dict[str, Any]) -> LazyTensor:
    dataset = _resolve(group, written)
    if dataset is None or not _is_dataset(dataset):
        return LazyTensor(name, None, None, _unreadable, metadata, "no dataset for this weight")
    return _dataset_tensor(name, dataset, metadata)
