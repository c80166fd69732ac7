"""Early writeback: a file being written goes to disk while it is written, not at the end.

An atomic write ends with ``fsync``, which waits for every page still only in memory. On
Linux a thread asks the kernel every few milliseconds to start writing what has been
written so far (``sync_file_range`` with ``SYNC_FILE_RANGE_WRITE``, which does not wait),
so the disk works while the writer formats the next tensor and the final ``fsync`` has
little left to wait for, the way databases flush their files as they go. Elsewhere, or
where the call fails, nothing is done and the final ``fsync`` does it all.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
import threading
from collections.abc import Callable, Iterator

INTERVAL_S = 0.02
SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # the C library is already in the process: no search for it (a subprocess)
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def start_writeback(fd: int) -> bool:
    """Ask the kernel to start writing ``fd``'s dirty pages; False where it cannot."""
    function = _sync_file_range()
    return function is not None and function(fd, 0, 0, SYNC_FILE_RANGE_WRITE) == 0


@contextlib.contextmanager
def early_writeback(fd: int) -> Iterator[None]:
    """Within the block, ``fd``'s written pages are sent to disk every INTERVAL_S."""
    if not start_writeback(fd):
        yield
        return
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(INTERVAL_S) and start_writeback(fd):
            pass

    thread = threading.Thread(target=loop, name="csv-state-writeback", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
