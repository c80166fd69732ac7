"""What a tensor of a training state is: a model parameter, optimizer state, or a value.

Keras counts a model's parameters without its optimizer: ``dense`` with a 64x128 kernel
and a bias has 8,320 parameters, whatever Adam keeps beside them. Statistics mix even
worse: one step counter of 320 is the maximum and most of the L2 norm of a small model.
So every tensor gets one :data:`KIND`:

* :data:`WEIGHT` — a model parameter (metadata ``role: weight``, or no role at all);
* :data:`SLOT` — optimizer state kept per variable (``m``, ``v``, ``momentum``...);
* :data:`OPTIMIZER_SCALAR` — an optimizer's own variable (``iteration``,
  ``learning_rate``, ``beta1_power``): counted as optimizer state, shown as a value;
* :data:`COUNTER` — a counter or other bookkeeping scalar (``role: counter``,
  ``checkpoint`` or ``rng`` with one element, ``global_step``, ``save_counter``);
* :data:`OTHER` — the rest of the training state that is neither (an RNG state array).

The metadata decides when it says (``role``, ``slot_of``, ``optimizer_variable``);
files without roles (the recipe's, TF1 checkpoints) are judged by name: tensors under an
optimizer's scope (``adam/...``, ``optimizer/...``, ``dense/kernel/Adam_1``) are
optimizer state. Pure Python over :class:`TensorEntry` metadata: no data is read.
"""

from __future__ import annotations

import re
from typing import Literal

from csv_state_viewer.core.state import TensorEntry

Kind = Literal["weight", "slot", "optimizer scalar", "counter", "other"]
WEIGHT: Kind = "weight"
SLOT: Kind = "slot"
OPTIMIZER_SCALAR: Kind = "optimizer scalar"
COUNTER: Kind = "counter"
OTHER: Kind = "other"
KINDS: tuple[Kind, ...] = (WEIGHT, SLOT, OPTIMIZER_SCALAR, COUNTER, OTHER)

# A name segment that is an optimizer's scope (lower case, Keras's ``_N`` dropped).
OPTIMIZER_SCOPES = frozenset(
    {
        "optimizer",
        "adam",
        "adamw",
        "adamax",
        "nadam",
        "sgd",
        "momentum",
        "rmsprop",
        "rm_sprop",
        "adagrad",
        "adadelta",
        "ftrl",
        "lion",
        "lamb",
        "adafactor",
        "lossscaleoptimizer",
        "loss_scale_optimizer",
    }
)
# Scalars without a role that an optimizer keeps, wherever they are.
OPTIMIZER_SCALARS = frozenset(
    {"iteration", "iterations", "learning_rate", "lr", "beta1_power", "beta2_power"}
)
COUNTERS = frozenset({"global_step", "save_counter", "step", "epoch", "epochs"})
_NUMBERED = re.compile(r"_\d+$")


def _segments(name: str) -> list[str]:
    return [_NUMBERED.sub("", part.split(":")[0].lower()) for part in name.split("/") if part]


def under_optimizer(name: str) -> bool:
    """True when a segment of ``name`` is an optimizer's scope (``adam/...``,
    ``dense/kernel/Adam_1``)."""
    return any(part in OPTIMIZER_SCOPES for part in _segments(name))


def kind_of(entry: TensorEntry) -> Kind:
    """The :data:`Kind` of ``entry``, from its metadata, else from its name and shape."""
    meta = entry.metadata
    role = meta.get("role")
    scalar = entry.shape is not None and entry.size == 1 and len(entry.shape) <= 1
    last = _segments(entry.name)[-1] if _segments(entry.name) else ""
    if role == "weight":
        return WEIGHT
    if role == "optimizer":
        if meta.get("slot_of"):
            return SLOT
        if meta.get("optimizer_variable") or (entry.shape is not None and not entry.shape):
            return OPTIMIZER_SCALAR
        return SLOT
    if role in ("counter", "checkpoint", "rng"):
        return COUNTER if scalar else OTHER
    if isinstance(role, str) and role:
        return OTHER  # a role we do not know: not a parameter Keras would count
    if meta.get("slot_of"):
        return SLOT
    if entry.shape is not None and not entry.shape:  # a 0-d tensor without a role
        if last in COUNTERS:
            return COUNTER
        if last in OPTIMIZER_SCALARS or under_optimizer(entry.name):
            return OPTIMIZER_SCALAR
    if under_optimizer(entry.name):
        return SLOT
    return WEIGHT


def is_parameter(kind: Kind) -> bool:
    return kind == WEIGHT


def is_optimizer_state(kind: Kind) -> bool:
    return kind in (SLOT, OPTIMIZER_SCALAR)


def shown_as_value(kind: Kind) -> bool:
    """Counters and optimizer scalars are shown as values, not measured."""
    return kind in (OPTIMIZER_SCALAR, COUNTER)
