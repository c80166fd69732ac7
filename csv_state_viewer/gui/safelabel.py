"""A label for text that may hold names from files: plain text, escapes made visible.

A ``QLabel`` guesses whether its text is rich text (HTML), so a tensor named
``<img src=...>`` or ``<b>x</b>`` would be rendered as markup; and control, bidi and
zero-width characters of a name would reorder or hide what follows. :class:`SafeLabel`
always shows plain text, with such characters escaped
(:func:`~csv_state_viewer.core.formatting.safe_text`). Names in it should also be cut to a
display length by the caller (:func:`~csv_state_viewer.core.formatting.display_name`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from csv_state_viewer.core.formatting import safe_lines


class SafeLabel(QLabel):
    """A ``QLabel`` showing plain text, each line escaped by ``safe_text``."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setText(safe_lines(text))
