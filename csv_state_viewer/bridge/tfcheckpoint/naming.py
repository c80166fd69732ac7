"""Names and roles of a TensorFlow checkpoint's tensors.

Names of object-based checkpoints (those with a ``_CHECKPOINTABLE_OBJECT_GRAPH``, written
by ``tf.train.Checkpoint``, ``model.save_weights`` of TF 2 and ``tf.saved_model.save``):

1. a variable is named by the ``full_name`` the object graph records for it, when no
   other variable of the checkpoint records the same one. For Keras 3 that is
   ``variable.path``, the naming of :mod:`csv_state_viewer.bridge.kerasmodel`:
   ``sequential/dense/kernel``, ``adam/iteration``,
   ``adam/sequential_dense_kernel_momentum``, and ``save_counter``;
2. otherwise (unnamed ``tf.Variable`` s all record ``Variable``) by its object path: the
   attribute names from the root object to it, joined by ``/`` (``model/w``), taking the
   shortest path that avoids optimizer objects when there is one. Checkpoint keys are
   such paths plus ``/.ATTRIBUTES/VARIABLE_VALUE``; that suffix is never shown;
3. a slot variable listed in an optimizer's ``slot_variables`` (TF 1 and ``tf_keras``
   optimizers) is named ``<optimizer path>/<name of its variable>/<slot>``
   (``optimizer/model/w/m``): their recorded names (``Variable/Adam_2``) say nothing;
4. a saved value other than a variable's (``VARIABLE_VALUE``) adds its attribute name
   (``table/py_state``); a key the graph does not describe keeps its key without the
   ``.ATTRIBUTES`` parts; if names still collide, the colliding tensors keep their raw
   checkpoint keys.

Every tensor's metadata carries its raw key as ``checkpoint_key`` and a ``role``:

* ``save_counter`` (``tf.train.Checkpoint`` bookkeeping): ``{"role": "checkpoint"}``;
* slot variables: ``{"role": "optimizer", "slot_of": <name of the variable>, "slot":
  <slot name>}``. Keras 3 optimizers keep their slots as plain children of the optimizer
  object; those are linked by Keras's naming rule (``<path with _>_<slot>``, see
  :func:`~csv_state_viewer.bridge.kerasmodel.slot_owner`), or failing that by position
  (the i-th entry of the optimizer's ``_momentums`` list belongs to the i-th of its
  ``_trainable_variables``; the slot is the list's name in the singular, ``momentum``);
* other variables of an optimizer object (``iteration``, ``learning_rate``,
  ``beta1_power``): ``{"role": "optimizer", "optimizer_variable": <last name part>}``.
  Optimizer objects are those reached by an attribute ``optimizer``/``_optimizer``, those
  with an ``_iterations`` child (Keras 3) and those with slot variables. The model
  variables a Keras 3 optimizer references in ``_trainable_variables`` stay weights;
* everything else: ``{"role": "weight"}``.

TF 1 name-based checkpoints (no object graph, e.g. ``tf.compat.v1.train.Saver``) and the
checkpoints :func:`~csv_state_viewer.bridge.tfcheckpoint.write.save_tf_checkpoint` writes:
the names are the keys, in key order, and roles follow these rules:

* ``X/<suffix>`` with ``X`` also a key of the checkpoint and ``<suffix>`` one of the TF 1
  slot suffixes is a slot of ``X``: ``Adam`` → ``m``, ``Adam_1`` → ``v``, ``Momentum`` →
  ``momentum``, ``RMSProp`` → ``rms``, ``RMSProp_1`` → ``momentum`` (``mg`` and
  ``RMSProp_2`` → ``momentum`` when a ``RMSProp_2`` slot exists: centered RMSProp),
  ``Adagrad``/``ProximalAdagrad`` → ``accumulator``, ``AdagradDA`` →
  ``gradient_accumulator``, ``AdagradDA_1`` → ``gradient_squared_accumulator``, ``Ftrl``
  → ``accum``, ``Ftrl_1`` → ``linear``, ``Adadelta`` → ``accum``, ``Adadelta_1`` →
  ``accum_update``, ``adam_m``/``adam_v`` (BERT-style AdamWeightDecay, LAMB) → ``m``/``v``;
* ``global_step``, ``beta1_power``, ``beta2_power`` (also ``_N``-suffixed, in any
  scope), and any key with a part named like a TF 1 optimizer (``Adam``, ``Momentum``,
  ``RMSProp``, ...) are optimizer variables;
* everything else is a weight.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from csv_state_viewer.bridge.kerasmodel import ROLE_OPTIMIZER, ROLE_WEIGHT, slot_owner

ROLE_CHECKPOINT = "checkpoint"
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
VALUE_ATTRIBUTE = "VARIABLE_VALUE"

# TF 1 optimizers' slot variables: ``<variable>/<suffix>``.
_V1_SLOTS = {
    "Adam": "m",
    "Adam_1": "v",
    "Momentum": "momentum",
    "RMSProp": "rms",
    "RMSProp_1": "momentum",
    "RMSProp_2": "momentum",
    "Adagrad": "accumulator",
    "ProximalAdagrad": "accumulator",
    "AdagradDA": "gradient_accumulator",
    "AdagradDA_1": "gradient_squared_accumulator",
    "Ftrl": "accum",
    "Ftrl_1": "linear",
    "Adadelta": "accum",
    "Adadelta_1": "accum_update",
    "adam_m": "m",
    "adam_v": "v",
}
_V1_OPTIMIZER_PARTS = frozenset(
    {"Adam", "Momentum", "RMSProp", "Adagrad", "ProximalAdagrad", "AdagradDA", "Ftrl"}
    | {"Adadelta", "GradientDescent", "ProximalGradientDescent"}
)
_V1_OPTIMIZER_VARIABLE = re.compile(r"^(global_step|beta[12]_power)(_\d+)?$")

# Children of a Keras 3 optimizer that are not lists of slots.
_KERAS_OPTIMIZER_LISTS = frozenset({"_variables", "_trainable_variables"})
_OPTIMIZER_EDGES = frozenset({"optimizer", "_optimizer"})


# ------------------------------------------------------------------------- naming
@dataclass
class _Spec:
    """What the reader says about one checkpoint key."""

    key: str
    name: str
    metadata: dict[str, Any] = field(default_factory=dict)
    rank: int = 0  # weights, then optimizer variables, then bookkeeping, then the rest
    order: int = 0  # position within its rank (object graph pre-order)
    node: int = -1  # object graph node, -1 for keys the graph does not describe
    full_name: str = ""  # the variable's recorded name, for rule 1


def _strip_key(key: str) -> str:
    name = key.replace("/.ATTRIBUTES/" + VALUE_ATTRIBUTE, "").replace("/.ATTRIBUTES/", "/")
    return name or key


def _role_of_key(key: str) -> tuple[dict[str, Any], int]:
    """Role of a key of an object-based checkpoint that its graph does not describe."""
    if key.split("/", 1)[0] == "save_counter":
        return {"role": ROLE_CHECKPOINT}, 2
    if key.startswith("optimizer/") or "/.OPTIMIZER_SLOT/" in key:
        short = _strip_key(key).rsplit("/", 1)[-1]
        return {"role": ROLE_OPTIMIZER, "optimizer_variable": short}, 1
    return {"role": ROLE_WEIGHT}, 0


def _name_based_specs(keys: Iterable[str]) -> list[_Spec]:
    """Names and roles of a checkpoint without object graph: see the module docstring."""
    present = set(keys)
    specs = []
    for key in sorted(present):
        meta: dict[str, Any]
        owner, _, last = key.rpartition("/")
        slot = _V1_SLOTS.get(last)
        if slot is not None and owner in present:
            if last.startswith("RMSProp_") and f"{owner}/RMSProp_2" in present:
                slot = "mg" if last == "RMSProp_1" else "momentum"
            meta = {"role": ROLE_OPTIMIZER, "slot_of": owner, "slot": slot}
        elif _V1_OPTIMIZER_VARIABLE.match(last) or _V1_OPTIMIZER_PARTS & set(key.split("/")):
            meta = {"role": ROLE_OPTIMIZER, "optimizer_variable": key}
        else:
            meta = {"role": ROLE_WEIGHT}
        meta["checkpoint_key"] = key
        specs.append(_Spec(key, key, meta, 0 if meta["role"] == ROLE_WEIGHT else 1))
    return specs


def _singular(word: str) -> str:
    word = word.lstrip("_")
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


class _ObjectGraph:
    """A parsed TrackableObjectGraph with the walks the naming rules need."""

    def __init__(self, graph: Any) -> None:
        self.nodes = list(graph.nodes)
        self.children: list[list[tuple[int, str]]] = [
            [(c.node_id, c.local_name) for c in node.children if 0 <= c.node_id < len(self.nodes)]
            for node in self.nodes
        ]
        self.optimizers = self._optimizer_nodes()
        self.trainable_lists = {
            (parent, child)
            for parent in self.optimizers
            for child, local in self.children[parent]
            if local == "_trainable_variables"
        }

    def _optimizer_nodes(self) -> set[int]:
        found: set[int] = set()
        for index, node in enumerate(self.nodes):
            if node.slot_variables:
                found.add(index)
            for child, local in self.children[index]:
                if local in _OPTIMIZER_EDGES:
                    found.add(child)
                if local == "_iterations":
                    found.add(index)
        found.discard(0)
        return found

    def walk(self, allowed: Callable[[int, int], bool]) -> tuple[dict[int, str], list[int]]:
        """Shortest object paths from the root (BFS) and pre-order (DFS) over allowed edges."""
        paths: dict[int, str] = {0: ""}
        queue = deque([0])
        while queue:
            parent = queue.popleft()
            for child, local in self.children[parent]:
                if child not in paths and allowed(parent, child):
                    paths[child] = f"{paths[parent]}/{local}" if paths[parent] else local
                    queue.append(child)
        order: list[int] = []
        visited: set[int] = set()
        stack = [0]
        while stack:
            parent = stack.pop()
            if parent in visited:
                continue
            visited.add(parent)
            order.append(parent)
            stack.extend(
                child
                for child, _ in reversed(self.children[parent])
                if child not in visited and allowed(parent, child)
            )
        return paths, order

    def positional_slots(self) -> dict[int, tuple[int, str]]:
        """Keras 3: the i-th entry of an optimizer's slot list -> (i-th variable, slot)."""
        out: dict[int, tuple[int, str]] = {}
        for parent in self.optimizers:
            lists = {local: child for child, local in self.children[parent]}
            if "_trainable_variables" not in lists:
                continue
            trainable = self._list_items(lists["_trainable_variables"])
            for local, child in lists.items():
                if local in _KERAS_OPTIMIZER_LISTS or local.endswith("_indices"):
                    continue
                items = self._list_items(child)
                if items and trainable and len(items) == len(trainable):
                    for slot_node, owner_node in zip(items, trainable, strict=True):
                        out.setdefault(slot_node, (owner_node, _singular(local)))
        return out

    def _list_items(self, node: int) -> list[int]:
        children = self.children[node]
        if not children or not all(local.isdigit() for _, local in children):
            return []
        return [child for child, _ in sorted(children, key=lambda c: int(c[1]))]


