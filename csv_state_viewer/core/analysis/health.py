"""The health check of a training state: is it sane to resume from?

A state can be readable and still be useless: a NaN that one bad batch wrote into a
kernel, units that died (all-zero weights and bias: nothing flows through them again), a
batch-norm variance that went negative, optimizer slots that do not fit their variables
or were reset while the step count says training ran. Each check of :data:`CHECKS` looks
for one of these and reports a :class:`Finding` (data, for a GUI pane, the CLI and JSON).

Tensors are read one at a time, in file order (a kernel with its bias): a small cache of
the last few arrays keeps the pair from being read twice, so memory stays a few times the
largest tensor. Bad rows are not findings (the state lists them in ``state.errors``):
they are skipped, as is a tensor whose data turns out bad when read.

Slots are linked to their variable by ``slot_of`` metadata, as the tree links them
(:func:`~csv_state_viewer.core.analysis.tree.build_tree`); files without it by name
(TF1 ``dense/kernel/Adam_1``, Keras 3 ``adam/sequential_dense_kernel_velocity``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from csv_state_viewer.core.analysis import spectral
from csv_state_viewer.core.analysis.roles import SLOT, WEIGHT, kind_of
from csv_state_viewer.core.analysis.run import counts_steps, step_entry
from csv_state_viewer.core.dtypes import is_ml_dtype, is_small_float
from csv_state_viewer.core.errors import RowError
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.state import State, TensorEntry

CHECKS = ("nonfinite", "dead_units", "bn_variance", "optimizer_state", "norm_outlier", "spectral")
Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")

NORM_FACTOR = 10.0  # a kernel's std this many times off its fan-in scale is an outlier
MIN_ELEMENTS = 16  # fewer elements say nothing about a scale
ALPHA_RANGE = (2.0, 6.0)  # WeightWatcher's range of well-trained layers
_CACHED = 3  # arrays kept: a kernel, its bias, one more
_LISTED = 8  # indices a message lists

# Optimizer slots by their name (lower case, a Keras "_N" kept: Adam_1 is Adam's v).
FIRST_MOMENTS = frozenset({"momentum", "m", "adam", "exp_avg", "first_moment"})
SECOND_MOMENTS = frozenset({"velocity", "v", "adam_1", "exp_avg_sq", "second_moment"})
NON_NEGATIVE = SECOND_MOMENTS | {"rms", "rmsprop", "vhat", "v_hat", "velocity_hat"}
_REDUCED = ("_r", "_c")  # Adafactor's factored moments have reduced shapes


@dataclass(frozen=True)
class Finding:
    """One problem of one tensor, found by one check of :data:`CHECKS`."""

    tensor: str  # the tensor's name in the state
    check: str  # one of CHECKS
    severity: Severity
    message: str  # one line, for people
    value: float | int | None  # the number the check measured (count, alpha, ratio...)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record; a non-finite value as a string ("nan", "inf", "-inf")."""
        value: Any = self.value
        if isinstance(value, float) and not math.isfinite(value):
            value = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return {**asdict(self), "value": value}


@dataclass(frozen=True)
class SlotLink:
    """An optimizer slot: the variable it belongs to (None when not in the state) and its
    label (``momentum``, ``velocity``, ``Adam_1``)."""

    owner: TensorEntry | None
    label: str

    @property
    def kind(self) -> str:
        """``first`` or ``second`` for a moment, ``non-negative`` for another second-order
        slot (``rms``, ``vhat``), else ``""``."""
        label = self.label.lower().split(":")[0]
        for names, kind in ((FIRST_MOMENTS, "first"), (SECOND_MOMENTS, "second")):
            if label in names or any(label.endswith("_" + n) for n in names if len(n) > 1):
                return kind
        if label in NON_NEGATIVE or label.endswith(("_v", "_vhat", "_velocity_hat")):
            return "non-negative"
        return ""


def last_segment(name: str) -> str:
    return name.rsplit("/", 1)[-1].split(":", maxsplit=1)[0].lower()


