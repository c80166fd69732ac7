"""Importing TensorFlow and Keras quietly, only when a TensorFlow feature is used.

TensorFlow's C++ runtime writes start-up chatter (oneDNN, CUDA probing) straight to file
descriptor 2, ignoring Python's streams. It is captured during the import and shown only
if the import fails, so the CLI's stderr carries our messages, not TensorFlow's.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from types import ModuleType

_lock = threading.Lock()


@contextlib.contextmanager
def quiet_native_stderr(*, replay_on_error: bool = False) -> Iterator[None]:
    """Capture what native code writes to fd 2 (TensorFlow's device probing, oneDNN
    banners); with ``replay_on_error`` it is shown if the block raises."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (some GUI launchers): nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            if replay_on_error:
                os.dup2(saved, 2)
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _import(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with _lock, quiet_native_stderr(replay_on_error=True):
        __import__(name)
    return sys.modules[name]


def tensorflow() -> ModuleType:
    return _import("tensorflow")


def keras() -> ModuleType:
    tensorflow()  # the backend first, under the same capture
    return _import("keras")
