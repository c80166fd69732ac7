"""Which state tensor goes into which model variable: the mapping report.

Pure Python over plain descriptions (name, shape, dtype, metadata) of both sides, so the
rules are testable without TensorFlow and the GUI can show the report before anything is
written. :mod:`csv_state_viewer.bridge.apply` builds the descriptions from a live model.

Matching of model variables (``match``):

* ``name``: a state name matches a variable path across conventions: the same path;
  the path without the model's own prefix (``dense/kernel`` for ``sequential/dense/kernel``);
  Keras 2 names with a ``:0`` suffix; and finally a unique suffix match on whole segments.
* ``order``: the n-th state weight goes into ``model.weights[n]`` (``get_weights()`` order).
* ``auto``: ``order`` when every weight name is positional (``weight_0``, ``weight_1``...,
  what the widely copied recipe writes); otherwise ``name``, and when names leave weights
  unmatched but differ only by Keras's auto-numbering (``dense_1/kernel`` for
  ``dense/kernel``: a model built twice in one session) while the (name, shape, dtype)
  sequences agree in order, by position; and by position when no name is like any
  variable's at all (a folder of ``layer_1.csv`` files).

Optimizer variables are matched by exact path first, then through their metadata: a
slot (``slot_of`` + ``slot``) goes to the target optimizer's slot of the same kind for
the model variable its owner was matched to; scalars (``optimizer_variable``, or a name
ending in ``iteration``/``iterations``/``learning_rate``) to the scalar of that name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MATCH_MODES = ("auto", "name", "order")
ROLE_RNG = "rng"
OWN_ROLES = (ROLE_RNG, "counter")  # handled elsewhere: random generators, user counters
POSITIONAL = re.compile(r"^weight_(\d+)$")
_DEVICE_SUFFIX = re.compile(r":\d+$")
_AUTO_NUMBER = re.compile(r"_\d+(?=/|$)")  # Keras's "_1" on a layer, model or optimizer
# Slot names across optimizers and Keras/TF generations, mapped to Keras 3's names.
SLOT_ALIASES = {
    "m": "momentum",
    "v": "velocity",
    "vhat": "velocity_hat",
    "rms": "velocity",
    "mg": "average_gradient",
}
SCALAR_ALIASES = {"iterations": "iteration", "iter": "iteration", "lr": "learning_rate"}

MATCHED = "matched"
SHAPE_MISMATCH = "shape mismatch"
MISSING = "missing in state"
UNUSED = "unused in state"
WRONG_OPTIMIZER = "optimizer differs"


@dataclass(frozen=True)
class Slot:
    """A variable on either side: name, shape, dtype and what it is."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    role: str = "weight"  # "weight" or "optimizer"
    slot_of: str | None = None
    slot: str | None = None
    scalar: str | None = None  # optimizer scalars: "iteration", "learning_rate", ...
    optimizer: str | None = None


@dataclass
class MappingRow:
    status: str
    role: str
    state_name: str | None = None
    target: str | None = None
    state_shape: tuple[int, ...] | None = None
    target_shape: tuple[int, ...] | None = None
    state_dtype: str | None = None
    target_dtype: str | None = None
    how: str = ""

    @property
    def cast(self) -> bool:
        return self.status == MATCHED and self.state_dtype != self.target_dtype

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "role": self.role,
            "state_name": self.state_name,
            "target": self.target,
            "state_shape": list(self.state_shape) if self.state_shape is not None else None,
            "target_shape": list(self.target_shape) if self.target_shape is not None else None,
            "state_dtype": self.state_dtype,
            "target_dtype": self.target_dtype,
            "cast": self.cast,
            "how": self.how,
        }


@dataclass
class MappingReport:
    rows: list[MappingRow]
    match: str  # the mode used ("name" or "order")
    notes: list[str] = field(default_factory=list)
    order_fits: bool = False  # by position, every weight's shape would agree

    @property
    def problems(self) -> list[MappingRow]:
        return [row for row in self.rows if row.status != MATCHED]

    @property
    def ok(self) -> bool:
        return not self.problems

    def matched(self) -> list[MappingRow]:
        return [row for row in self.rows if row.status == MATCHED]

    def to_json(self) -> dict[str, Any]:
        return {
            "match": self.match,
            "ok": self.ok,
            "notes": list(self.notes),
            "rows": [row.to_json() for row in self.rows],
        }

    def summary(self) -> str:
        """``match by name: 20 matched, 2 missing in state``."""
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        return f"match by {self.match}: " + ", ".join(f"{n} {s}" for s, n in counts.items())


