"""The heatmap pane: one tensor as a 2-D image, coloured symmetrically around zero.

The image is computed in the pane's worker (load, 2-D view, pooling down to the canvas's
pixel size by :mod:`csv_state_viewer.core.analysis.image`), so the UI thread only draws a
small array: drawing a 4096 x 4096 tensor as it was froze the window for 1.4 s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.image import AxesImage
from matplotlib.ticker import AutoLocator
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from csv_state_viewer.core.analysis.image import (
    MAX_ABS,
    MAX_SIDE,
    MEAN,
    TIMES,
    HeatmapImage,
    heatmap_image,
)
from csv_state_viewer.core.analysis.slicing import RESHAPE, SLICE, to_2d
from csv_state_viewer.core.analysis.tree import TENSOR, Node
from csv_state_viewer.core.formatting import display_name
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, Span
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.errors import describe
from csv_state_viewer.gui.panes.base import Pane, save_canvas
from csv_state_viewer.gui.plotcanvas import PlotCanvas, plot_text, space_ticks
from csv_state_viewer.gui.safelabel import SafeLabel

CMAP = "RdBu_r"
MODE_LABELS = ((RESHAPE, "Reshape to 2-D"), (SLICE, "Slice"))
REDUCTION_LABELS = ((MAX_ABS, "max |x|"), (MEAN, "mean"))
SYNC_ELEMENTS = 1 << 20  # a new slice of a map this small is pooled on the UI thread
MIN_SIDE = 64
RESIZE_PAUSE_MS = 150
REPOOL_GROWTH = 1.25  # pool again when the plot grew by this much beyond the image
COLORBAR_SHARE = 0.2  # of the axes' width: the colour bar, its pad and tick labels


def _shape_text(shape: tuple[int, ...]) -> str:
    return str(tuple(shape)) if shape else "scalar"


def _format_value(value: float) -> str:
    return f"{value:.7g}"


@dataclass(frozen=True)
class _Request:
    """What to show of a loaded tensor: fixed on the UI thread, computed in a worker."""

    mode: str
    index: tuple[int, ...]
    budget: tuple[int, int]  # at most this many image rows and columns
    reduction: str


@dataclass(frozen=True)
class _Artists:
    """What a drawn heatmap is made of, updated in place for the next tensor."""

    ax: Axes
    image: AxesImage
    colorbar: Colorbar


@dataclass(frozen=True)
class _Shown:
    """A worker's result: the tensor and its image, or the message that replaces one."""

    array: np.ndarray
    image: HeatmapImage | None
    message: str | None
    request: _Request


def _render(node: Node, array: np.ndarray, request: _Request, progress: Progress) -> _Shown:
    name = display_name(node.name)
    if array.ndim == 0:
        return _Shown(array, None, f"{name} is a scalar: {array.item()!r}", request)
    if array.size == 0:
        return _Shown(array, None, f"{name} is empty (shape {_shape_text(array.shape)})", request)
    index = request.index if array.ndim >= 3 and request.mode == SLICE else ()
    if array.ndim >= 3 and request.mode == SLICE and len(index) != array.ndim - 2:
        index = (0,) * (array.ndim - 2)  # a new tensor starts at its first slice
    data = to_2d(array, request.mode, index)
    rows, cols = request.budget
    image = heatmap_image(data, rows, cols, request.reduction, progress)
    return _Shown(
        array, image, None, _Request(request.mode, index, request.budget, request.reduction)
    )


