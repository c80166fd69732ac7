"""TensorFlow is imported on the UI thread, once, before any worker uses it.

TensorFlow 2.21 imported in a QThreadPool worker while the Qt event loop runs corrupts
the heap: a later checkpoint read in another worker aborts with "double free or
corruption" (reproduced; an import on the main thread avoids it). So every GUI action that
may use TensorFlow calls :func:`ensure_tensorflow` first. It is the one slow step on the UI
thread (about 2 s, once per session, with a wait cursor); CSV and npz never trigger it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from csv_state_viewer.core.errors import CsvStateError
from csv_state_viewer.core.registry import format_for_reading, format_for_writing

TF_FREE = frozenset({"csv", "npz"})


def reading_needs_tensorflow(path: str) -> bool:
    try:
        return format_for_reading(path).name not in TF_FREE
    except (CsvStateError, OSError):
        return False  # the open itself will report what is wrong


def writing_needs_tensorflow(path: str) -> bool:
    try:
        return format_for_writing(path).name not in TF_FREE
    except (CsvStateError, OSError):
        return False


def ensure_tensorflow() -> bool:
    """Import TensorFlow and Keras here, on the UI thread; False when they are missing."""
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return True
    from csv_state_viewer.bridge import tfimport

    QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        tfimport.tensorflow()
        tfimport.keras()
    except CsvStateError:
        return False  # not installed: the operation itself reports it in one line
    finally:
        QGuiApplication.restoreOverrideCursor()
    return True


def prepare(read: Iterable[str] = (), write: Iterable[str] = ()) -> None:
    """Call before submitting work that reads or writes these paths."""
    if any(reading_needs_tensorflow(p) for p in read) or any(
        writing_needs_tensorflow(p) for p in write
    ):
        ensure_tensorflow()