def without_numbering(name: str) -> str:
    """``sequential_1/dense_2/kernel`` -> ``sequential/dense/kernel``."""
    return _AUTO_NUMBER.sub("", normalize(name))


def _same_but_numbering(a: str, b: str) -> bool:
    """Equal once auto-numbering is dropped, on the segments both have (one side may
    carry the model's name as a prefix)."""
    sa, sb = without_numbering(a).split("/"), without_numbering(b).split("/")
    common = min(len(sa), len(sb))
    return sa[len(sa) - common :] == sb[len(sb) - common :]


def _renamed(pairs: Sequence[tuple[Slot, Slot]]) -> list[str]:
    """``dense -> dense_1`` for each path segment that differs only by numbering."""
    found: dict[str, str] = {}
    for source, target in pairs:
        for old, new in zip(
            reversed(normalize(source.name).split("/")),
            reversed(normalize(target.name).split("/")),
            strict=False,
        ):
            if old != new:
                found.setdefault(old, new)
    return [f"{old} -> {new}" for old, new in found.items()]


def _by_numbering(sources: Sequence[Slot], targets: Sequence[Slot]) -> bool:
    """Whether the weights line up one for one, differing only by auto-numbering."""
    return len(sources) == len(targets) and all(
        _same_but_numbering(s.name, t.name) and s.shape == t.shape and s.dtype == t.dtype
        for s, t in zip(sources, targets, strict=True)
    )


def normalize(name: str) -> str:
    """A name without a device suffix (``:0``) or surrounding slashes."""
    return _DEVICE_SUFFIX.sub("", name.strip("/"))


def _row(status: str, source: Slot | None, target: Slot | None, how: str = "") -> MappingRow:
    either = source if source is not None else target
    return MappingRow(
        status=status,
        role=either.role if either is not None else "weight",
        state_name=source.name if source else None,
        target=target.name if target else None,
        state_shape=source.shape if source else None,
        target_shape=target.shape if target else None,
        state_dtype=source.dtype if source else None,
        target_dtype=target.dtype if target else None,
        how=how,
    )


def _compare(source: Slot, target: Slot, how: str, *, reshape: bool = False) -> MappingRow:
    """Matched when the shapes agree; with ``reshape`` (matching by position, where the
    user vouches for the architecture) also when only the element counts agree, which is
    how layouts without shapes (one ``np.savetxt`` matrix per layer) store conv kernels."""
    if source.shape == target.shape:
        return _row(MATCHED, source, target, how)
    if reshape and math.prod(source.shape) == math.prod(target.shape):
        shapes = f"{list(source.shape)} -> {list(target.shape)}"
        return _row(MATCHED, source, target, f"{how}, reshaped {shapes}")
    return _row(SHAPE_MISMATCH, source, target, how)


# ------------------------------------------------------------------- model weights
def _distance(a: str, b: str) -> int | None:
    """Leading segments dropped to make two names equal (one is a whole-segment suffix of
    the other: a model prefix, or a loaded model's missing prefix), or None."""
    sa, sb = normalize(a).split("/"), normalize(b).split("/")
    common = min(len(sa), len(sb))
    if sa[len(sa) - common :] != sb[len(sb) - common :]:
        return None
    return len(sa) + len(sb) - 2 * common


def _match_weights_by_name(
    sources: Sequence[Slot], targets: Sequence[Slot]
) -> tuple[dict[str, Slot], list[MappingRow]]:
    """state name -> target for every unambiguous match; rows for all weights.

    Closest names first: exact matches are settled before prefix-stripped ones, and a
    name with two equally close candidates (or a target wanted by two names) is left
    unmatched rather than guessed.
    """
    candidates = {
        s.name: [(d, t) for t in targets if (d := _distance(s.name, t.name)) is not None]
        for s in sources
    }
    depths = sorted({d for options in candidates.values() for d, _ in options})
    by_name = {t.name: t for t in targets}
    pairs: dict[str, Slot] = {}
    hows: dict[str, str] = {}
    taken: set[str] = set()
    for depth in depths:
        wanted: dict[str, list[str]] = {}
        for source in sources:
            if source.name in pairs:
                continue
            options = [t for d, t in candidates[source.name] if d == depth and t.name not in taken]
            if len(options) == 1:
                wanted.setdefault(options[0].name, []).append(source.name)
        for target_name, names in wanted.items():
            if len(names) == 1:
                pairs[names[0]] = by_name[target_name]
                hows[names[0]] = "name" if depth == 0 else "name without prefix"
                taken.add(target_name)
    rows = [
        _compare(s, pairs[s.name], hows[s.name]) if s.name in pairs else _row(UNUSED, s, None)
        for s in sources
    ]
    rows += [_row(MISSING, None, t) for t in targets if t.name not in taken]
    return pairs, rows


