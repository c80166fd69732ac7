"""Pair the tensor names of two states the way ``apply`` pairs a state with a model.

A CSV state and the ``.keras`` file it was written into rarely spell names alike:
``sequential/dense/kernel`` against ``dense/kernel``, ``dense/kernel:0`` against
``dense/kernel``, ``dense/kernel`` against ``dense_1/kernel`` (Keras numbers a layer when
its name is taken), or a recipe's positional ``weight_0, weight_1, ...`` against real
names. :func:`pair_names` tries these rules in order, each only on the names still
unpaired and each only where the answer is unambiguous: it never guesses between two
candidates, it leaves them unpaired.

Pure Python; the result is data (:class:`NamePairing`), with one line, ``how``, for a
report.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

MODES = ("auto", "name", "order")

# What paired a name, in the order the rules are tried (``ORDER`` is the ``order`` mode).
EXACT = "exact"
DEVICE = "device"
PREFIX = "prefix"
NUMBERING = "numbering"
RECIPE = "recipe"
ORDER = "order"

_DEVICE_SUFFIX = re.compile(r":\d+$")
_NUMBERED_SEGMENT = re.compile(r"^(.+?)_\d+$")
_RECIPE_NAME = re.compile(r"^weight_(\d+)$")


@dataclass(frozen=True)
class NamePairing:
    """Which name of A goes with which name of B.

    ``pairs`` are in A's order; ``only_a`` and ``only_b`` keep their side's order;
    ``reasons`` gives, for each paired name of A, the rule that paired it (``EXACT``,
    ``DEVICE``, ``PREFIX``, ``NUMBERING``, ``RECIPE`` or ``ORDER``); ``how`` says it in
    one line.
    """

    pairs: list[tuple[str, str]]
    only_a: list[str]
    only_b: list[str]
    how: str
    reasons: dict[str, str] = field(default_factory=dict)


def pair_names(a: Sequence[str], b: Sequence[str], mode: str = "auto") -> NamePairing:
    """Pair the names of ``a`` with those of ``b``.

    ``mode`` is ``auto`` (every rule), ``name`` (exact names, then a leading prefix on one
    side) or ``order`` (by position, whatever the names). A name repeated on one side
    takes part once, by its first occurrence; its repeats stay unpaired.
    """
    if mode not in MODES:
        raise ValueError(f"unknown match mode {mode!r}: expected one of {', '.join(MODES)}")
    names_a, names_b = list(dict.fromkeys(a)), list(dict.fromkeys(b))
    found = _Found(names_a, names_b)
    if mode == "order":
        found.add_all(zip(names_a, names_b, strict=False), ORDER, "by position in file order")
    else:
        found.add_all(_pair_by_key(found.rest_a(), found.rest_b(), str), EXACT, "exactly")
        plain: Callable[[str], str] = str
        if mode == "auto":
            plain = _strip_device
            found.add_all(
                _pair_by_key(found.rest_a(), found.rest_b(), _strip_device),
                DEVICE,
                "ignoring :N device suffixes",
            )
        pairs, prefixes = _pair_by_suffix(found.rest_a(), found.rest_b(), plain)
        found.add_all(pairs, PREFIX, _prefix_text(prefixes))
        if mode == "auto":
            pairs, text = _pair_by_numbering(found.rest_a(), found.rest_b())
            found.add_all(pairs, NUMBERING, text)
            found.add_all(
                _pair_recipe(found.rest_a(), found.rest_b()),
                RECIPE,
                "by position (weight_0, weight_1, …)",
            )
    return found.result(a, b)


class _Found:
    """The pairs made so far, rule by rule."""

    def __init__(self, names_a: list[str], names_b: list[str]) -> None:
        self.names_a, self.names_b = names_a, names_b
        self.to_b: dict[str, str] = {}
        self.taken_b: set[str] = set()
        self.reasons: dict[str, str] = {}
        self.texts: list[tuple[str, int]] = []  # (how, count) per rule that paired some

    def rest_a(self) -> list[str]:
        return [name for name in self.names_a if name not in self.to_b]

    def rest_b(self) -> list[str]:
        return [name for name in self.names_b if name not in self.taken_b]

    def add_all(self, pairs: Iterable[tuple[str, str]], reason: str, text: str) -> None:
        count = 0
        for name_a, name_b in pairs:
            self.to_b[name_a] = name_b
            self.taken_b.add(name_b)
            self.reasons[name_a] = reason
            count += 1
        if count:
            self.texts.append((text, count))

    def result(self, a: Sequence[str], b: Sequence[str]) -> NamePairing:
        pairs = [(name, self.to_b[name]) for name in self.names_a if name in self.to_b]
        # repeats of a name stay unpaired, in their side's order
        only_a = _unpaired(a, set(self.to_b))
        only_b = _unpaired(b, self.taken_b)
        if not self.texts:
            how = "no names paired"
        elif len(self.texts) == 1:
            how = f"names paired {self.texts[0][0]}"
        else:
            how = "names paired " + ", ".join(f"{text} ({count})" for text, count in self.texts)
        return NamePairing(pairs, only_a, only_b, how, self.reasons)


def _unpaired(names: Sequence[str], paired: set[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        if name in paired and name not in seen:
            seen.add(name)
        else:
            out.append(name)
    return out


# --------------------------------------------------------------------------- rules
def _strip_device(name: str) -> str:
    return _DEVICE_SUFFIX.sub("", name)


def _pair_by_key(
    rest_a: list[str], rest_b: list[str], key: Callable[[str], str]
) -> list[tuple[str, str]]:
    """Pairs whose keys agree, where exactly one name on each side has that key."""
    by_key_a: dict[str, list[str]] = defaultdict(list)
    by_key_b: dict[str, list[str]] = defaultdict(list)
    for name in rest_a:
        by_key_a[key(name)].append(name)
    for name in rest_b:
        by_key_b[key(name)].append(name)
    return [
        (found[0], by_key_b[k][0])
        for k, found in by_key_a.items()
        if len(found) == 1 and len(by_key_b.get(k, ())) == 1
    ]


def _pair_by_suffix(
    rest_a: list[str], rest_b: list[str], plain: Callable[[str], str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Pairs where one name is the other with leading segments dropped.

    Each name takes its closest candidate (fewest segments dropped); a tie, or a
    candidate whose own closest is another name, leaves both unpaired. Returns the pairs
    and the prefixes dropped, in order of first use.
    """
    segments_a = {name: tuple(plain(name).split("/")) for name in rest_a}
    segments_b = {name: tuple(plain(name).split("/")) for name in rest_b}
    # every proper whole-segment suffix of each name -> (name, segments dropped)
    suffixes_a = _suffix_index(segments_a)
    suffixes_b = _suffix_index(segments_b)
    whole_a = _whole_index(segments_a)
    whole_b = _whole_index(segments_b)
    best_a = {
        name: _closest(_candidates(segments, whole_b, suffixes_b))
        for name, segments in segments_a.items()
    }
    best_b = {
        name: _closest(_candidates(segments, whole_a, suffixes_a))
        for name, segments in segments_b.items()
    }
    pairs: list[tuple[str, str]] = []
    prefixes: dict[str, None] = {}
    for name_a in rest_a:
        name_b = best_a[name_a]
        if name_b is not None and best_b[name_b] == name_a:
            pairs.append((name_a, name_b))
            long, short = sorted((segments_a[name_a], segments_b[name_b]), key=len, reverse=True)
            prefixes["/".join(long[: len(long) - len(short)]) + "/"] = None
    return pairs, list(prefixes)


