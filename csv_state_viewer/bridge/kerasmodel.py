"""A Keras 3 model's training state as named tensors, with roles.

Naming and metadata (shared by every reader and writer of the bridge):

* model variables: ``variable.path`` (``sequential/dense/kernel``), metadata
  ``{"role": "weight", "trainable": bool}``;
* optimizer slots: the optimizer variable's path (``adam/sequential_dense_kernel_momentum``),
  metadata ``{"role": "optimizer", "optimizer": "Adam", "slot_of": "sequential/dense/kernel",
  "slot": "momentum"}``;
* optimizer scalars (step counter, learning rate): metadata ``{"role": "optimizer",
  "optimizer": "Adam", "optimizer_variable": "iteration"}`` (or ``"learning_rate"``...).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csv_state_viewer.core.lazystate import LazyTensor, tensor_from_array

ROLE_WEIGHT = "weight"
ROLE_OPTIMIZER = "optimizer"


def variable_value(variable: Any) -> np.ndarray:
    """A copy of a Keras (or TensorFlow) variable's value as a NumPy array."""
    value = variable.numpy() if hasattr(variable, "numpy") else variable.value.numpy()
    return np.array(value, copy=True)


def slot_owner(optimizer_variable_name: str, owners: dict[str, str]) -> tuple[str, str] | None:
    """(model variable path, slot name) of an optimizer slot, from Keras 3's naming rule.

    Keras names a slot ``<reference path with / replaced by _>_<slot>``; ``owners`` maps
    those flattened paths to the real paths. The longest matching prefix wins.
    """
    best: tuple[str, str] | None = None
    for flat, path in owners.items():
        prefix = flat + "_"
        if optimizer_variable_name.startswith(prefix) and (
            best is None or len(flat) > len(best[0].replace("/", "_"))
        ):
            best = (path, optimizer_variable_name[len(prefix) :])
    return best


def optimizer_tensors(optimizer: Any, trainable: list[Any]) -> list[LazyTensor]:
    """The optimizer's variables with roles; ``trainable`` are the variables it updates."""
    kind = type(optimizer).__name__
    owners = {v.path.replace("/", "_"): v.path for v in trainable}
    out = []
    for variable in optimizer.variables:
        metadata: dict[str, Any] = {"role": ROLE_OPTIMIZER, "optimizer": kind}
        owner = slot_owner(variable.name, owners)
        if owner is not None:
            metadata["slot_of"], metadata["slot"] = owner
        else:
            metadata["optimizer_variable"] = variable.name
        out.append(tensor_from_array(variable.path, variable_value(variable), metadata))
    return out


def model_tensors(model: Any, *, include_optimizer: bool = True) -> list[LazyTensor]:
    """Every variable of ``model`` (weights first, then its optimizer's, if built)."""
    out = [
        tensor_from_array(
            v.path, variable_value(v), {"role": ROLE_WEIGHT, "trainable": bool(v.trainable)}
        )
        for v in model.weights
    ]
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None and getattr(optimizer, "built", False):
        out += optimizer_tensors(optimizer, list(model.trainable_variables))
    return out