def _match_weights_by_order(
    sources: Sequence[Slot], targets: Sequence[Slot], positional: bool
) -> tuple[dict[str, Slot], list[MappingRow]]:
    ordered = list(sources)
    if positional:
        ordered.sort(key=lambda s: int(POSITIONAL.match(s.name).group(1)))  # type: ignore[union-attr]
    pairs: dict[str, Slot] = {}
    rows: list[MappingRow] = []
    for source, target in zip(ordered, targets, strict=False):  # extras reported below
        pairs[source.name] = target
        rows.append(_compare(source, target, "position", reshape=True))
    rows += [_row(UNUSED, s, None) for s in ordered[len(targets) :]]
    rows += [_row(MISSING, None, t) for t in targets[len(ordered) :]]
    return pairs, rows


# ------------------------------------------------------------------------ optimizer
def _slot_kind(slot: str | None) -> str | None:
    return None if slot is None else SLOT_ALIASES.get(slot, slot)


def _scalar_kind(item: Slot) -> str | None:
    name = item.scalar or normalize(item.name).rsplit("/", 1)[-1]
    name = SCALAR_ALIASES.get(name, name)
    return name if item.scalar or name in ("iteration", "learning_rate") else None


def _scope(item: Slot) -> str:
    """The optimizer part of a variable's path without auto-numbering (``adam`` for
    ``adam_1/iteration``, ``loss_scale_optimizer/adam`` for a wrapped one's slot)."""
    return without_numbering(item.name).rpartition("/")[0]


def _match_optimizer(
    sources: Sequence[Slot], targets: Sequence[Slot], weight_pairs: dict[str, Slot]
) -> list[MappingRow]:
    by_path = {normalize(t.name): t for t in targets}
    by_slot = {(t.slot_of, _slot_kind(t.slot)): t for t in targets if t.slot_of}
    scalars = [t for t in targets if not t.slot_of and _scalar_kind(t)]
    by_scoped = {(_scope(t), _scalar_kind(t)): t for t in scalars}
    kinds = [_scalar_kind(t) for t in scalars]
    by_scalar = {_scalar_kind(t): t for t in scalars if kinds.count(_scalar_kind(t)) == 1}
    taken: set[str] = set()
    rows: list[MappingRow] = []
    for source in sources:
        target = by_path.get(normalize(source.name))
        how = "name"
        if target is None and source.slot_of is not None:
            owner = weight_pairs.get(source.slot_of)
            if owner is not None:
                target = by_slot.get((owner.name, _slot_kind(source.slot)))
                how = "slot of matched variable"
        if target is None and source.slot_of is None:
            kind = _scalar_kind(source)
            # a wrapper optimizer has several step counters: its own and its inner one's
            target = by_scoped.get((_scope(source), kind)) or by_scalar.get(kind)
            how = "optimizer scalar"
        if target is None or target.name in taken:
            rows.append(_row(UNUSED, source, None))
            continue
        taken.add(target.name)
        rows.append(_compare(source, target, how))
    rows += [_row(MISSING, None, t) for t in targets if t.name not in taken]
    return rows