_Segments = tuple[str, ...]


def _suffix_index(names: dict[str, _Segments]) -> dict[_Segments, list[tuple[str, int]]]:
    index: dict[_Segments, list[tuple[str, int]]] = defaultdict(list)
    for name, segments in names.items():
        for dropped in range(1, len(segments)):
            index[segments[dropped:]].append((name, dropped))
    return index


def _whole_index(names: dict[str, _Segments]) -> dict[_Segments, list[str]]:
    index: dict[_Segments, list[str]] = defaultdict(list)
    for name, segments in names.items():
        index[segments].append(name)
    return index


def _candidates(
    segments: _Segments,
    whole_other: dict[_Segments, list[str]],
    suffixes_other: dict[_Segments, list[tuple[str, int]]],
) -> list[tuple[str, int]]:
    """Names of the other side that are a proper suffix of ``segments``, or have it as one."""
    found = [
        (other, dropped)
        for dropped in range(1, len(segments))
        for other in whole_other.get(segments[dropped:], ())
    ]
    found.extend(suffixes_other.get(segments, ()))
    return found


def _closest(candidates: list[tuple[str, int]]) -> str | None:
    if not candidates:
        return None
    fewest = min(dropped for _, dropped in candidates)
    nearest = {name for name, dropped in candidates if dropped == fewest}
    return nearest.pop() if len(nearest) == 1 else None


