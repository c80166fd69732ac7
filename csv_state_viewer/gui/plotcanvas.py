"""An embedded Matplotlib figure with its toolbar; redraws are coalesced, saves are atomic.

Text drawn on a figure goes through :func:`plot_text` or :meth:`PlotCanvas.show_message`:
names from files are escaped and long ones elided, and a ``$`` is drawn as itself rather
than starting Matplotlib's math mode (a name such as ``a$\\x$`` fails to draw otherwise).
"""

from __future__ import annotations

import os

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from PySide6.QtWidgets import QVBoxLayout, QWidget

from csv_state_viewer.core.atomic import atomic_path
from csv_state_viewer.core.formatting import display_name, safe_lines

SAVE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
SAVE_FILTER = "PNG image (*.png);;SVG image (*.svg);;PDF document (*.pdf)"
MESSAGE_COLOR = "0.35"
ERROR_COLOR = "firebrick"
MARGINS = {"left": 0.11, "right": 0.97, "bottom": 0.1, "top": 0.93}


def _literal(text: str) -> str:
    return text.replace("$", r"\$")  # Matplotlib: an escaped dollar is not math mode


def plot_text(name: str) -> str:
    """A name as a title or legend label draws it: escaped, elided when long, literal."""
    return _literal(display_name(name))


class PlotCanvas(QWidget):
    """A Figure, its ``FigureCanvasQTAgg`` and a navigation toolbar.

    The figure uses fixed margins rather than a layout engine: constrained layout measured
    every text on every draw and made each draw of a histogram ~20 ms slower on the UI
    thread.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.figure = Figure()
        self.figure.subplots_adjust(**MARGINS)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.toolbar = NavigationToolbar2QT(self.canvas, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, 1)
        self.message: str | None = None  # the text shown instead of a plot, if any

    def request_draw(self) -> None:
        """Redraw when the event loop is next idle; many requests make one draw."""
        self.canvas.draw_idle()

    def clear(self) -> None:
        """An empty figure, ready for new axes."""
        self.figure.clear()
        self.figure.subplots_adjust(**MARGINS)
        self.message = None
        # the toolbar's zoom history refers to axes that no longer exist
        self.toolbar.update()

    def show_message(self, text: str, *, error: bool = False) -> None:
        """Replace the plot with ``text`` centred on the figure."""
        self.clear()
        self.message = text
        self.figure.text(
            0.5,
            0.5,
            _literal(safe_lines(text)),
            ha="center",
            va="center",
            wrap=True,
            color=ERROR_COLOR if error else MESSAGE_COLOR,
        )
        self.request_draw()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the figure as PNG, SVG or PDF (chosen by extension), whole or not at all.

        Raises ValueError for another extension and StateWriteError when writing fails.
        """
        path = os.fspath(path)
        extension = os.path.splitext(path)[1].lower()
        fmt = SAVE_FORMATS.get(extension)
        if fmt is None:
            shown = f"'{extension}'" if extension else "a name without extension"
            raise ValueError(f"{path}: cannot save a plot as {shown}; use .png, .svg or .pdf")
        with atomic_path(path, suffix=extension) as tmp:
            self.figure.savefig(tmp, format=fmt)
