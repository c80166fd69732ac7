"""A Keras 3 model's training state as named tensors, with roles.

Naming and metadata (shared by every reader and writer of the bridge, and by ``apply``,
which names its targets the same way):

* model variables: ``variable.path`` (``sequential/dense/kernel``), metadata
  ``{"role": "weight", "trainable": bool}``;
* optimizer slots: the optimizer variable's path (``adam/sequential_dense_kernel_momentum``),
  metadata ``{"role": "optimizer", "optimizer": "Adam", "slot_of": "sequential/dense/kernel",
  "slot": "momentum"}``;
* optimizer scalars (step counter, learning rate, a loss scale): metadata ``{"role":
  "optimizer", "optimizer": "Adam", "optimizer_variable": "iteration"}``;
* random number generator states (only with ``include_rng``: what Dropout and other
  random layers draw next, in ``model.variables`` but not ``model.weights``, and saved by
  no Keras format): ``<model>/<layer>/.../seed_generator_state`` by the layers that own
  them, and Keras's global generator as ``keras/global_seed_generator_state``; metadata
  ``{"role": "rng"}``.

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
ROLE_RNG = "rng"
ROLE_COUNTER = "counter"  # the user's own counters (epoch...) in a saved training state
GLOBAL_RNG = "keras/global_seed_generator_state"
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


def named_variables(
    model: Any, *, include_optimizer: bool = True, include_rng: bool = False
) -> list[NamedVariable]:
    """Every variable of ``model`` (weights first, then its optimizer's, if built, then
    with ``include_rng`` its random generators' states), each under a distinct name."""
    out = [
        NamedVariable(v.path, v, {"role": ROLE_WEIGHT, "trainable": bool(v.trainable)})
        for v in model.weights
    ]
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None and getattr(optimizer, "built", False):
        out += optimizer_variables(optimizer, list(model.trainable_variables))
    if include_rng:
        out += rng_variables(model)
    return _distinct(out)


def rng_variables(model: Any) -> list[NamedVariable]:
    """The states of the model's seed generators, named by the layers that own them, and
    the global generator's when Keras has created it."""
    out: list[NamedVariable] = []
    seen: set[int] = set()

    def visit(layer: Any, prefix: str, depth: int) -> None:
        for attribute, value in list(vars(layer).items()):
            for item in value if isinstance(value, list | tuple) else (value,):
                state = _seed_state(item)
                if state is not None and id(state) not in seen:
                    seen.add(id(state))
                    name = f"{prefix}/{attribute.strip('_')}_state"
                    out.append(NamedVariable(name, state, {"role": ROLE_RNG}))
        if depth < 64:
            for child in layer._flatten_layers(include_self=False, recursive=False):
                visit(child, f"{prefix}/{child.name}", depth + 1)

    visit(model, model.name, 0)
    weights = {id(v) for v in model.weights}
    for variable in model.variables:  # any generator the walk did not reach
        if id(variable) not in weights and id(variable) not in seen and _is_seed(variable):
            seen.add(id(variable))
            out.append(NamedVariable(variable.path, variable, {"role": ROLE_RNG}))
    global_state = _global_seed_state()
    if global_state is not None and id(global_state) not in seen:
        out.append(NamedVariable(GLOBAL_RNG, global_state, {"role": ROLE_RNG}))
    return out


def _seed_state(item: Any) -> Any:
    state = getattr(item, "state", None) if type(item).__name__ == "SeedGenerator" else None
    return state if state is not None and _is_seed(state) else None


def _is_seed(variable: Any) -> bool:
    return str(getattr(variable, "path", "")).endswith("seed_generator_state")


def _global_seed_state(create: bool = False) -> Any:
    """Keras's global seed generator's state (``keras.random`` calls without a seed), or
    None when it does not exist (and ``create`` is false)."""
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
    except ImportError:  # another Keras layout: no global generator to carry
        return None
    generator = global_state.get_global_attribute("global_seed_generator")
    if generator is None and create:
        generator = seed_generator.global_seed_generator()
    return getattr(generator, "state", None)


def create_global_rng() -> None:
    """Create Keras's global seed generator (so a saved state of it can be restored)."""
    _global_seed_state(create=True)


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
