"""TensorFlow checkpoints (and a SavedModel's variables) as states, and states as checkpoints.

Reading: :func:`open_tf_checkpoint` accepts a checkpoint prefix (``dir/ckpt-3``), its
``.index`` file, one of its ``.data-XXXXX-of-YYYYY`` files, a directory holding a
``checkpoint`` state file (its latest checkpoint is opened), a SavedModel directory (or
its ``saved_model.pb``; the ``variables/variables`` checkpoint is opened), and the
``checkpoint`` state file itself. Tensors are loaded one at a time, on demand.

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
checkpoints :func:`save_tf_checkpoint` writes: the names are the keys, in key order, and
roles follow these rules:

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

dtypes: TensorFlow's types become NumPy's (``DType.as_numpy_dtype``); bfloat16, float8
(``e4m3fn``, ``e5m2`` and the ``fnuz`` variants), ``int4``/``uint4``/``int2``/``uint2``
and ``float4_e2m1fn`` come back as ``ml_dtypes`` arrays; quantized types (``qint8``...)
are read as their integer type with ``tf_dtype`` in the metadata. String, resource and
variant tensors are listed with an error: shown, never read.

Writing: :func:`save_tf_checkpoint` writes a name-based checkpoint whose keys are
exactly the tensors' names, with ``tf.raw_ops.SaveV2`` (``tf.train.Checkpoint`` would
rename everything into ``.ATTRIBUTES`` paths). ``tf.train.load_checkpoint(prefix)``
returns every tensor bit for bit, and :func:`open_tf_checkpoint` gives back the same
names. Tensors are streamed into shards of at most :data:`SHARD_BYTES`, merged by
``MergeV2Checkpoints``. The files are written in a temporary directory beside the
destination and renamed into place, data files first, the ``.index`` last; data files
of a replaced checkpoint that the new one does not reuse are removed afterwards. No
``checkpoint`` state file is written or changed: it would redirect "the latest
checkpoint" of a training directory to a converted file; open the result by its prefix.
Metadata (roles...) is not stored: a checkpoint has no place for it. Refused before
anything is written: an empty name (TensorFlow would abort the process), the reserved
``_CHECKPOINTABLE_OBJECT_GRAPH``, dtypes TensorFlow has no type for (``float8_e8m0fnu``,
``float8_e3m4``, ``float8_e4m3``, ``float6_*``, ``longdouble``...), and an empty state.
Big-endian arrays are stored by value in native order.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.kerasmodel import ROLE_OPTIMIZER, ROLE_WEIGHT, slot_owner
from csv_state_viewer.core.atomic import check_destination
from csv_state_viewer.core.errors import NotAStateError, StateWriteError
from csv_state_viewer.core.lazystate import LazyState, LazyTensor
from csv_state_viewer.core.openfiles import register, unregister
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.tensors import TensorItem, Tensors, iter_loaded, tensor_items

ROLE_CHECKPOINT = "checkpoint"
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
VALUE_ATTRIBUTE = "VARIABLE_VALUE"
INDEX_SUFFIX = ".index"
STATE_FILE = "checkpoint"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
SAVED_MODEL_VARIABLES = os.path.join("variables", "variables")
SHARD_BYTES = 1 << 30  # the writer passes at most this much data to one SaveV2 call

_DATA_FILE = re.compile(r"^(?P<prefix>.+)\.data-\d{5}-of-\d{5}$", re.DOTALL)
_MAX_REASON = 300

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


# ------------------------------------------------------------------------ sniffing
def looks_like_tf_checkpoint(path: str, head: bytes) -> bool:
    """A checkpoint prefix, its ``.index`` or ``.data-`` file, or a directory with a
    ``checkpoint`` state file (or that file). Pure file-system checks, no TensorFlow."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, STATE_FILE))
    if os.path.isfile(path):
        if path.endswith(INDEX_SUFFIX):
            return True
        match = _DATA_FILE.match(path)
        if match is not None:
            return os.path.isfile(match["prefix"] + INDEX_SUFFIX)
        if os.path.basename(path) == STATE_FILE and head.lstrip().startswith(
            (b"model_checkpoint_path", b"all_model_checkpoint_paths")
        ):
            return True
    return os.path.isfile(path + INDEX_SUFFIX)