def _prefix_text(prefixes: list[str]) -> str:
    if len(prefixes) == 1:
        return f"without a leading prefix ({prefixes[0]})"
    shown = ", ".join(prefixes[:3]) + (", …" if len(prefixes) > 3 else "")
    return f"without leading prefixes ({shown})"


def _unnumbered(segments: _Segments) -> _Segments:
    return tuple(_NUMBERED_SEGMENT.sub(r"\1", segment) for segment in segments)


def _pair_by_numbering(rest_a: list[str], rest_b: list[str]) -> tuple[list[tuple[str, str]], str]:
    """Pairs by position when the names left agree, in order, once Keras's ``_N`` is gone.

    ``dense_1/kernel`` agrees with ``dense/kernel`` and ``dense_2/kernel``; a leading
    prefix on one side is allowed when it is the same one for every name that has it.
    """
    if not rest_a or len(rest_a) != len(rest_b):
        return [], ""
    prefixes: set[tuple[int, _Segments]] = set()  # (side that has it, the prefix)
    example = ""
    for name_a, name_b in zip(rest_a, rest_b, strict=True):
        plain_a = tuple(_strip_device(name_a).split("/"))
        plain_b = tuple(_strip_device(name_b).split("/"))
        side = 0 if len(plain_a) >= len(plain_b) else 1
        long, short = (plain_a, plain_b) if side == 0 else (plain_b, plain_a)
        extra = len(long) - len(short)
        if _unnumbered(long[extra:]) != _unnumbered(short):
            return [], ""
        if extra:
            prefixes.add((side, _unnumbered(long[:extra])))
        if not example:
            tail_a = plain_a[len(plain_a) - len(short) :]
            tail_b = plain_b[len(plain_b) - len(short) :]
            example = next(
                (f"{x} -> {y}" for x, y in zip(tail_a, tail_b, strict=True) if x != y), ""
            )
    if len(prefixes) > 1:
        return [], ""
    text = "by position where they differ only by Keras auto-numbering"
    if example:
        text += f" ({example})"
    if prefixes:
        ((_, prefix),) = prefixes
        text += f" and a leading prefix ({'/'.join(prefix)}/)"
    return list(zip(rest_a, rest_b, strict=True)), text


def _pair_recipe(rest_a: list[str], rest_b: list[str]) -> list[tuple[str, str]]:
    """Positional names ``weight_0, weight_1, ...`` on one side, by their number."""
    if not rest_a or len(rest_a) != len(rest_b):
        return []
    numbers_a, numbers_b = _recipe_numbers(rest_a), _recipe_numbers(rest_b)
    if numbers_a is not None and numbers_b is None:
        ordered = [name for _, name in sorted(zip(numbers_a, rest_a, strict=True))]
        return list(zip(ordered, rest_b, strict=True))
    if numbers_b is not None and numbers_a is None:
        ordered = [name for _, name in sorted(zip(numbers_b, rest_b, strict=True))]
        return list(zip(rest_a, ordered, strict=True))
    return []


def _recipe_numbers(names: list[str]) -> list[int] | None:
    """The numbers of ``weight_N`` names when every name is one, all distinct; else None."""
    numbers = []
    for name in names:
        found = _RECIPE_NAME.match(_strip_device(name))
        if found is None:
            return None
        numbers.append(int(found.group(1)))
    return numbers if len(set(numbers)) == len(numbers) else None