def _link_factored(graph: _ObjectGraph, specs: list[_Spec]) -> None:
    """Keras 3 Adafactor's factored accumulators: each variable's ``r`` and ``c`` are
    recorded under the variable's bare name (``adafactor/kernel`` for every kernel) and
    listed in the optimizer's ``_variables`` right before that variable's ``velocity``
    slot. The two unlinked entries before a slot of X, both named after X's last name
    part, become X's ``r`` and ``c`` (named as Keras names slots, like
    :mod:`csv_state_viewer.bridge.kerasmodel` does)."""
    by_node = {spec.node: spec for spec in specs if spec.node >= 0}
    for parent in graph.optimizers:
        lists = {local: child for child, local in graph.children[parent]}
        pending: list[_Spec] = []
        for node in graph._list_items(lists.get("_variables", -1)) if "_variables" in lists else []:
            spec = by_node.get(node)
            if spec is None:
                pending = []
                continue
            owner = spec.metadata.get("slot_of")
            if owner is None:
                linked = "optimizer_variable" in spec.metadata and spec.full_name
                pending = [*pending, spec][-2:] if linked else []
                continue
            last = owner.rsplit("/", 1)[-1]
            if len(pending) == 2 and all(p.full_name.rsplit("/", 1)[-1] == last for p in pending):
                scope = spec.name.rpartition("/")[0]
                for item, slot in zip(pending, ("r", "c"), strict=True):
                    item.metadata.pop("optimizer_variable", None)
                    item.metadata.update(slot_of=owner, slot=slot)
                    item.name = f"{scope}/{owner.replace('/', '_')}_{slot}" if scope else item.name
            pending = []


