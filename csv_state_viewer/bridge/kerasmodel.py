"""A Keras 3 model's training state as named tensors, with roles.

Naming and metadata (shared by every reader and writer of the bridge, and by ``apply``,
which names its targets the same way):

* model variables: ``variable.path`` (``sequential/dense/kernel``), metadata
  ``{"role": "weight", "trainable": bool}``;
* optimizer slots: the optimizer variable's path (``adam/sequential_dense_kernel_momentum``),
  metadata ``{"role": "optimizer", "optimizer": "Adam", "slot_of": "sequential/dense/kernel",
  "slot": "momentum"}``;
* optimizer scalars (step counter, learning rate, a loss scale): metadata ``{"role":
  "optimizer", "optimizer": "Adam", "optimizer_variable": "iteration"}``.

The owner of a slot comes from Keras's naming rule (``<flattened path>_<slot>``) or, for
optimizers that name slots otherwise (Adafactor's factored ``r``/``c`` accumulators, named
after the bare variable), from the optimizer's per-variable lists (``_r[i]`` belongs to
the i-th variable it updates). Wrapper optimizers are walked: a LossScaleOptimizer's
inner optimizer, a MultiOptimizer's sub-optimizers (``"sub_optimizer": "SGD"`` in their
variables' metadata). Keras paths that repeat (Adafactor's ``adafactor/kernel`` for every
kernel) get a stable, distinct name built like Keras's own slot names
(``adafactor/sequential_dense_kernel_r``), the Keras path kept as ``"keras_path"``, so no
tensor is ever lost to a name collision.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from csv_state_viewer.core.lazystate import LazyTensor, tensor_from_array

ROLE_WEIGHT = "weight"
ROLE_OPTIMIZER = "optimizer"
# list attributes of an optimizer that are not per-variable slots
_NOT_SLOT_LISTS = frozenset({"_variables", "_trainable_variables", "_tracker"})


@dataclass
class NamedVariable:
    """A live variable with the name and metadata it has as a state tensor."""

    name: str
    variable: Any
    metadata: dict[str, Any]


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


def _sub_optimizers(optimizer: Any) -> Iterator[Any]:
    """``optimizer`` and every optimizer it wraps (LossScaleOptimizer, MultiOptimizer)."""
    yield optimizer
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None and inner is not optimizer:
        yield from _sub_optimizers(inner)
    for sub in getattr(optimizer, "_inner_optimizers", None) or ():
        yield from _sub_optimizers(sub)


def _list_slots(optimizer: Any) -> dict[int, tuple[Any, str, Any]]:
    """id(optimizer variable) -> (owner variable, slot, owning optimizer), from the
    per-variable lists of ``optimizer`` and the optimizers it wraps."""
    found: dict[int, tuple[Any, str, Any]] = {}
    for sub in _sub_optimizers(optimizer):
        updated = list(getattr(sub, "_trainable_variables", None) or ())
        if not updated:
            continue
        own = {id(v) for v in sub.variables}
        for attribute, value in vars(sub).items():
            if attribute in _NOT_SLOT_LISTS or not isinstance(value, list | tuple):
                continue
            if len(value) != len(updated) or not all(id(item) in own for item in value):
                continue
            slot = attribute.strip("_")
            for owner, item in zip(updated, value, strict=True):
                found.setdefault(id(item), (owner, slot, sub))
    return found


def _owning_optimizer(variable: Any, optimizer: Any) -> Any:
    """The innermost (sub-)optimizer holding ``variable``."""
    owner = optimizer
    for sub in _sub_optimizers(optimizer):
        if any(v is variable for v in sub.variables):
            owner = sub
    return owner


def optimizer_variables(optimizer: Any, trainable: list[Any]) -> list[NamedVariable]:
    """The optimizer's variables, named and with roles; ``trainable`` are the variables it
    updates."""
    kind = type(optimizer).__name__
    owners = {v.path.replace("/", "_"): v.path for v in trainable}
    by_list = _list_slots(optimizer)
    variables = list(optimizer.variables)
    counts: dict[str, int] = {}
    for variable in variables:
        counts[variable.path] = counts.get(variable.path, 0) + 1
    out = []
    for variable in variables:
        metadata: dict[str, Any] = {"role": ROLE_OPTIMIZER, "optimizer": kind}
        sub = _owning_optimizer(variable, optimizer)
        if sub is not optimizer:
            metadata["sub_optimizer"] = type(sub).__name__
        name = variable.path
        owner = slot_owner(variable.name, owners)
        listed = by_list.get(id(variable))
        if owner is not None:
            metadata["slot_of"], metadata["slot"] = owner
        elif listed is not None:
            reference, slot, sub = listed
            metadata["slot_of"], metadata["slot"] = reference.path, slot
            if counts[variable.path] > 1 or "/" not in variable.path:
                name = f"{sub.name}/{reference.path.replace('/', '_')}_{slot}"
                metadata["keras_path"] = variable.path
        else:
            metadata["optimizer_variable"] = variable.name
        out.append(NamedVariable(name, variable, metadata))
    return out


def named_variables(model: Any, *, include_optimizer: bool = True) -> list[NamedVariable]:
    """Every variable of ``model`` (weights first, then its optimizer's, if built), each
    under a distinct name."""
    out = [
        NamedVariable(v.path, v, {"role": ROLE_WEIGHT, "trainable": bool(v.trainable)})
        for v in model.weights
    ]
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None and getattr(optimizer, "built", False):
        out += optimizer_variables(optimizer, list(model.trainable_variables))
    return _distinct(out)


def _distinct(items: list[NamedVariable]) -> list[NamedVariable]:
    """A name that is still repeated gets ``_2``, ``_3``... on its later uses (stable:
    the order is the model's), the Keras path kept as ``"keras_path"``."""
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            base, number = item.name, 2
            while f"{base}_{number}" in seen:
                number += 1
            item.metadata.setdefault("keras_path", base)
            item.name = f"{base}_{number}"
        seen.add(item.name)
    return items


def model_tensors(model: Any, *, include_optimizer: bool = True) -> list[LazyTensor]:
    """Every variable of ``model`` as a tensor (see :func:`named_variables`)."""
    return [_tensor(item) for item in named_variables(model, include_optimizer=include_optimizer)]


def _tensor(item: NamedVariable) -> LazyTensor:
    return tensor_from_array(item.name, variable_value(item.variable), item.metadata)
