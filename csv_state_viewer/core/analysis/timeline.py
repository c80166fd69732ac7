"""A training timeline: how each tensor of a run of saved states evolves, step by step.

For every followed tensor and every state of the run: L2 norm, mean, std, max |w|, the
percentile bands TensorBoard's distribution view draws (:data:`PERCENTILES`), a 64-bin
histogram (a "ridge" plot) and the update ratio ``‖w_t - w_(t-1)‖ / ‖w_(t-1)‖``, the
quantity people watch to tune a learning rate (about 1e-3 is the usual rule of thumb).

Tensors are followed by their name in the *last* state (the reference) and found in the
others with :func:`~csv_state_viewer.core.analysis.names.pair_names`, as ``diff`` and
``apply`` pair names, so a layer that Keras numbered differently (``dense`` → ``dense_1``)
stays one series. Work is tensor-major: every state is opened lazily (its index only),
then each tensor is read from state 0, 1, 2... keeping only the previous step's array,
so memory peaks near twice the largest tensor however long the run. A
:class:`~csv_state_viewer.core.analysis.statscache.StatsCache` makes a second look free:
with a warm cache no tensor is decoded at all.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from csv_state_viewer.core.analysis.names import pair_names
from csv_state_viewer.core.analysis.run import RunMember, in_training_order, step_of
from csv_state_viewer.core.analysis.stats import CHUNK, as_real, histogram_edges, tensor_stats
from csv_state_viewer.core.analysis.statscache import StateRecord, StatsCache
from csv_state_viewer.core.dtypes import is_small_float
from csv_state_viewer.core.errors import CsvStateError, RowError
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.state import State, TensorEntry

PERCENTILES = (0, 7, 16, 50, 84, 93, 100)
HIST_BINS = 64
Opener = Callable[[str], State]
_SCALARS = ("l2", "mean", "std", "max_abs")


@dataclass(frozen=True)
class StepStats:
    """One tensor at one step, over its finite values, in float64."""

    l2: float
    mean: float
    std: float
    max_abs: float
    percentiles: tuple[float, ...]  # at PERCENTILES
    hist_edges: np.ndarray  # HIST_BINS equal bins over the finite range of this step
    hist_counts: np.ndarray
    size: int
    nonfinite: int

    def __eq__(self, other: object) -> bool:  # by value, NaN equal to NaN: a warm cache
        if not isinstance(other, StepStats):  # must give exactly what the cold pass gave
            return NotImplemented
        return json.dumps(self.to_dict()) == json.dumps(other.to_dict())

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as the cache stores it (floats round-trip exactly through JSON)."""
        data: dict[str, Any] = {key: float(getattr(self, key)) for key in _SCALARS}
        data["percentiles"] = [float(x) for x in self.percentiles]
        data["edges"], data["counts"] = self.hist_edges.tolist(), self.hist_counts.tolist()
        return {**data, "size": int(self.size), "nonfinite": int(self.nonfinite)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepStats:
        percentiles = tuple(float(x) for x in data["percentiles"])
        edges = np.asarray(data["edges"], dtype=np.float64)
        counts = np.asarray(data["counts"], dtype=np.int64)
        if len(percentiles) != len(PERCENTILES) or edges.size != counts.size + 1:
            raise ValueError("not a step's statistics")
        return cls(
            **{key: float(data[key]) for key in _SCALARS},
            percentiles=percentiles,
            hist_edges=edges,
            hist_counts=counts,
            size=int(data["size"]),
            nonfinite=int(data["nonfinite"]),
        )


@dataclass
class TensorSeries:
    """One tensor through the run; lists have one item per state, in run order."""

    name: str  # the name in the last state of the run (the reference)
    names: list[str | None]  # its name in each state (None where it is absent)
    stats: list[StepStats | None]  # None: absent or a bad row
    update_ratio: list[float | None]  # None at the first state, and where not comparable

    def _field(self, name: str) -> list[float | None]:
        return [None if s is None else getattr(s, name) for s in self.stats]

    @property
    def l2(self) -> list[float | None]:
        return self._field("l2")

    @property
    def mean(self) -> list[float | None]:
        return self._field("mean")

    @property
    def std(self) -> list[float | None]:
        return self._field("std")

    @property
    def max_abs(self) -> list[float | None]:
        return self._field("max_abs")


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass
class Timeline:
    members: list[RunMember]
    tensors: list[TensorSeries] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data; every non-finite number (and every gap) is ``null``."""

        def values(items: list[float | None]) -> list[float | None]:
            return [_finite_or_none(v) for v in items]

        return {
            "states": [{"path": m.path, "step": m.step} for m in self.members],
            "tensors": [
                {
                    "name": t.name,
                    "l2": values(t.l2),
                    "mean": values(t.mean),
                    "std": values(t.std),
                    "max_abs": values(t.max_abs),
                    "update_ratio": values(t.update_ratio),
                    "percentiles": [
                        None if s is None else values(list(s.percentiles)) for s in t.stats
                    ],
                }
                for t in self.tensors
            ],
        }


# ------------------------------------------------------------------ measuring one step
def percentiles(finite: np.ndarray) -> tuple[float, ...]:
    """``np.percentile(finite.astype(float64), PERCENTILES)`` (linear method) without the
    float64 copy: a partition in the array's own dtype (the same order), then NumPy's
    interpolation in float64 on the few values picked."""
    if finite.size == 0:
        return tuple(math.nan for _ in PERCENTILES)
    virtual = np.true_divide(PERCENTILES, 100) * (finite.size - 1)
    low = np.floor(virtual).astype(np.intp)
    high = np.minimum(low + 1, finite.size - 1)
    gamma = virtual - low
    picked = np.partition(finite, np.unique(np.concatenate([low, high])))
    a, b = picked[low].astype(np.float64), picked[high].astype(np.float64)
    diff = b - a
    result = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return tuple(float(x) for x in result)


def step_stats(array: np.ndarray) -> StepStats:
    """The statistics of one tensor at one step (see :class:`StepStats`)."""
    values = as_real(array).reshape(-1)
    stats = tensor_stats(values)
    nonfinite = stats.count - stats.finite
    finite = values if not nonfinite else values[np.isfinite(values)]
    low, high = stats.min, stats.max
    # the viewer's histogram (stats.histogram) without its pass to find the range: known
    edges = histogram_edges(low or 0.0, high or 0.0, HIST_BINS)
    counts = np.histogram(finite, bins=HIST_BINS, range=(edges[0], edges[-1]))[0]
    return StepStats(
        l2=stats.l2,
        mean=math.nan if stats.mean is None else stats.mean,
        std=math.nan if stats.std is None else stats.std,
        max_abs=math.nan if low is None or high is None else max(abs(low), abs(high)),
        percentiles=percentiles(finite),
        hist_edges=edges,
        hist_counts=counts.astype(np.int64),
        size=stats.count,
        nonfinite=nonfinite,
    )


def update_ratio(current: np.ndarray, previous: np.ndarray) -> float | None:
    """``‖current - previous‖₂ / ‖previous‖₂`` in float64, in chunks (no full-size float64
    copy); None when the shapes differ or the previous norm is 0."""
    if current.shape != previous.shape:
        return None
    now, before = as_real(current).reshape(-1), as_real(previous).reshape(-1)
    change = norm = 0.0
    for start in range(0, now.size, CHUNK):
        b = before[start : start + CHUNK].astype(np.float64)
        d = now[start : start + CHUNK].astype(np.float64) - b
        change += float(np.dot(d, d))
        norm += float(np.dot(b, b))
    if norm == 0:
        return None
    return math.sqrt(change) / math.sqrt(norm)


# ---------------------------------------------------------------------- the run
def is_float_entry(entry: TensorEntry) -> bool:
    """A good tensor of a floating-point dtype (ml_dtypes' floats included)."""
    dtype = entry.dtype
    return entry.ok and dtype is not None and (dtype.kind == "f" or is_small_float(dtype))


class _Opened:
    """One state of the run, open lazily, with its cache record."""

    def __init__(self, state: State, record: StateRecord) -> None:
        self.state, self.record = state, record
        if not record.has_step:
            record.step, record.has_step, record.dirty = step_of(state), True, True
        self.member = RunMember(state.path, record.step)
        self.names = [e.name for e in state.entries]

    def entry(self, name: str | None) -> TensorEntry | None:
        return None if name is None or name not in self.state else self.state.entry(name)


def compute_timeline(
    paths: Sequence[str],
    names: Sequence[str] | None = None,
    *,
    progress: Progress = NO_PROGRESS,
    cache: StatsCache | None = None,
    opener: Opener | None = None,
) -> Timeline:
    """The timeline of the states ``paths`` (state files; see ``run.run_paths``).

    States are ordered as :func:`~csv_state_viewer.core.analysis.run.order_run` orders
    them (by step when every state has one, else as given); the step is read once per
    file and cached with its statistics. ``names`` are tensors as named in the last
    state (default: its float tensors, weights and optimizer slots); an unknown one is a
    :class:`CsvStateError`. ``opener`` opens a state lazily (default
    :func:`csv_state_viewer.core.api.open_state`; front ends pass theirs for formats read
    in a worker). Reports progress over tensors x states and honours cancellation.
    """
    if opener is None:
        from csv_state_viewer.core.api import open_state

        opener = open_state
    if not paths:
        raise CsvStateError("a timeline needs at least one state")
    with contextlib.ExitStack() as stack:
        opened: list[_Opened] = []
        for path in paths:
            check_cancelled(progress)
            state = stack.enter_context(opener(path))
            record = cache.record(state) if cache is not None else StateRecord(None)
            opened.append(_Opened(state, record))
        opened = in_training_order(opened, lambda o: o.member.step)
        reference = opened[-1]
        followed = _followed(reference.state, names)
        # the whole indexes are paired (as diff pairs them), then the followed names looked up
        mappings = [dict(pair_names(reference.names, o.names).pairs) for o in opened[:-1]]
        mappings.append({name: name for name in followed})
        timeline = Timeline([o.member for o in opened])
        total, done = len(followed) * len(opened), 0
        for name in followed:
            series = _Series(name, [mapping.get(name) for mapping in mappings], opened)
            for index in range(len(opened)):
                check_cancelled(progress)
                series.advance(index)
                done += 1
                progress.report(done, total)
            timeline.tensors.append(series.result())
        if cache is not None:
            for o in opened:
                cache.save(o.record)
    return timeline


def _followed(reference: State, names: Sequence[str] | None) -> list[str]:
    if names is None:
        return [e.name for e in reference.entries if is_float_entry(e) and e.name in reference]
    unknown = [n for n in names if n not in reference]
    if unknown:
        raise CsvStateError(f"{reference.path}: no tensor named {unknown[0]!r}")
    return list(dict.fromkeys(names))


class _Series:
    """Builds one :class:`TensorSeries`, state by state, holding at most the previous
    step's array (and only when the next ratio is not in the cache)."""

    def __init__(self, name: str, names: list[str | None], opened: list[_Opened]) -> None:
        self.name, self.names, self.opened = name, names, opened
        self.entries = [o.entry(n) for o, n in zip(opened, names, strict=True)]
        self.stats: list[StepStats | None] = []
        self.ratios: list[float | None] = []
        self.previous: np.ndarray | None = None

    def _comparable(self, index: int) -> bool:
        """Whether a ratio can exist at ``index``: both sides good, of one shape."""
        if index == 0:
            return False
        before, now = self.entries[index - 1], self.entries[index]
        if before is None or now is None or not before.ok or not now.ok:
            return False
        return before.shape == now.shape

    def _ratio_key(self, index: int) -> tuple[str, str] | None:
        """Where the cache keeps the ratio at ``index``: (previous state's digest, pair of
        names); None when it cannot be cached."""
        key = self.opened[index - 1].record.key if index else None
        before, now = self.entries[index - 1], self.entries[index]
        if key is None or before is None or now is None:
            return None
        return key.digest, json.dumps([before.name, now.name])

    def _cached_ratio(self, index: int) -> tuple[bool, float | None]:
        if not self._comparable(index):
            return True, None
        key = self._ratio_key(index)
        ratios = None if key is None else self.opened[index].record.ratios.get(key[0])
        if key is None or not isinstance(ratios, dict) or key[1] not in ratios:
            return False, None
        value = ratios[key[1]]
        return (True, float(value)) if isinstance(value, (int, float)) else (True, None)

    def _cached_stats(self, index: int) -> tuple[bool, StepStats | None]:
        entry = self.entries[index]
        if entry is None or not entry.ok:
            return True, None
        stats = self.opened[index].record.stats
        if entry.name not in stats:
            return False, None
        data = stats[entry.name]
        if data is None:
            return True, None
        try:
            return True, StepStats.from_dict(data)
        except (ValueError, KeyError, TypeError):
            return False, None  # a damaged record: measured again

    def advance(self, index: int) -> None:
        have_stats, stats = self._cached_stats(index)
        have_ratio, ratio = self._cached_ratio(index)
        keep = index + 1 < len(self.opened) and not self._cached_ratio(index + 1)[0]
        array: np.ndarray | None = None
        entry, record = self.entries[index], self.opened[index].record
        if entry is not None and (not have_stats or not have_ratio or keep):
            try:
                array = self.opened[index].state.read(entry)
            except RowError:
                array = None
            if not have_ratio:  # first, so the previous array is freed before the stats
                ratio_key = self._ratio_key(index)
                previous, self.previous = self.previous, None
                if array is not None and previous is not None:
                    ratio = update_ratio(array, previous)
                del previous
                if ratio_key is not None:
                    record.ratios.setdefault(ratio_key[0], {})[ratio_key[1]] = ratio
                    record.dirty = True
            self.previous = None
            if not have_stats:
                stats = None if array is None else step_stats(array)
                record.stats[entry.name] = None if stats is None else stats.to_dict()
                record.dirty = True
        if stats is None:
            ratio = None
        self.previous = array if keep else None
        self.stats.append(stats)
        self.ratios.append(ratio)

    def result(self) -> TensorSeries:
        ratios = [
            None if i == 0 or self.stats[i - 1] is None else r for i, r in enumerate(self.ratios)
        ]
        return TensorSeries(self.name, self.names, self.stats, ratios)
