"""Which files are open for reading, so that no write ever lands on a source."""

from __future__ import annotations

import os
import threading
from collections import Counter

_lock = threading.Lock()
_open: Counter[tuple[int, int]] = Counter()


def _key(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def register(path: str) -> tuple[int, int] | None:
    key = _key(path)
    if key is not None:
        with _lock:
            _open[key] += 1
    return key


def unregister(key: tuple[int, int] | None) -> None:
    if key is None:
        return
    with _lock:
        _open[key] -= 1
        if _open[key] <= 0:
            del _open[key]


def is_open_for_reading(path: str) -> bool:
    key = _key(path)
    with _lock:
        return key is not None and key in _open
