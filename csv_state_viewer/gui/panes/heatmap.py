"""The heatmap pane: one tensor as a 2-D image, coloured symmetrically around zero."""

from __future__ import annotations

import os

import numpy as np
from matplotlib.ticker import MaxNLocator
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from csv_state_viewer.core.analysis.slicing import (
    RESHAPE,
    SLICE,
    display_stride,
    symmetric_limits,
    to_2d,
)
from csv_state_viewer.core.analysis.tree import TENSOR, Node
from csv_state_viewer.core.formatting import display_name
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.errors import describe
from csv_state_viewer.gui.panes.base import Pane, save_canvas
from csv_state_viewer.gui.plotcanvas import PlotCanvas, plot_text
from csv_state_viewer.gui.safelabel import SafeLabel

CMAP = "RdBu_r"
MODE_LABELS = ((RESHAPE, "Reshape to 2-D"), (SLICE, "Slice"))


def _shape_text(shape: tuple[int, ...]) -> str:
    return str(tuple(shape)) if shape else "scalar"


class HeatmapPane(Pane):
    """The first selected tensor as an image; ≥3-D tensors are reshaped or sliced."""

    title = "Heatmap"

    def __init__(self, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.node: Node | None = None
        self.array: np.ndarray | None = None  # the loaded tensor
        self.image_data: np.ndarray | None = None  # the 2-D array drawn

        self.mode_combo = QComboBox()
        for mode, label in MODE_LABELS:
            self.mode_combo.addItem(label, mode)
        self.mode_label = QLabel("3-D and more:")
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
        controls.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.canvas, 1)

        self.mode_combo.currentIndexChanged.connect(self._mode_changed)
        self._set_controls(())
        self.canvas.show_message("Select a tensor")

    # ------------------------------------------------------------------ public API
    @property
    def mode(self) -> str:
        return str(self.mode_combo.currentData())

    def set_mode(self, mode: str) -> None:
        self.mode_combo.setCurrentIndex(self.mode_combo.findData(mode))

    def show_nodes(self, nodes: list[Node]) -> None:
        self.nodes = list(nodes)
        self.slot.drop()
        self.node = next((n for n in self.nodes if n.kind == TENSOR), None)
        self.array = self.image_data = None
        self._set_controls(())
        self.status.clear()
        node = self.node
        if node is None:
            hint = "Select a tensor (not a file or a scope)" if self.nodes else "Select a tensor"
            self.canvas.show_message(hint)
            return

        def work(progress: Progress) -> np.ndarray:
            return self.context.load_array(node, progress)

        def failed(error: BaseException) -> None:
            message = describe(error)[0]
            self.status.setText(message)
            self.canvas.show_message(message, error=True)
            self.context.read_failed(node, error)

        self.status.setText("Loading…")
        self.slot.submit(work, self._loaded, failed, on_progress=self._progress)

    def save_plot(self, path: str | os.PathLike[str]) -> None:
        save_canvas(self.canvas, path)

    # ------------------------------------------------------------------- loading
    def _progress(self, done: int, total: int) -> None:
        self.status.setText(f"Loading… {100 * done // max(total, 1)}%")

    def _loaded(self, array: np.ndarray) -> None:
        self.array = array
        self._set_controls(array.shape)
        self._draw()

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
        self._draw()  # the loaded array is kept: a new slice needs no reload

    def _mode_changed(self, _index: int) -> None:
        for spin in self.index_spins:
            spin.setEnabled(self.mode == SLICE)
        self._draw()

    # -------------------------------------------------------------------- drawing
    def _draw(self) -> None:
        node, array = self.node, self.array
        if node is None or array is None:
            return
        self.image_data = None
        if array.ndim == 0:
            self._message(f"{display_name(node.name)} is a scalar: {array.item()!r}")
            return
        if array.size == 0:
            self._message(f"{display_name(node.name)} is empty (shape {_shape_text(array.shape)})")
            return
        index = tuple(spin.value() for spin in self.index_spins)
        data = to_2d(array, self.mode, index)
        row_step, col_step = display_stride(data.shape)
        shown = data[::row_step, ::col_step]
        self.image_data = shown

        what = _shape_text(array.shape)
        if array.ndim >= 3:
            if self.mode == SLICE:
                what += f" [{', '.join(map(str, index))}, :, :]"
            what += f" shown as {_shape_text(data.shape)}"
        if (row_step, col_step) != (1, 1):
            what += f", subsampled to {_shape_text(shown.shape)} (steps {row_step}, {col_step})"
        notes = []
        if array.dtype.kind == "c":
            notes.append("complex values shown as magnitudes")
        if data.dtype.kind == "f":
            nan = int(np.count_nonzero(np.isnan(data)))
            inf = int(np.count_nonzero(np.isinf(data)))
            notes += [
                f"{count} {kind} shown blank"
                for count, kind in ((nan, "NaN"), (inf, "±Inf"))
                if count
            ]
        self.status.setText("; ".join(notes))

        self.canvas.clear()
        ax = self.canvas.figure.add_subplot()
        vmin, vmax = symmetric_limits(data)
        rows, cols = shown.shape
        image = ax.imshow(
            shown,
            cmap=CMAP,
            vmin=vmin,
            vmax=vmax,
            interpolation="nearest",
            aspect="auto",
            # a strided image keeps the axes in the tensor's own row and column numbers
            extent=(-0.5, cols * col_step - 0.5, rows * row_step - 0.5, -0.5),
        )
        self.canvas.figure.colorbar(image, ax=ax)
        title = f"{plot_text(node.name)}  {what}"
        if notes:
            title += f"\n{'; '.join(notes)}"
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(MaxNLocator(integer=True))  # rows and columns are whole
        self.canvas.request_draw()

    def _message(self, text: str) -> None:
        self.status.setText(text)
        self.canvas.show_message(text)
