"""A small shared thread pool for codec work (NumPy, pyarrow and zlib release the GIL)."""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

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
        for future in pending:
            future.cancel()
        for future in pending:
            if not future.cancelled():
                future.exception()
