"""Reading a tensor's bytes from an open file into a new array, without a memory map.

A map of a file that another program truncates kills the process with SIGBUS on the
next access; a short ``preadv`` is a ``ValueError`` instead, which a state makes the
tensor's bad row. The bytes go straight into the array (no intermediate copy), a
bounded piece per call.
"""

from __future__ import annotations

import math
import os

import numpy as np

from csv_state_viewer.core.limits import size_text

PIECE_BYTES = 64 << 20  # bytes read per call


def read_array(fd: int, offset: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The ``shape`` x ``dtype`` bytes at ``offset`` of ``fd``, as a flat new array.

    Raises ValueError when memory cannot hold it or the file ends before its last byte.
    """
    count = math.prod(shape)
    try:
        flat = np.empty(count, dtype=dtype)
    except MemoryError:
        needed = size_text(count * dtype.itemsize)
        raise ValueError(f"needs {needed}, more than this machine's memory holds") from None
    view, done = flat.view(np.uint8).data, 0
    while done < len(view):
        got = os.preadv(fd, [view[done : done + PIECE_BYTES]], offset + done)
        if got <= 0:
            raise ValueError(
                f"the file ends after {size_text(offset + done)}; its header declares "
                f"{size_text(offset + len(view))} (was it truncated?)"
            )
        done += got
    return flat
