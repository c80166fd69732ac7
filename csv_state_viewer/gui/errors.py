"""Errors shown to the user: a short message, the details behind a button."""

from __future__ import annotations

import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from csv_state_viewer.core.errors import BadRowsError, CsvStateError
from csv_state_viewer.core.formatting import safe_lines
from csv_state_viewer.core.messages import VIEWER, advice


def describe(error: BaseException) -> tuple[str, str]:
    """(one-line message, details) for an exception.

    The library's own errors already say what went wrong in one line, followed by their
    hint in the viewer's words (never a command-line option); anything else is unexpected
    and its traceback goes into the details.
    """
    if isinstance(error, BadRowsError):
        text = advice(error, VIEWER)
        return text.splitlines()[0], text
    if isinstance(error, CsvStateError | OSError):
        text = advice(error, VIEWER)
        return text.splitlines()[0] if text else type(error).__name__, text
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return f"Unexpected error: {type(error).__name__}: {error}", details


def error_box(parent: QWidget | None, title: str, message: str, details: str = "") -> QMessageBox:
    """A non-blocking error dialog (shown, not exec'd, so tests and workers never block).

    Messages name files and tensors: they are shown as plain text (never as markup), with
    control, bidi and zero-width characters escaped."""
    box = QMessageBox(QMessageBox.Icon.Critical, title, "", QMessageBox.StandardButton.Ok)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(safe_lines(message))
    box.setParent(parent, box.windowFlags())
    if details and details != message:
        box.setDetailedText(safe_lines(details))
    box.setObjectName("error_box")
    box.show()
    return box


def show_error(parent: QWidget | None, title: str, error: BaseException) -> QMessageBox:
    message, details = describe(error)
    return error_box(parent, title, message, details)
