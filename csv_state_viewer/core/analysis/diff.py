"""Compare two states tensor by tensor, streaming: one tensor of each side at a time.

Tensors are paired by name (:func:`~csv_state_viewer.core.analysis.names.pair_names`:
exactly, then, with ``match="auto"``, past device suffixes, a model-name prefix, Keras's
auto-numbering and a recipe's positional names; ``match="order"`` pairs by position) and
listed in A's order, then B's tensors that nothing paired. Each gets a :class:`TensorDiff`
(A's name, and ``name_b`` when B's differs) whose ``status`` is a :class:`DiffStatus`:

* ``identical``: same shape, same dtype (byte order aside) and the same bits;
* ``different``: same shape and dtype, some bits differ (``-0.0`` vs ``0.0`` included);
* ``dtype_differs``: same shape, other dtype (float32 vs float64); still measured;
* ``shape_differs``: not comparable element by element, so not decoded;
* ``only_in_a`` / ``only_in_b``: the name is on one side only (that side is not decoded);
* ``unreadable``: a bad row on either side; ``message`` says which file, line and why.
  Rows that no name can match (nameless rows, repeated names) are listed this way too.

Numbers are computed in float64 (complex128 when a side is complex) in chunks:
``max_abs_diff`` and ``rel_l2`` = ||b - a|| / ||a|| skip positions where either side is
NaN; both NaN counts as equal, NaN against a number is counted in ``nan_mismatches``.
``changed`` counts elements whose bits differ (equal dtypes), or whose values differ
(other dtypes; NaN equals NaN, ``-0.0`` differs from ``0.0``, integers exactly).

In :meth:`StateDiff.to_json` ``null`` means "not measured" and non-finite numbers are the
strings ``"inf"`` and ``"nan"``, so the document is strict JSON.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np

from csv_state_viewer.core.analysis.names import pair_names
from csv_state_viewer.core.errors import RowError, RowProblem
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.state import State, TensorEntry

CHUNK = 1 << 20  # elements widened to float64 at a time
_INTEGER_KINDS = frozenset("biu")


class DiffStatus(StrEnum):
    """How a tensor of B compares with A's; the values are what JSON output says.

    A ``str`` enum (``StrEnum`` is ``str`` + ``Enum``): members compare and hash like
    their values, and ``str()`` of a member is its value.
    """

    IDENTICAL = "identical"
    DIFFERENT = "different"
    DTYPE_DIFFERS = "dtype_differs"
    SHAPE_DIFFERS = "shape_differs"
    ONLY_IN_A = "only_in_a"
    ONLY_IN_B = "only_in_b"
    UNREADABLE = "unreadable"

    @property
    def measured(self) -> bool:
        """True when the elements were compared, so the numbers of the diff are known."""
        return self in (DiffStatus.IDENTICAL, DiffStatus.DIFFERENT, DiffStatus.DTYPE_DIFFERS)


STATUSES = tuple(DiffStatus)  # in the order counts and reports list them


@dataclass(frozen=True)
class TensorDiff:
    """How one tensor of B differs from the tensor of A paired with it.

    ``name`` is A's name (B's for a tensor only in B); ``name_b`` is B's when it differs.
    """

    name: str
    status: DiffStatus
    shape_a: tuple[int, ...] | None = None
    shape_b: tuple[int, ...] | None = None
    dtype_a: np.dtype | None = None
    dtype_b: np.dtype | None = None
    max_abs_diff: float | None = None
    rel_l2: float | None = None
    changed: int | None = None
    nan_mismatches: int | None = None
    message: str | None = None
    name_b: str | None = None

    def to_json(self) -> dict[str, Any]:
        names: dict[str, Any] = {"name": self.name}
        if self.name_b is not None:
            names["name_b"] = self.name_b
        return {
            **names,
            "status": self.status.value,
            "shape_a": list(self.shape_a) if self.shape_a is not None else None,
            "shape_b": list(self.shape_b) if self.shape_b is not None else None,
            "dtype_a": str(self.dtype_a) if self.dtype_a is not None else None,
            "dtype_b": str(self.dtype_b) if self.dtype_b is not None else None,
            "max_abs_diff": _json_number(self.max_abs_diff),
            "rel_l2": _json_number(self.rel_l2),
            "changed": self.changed,
            "nan_mismatches": self.nan_mismatches,
            "message": self.message,
        }


@dataclass(frozen=True)
class StateDiff:
    """The comparison of state ``a`` with state ``b``, one entry per tensor."""

    a: str
    b: str
    tensors: list[TensorDiff] = field(default_factory=list)
    pairing_note: str = ""  # how names were paired, one line (NamePairing.how)

    @property
    def identical(self) -> bool:
        """True when every tensor is bit-for-bit identical and none is one-sided."""
        return all(t.status is DiffStatus.IDENTICAL for t in self.tensors)

    def counts(self) -> dict[DiffStatus, int]:
        """Number of tensors per status, in :class:`DiffStatus` order, zeros left out."""
        found = Counter(t.status for t in self.tensors)
        return {status: found[status] for status in STATUSES if found[status]}

    def by_name(self) -> dict[str, TensorDiff]:
        """The comparison of each name of A (the first row of a repeated name) and of B."""
        found: dict[str, TensorDiff] = {}
        for tensor in self.tensors:
            found.setdefault(tensor.name, tensor)
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "identical": self.identical,
            "tensors": [t.to_json() for t in self.tensors],
        }


def diff_states(
    a: State, b: State, progress: Progress = NO_PROGRESS, *, match: str = "auto"
) -> StateDiff:
    """Compare two open states; reports one unit of progress per tensor.

    ``match`` is how names are paired: ``auto``, ``name`` or ``order`` (see
    :func:`~csv_state_viewer.core.analysis.names.pair_names`).
    """
    pairs, note = _pairs(a, b, match)
    tensors = []
    for done, (entry_a, entry_b) in enumerate(pairs, start=1):
        check_cancelled(progress)
        tensors.append(_compare(a, b, entry_a, entry_b))
        progress.report(done, len(pairs))
    return StateDiff(a.path, b.path, tensors, note)


def differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise ``b - a`` in float64 (``|b - a|`` when a side is complex).

    Equal values (both NaN, or the same infinity) give 0; NaN against a number gives NaN.
    """
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    wide_a, wide_b = _widen(a, b)
    return _difference(wide_a, wide_b, np.isnan(wide_a), np.isnan(wide_b))


