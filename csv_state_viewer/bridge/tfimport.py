"""Importing TensorFlow and Keras quietly, only when a TensorFlow feature is used.

TensorFlow's C++ runtime writes start-up chatter (oneDNN, CUDA probing) straight to file
descriptor 2, ignoring Python's streams. It is captured during the import and shown only
if the import fails, so the CLI's stderr carries our messages, not TensorFlow's.

A missing TensorFlow or Keras (not installed, or left out of a frozen build) raises
:class:`TensorFlowMissingError`, whose message is one line saying what to install.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from csv_state_viewer.core.errors import CsvStateError

_lock = threading.Lock()
NEEDED_FOR = "TensorFlow checkpoints, SavedModels and rebuilding Keras models need it"


class TensorFlowMissingError(CsvStateError, ImportError):
    """TensorFlow or Keras cannot be imported because it is not there.

    An :class:`ImportError` (callers that fall back without TensorFlow still catch it) and
    a :class:`CsvStateError` (shown as its one-line message, not as a traceback).
    """

    def __init__(self, module: str) -> None:
        label = "TensorFlow" if module == "tensorflow" else module.capitalize()
        if getattr(sys, "frozen", False):
            text = (
                f"{label} is not included in this build of csv-state-viewer: {NEEDED_FOR} "
                "(use the Python package, or a build made with CSV_STATE_WITH_TF=1)"
            )
        else:
            text = f"{label} is not installed: {NEEDED_FOR} (pip install {module})"
        super().__init__(text)
        self.name = module

    def __reduce__(self) -> tuple[Any, ...]:
        # ImportError's own pickling would call __init__ with the message as the module.
        return (type(self), (self.name,), self.__dict__)


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
    try:
        with _lock, quiet_native_stderr(replay_on_error=True):
            __import__(name)
            if name == "tensorflow":  # its first op probes devices (the cuInit line) on fd 2
                sys.modules[name].config.list_physical_devices()
    except ModuleNotFoundError as err:
        if err.name != name:  # installed but broken: a dependency of it is missing
            raise
        raise TensorFlowMissingError(name) from None
    return sys.modules[name]


def tensorflow() -> ModuleType:
    return _import("tensorflow")


def keras() -> ModuleType:
    tensorflow()  # the backend first, under the same capture
    return _import("keras")