# ------------------------------------------------------------------------- report
def _match_rng(
    sources: Sequence[Slot], targets: Sequence[Slot] | None, notes: list[str]
) -> list[MappingRow]:
    """Rows for the random generators' states matched by name (or, when names differ only
    by auto-numbering, by position). They never make the mapping fail: what is not matched
    is said in ``notes``, since only the next random draws depend on it."""
    if targets is None:
        if sources:
            notes.append(f"{len(sources)} RNG states in the state are not restored")
        return []
    if not targets:
        if sources:
            notes.append(f"the model has no random generators: {len(sources)} RNG states unused")
        return []
    if not sources:
        count = f"{len(targets)} random generator{'s' if len(targets) != 1 else ''}"
        notes.append(
            f"the state carries no RNG state ({count} in the model): "
            "dropout and other random layers will not draw what an uninterrupted run draws"
        )
        return []
    _, rows = _match_weights_by_name(sources, targets)
    if any(row.status != MATCHED for row in rows) and _by_numbering(sources, targets):
        _, rows = _match_weights_by_order(sources, targets, positional=False)
    matched = [row for row in rows if row.status == MATCHED]
    missing = len(targets) - len(matched)
    if missing:
        notes.append(f"{missing} of {len(targets)} random generators keep their own state")
    if len(sources) > len(matched):
        notes.append(f"{len(sources) - len(matched)} RNG states of the state are not used")
    return matched


def plan(
    state_items: Sequence[Slot],
    model_weights: Sequence[Slot],
    optimizer_variables: Sequence[Slot] | None,
    *,
    match: str = "auto",
    optimizer_name: str | None = None,
    rng_variables: Sequence[Slot] | None = None,
) -> MappingReport:
    """The mapping of state tensors onto a model (``optimizer_variables`` None: weights only;
    ``rng_variables`` None: random generators are not restored)."""
    if match not in MATCH_MODES:
        raise ValueError(f"match must be one of {', '.join(MATCH_MODES)}, not {match!r}")
    report = _plan(state_items, model_weights, optimizer_variables, match, optimizer_name)
    rng = [s for s in state_items if s.role == ROLE_RNG]
    report.rows += _match_rng(rng, rng_variables, report.notes)
    return report


def _plan(
    state_items: Sequence[Slot],
    model_weights: Sequence[Slot],
    optimizer_variables: Sequence[Slot] | None,
    match: str,
    optimizer_name: str | None,
) -> MappingReport:
    weights = [s for s in state_items if s.role == "weight"]
    slots = [s for s in state_items if s.role == "optimizer"]
    ignored = [s.name for s in state_items if s.role not in ("weight", "optimizer", *OWN_ROLES)]
    positional = bool(weights) and all(POSITIONAL.match(s.name) for s in weights)
    mode = ("order" if positional else "name") if match == "auto" else match
    notes: list[str] = []
    if ignored:
        notes.append(f"not model state, ignored: {', '.join(ignored)}")
    if mode == "order":
        pairs, rows = _match_weights_by_order(weights, model_weights, positional)
    else:
        pairs, rows = _match_weights_by_name(weights, model_weights)
        related = any(_same_but_numbering(s.name, t.name) for s in weights for t in model_weights)
        unmatched = any(row.status != MATCHED for row in rows)
        if match == "auto" and unmatched and _by_numbering(weights, model_weights):
            mode = "order"
            renamed = ", ".join(_renamed(list(zip(weights, model_weights, strict=True))))
            notes.append(
                "names differ only by Keras auto-numbering: matched by position"
                + (f" ({renamed})" if renamed else "")
            )
            pairs, rows = _match_weights_by_order(weights, model_weights, positional)
        elif match == "auto" and weights and not related:
            # no name is even like a model's (a folder of dense_1.csv files): by position
            mode = "order"
            notes.append("no state name is a model variable's: matched by position")
            pairs, rows = _match_weights_by_order(weights, model_weights, positional)
    order_fits = len(weights) == len(model_weights) and all(
        math.prod(s.shape) == math.prod(t.shape)
        for s, t in zip(weights, model_weights, strict=True)
    )
    if optimizer_variables is None:
        if slots:
            notes.append(f"{len(slots)} optimizer tensors in the state are not restored")
        return MappingReport(rows, mode, notes, order_fits)
    if not slots:
        notes.append("the state holds no optimizer variables: the optimizer starts fresh")
        return MappingReport(rows, mode, notes, order_fits)
    kinds = {s.optimizer for s in slots if s.optimizer}
    if optimizer_name and kinds and optimizer_name not in kinds:
        notes.append(
            f"the state's optimizer is {', '.join(sorted(kinds))}, the model's is {optimizer_name}"
        )
        rows += [_row(WRONG_OPTIMIZER, s, None) for s in slots]
        return MappingReport(rows, mode, notes, order_fits)
    rows += _match_optimizer(slots, optimizer_variables, pairs)
    return MappingReport(rows, mode, notes, order_fits)
