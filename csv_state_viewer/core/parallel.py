"""The shared thread pools: one for codec work on pieces of a tensor (NumPy, pyarrow,
zlib and the C accelerator release the GIL), one for reading whole tensors ahead."""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def worker_count() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _shared_pool() -> ThreadPoolExecutor:
    global _pool  # noqa: PLW0603 - one process-wide pool, created on first use
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(worker_count(), thread_name_prefix="csv-state-codec")
        return _pool


def ordered_map(fn: Callable[[T], R], items: Iterable[T], window: int | None = None) -> Iterator[R]:
    """Like ``map`` but runs ``fn`` on the shared pool, at most ``window`` items ahead.

    Results come back in input order, so callers can stream them (write to a file, copy
    into an output array) while holding only ``window`` results in memory. Tasks submitted
    from inside a pool task would deadlock the pool, so codec tasks never call this.
    """
    pool = _shared_pool()
    ahead = window or worker_count() + 1
    pending: deque[Future[R]] = deque()
    iterator = iter(items)
    try:
        for item in iterator:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        cancel_and_wait(pending)


_read_ahead_lock = threading.Lock()
_read_ahead: ThreadPoolExecutor | None = None


def read_ahead_pool() -> ThreadPoolExecutor:
    """The threads whole tensors are read on ahead of their caller (State.decoded): kept
    for the process, so that what a reader keeps per thread (its reading buffer) is made
    once. Its tasks may use the codec pool, never this one (no deadlock)."""
    global _read_ahead  # noqa: PLW0603 - one pool per process, made on first use
    with _read_ahead_lock:
        if _read_ahead is None:
            _read_ahead = ThreadPoolExecutor(2, thread_name_prefix="csv-state-read-ahead")
        return _read_ahead


def cancel_and_wait(futures: Iterable[Future[Any]]) -> None:
    """Cancel the futures not started and wait for those running (whose errors are
    dropped): nothing they read may be closed under them."""
    started = [future for future in list(futures) if not future.cancel()]
    for future in started:
        future.exception()
