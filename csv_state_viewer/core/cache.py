"""A bounded, thread-safe cache of decoded tensors and their statistics.

Several viewer panes ask for the same tensor at once (summary, histogram, heatmap);
it is decoded once: the first caller loads it while the others wait on its key's lock.
The least recently used arrays are dropped past ``max_bytes``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from csv_state_viewer.core.analysis.stats import TensorStats, tensor_stats
from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.state import State, TensorEntry

Key = tuple[int, int]


class TensorCache:
    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self._arrays: OrderedDict[Key, np.ndarray] = OrderedDict()
        self._nbytes = 0  # of the arrays held: summing them per insert was quadratic
        self._stats: dict[Key, TensorStats] = {}
        self._states: dict[Key, State] = {}  # keeps id() keys unique while cached
        self._lock = threading.Lock()
        self._key_locks: dict[Key, threading.Lock] = {}

    def _key_lock(self, key: Key) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def array(
        self, state: State, entry: TensorEntry, progress: Progress = NO_PROGRESS
    ) -> np.ndarray:
        """The decoded tensor (read-only); raises RowError for bad data like State.read."""
        key = (id(state), id(entry))
        with self._key_lock(key):
            with self._lock:
                if key in self._arrays:
                    self._arrays.move_to_end(key)
                    return self._arrays[key]
            array = state.read(entry, progress)
            array.flags.writeable = False
            with self._lock:
                replaced = self._arrays.pop(key, None)  # decoded twice across a forget()
                if replaced is not None:
                    self._nbytes -= replaced.nbytes
                self._arrays[key] = array
                self._nbytes += array.nbytes
                self._states[key] = state
                self._evict()
            return array

    def stats(
        self, state: State, entry: TensorEntry, progress: Progress = NO_PROGRESS
    ) -> TensorStats:
        key = (id(state), id(entry))
        with self._lock:
            if key in self._stats:
                return self._stats[key]
        result = tensor_stats(self.array(state, entry, progress), progress)
        with self._lock:
            self._stats[key] = result
            self._states[key] = state
        return result

    def cached_stats(self, state: State, entry: TensorEntry) -> TensorStats | None:
        with self._lock:
            return self._stats.get((id(state), id(entry)))

    def forget(self, state: State) -> None:
        """Drop everything of ``state`` (call when it is closed)."""
        with self._lock:
            for key in [k for k, s in self._states.items() if s is state]:
                array = self._arrays.pop(key, None)
                if array is not None:
                    self._nbytes -= array.nbytes
                self._stats.pop(key, None)
                self._states.pop(key, None)
                self._key_locks.pop(key, None)

    def _evict(self) -> None:
        while self._nbytes > self.max_bytes and len(self._arrays) > 1:
            key, array = self._arrays.popitem(last=False)
            self._nbytes -= array.nbytes
            if key not in self._stats:
                self._states.pop(key, None)
