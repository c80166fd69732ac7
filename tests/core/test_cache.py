"""The tensor cache on its own: LRU eviction by bytes, forgetting a state, one decode."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
import pytest

from csv_state_viewer.core.analysis.stats import tensor_stats
from csv_state_viewer.core.cache import TensorCache
from csv_state_viewer.core.errors import RowError
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.core.state import State, TensorEntry

KIB = 1024


class CountingState(State):
    """A state of given arrays that counts its decodes; ``gate`` holds decodes back."""

    def __init__(self, arrays: dict[str, np.ndarray], gate: threading.Event | None = None):
        entries = [TensorEntry(name, a.shape, a.dtype, "test") for name, a in arrays.items()]
        super().__init__("counting", entries)
        self.arrays = arrays
        self.decodes: Counter[str] = Counter()
        self.gate = gate
        self._count_lock = threading.Lock()

    def _decode(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
        with self._count_lock:
            self.decodes[entry.name] += 1
        if self.gate is not None:
            assert self.gate.wait(10)
        return self.arrays[entry.name].copy()


def kib_arrays(*names: str) -> dict[str, np.ndarray]:
    """One KiB of float64 per name, each with its own values."""
    return {name: np.full(KIB // 8, index, np.float64) for index, name in enumerate(names)}


def read(cache: TensorCache, state: State, name: str) -> np.ndarray:
    return cache.array(state, state.entry(name))


def test_an_array_is_decoded_once_and_read_only() -> None:
    state = CountingState(kib_arrays("a"))
    cache = TensorCache()
    first = read(cache, state, "a")
    assert read(cache, state, "a") is first
    assert state.decodes == {"a": 1}
    assert not first.flags.writeable
    np.testing.assert_array_equal(first, state.arrays["a"])


def test_least_recently_used_arrays_go_first_past_max_bytes() -> None:
    state = CountingState(kib_arrays("a", "b", "c"))
    cache = TensorCache(max_bytes=2 * KIB)
    read(cache, state, "a")
    read(cache, state, "b")
    read(cache, state, "a")  # a is now the most recently used
    read(cache, state, "c")  # 3 KiB > 2 KiB: b, the least recently used, goes
    assert state.decodes == {"a": 1, "b": 1, "c": 1}
    read(cache, state, "a")
    read(cache, state, "c")
    assert state.decodes == {"a": 1, "b": 1, "c": 1}  # both still cached
    read(cache, state, "b")  # decoded again; a is now the oldest and goes
    assert state.decodes == {"a": 1, "b": 2, "c": 1}
    read(cache, state, "a")
    assert state.decodes == {"a": 2, "b": 2, "c": 1}


def test_an_array_larger_than_the_cache_is_kept_until_the_next() -> None:
    state = CountingState(kib_arrays("a", "b"))
    cache = TensorCache(max_bytes=KIB // 2)
    read(cache, state, "a")
    read(cache, state, "a")  # the one array is kept even over the limit
    assert state.decodes == {"a": 1}
    read(cache, state, "b")
    read(cache, state, "a")
    assert state.decodes == {"a": 2, "b": 1}


def test_statistics_are_cached_and_survive_array_eviction() -> None:
    state = CountingState(kib_arrays("a", "b"))
    cache = TensorCache(max_bytes=KIB)
    entry = state.entry("a")
    assert cache.cached_stats(state, entry) is None
    stats = cache.stats(state, entry)
    assert stats == tensor_stats(state.arrays["a"])
    assert cache.cached_stats(state, entry) is stats
    read(cache, state, "b")  # evicts a's array, not its statistics
    assert cache.stats(state, entry) is stats
    assert state.decodes == {"a": 1, "b": 1}


def test_forget_drops_one_state_only() -> None:
    one, other = CountingState(kib_arrays("a")), CountingState(kib_arrays("a"))
    cache = TensorCache()
    for state in (one, other):
        read(cache, state, "a")
        cache.stats(state, state.entry("a"))
    cache.forget(one)
    assert cache.cached_stats(one, one.entry("a")) is None
    assert cache.cached_stats(other, other.entry("a")) is not None
    read(cache, one, "a")
    read(cache, other, "a")
    assert (one.decodes["a"], other.decodes["a"]) == (2, 1)


def test_forgotten_arrays_no_longer_count_against_max_bytes() -> None:
    one, other = CountingState(kib_arrays("a", "b")), CountingState(kib_arrays("a", "b"))
    cache = TensorCache(max_bytes=2 * KIB)
    for name in ("a", "b"):
        read(cache, one, name)
    cache.forget(one)
    for _ in range(2):
        for name in ("a", "b"):
            read(cache, other, name)
    assert other.decodes == {"a": 1, "b": 1}  # 2 KiB held: nothing evicted


def test_concurrent_reads_of_one_tensor_decode_it_once() -> None:
    gate = threading.Event()
    state = CountingState(kib_arrays("a", "b"), gate)
    cache = TensorCache()
    results: list[np.ndarray] = []
    lock = threading.Lock()

    def reader(name: str) -> None:
        array = read(cache, state, name)
        with lock:
            results.append(array)

    threads = [threading.Thread(target=reader, args=("a",)) for _ in range(8)]
    threads.append(threading.Thread(target=reader, args=("b",)))
    for thread in threads:
        thread.start()
    # one reader decodes "a" and one "b", both held at the gate; the other readers of "a"
    # queue on a's lock meanwhile (without it they would decode "a" too)
    for _ in range(1000):
        if state.decodes["a"] and state.decodes["b"]:
            break
        threading.Event().wait(0.005)
    threading.Event().wait(0.05)
    gate.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    assert state.decodes == {"a": 1, "b": 1}
    of_a = [r for r in results if r[0] == 0]
    assert len(of_a) == 8 and all(r is of_a[0] for r in of_a)


def test_a_failed_decode_is_not_cached() -> None:
    class Flaky(CountingState):
        def _decode(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
            array = super()._decode(entry, progress)
            if self.decodes[entry.name] == 1:
                raise ValueError("bad data")
            return array

    state = Flaky(kib_arrays("a"))
    cache = TensorCache()
    with pytest.raises(RowError, match="bad data"):
        read(cache, state, "a")
    np.testing.assert_array_equal(read(cache, state, "a"), state.arrays["a"])
    assert state.decodes == {"a": 2}