def _object_specs(graph_proto: Any, keys: list[str]) -> list[_Spec]:
    """Names and roles of an object-based checkpoint: see the module docstring."""
    graph = _ObjectGraph(graph_proto)
    present = set(keys)
    passes: list[tuple[Callable[[int, int], bool], int]] = [
        (lambda parent, child: child not in graph.optimizers, 0),  # the model's own
        (lambda parent, child: (parent, child) not in graph.trainable_lists, 1),  # optimizers'
        (lambda parent, child: True, 0),  # variables only an optimizer references
    ]
    path_of: dict[int, str] = {}
    rank_of: dict[int, int] = {}
    order_of: dict[int, int] = {}
    for allowed, rank in passes:
        paths, order = graph.walk(allowed)
        for node in order:
            if node not in path_of:
                path_of[node], rank_of[node] = paths[node], rank
                order_of[node] = len(order_of)
    save_counters = {child for child, local in graph.children[0] if local == "save_counter"}
    slot_nodes: dict[int, tuple[int, int, str]] = {}  # slot -> (optimizer, variable, slot)
    for index, node in enumerate(graph.nodes):
        for ref in node.slot_variables:
            slot_nodes.setdefault(
                ref.slot_variable_node_id, (index, ref.original_variable_node_id, ref.slot_name)
            )

    # Candidates of rules 1, 2 and 4 for every attribute of a node.
    specs: list[_Spec] = []
    unreached = len(graph.nodes)
    for node_id, node in enumerate(graph.nodes):
        for attribute in node.attributes:
            key = attribute.checkpoint_key
            if key not in present or key == GRAPH_KEY:
                continue
            name = path_of.get(node_id)
            if name is None:
                name = _strip_key(key)
            is_value = attribute.name == VALUE_ATTRIBUTE
            if not is_value:
                name = f"{name}/{attribute.name}" if name else attribute.name
            spec = _Spec(key, name or key, {}, rank_of.get(node_id, 3), node=node_id)
            spec.order = order_of.get(node_id, unreached + len(specs))
            if is_value and node_id not in slot_nodes:
                spec.full_name = attribute.full_name
            specs.append(spec)
    counts = Counter(spec.full_name for spec in specs if spec.full_name)
    for spec in specs:
        if spec.full_name and counts[spec.full_name] == 1:
            spec.name = spec.full_name
    name_of_node: dict[int, str] = {}
    for spec in specs:
        if spec.key.endswith("/.ATTRIBUTES/" + VALUE_ATTRIBUTE) or spec.node not in name_of_node:
            name_of_node[spec.node] = spec.name

    # Roles (and rule 3: names of the slot variables listed by their optimizer).
    weights = sorted({spec.node for spec in specs if spec.rank == 0})
    owners = {name_of_node[n].replace("/", "_"): name_of_node[n] for n in weights}
    positional = graph.positional_slots()
    for spec in specs:
        if spec.node in slot_nodes:
            optimizer, variable, slot = slot_nodes[spec.node]
            owner = name_of_node.get(variable, f"node {variable}")
            spec.name = f"{path_of.get(optimizer) or 'optimizer'}/{owner}/{slot}"
            spec.metadata.update({"role": ROLE_OPTIMIZER, "slot_of": owner, "slot": slot})
            spec.rank = 1
        elif spec.node in save_counters:
            spec.metadata["role"] = ROLE_CHECKPOINT
            spec.rank = 2
        elif spec.rank == 1:
            short = spec.name.rsplit("/", 1)[-1]
            linked = slot_owner(short, owners)
            if linked is None and spec.node in positional:
                owner_node, slot = positional[spec.node]
                if owner_node in name_of_node:
                    linked = (name_of_node[owner_node], slot)
            spec.metadata["role"] = ROLE_OPTIMIZER
            if linked is not None:
                spec.metadata["slot_of"], spec.metadata["slot"] = linked
            else:
                spec.metadata["optimizer_variable"] = short
        elif spec.rank == 3:  # not reachable from the root: judged by its key
            role, spec.rank = _role_of_key(spec.key)
            spec.metadata.update(role)
        else:
            spec.metadata["role"] = ROLE_WEIGHT
        spec.metadata["checkpoint_key"] = spec.key

    _link_factored(graph, specs)

    # Keys the graph does not describe (rule 4).
    described = {spec.key for spec in specs}
    for key in sorted(present - described - {GRAPH_KEY}):
        role, rank = _role_of_key(key)
        meta = {**role, "checkpoint_key": key}
        specs.append(_Spec(key, _strip_key(key), meta, rank, unreached + len(specs)))

    # Names that still collide keep their raw keys.
    taken = Counter(spec.name for spec in specs)
    for spec in specs:
        if taken[spec.name] > 1:
            spec.name = spec.key
    specs.sort(key=lambda s: (s.rank, s.order))
    return specs