def looks_like_saved_model(path: str, head: bytes) -> bool:
    """A SavedModel directory (or its ``saved_model.pb``). No TensorFlow is imported."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return any(os.path.isfile(os.path.join(path, name)) for name in SAVED_MODEL_FILES)
    return os.path.isfile(path) and os.path.basename(path) in SAVED_MODEL_FILES


# ------------------------------------------------------------------ locating files
def _one_line(err: BaseException) -> str:
    """An exception's message (TensorFlow's included) as one short line."""
    text = getattr(err, "message", None)
    if not isinstance(text, str) or not text.strip():
        text = str(err) or type(err).__name__
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def _saved_model_prefix(path: str, folder: str) -> str:
    prefix = os.path.join(folder, SAVED_MODEL_VARIABLES)
    if not os.path.isfile(prefix + INDEX_SUFFIX):
        raise NotAStateError(
            path, "a SavedModel without variables (variables/variables.index is missing)"
        )
    return prefix


def _latest(path: str, folder: str) -> str:
    """The prefix a ``checkpoint`` state file names as the latest checkpoint."""
    tfimport.tensorflow()  # quietly, before its protocol buffers
    from google.protobuf import text_format
    from tensorflow.python.training import checkpoint_state_pb2

    state_file = os.path.join(folder, STATE_FILE)
    try:
        with open(state_file, encoding="utf-8") as handle:
            text = handle.read(1 << 20)
    except (OSError, UnicodeDecodeError) as err:
        raise NotAStateError(
            path, f"cannot read the 'checkpoint' file ({_one_line(err)})"
        ) from None
    state = checkpoint_state_pb2.CheckpointState()
    try:
        text_format.Parse(text, state)
    except text_format.ParseError as err:
        raise NotAStateError(
            path, f"the 'checkpoint' file is not a checkpoint state ({_one_line(err)})"
        ) from None
    recorded = state.model_checkpoint_path
    if not recorded:
        raise NotAStateError(path, "the 'checkpoint' file names no checkpoint")
    candidates = [os.path.join(folder, recorded)]  # join keeps an absolute path as it is
    if os.path.isabs(recorded):  # a directory moved since: look for the prefix beside
        candidates.append(os.path.join(folder, os.path.basename(recorded)))
    for prefix in candidates:
        if os.path.isfile(prefix + INDEX_SUFFIX):
            return prefix
    raise NotAStateError(
        path, f"the 'checkpoint' file names {recorded!r}, whose .index file does not exist"
    )


def _locate(path: str) -> tuple[str, str]:
    """(checkpoint prefix, format name) for any of the accepted forms of ``path``."""
    if os.path.isdir(path):
        if any(os.path.isfile(os.path.join(path, name)) for name in SAVED_MODEL_FILES):
            return _saved_model_prefix(path, path), "savedmodel"
        if os.path.isfile(os.path.join(path, STATE_FILE)):
            return _latest(path, path), "tf-checkpoint"
        raise NotAStateError(
            path, "a directory with neither a 'checkpoint' file nor a saved_model.pb"
        )
    if os.path.isfile(path):
        base = os.path.basename(path)
        folder = os.path.dirname(path) or "."
        if base in SAVED_MODEL_FILES:
            return _saved_model_prefix(path, folder), "savedmodel"
        if base == STATE_FILE and not os.path.isfile(path + INDEX_SUFFIX):
            return _latest(path, folder), "tf-checkpoint"
        if path.endswith(INDEX_SUFFIX):
            return path[: -len(INDEX_SUFFIX)], "tf-checkpoint"
        match = _DATA_FILE.match(path)
        if match is not None:
            if not os.path.isfile(match["prefix"] + INDEX_SUFFIX):
                raise NotAStateError(path, "a checkpoint data file without its .index file")
            return match["prefix"], "tf-checkpoint"
        if os.path.isfile(path + INDEX_SUFFIX):
            return path, "tf-checkpoint"
        raise NotAStateError(
            path,
            "not a TensorFlow checkpoint (expected a prefix with a .index file, a .index or "
            ".data- file, a directory with a 'checkpoint' file, or a SavedModel directory)",
        )
    if os.path.isfile(path + INDEX_SUFFIX):
        return path, "tf-checkpoint"
    raise NotAStateError(path, "no such file, directory or checkpoint prefix")


def _checkpoint_files(prefix: str) -> list[str]:
    """The ``.index`` and ``.data-*`` files that exist for ``prefix``."""
    folder = os.path.dirname(os.path.abspath(prefix))
    base = os.path.basename(prefix)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(
        os.path.join(folder, name)
        for name in names
        if name == base + INDEX_SUFFIX
        or ((m := _DATA_FILE.match(name)) is not None and m["prefix"] == base)
    )


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

    See the module docstring for the accepted paths, the names and the roles. Raises
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


# ------------------------------------------------------------------------- writing
def prefix_for_writing(path: str) -> str:
    """The checkpoint prefix a destination names (``X.index`` and ``X.data-*`` name ``X``)."""
    if path.endswith(INDEX_SUFFIX):
        return path[: -len(INDEX_SUFFIX)]
    match = _DATA_FILE.match(path)
    return match["prefix"] if match is not None else path


def _check_items(tf: Any, items: list[TensorItem]) -> None:
    """Refuse, before anything is written, what a checkpoint cannot hold."""
    for item in items:
        if not item.name:
            raise StateWriteError("a tensor with an empty name cannot be stored in a checkpoint")
        if item.name == GRAPH_KEY:
            raise StateWriteError(f"tensor {item.name!r}: this name is reserved by TensorFlow")
        try:
            item.name.encode("utf-8")
        except UnicodeEncodeError:
            raise StateWriteError(f"tensor {item.name!r}: the name is not valid UTF-8") from None
        try:
            tf.as_dtype(item.dtype.newbyteorder("="))
        except (TypeError, ValueError):
            raise StateWriteError(
                f"tensor {item.name!r}: dtype {item.dtype} cannot be stored in a "
                "TensorFlow checkpoint"
            ) from None


def _check_prefix(prefix: str, *, overwrite: bool) -> list[str]:
    """The files of an existing checkpoint at ``prefix`` (refusing what must be refused)."""
    if os.path.isdir(prefix):
        raise StateWriteError(
            f"{prefix}: is a directory (a checkpoint is written as PREFIX.index and "
            "PREFIX.data-* files: give a prefix such as DIR/ckpt)"
        )
    existing = _checkpoint_files(prefix)
    for name in [*existing, prefix + INDEX_SUFFIX]:
        check_destination(name, overwrite=True)  # open for reading, or a directory
    if existing and not overwrite:
        raise StateWriteError(f"{prefix}: a checkpoint exists here (use --force to replace it)")
    return existing


def _fsync(path: str, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def _write_shards(
    tf: Any, work: str, items: list[TensorItem], progress: Progress, skip_bad: bool
) -> tuple[str, int]:
    """SaveV2 the tensors into ``work``; return the prefix of the result and the count."""
    total = sum(int(np.prod(item.shape)) * item.dtype.itemsize for item in items) or 1
    done = written = 0
    parts: list[str] = []
    names: list[str] = []
    values: list[Any] = []
    pending = 0

    def flush() -> None:
        nonlocal pending
        part = os.path.join(work, f"part-{len(parts)}")
        tf.raw_ops.SaveV2(
            prefix=part, tensor_names=names, shape_and_slices=[""] * len(names), tensors=values
        )
        parts.append(part)
        names.clear()
        values.clear()
        pending = 0

    for item, loaded in iter_loaded(items, skip_bad=skip_bad):
        check_cancelled(progress)
        native = loaded if loaded.dtype.isnative else loaded.astype(loaded.dtype.newbyteorder("="))
        names.append(item.name)
        values.append(tf.convert_to_tensor(native))
        pending += native.nbytes
        written += 1
        done += native.nbytes
        progress.report(done, total)
        if pending >= SHARD_BYTES:
            flush()
    if not written:  # every tensor was a bad row, skipped
        return "", 0
    if names:
        flush()
    check_cancelled(progress)
    if len(parts) == 1:
        return parts[0], written
    merged = os.path.join(work, "merged")
    tf.raw_ops.MergeV2Checkpoints(
        checkpoint_prefixes=parts, destination_prefix=merged, delete_old_dirs=False
    )
    return merged, written


def save_tf_checkpoint(
    path: str,
    tensors: Tensors,
    *,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress = NO_PROGRESS,
    overwrite: bool = True,
    skip_bad: bool = False,
) -> int:
    """Write ``tensors`` as a name-based TensorFlow checkpoint at the prefix ``path``.

    Every tensor becomes the checkpoint key of its exact name (``PREFIX.index`` and
    ``PREFIX.data-*`` files; a ``path`` ending in ``.index`` names its prefix). Written
    atomically, see the module docstring; ``metadata`` cannot be stored and is ignored.
    Returns the number of tensors written.
    """
    prefix = prefix_for_writing(os.fspath(path))
    items = tensor_items(tensors, metadata, skip_bad=skip_bad)
    if not items:
        raise StateWriteError(f"{prefix}: no tensors to write (a checkpoint holds at least one)")
    tf = tfimport.tensorflow()
    _check_items(tf, items)
    written = 0

    def write(work: str) -> str:
        nonlocal written
        try:
            result, written = _write_shards(tf, work, items, progress, skip_bad)
        except tf.errors.OpError as err:
            raise StateWriteError(
                f"{prefix}: TensorFlow could not write the checkpoint ({_one_line(err)})"
            ) from None
        if not written:
            raise StateWriteError(
                f"{prefix}: no tensors to write (a checkpoint holds at least one)"
            )
        return result

    place_checkpoint(prefix, write, overwrite=overwrite)
    return written


def place_checkpoint(
    prefix: str, write: Callable[[str], str], *, overwrite: bool = True
) -> list[str]:
    """Write a checkpoint atomically at ``prefix``; returns the files placed.

    ``write(work)`` writes a checkpoint inside the temporary folder ``work`` (beside the
    destination) and returns the prefix it used. Its files are fsynced and renamed into
    place, data files first and the ``.index`` last; data files of a replaced checkpoint
    that the new one does not reuse are removed afterwards.
    """
    existing = _check_prefix(prefix, overwrite=overwrite)
    folder = os.path.dirname(os.path.abspath(prefix))
    base = os.path.basename(prefix)
    try:
        work = tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise StateWriteError(f"{prefix}: cannot write here ({err.strerror or err})") from None
    try:
        result = write(work)
        produced = _checkpoint_files(result)
        if not any(f.endswith(INDEX_SUFFIX) for f in produced):
            raise StateWriteError(f"{prefix}: TensorFlow wrote no .index file")
        targets = []
        for source in sorted(produced, key=lambda p: p.endswith(INDEX_SUFFIX)):
            _fsync(source)
            target = prefix + os.path.basename(source)[len(os.path.basename(result)) :]
            os.replace(source, target)  # data files first, the index last
            targets.append(os.path.abspath(target))
        for old in existing:
            if os.path.abspath(old) not in targets:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(old)
        with contextlib.suppress(OSError):
            _fsync(folder, directory=True)
    except OSError as err:
        raise StateWriteError(f"{prefix}: write failed ({err.strerror or err})") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return targets