def slot_links(state: State) -> dict[str, SlotLink]:
    """The optimizer slots of ``state`` by name, each with its variable: by ``slot_of``
    metadata first; else a name that is a variable's plus a slot segment (TF1
    ``dense/kernel/Adam``, Keras 2 ``Adam/dense/kernel/m``); else a Keras 3 name that
    flattens the variable's (``adam/sequential_dense_kernel_momentum``)."""
    good = [e for e in state.entries if e.ok]
    names = {e.name: e for e in good}
    flat = {e.name.replace("/", "_"): e for e in good if kind_of(e) == WEIGHT}
    links: dict[str, SlotLink] = {}
    for entry in good:
        owner_name = entry.metadata.get("slot_of")
        parts = entry.name.split("/")
        if isinstance(owner_name, str) and owner_name:
            owner = names.get(owner_name)
            label = str(entry.metadata.get("slot") or parts[-1])
            links[entry.name] = SlotLink(owner, label)
            continue
        if kind_of(entry) != SLOT:
            continue
        for candidate in ("/".join(parts[:-1]), "/".join(parts[1:-1])):
            if candidate in names and kind_of(names[candidate]) == WEIGHT:
                links[entry.name] = SlotLink(names[candidate], parts[-1])
                break
        else:
            found = SlotLink(None, parts[-1])
            cuts = [i for i, c in enumerate(parts[-1]) if c == "_"]
            for cut in reversed(cuts):  # the longest variable name that fits
                if parts[-1][:cut] in flat:
                    found = SlotLink(flat[parts[-1][:cut]], parts[-1][cut + 1 :])
                    break
            links[entry.name] = found
    return links


def step_counts(state: State) -> list[TensorEntry]:
    """The optimizers' step counts (``adam/iteration``, ``global_step``): scalar integers."""
    found = [
        e
        for e in state.entries
        if counts_steps(e) and last_segment(e.name) in ("iteration", "iterations")
    ]
    fallback = step_entry(state)
    if fallback is not None and fallback not in found:
        found.append(fallback)
    return found


def check_state(state: State, progress: Progress = NO_PROGRESS) -> list[Finding]:
    """Run every check of :data:`CHECKS` over ``state``; findings sorted by severity,
    then by the tensor's place in the state."""
    checker = _Checker(state)
    entries = [e for e in state.entries if e.ok and state.problem_of(e) is None]
    for index, entry in enumerate(entries):
        check_cancelled(progress)
        checker.visit(entry)
        progress.report(index + 1, len(entries))
    checker.finish()
    order = {e.name: i for i, e in reversed(list(enumerate(state.entries)))}
    return sorted(
        checker.findings,
        key=lambda f: (SEVERITIES.index(f.severity), order.get(f.tensor, len(order))),
    )


@dataclass
class _Moments:
    """The moment slots of one optimizer (keyed by its step count), zero or not."""

    zero: list[str] = field(default_factory=list)
    nonzero: list[str] = field(default_factory=list)