# ------------------------------------------------------------------------ matching
_Pair = tuple[TensorEntry | None, TensorEntry | None]


def _first_by_name(state: State) -> dict[str, TensorEntry]:
    found: dict[str, TensorEntry] = {}
    for entry in state.entries:
        if entry.name:
            found.setdefault(entry.name, entry)
    return found


def _pairs(a: State, b: State, match: str) -> tuple[list[_Pair], str]:
    """A's rows in order, then B's unpaired ones; nameless or repeated rows stay alone.

    Returns the pairs and the line that says how names were paired.
    """
    first_a, first_b = _first_by_name(a), _first_by_name(b)
    pairing = pair_names(list(first_a), list(first_b), match)
    to_b = dict(pairing.pairs)
    paired_b = set(to_b.values())
    pairs: list[_Pair] = []
    for entry in a.entries:
        matched = first_a.get(entry.name) is entry and entry.name in to_b
        pairs.append((entry, first_b[to_b[entry.name]] if matched else None))
    for entry in b.entries:
        if first_b.get(entry.name) is not entry or entry.name not in paired_b:
            pairs.append((None, entry))
    return pairs, pairing.how


# ---------------------------------------------------------------------- comparing
def _compare(
    a: State, b: State, entry_a: TensorEntry | None, entry_b: TensorEntry | None
) -> TensorDiff:
    some = entry_a or entry_b
    assert some is not None
    base = TensorDiff(
        name=some.name,
        name_b=entry_b.name if entry_a and entry_b and entry_b.name != entry_a.name else None,
        status=DiffStatus.UNREADABLE,
        shape_a=entry_a.shape if entry_a else None,
        shape_b=entry_b.shape if entry_b else None,
        dtype_a=entry_a.dtype if entry_a else None,
        dtype_b=entry_b.dtype if entry_b else None,
    )
    problems = [
        str(RowProblem(state.path, entry.line, entry.name, entry.error))
        for state, entry in ((a, entry_a), (b, entry_b))
        if entry is not None and entry.error is not None
    ]
    if problems:
        return replace(base, message="; ".join(problems))
    if entry_b is None:
        return replace(base, status=DiffStatus.ONLY_IN_A)
    if entry_a is None:
        return replace(base, status=DiffStatus.ONLY_IN_B)
    if entry_a.shape != entry_b.shape:
        return replace(base, status=DiffStatus.SHAPE_DIFFERS)
    try:
        array_a, array_b = a.read(entry_a), b.read(entry_b)
    except RowError as err:
        return replace(base, message=str(err.problem))
    same_dtype = _native(array_a.dtype) == _native(array_b.dtype)
    measured = _measure(array_a, array_b, same_dtype)
    if not same_dtype:
        status = DiffStatus.DTYPE_DIFFERS
    elif measured.changed == 0:
        status = DiffStatus.IDENTICAL
    else:
        status = DiffStatus.DIFFERENT
    return replace(
        base,
        status=status,
        max_abs_diff=measured.max_abs,
        rel_l2=measured.rel_l2,
        changed=measured.changed,
        nan_mismatches=measured.nan_mismatches,
    )


