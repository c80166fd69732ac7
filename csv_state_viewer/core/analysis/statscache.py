"""A cache of per-tensor statistics of state files, so a run is measured once.

A run of 100 states of a 15 M-parameter model takes minutes to decode; reopening it
should take a second. Each state file gets one small JSON file in the cache folder
(named by a hash of its absolute path) holding its step, each tensor's
:class:`~csv_state_viewer.core.analysis.timeline.StepStats` (as plain data) and update
ratios against a given previous state.

A record is trusted only when its key still fits the file: absolute path, size,
``mtime_ns`` *and* a hash of the state's index (names, shapes, dtypes, bad rows), so a
file rewritten with the same size and time stamp but other tensors is measured again.
The index is already in memory when a state is open: the key reads no tensor data.
(A rewrite that keeps names, shapes, dtypes, size and time stamp is not seen; nor is a
checkpoint's data shard rewritten beside an unchanged ``.index``.)

The cache is an optimisation, never a source of errors: a damaged, foreign or
unreadable record is ignored (the state is measured again) and a failed write is
dropped. Writes are atomic (:mod:`csv_state_viewer.core.atomic`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.errors import CsvStateError
from csv_state_viewer.core.state import State

VERSION = 1
ENV = "CSV_STATE_CACHE"


@dataclass(frozen=True)
class StateKey:
    """What identifies one version of a state file."""

    path: str  # absolute
    size: int
    mtime_ns: int
    index: str  # sha256 of the index (names, shapes, dtypes, bad rows)

    @property
    def digest(self) -> str:
        """One string for the whole key: how a later state names this one in its ratios."""
        text = json.dumps([self.path, self.size, self.mtime_ns, self.index])
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class StateRecord:
    """What is cached for one state: its step, each tensor's statistics (None for a bad
    row) and update ratios keyed by the previous state's :attr:`StateKey.digest`, then by
    ``json.dumps([previous name, name])``."""

    key: StateKey | None  # None: the file cannot be keyed (not cached)
    step: int | None = None
    has_step: bool = False
    stats: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    ratios: dict[str, dict[str, float | None]] = field(default_factory=dict)
    dirty: bool = False


def index_hash(state: State) -> str:
    """sha256 of the state's index: format, then each entry's name, shape, dtype, error."""
    rows = [
        [
            e.name,
            None if e.shape is None else list(e.shape),
            None if e.dtype is None else str(e.dtype),
            e.error,
        ]
        for e in state.entries
    ]
    text = json.dumps([state.format_name, rows])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def state_key(state: State) -> StateKey | None:
    """The key of an open state, or None when its file cannot be found to stat."""
    path = os.path.abspath(state.path)
    for candidate in (path, path + ".index"):  # a checkpoint is opened by its prefix
        with contextlib.suppress(OSError):
            info = os.stat(candidate)
            return StateKey(candidate, info.st_size, info.st_mtime_ns, index_hash(state))
    return None


def default_cache() -> StatsCache:
    """The user's cache: ``$CSV_STATE_CACHE``, else ``$XDG_CACHE_HOME/csv-state-viewer/stats``
    (``~/.cache/...`` when XDG_CACHE_HOME is unset)."""
    folder = os.environ.get(ENV)
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "csv-state-viewer", "stats")
    return StatsCache(folder)


class StatsCache:
    """Cached statistics of state files in ``folder`` (created on the first write)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = os.fspath(folder)

    def file_for(self, key: StateKey) -> str:
        name = hashlib.sha256(key.path.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        return os.path.join(self.folder, name + ".json")

    def record(self, state: State) -> StateRecord:
        """The cached record of ``state`` when its key still fits, else an empty one."""
        key = state_key(state)
        if key is None:
            return StateRecord(None)
        return self._load(key) or StateRecord(key)

    def _load(self, key: StateKey) -> StateRecord | None:
        try:
            with open(self.file_for(key), encoding="utf-8") as handle:
                data = json.load(handle)
            if data.get("version") != VERSION or data.get("key") != [
                key.path,
                key.size,
                key.mtime_ns,
                key.index,
            ]:
                return None
            stats, ratios = data["stats"], data["ratios"]
            if not isinstance(stats, dict) or not isinstance(ratios, dict):
                return None
            step = data["step"]
            if step is not None and not isinstance(step, int):
                return None
            return StateRecord(key, step, bool(data["has_step"]), stats, ratios)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing, damaged or foreign: measured again

    def save(self, record: StateRecord) -> None:
        """Write ``record`` when it changed; a failed write is dropped silently."""
        if record.key is None or not record.dirty:
            return
        key = record.key
        data = {
            "version": VERSION,
            "key": [key.path, key.size, key.mtime_ns, key.index],
            "step": record.step,
            "has_step": record.has_step,
            "stats": record.stats,
            "ratios": record.ratios,
        }
        with contextlib.suppress(OSError, CsvStateError, ValueError):
            text = json.dumps(data, separators=(",", ":"))
            with atomic_write(self.file_for(key)) as handle:
                handle.write(text.encode("utf-8", "surrogatepass"))
            record.dirty = False