class _Checker:
    def __init__(self, state: State) -> None:
        self.state = state
        self.findings: list[Finding] = []
        self.links = slot_links(state)
        self.counts = step_counts(state)
        self.moments: dict[str | None, _Moments] = {}
        self._cache: OrderedDict[int, np.ndarray | None] = OrderedDict()

    def add(
        self, entry: TensorEntry, check: str, severity: Severity, message: str, value: float | None
    ) -> None:
        self.findings.append(Finding(entry.name, check, severity, message, value))

    def read(self, entry: TensorEntry) -> np.ndarray | None:
        """The data of ``entry`` (None when it is bad: the state records why)."""
        key = id(entry)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        try:
            array: np.ndarray | None = np.asarray(self.state.read(entry))
        except RowError:
            array = None
        self._cache[key] = array
        while len(self._cache) > _CACHED:
            self._cache.popitem(last=False)
        return array

    def visit(self, entry: TensorEntry) -> None:
        """Run on one tensor the checks that concern it."""
        array = self.read(entry)
        if array is None:
            return
        values = _floats(array)
        kind, last = kind_of(entry), last_segment(entry.name)
        finite = values is None or self._nonfinite(entry, values)
        if values is not None and values.dtype.kind == "c":
            return  # only non-finite values are looked for in complex tensors
        if values is None:
            values = array if array.dtype.kind in "iu" else None  # no float copy
        if kind == WEIGHT and values is not None:
            kernel = values.ndim >= 2 and "embedding" not in last
            if last == "kernel" and values.ndim >= 2:
                self._dead_units(entry, values)
            if kernel and finite:
                self._norm(entry, values)
                self._spectral(entry, values)
            if last == "gamma" and values.size and not np.any(values):
                message = f"all {values.size:,} values are zero: the layer outputs only its beta"
                self.add(entry, "bn_variance", "warning", message, values.size)
        if last == "moving_variance" and kind != SLOT and values is not None:
            bad = ~(np.isfinite(values) & (values > 0))
            if np.any(bad):
                message = (
                    f"{int(bad.sum()):,} of {values.size:,} values are <= 0 or not finite "
                    f"(first at index {int(np.argmax(bad.reshape(-1)))})"
                )
                self.add(entry, "bn_variance", "error", message, int(bad.sum()))
        if entry.name in self.links and values is not None:
            self._slot(entry, values, self.links[entry.name])

    # ------------------------------------------------------------------ the checks
    def _nonfinite(self, entry: TensorEntry, values: np.ndarray) -> bool:
        flat = values.reshape(-1)
        nan = np.isnan(flat)
        if values.dtype.kind == "c":
            inf, positive = np.isinf(flat) & ~nan, None
        else:
            inf, positive = np.isinf(flat), np.isposinf(flat)
        bad = int(nan.sum()) + int(inf.sum())
        if not bad:
            return True
        parts = [f"{int(nan.sum()):,} NaN"] if nan.any() else []
        if positive is None:
            parts += [f"{int(inf.sum()):,} Inf"] if inf.any() else []
        else:
            plus, minus = int(positive.sum()), int(inf.sum()) - int(positive.sum())
            parts += [f"{plus:,} +Inf"] if plus else []
            parts += [f"{minus:,} -Inf"] if minus else []
        first = int(np.argmax(nan | inf))
        where = f"; first at index {first}" if values.size > 1 else ""
        if values.ndim == 2:
            row, column = divmod(first, values.shape[1])
            where += f" (row {row}, column {column})"
        elif values.ndim > 2:
            where += f" ({list(map(int, np.unravel_index(first, values.shape)))})"
        self.add(entry, "nonfinite", "error", ", ".join(parts) + where, bad)
        return False

    def _dead_units(self, entry: TensorEntry, kernel: np.ndarray) -> None:
        units = kernel.shape[-1]
        dead = ~np.any(kernel.reshape(-1, units) != 0, axis=0)
        bias_name = entry.name[: -len("kernel")] + "bias"
        if bias_name in self.state and np.any(dead):
            bias_entry = self.state.entry(bias_name)
            bias = self.read(bias_entry) if bias_entry.ok else None
            if bias is None:
                return  # a bad bias: which units are dead is not known
            if bias.shape == (units,):
                dead &= np.asarray(bias) == 0
        count = int(dead.sum())
        if count:
            what = "units" if kernel.ndim == 2 else "output channels"
            indices = ", ".join(map(str, np.flatnonzero(dead)[:_LISTED]))
            more = ", ..." if count > _LISTED else ""
            message = (
                f"{count:,} of {units:,} {what} are dead (all-zero weights and bias): "
                f"{indices}{more}"
            )
            self.add(entry, "dead_units", "warning", message, count)

    def _norm(self, entry: TensorEntry, kernel: np.ndarray) -> None:
        if kernel.size < MIN_ELEMENTS or not np.any(kernel):
            return
        fan_in = math.prod(kernel.shape[:-1])
        scale = 1.0 / math.sqrt(fan_in)
        std = float(np.std(kernel, dtype=np.float64))
        ratio = std / scale
        if ratio > NORM_FACTOR or ratio < 1.0 / NORM_FACTOR:
            message = (
                f"std {std:.3g} is {ratio:.3g}x the fan-in scale 1/sqrt({fan_in:,}) = {scale:.3g}"
            )
            self.add(entry, "norm_outlier", "warning", message, ratio)

    def _spectral(self, entry: TensorEntry, kernel: np.ndarray) -> None:
        if not spectral.measurable(kernel.shape) or not np.any(kernel):
            return
        eigenvalues = spectral.esd(spectral.as_matrix(kernel))
        alpha, _, _ = spectral.power_law_alpha(eigenvalues)
        low, high = ALPHA_RANGE
        if math.isnan(alpha) or low <= alpha <= high:
            return
        why = (
            "no heavy tail, like a random or under-trained layer"
            if alpha > high
            else "a very heavy tail, possibly over-trained or collapsed"
        )
        rank = spectral.stable_rank_of(eigenvalues)
        message = f"alpha {alpha:.1f} (outside {low:g}-{high:g}: {why}), stable rank {rank:.1f}"
        self.add(entry, "spectral", "info", message, alpha)

    def _slot(self, entry: TensorEntry, values: np.ndarray, link: SlotLink) -> None:
        owner, kind = link.owner, link.kind
        reduced = link.label.lower().endswith(_REDUCED) or link.label.lower() in ("r", "c")
        if owner is not None and owner.shape != values.shape and not reduced:
            message = (
                f"shape {list(values.shape)} differs from {list(owner.shape or ())} of "
                f"its variable {owner.name}"
            )
            self.add(entry, "optimizer_state", "error", message, None)
        if kind in ("second", "non-negative"):
            negative = int(np.sum(values < 0))
            if negative:
                message = (
                    f"{negative:,} negative values in a second moment ({link.label}), "
                    "which is a running mean of squares"
                )
                self.add(entry, "optimizer_state", "error", message, negative)
        if kind in ("first", "second"):
            count = self._count_of(entry)
            moments = self.moments.setdefault(count.name if count else None, _Moments())
            (moments.nonzero if np.any(values) else moments.zero).append(entry.name)

    def _count_of(self, slot: TensorEntry) -> TensorEntry | None:
        """The step count of the optimizer that keeps ``slot``: the one in its scope,
        else the only one, else the state's step count."""
        for count in self.counts:
            scope = count.name.rpartition("/")[0]
            if scope and slot.name.startswith(scope + "/"):
                return count
        return self.counts[-1] if self.counts else None

    def finish(self) -> None:
        """The per-optimizer findings: moments against the step count."""
        for name, moments in self.moments.items():
            entry = self.state.entry(name) if name is not None else None
            step = None
            if entry is not None:
                array = self.read(entry)
                if array is None:
                    continue  # a bad step count: nothing to compare the moments with
                step = int(np.asarray(array).reshape(-1)[0])
            if step is not None and step > 0 and moments.zero and entry is not None:
                message = (
                    f"{len(moments.zero):,} moment slots are all zero after {step:,} steps "
                    f"(first: {moments.zero[0]}): the optimizer state was reset or not "
                    "saved"
                )
                self.add(entry, "optimizer_state", "warning", message, len(moments.zero))
            if (step is None or step == 0) and moments.nonzero:
                where = "the step count is 0" if entry is not None else "there is no step count"
                target = entry or self.state.entry(moments.nonzero[0])
                message = (
                    f"{len(moments.nonzero):,} moment slots are non-zero but {where} "
                    f"(first: {moments.nonzero[0]})"
                )
                self.add(target, "optimizer_state", "warning", message, len(moments.nonzero))


def _floats(array: np.ndarray) -> np.ndarray | None:
    """``array`` when it holds floats (bfloat16 and float8 widened to float32), else None."""
    if is_ml_dtype(array.dtype):
        return array.astype(np.float32) if is_small_float(array.dtype) else None
    return array if array.dtype.kind in "fc" else None