@dataclass
class _Measure:
    max_abs: float = 0.0
    changed: int = 0
    nan_mismatches: int = 0
    norm_diff: float = 0.0
    norm_a: float = 0.0

    @property
    def rel_l2(self) -> float:
        if self.norm_diff == 0.0:
            return 0.0
        return self.norm_diff / self.norm_a if self.norm_a else math.inf


def _measure(a: np.ndarray, b: np.ndarray, same_dtype: bool) -> _Measure:
    """Accumulate the numbers chunk by chunk, so only a chunk is ever widened."""
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    exact = a.dtype.kind in _INTEGER_KINDS and b.dtype.kind in _INTEGER_KINDS
    total = _Measure()
    for start in range(0, flat_a.size, CHUNK):
        chunk_a = _to_native(flat_a[start : start + CHUNK])
        chunk_b = _to_native(flat_b[start : start + CHUNK])
        wide_a, wide_b = _widen(chunk_a, chunk_b)
        nan_a, nan_b = np.isnan(wide_a), np.isnan(wide_b)
        if same_dtype:
            total.changed += _bits_changed(chunk_a, chunk_b)
        elif exact:
            total.changed += int(np.count_nonzero(chunk_a != chunk_b))
        else:
            total.changed += int(np.count_nonzero(~_same_values(wide_a, wide_b, nan_a, nan_b)))
        total.nan_mismatches += int(np.count_nonzero(nan_a ^ nan_b))
        comparable = ~(nan_a | nan_b)
        gaps = np.abs(_difference(wide_a, wide_b, nan_a, nan_b)[comparable])
        if gaps.size:
            total.max_abs = max(total.max_abs, float(gaps.max()))
        total.norm_diff = math.hypot(total.norm_diff, _l2(gaps))
        total.norm_a = math.hypot(total.norm_a, _l2(np.abs(wide_a[comparable])))
    return total


def _native(dtype: np.dtype) -> np.dtype:
    return dtype.newbyteorder("=")


def _to_native(array: np.ndarray) -> np.ndarray:
    return array.astype(_native(array.dtype), copy=False)


def _widen(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    complex_ = a.dtype.kind == "c" or b.dtype.kind == "c"
    target = np.dtype(np.complex128 if complex_ else np.float64)
    return a.astype(target), b.astype(target)


def _difference(
    wide_a: np.ndarray, wide_b: np.ndarray, nan_a: np.ndarray, nan_b: np.ndarray
) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        delta = wide_b - wide_a
        # 0-d operands give a NumPy scalar, which takes no item assignment: make it an array
        out = np.asarray(np.abs(delta) if delta.dtype.kind == "c" else delta)
    out[(wide_a == wide_b) | (nan_a & nan_b)] = 0.0
    out[nan_a ^ nan_b] = np.nan
    return out


def _bits_changed(a: np.ndarray, b: np.ndarray) -> int:
    """Elements whose bytes differ; ``a`` and ``b`` are native, contiguous, one dtype."""
    itemsize = a.dtype.itemsize
    bytes_a = a.view(np.uint8).reshape(-1, itemsize)
    bytes_b = b.view(np.uint8).reshape(-1, itemsize)
    return int(np.count_nonzero((bytes_a != bytes_b).any(axis=1)))


def _same_values(
    wide_a: np.ndarray, wide_b: np.ndarray, nan_a: np.ndarray, nan_b: np.ndarray
) -> np.ndarray:
    """Equal values with equal signs (so ``-0.0`` is not ``0.0``), or NaN on both sides."""
    if wide_a.dtype.kind == "c":
        same_sign = (np.signbit(wide_a.real) == np.signbit(wide_b.real)) & (
            np.signbit(wide_a.imag) == np.signbit(wide_b.imag)
        )
    else:
        same_sign = np.signbit(wide_a) == np.signbit(wide_b)
    return ((wide_a == wide_b) & same_sign) | (nan_a & nan_b)


def _l2(magnitudes: np.ndarray) -> float:
    """Euclidean norm of non-negative float64 values, scaled so no square overflows."""
    if not magnitudes.size:
        return 0.0
    peak = float(magnitudes.max())
    if peak == 0.0 or math.isinf(peak):
        return peak
    return peak * math.sqrt(float(np.sum(np.square(magnitudes / peak))))


def _json_number(value: float | None) -> float | str | None:
    """Finite floats stay numbers; infinities and NaN become "inf", "-inf", "nan"."""
    if value is None or math.isfinite(value):
        return value
    return str(value)