class HeatmapPane(Pane):
    """The first selected tensor as an image; ≥3-D tensors are reshaped or sliced."""

    title = "Heatmap"
    image_drawn = Signal()  # the selection's image (or the message replacing it) is shown

    def __init__(self, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.node: Node | None = None
        self.array: np.ndarray | None = None  # the loaded tensor
        self.image: HeatmapImage | None = None  # what is drawn, with its reduction
        self.image_data: np.ndarray | None = None  # the 2-D array drawn (pooled)
        self._artists: _Artists | None = None

        self.mode_combo = QComboBox()
        for mode, label in MODE_LABELS:
            self.mode_combo.addItem(label, mode)
        self.mode_label = QLabel("3-D and more:")
        self.reduction_combo = QComboBox()
        for reduction, label in REDUCTION_LABELS:
            self.reduction_combo.addItem(label, reduction)
        self.reduction_combo.setToolTip(
            "How a block of values becomes one pixel when the map is larger than the plot"
        )
        self.index_spins: list[QSpinBox] = []
        self._index_row = QHBoxLayout()
        self._index_row.setContentsMargins(0, 0, 0, 0)
        self.status = SafeLabel()
        self.status.setWordWrap(True)
        self.canvas = PlotCanvas(self)

        controls = QHBoxLayout()
        controls.addWidget(self.mode_label)
        controls.addWidget(self.mode_combo)
        controls.addLayout(self._index_row)
        controls.addWidget(QLabel("Pooling:"))
        controls.addWidget(self.reduction_combo)
        controls.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.canvas, 1)
        self.canvas.margins_em["right"] = 5.0  # the colour bar's tick labels

        self.mode_combo.currentIndexChanged.connect(self._mode_changed)
        self.reduction_combo.currentIndexChanged.connect(self._reduction_changed)
        # a pooled image made for a smaller plot is pooled again once resizing pauses
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(RESIZE_PAUSE_MS)
        self._resize_timer.timeout.connect(self._redraw)
        self.canvas.canvas.mpl_connect("resize_event", lambda _event: self._resized())
        self._set_controls(())
        self.canvas.show_message("Select a tensor")

    # ------------------------------------------------------------------ public API
    @property
    def mode(self) -> str:
        return str(self.mode_combo.currentData())

    def set_mode(self, mode: str) -> None:
        self.mode_combo.setCurrentIndex(self.mode_combo.findData(mode))

    @property
    def reduction(self) -> str:
        return str(self.reduction_combo.currentData())

    def set_reduction(self, reduction: str) -> None:
        self.reduction_combo.setCurrentIndex(self.reduction_combo.findData(reduction))

    def show_nodes(self, nodes: list[Node]) -> None:
        self.nodes = list(nodes)
        self.slot.drop()
        self.node = next((n for n in self.nodes if n.kind == TENSOR), None)
        self.array = self.image = self.image_data = None
        self._set_controls(())
        self.status.clear()
        node = self.node
        if node is None:
            hint = "Select a tensor (not a file or a scope)" if self.nodes else "Select a tensor"
            self._message(hint, status=False)
            return
        # never the previous tensor's image beside this one's progress
        self.canvas.show_message(f"Loading {display_name(node.name)}…", keep_axes=True)
        self.status.setText("Loading…")
        request = self._request()
        context = self.context

        def work(progress: Progress) -> _Shown:
            array = context.load_array(node, Span(progress, 0, 800))
            return _render(node, array, request, Span(progress, 800, 1000))

        def failed(error: BaseException) -> None:
            message = describe(error)[0]
            self._message(message, error=True)
            self.context.read_failed(node, error)

        self.slot.submit(work, self._shown, failed, on_progress=self._progress)

    def save_plot(self, path: str | os.PathLike[str]) -> None:
        """Save the visible plot; the image is a pooled raster, so SVG and PDF stay small."""
        save_canvas(self.canvas, path)

    # ------------------------------------------------------------------- loading
    def _progress(self, done: int, total: int) -> None:
        self.status.setText(f"Loading… {100 * done // max(total, 1)}%")

    def _request(self) -> _Request:
        """The slice and pooling the controls ask for, within the plot's pixels."""
        ratio = self.canvas.devicePixelRatioF()
        params = self.canvas.figure.subplotpars
        # the axes' share of the canvas, less the colour bar's (Matplotlib's 15 %)
        width = self.canvas.canvas.width() * (params.right - params.left) * (1 - COLORBAR_SHARE)
        height = self.canvas.canvas.height() * (params.top - params.bottom)
        budget = (
            max(MIN_SIDE, min(MAX_SIDE, int(height * ratio))),
            max(MIN_SIDE, min(MAX_SIDE, int(width * ratio))),
        )
        index = tuple(spin.value() for spin in self.index_spins)
        return _Request(self.mode, index, budget, self.reduction)

    def _shown(self, shown: _Shown) -> None:
        new_tensor = self.array is None
        self.array = shown.array
        if new_tensor:
            self._set_controls(shown.array.shape)
        self._draw(shown)

    def _redraw(self) -> None:
        """The loaded tensor again, with other controls: on the UI thread when small."""
        node, array = self.node, self.array
        if node is None or array is None:
            return
        request = self._request()
        if array.size <= SYNC_ELEMENTS:
            self._draw(_render(node, array, request, NO_PROGRESS))
            return
        self.status.setText("Pooling…")

        def work(progress: Progress) -> _Shown:
            return _render(node, array, request, progress)

        def failed(error: BaseException) -> None:
            self._message(describe(error)[0], error=True)

        self.slot.submit(work, self._shown, failed, on_progress=self._progress)

    def _set_controls(self, shape: tuple[int, ...]) -> None:
        """A slice index spin box per leading axis of a ≥3-D ``shape``."""
        for spin in self.index_spins:
            self._index_row.removeWidget(spin)
            spin.deleteLater()
        self.index_spins = []
        leading = shape[:-2] if len(shape) >= 3 else ()
        for axis, size in enumerate(leading):
            spin = QSpinBox()
            spin.setRange(0, max(size - 1, 0))
            spin.setPrefix(f"axis {axis}: ")
            spin.setEnabled(self.mode == SLICE)
            spin.valueChanged.connect(self._index_changed)
            self._index_row.addWidget(spin)
            self.index_spins.append(spin)
        many = len(shape) >= 3
        self.mode_label.setVisible(many)
        self.mode_combo.setVisible(many)

    def _index_changed(self, _value: int) -> None:
        self._redraw()  # the loaded array is kept: a new slice needs no reload

    def _mode_changed(self, _index: int) -> None:
        for spin in self.index_spins:
            spin.setEnabled(self.mode == SLICE)
        self._redraw()

    def _resized(self) -> None:
        image = self.image
        if image is None or not image.reduced or self.slot.running:
            return
        rows, cols = self._request().budget
        shown_rows, shown_cols = image.image.shape
        map_rows, map_cols = image.shape
        if (rows > REPOOL_GROWTH * shown_rows and map_rows > shown_rows) or (
            cols > REPOOL_GROWTH * shown_cols and map_cols > shown_cols
        ):
            self._resize_timer.start()

    def _reduction_changed(self, _index: int) -> None:
        if self.image is not None and self.image.reduced:
            self._redraw()

    # -------------------------------------------------------------------- drawing
    def _draw(self, shown: _Shown) -> None:
        node, array = self.node, shown.array
        if node is None:
            return
        if shown.image is None:
            self._message(shown.message or "")
            return
        result = shown.image
        self.image, self.image_data = result, result.image
        index = shown.request.index

        what = _shape_text(array.shape)
        if array.ndim >= 3 and index:
            what += f" [{', '.join(map(str, index))}, :, :]"
        if array.ndim != 2:
            what += f" shown as {result.shape[0]}{TIMES}{result.shape[1]}"
        notes = [f"shown as {result.pooling()}"] if result.reduced else []
        if array.dtype.kind == "c":
            notes.append("complex values shown as magnitudes")
        if result.constant is not None:
            notes.append(f"constant {_format_value(result.constant)}")
        notes += [
            f"{count} {kind} shown blank"
            for count, kind in ((result.nan, "NaN"), (result.inf, "±Inf"))
            if count
        ]
        self.status.setText("; ".join(notes))

        vmin, vmax = result.limits
        rows, cols = result.shape
        block_rows, block_cols = result.block
        shown_rows, shown_cols = result.image.shape
        # a pooled image keeps the axes in the tensor's own row and column numbers
        extent = (-0.5, shown_cols * block_cols - 0.5, shown_rows * block_rows - 0.5, -0.5)
        artists = self._artists
        if artists is not None and artists.ax in self.canvas.figure.axes:
            # the same axes, image and colour bar with new data: new ones cost ~10 ms
            self.canvas.show_plot()
            ax, image, colorbar = artists.ax, artists.image, artists.colorbar
            image.set_data(result.image)
            image.set_extent(extent)
            image.set_clim(vmin, vmax)
        else:
            self.canvas.clear()
            ax = self.canvas.figure.add_subplot()
            image = ax.imshow(
                result.image,
                cmap=CMAP,
                vmin=vmin,
                vmax=vmax,
                interpolation="nearest",
                # colour mapping after resampling, on the axes' pixels: half the draw time
                # of "auto", the same picture for nearest-neighbour sampling
                interpolation_stage="data",
                aspect="auto",
                extent=extent,
            )
            # a raster in SVG and PDF too: a vector file of a large map was slow and huge
            image.set_rasterized(True)
            colorbar = self.canvas.figure.colorbar(image, ax=ax)
            if colorbar.solids is not None:
                colorbar.solids.set_rasterized(True)
            ax.set_xlabel("column")
            ax.set_ylabel("row")
            space_ticks(ax, integer=True)  # rows and columns are whole
            self._artists = _Artists(ax, image, colorbar)
        ax.set_xlim(-0.5, cols - 0.5)
        ax.set_ylim(rows - 0.5, -0.5)
        if result.constant is not None:
            middle = result.constant if vmin < result.constant < vmax else 0.0
            colorbar.set_ticks([vmin, middle, vmax])
        else:
            colorbar.locator = AutoLocator()
        title = f"{plot_text(node.name)}  {what}"
        if notes:
            title += f"\n{'; '.join(notes)}"
        # y given: Matplotlib then skips placing the title above top ticks on every draw
        # (~4 ms measuring tick labels); the x ticks are at the bottom, so it stays at 1.0
        ax.set_title(title, fontsize="medium", y=1.0)
        self.canvas.request_draw()
        self.image_drawn.emit()

    def _message(self, text: str, *, error: bool = False, status: bool = True) -> None:
        self.image = self.image_data = None
        if status:
            self.status.setText(text)
        self.canvas.show_message(text, error=error)
        self.image_drawn.emit()
