"""An embedded Matplotlib figure with its toolbar; redraws are coalesced, saves are atomic.

Text drawn on a figure goes through :func:`plot_text` or :meth:`PlotCanvas.show_message`:
names from files are escaped and long ones elided, and a ``$`` is drawn as itself rather
than starting Matplotlib's math mode (a name such as ``a$\\x$`` fails to draw otherwise).
"""

from __future__ import annotations

import os
from typing import Any

from matplotlib.axis import Axis, XAxis
from matplotlib.backends.backend_qtagg import NavigationToolbar2QT
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QVBoxLayout, QWidget

from csv_state_viewer.core.atomic import atomic_path
from csv_state_viewer.core.formatting import display_name, safe_lines
from csv_state_viewer.gui.rendering import BackgroundCanvas

SAVE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
SAVE_FILTER = "PNG image (*.png);;SVG image (*.svg);;PDF document (*.pdf)"
MESSAGE_COLOR = "0.35"
ERROR_COLOR = "firebrick"
# Margins in units of the font size, so labels keep inside the figure at any size: a
# fraction of the width clipped the "count" label of a narrow plot. Panes with a colour bar
# widen ``right`` for its tick labels.
MARGINS_EM = {"left": 6.0, "right": 1.2, "bottom": 3.4, "top": 1.0}
TITLE_LINE_EM = 1.6
TICK_SPACING_EM = 6.5  # room per x tick label: "-0.0125" plus a gap


def _literal(text: str) -> str:
    return text.replace("$", r"\$")  # Matplotlib: an escaped dollar is not math mode


def plot_text(name: str) -> str:
    """A name as a title or legend label draws it: escaped, elided when long, literal."""
    return _literal(display_name(name))


class SpacedLocator(MaxNLocator):
    """MaxNLocator with as many bins as the axis has room for at draw time.

    Matplotlib's default sizes x ticks for three-character labels, so values such as
    ``-0.0125`` collided on a narrow plot.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(nbins=5, **kwargs)

    def __call__(self) -> Any:
        axis = self.axis
        if isinstance(axis, Axis) and axis.axes is not None:
            box = axis.axes.bbox
            horizontal = isinstance(axis, XAxis)
            length = box.width if horizontal else box.height
            em_px = 10.0 * axis.axes.figure.dpi / 72  # Matplotlib's default font size
            spacing = (TICK_SPACING_EM if horizontal else 2.5) * em_px
            self.set_params(nbins=max(1, min(9, int(length // max(spacing, 1.0)))))
        return super().__call__()


def space_ticks(ax: Any, *, integer: bool = False) -> None:
    """Give both axes of ``ax`` as many ticks as fit their length (whole numbers if asked)."""
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(SpacedLocator(integer=integer))


ICON_SIDES = (16, 24, 32, 48)  # toolbar icon sizes rendered once, in logical pixels


class PlotToolbar(NavigationToolbar2QT):
    """Matplotlib's toolbar with its icons rendered once.

    Matplotlib's own icons are drawn by a Python ``QIconEngine`` that reads and renders
    the SVG file on every paint of the toolbar. Each such paint needs the GIL ten times
    over; while a worker decodes, every wait for it was up to a thread switch interval,
    and a toolbar repaint during loading kept the event loop from running for 20 to 70
    ms. Plain pixmap icons are painted by Qt alone (disabled states too).
    """

    def _icon(self, name: str) -> QIcon:
        drawn = super()._icon(name)
        icon = QIcon()
        for side in ICON_SIDES:
            icon.addPixmap(drawn.pixmap(QSize(side, side)))
        return icon


class PlotCanvas(QWidget):
    """A Figure, its canvas (drawn off the UI thread, :mod:`.rendering`) and a toolbar.

    The figure uses margins measured in font sizes (:data:`MARGINS_EM`), recomputed when the
    canvas is resized or a title gets more lines, rather than a layout engine: constrained
    layout measured every text on every draw and made each draw of a histogram ~20 ms
    slower on the UI thread.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.figure = Figure()
        self.margins_em = dict(MARGINS_EM)
        self.canvas = BackgroundCanvas(self.figure)
        self.toolbar = PlotToolbar(self.canvas, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, 1)
        self.message: str | None = None  # the text shown instead of a plot, if any
        self._message_text: Text | None = None
        # artists a pane keeps to update in place, by the pane's key; emptied by clear()
        self.kept: dict[str, Any] = {}
        self.fit_margins()
        self.canvas.mpl_connect("resize_event", lambda _event: self.fit_margins())

    def request_draw(self) -> None:
        """Redraw when the event loop is next idle; many requests make one draw."""
        self.fit_margins()
        self.canvas.draw_idle()

    def fit_margins(self) -> None:
        """Margins of :attr:`margins_em` font sizes at the figure's current pixel size."""
        width, height = self.figure.bbox.width, self.figure.bbox.height
        if width < 1 or height < 1:
            return
        em = 10.0 * self.figure.dpi / 72  # Matplotlib's default font size, in pixels
        lines = max(
            (
                ax.get_title().count("\n") + 1
                for ax in self.figure.axes
                if ax.get_visible() and ax.get_title()
            ),
            default=0,
        )
        margins = self.margins_em
        top = (margins["top"] + TITLE_LINE_EM * lines) * em
        left, right, bottom = margins["left"] * em, margins["right"] * em, margins["bottom"] * em
        # a tiny canvas keeps a sliver of plot rather than inverted margins
        left_f = min(left / width, 0.45)
        right_f = max(1 - right / width, left_f + 0.05)
        bottom_f = min(bottom / height, 0.45)
        top_f = max(1 - top / height, bottom_f + 0.05)
        self.figure.subplots_adjust(left=left_f, right=right_f, bottom=bottom_f, top=top_f)

    def clear(self) -> None:
        """An empty figure, ready for new axes; the hover read-out of the old plot goes."""
        self.figure.clear()
        self.kept.clear()
        self._message_text = None
        self.fit_margins()
        self.message = None
        self._forget_view()

    def _forget_view(self) -> None:
        # the toolbar's zoom history refers to axes that are gone or show other data
        self.toolbar.update()
        if self.toolbar.locLabel.text():  # each change repaints the toolbar's SVG icons
            self.toolbar.set_message("")

    def show_plot(self) -> None:
        """Show the axes again after :meth:`show_message` with ``keep_axes``: for a pane
        that updates its artists in place (cheaper than new axes on the UI thread)."""
        if self._message_text is not None:
            self._message_text.remove()
            self._message_text = None
        for ax in self.figure.axes:
            ax.set_visible(True)
        self.message = None
        self._forget_view()

    def show_message(self, text: str, *, error: bool = False, keep_axes: bool = False) -> None:
        """Replace the plot with ``text`` centred on the figure.

        ``keep_axes`` hides the axes instead of removing them, for :meth:`show_plot`.
        """
        if keep_axes:
            if self._message_text is not None:
                self._message_text.remove()
            for ax in self.figure.axes:
                ax.set_visible(False)
            self._forget_view()
        else:
            self.clear()
        self.message = text
        self._message_text = self.figure.text(
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
        self.canvas.wait_for_render()  # a frame mid-render would see the save's dpi
        with atomic_path(path, suffix=extension) as tmp:
            self.figure.savefig(tmp, format=fmt)
