"""The histogram pane: counted words, loading states, CSV export, labels inside a narrow
plot (the heatmap's too)."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.text import Text
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.analysis.tree import Node, build_tree
from csv_state_viewer.core.api import open_state, save_state
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.panes.heatmap import HeatmapPane
from csv_state_viewer.gui.panes.histogram import SELECT_HINT, HistogramPane

from .test_plots import KERNEL, SLOT, data, tensor


@pytest.fixture
def tree(context: ViewerContext, small_state: Path) -> Iterator[Node]:
    state = open_state(small_state)
    yield build_tree(state)
    context.shutdown()
    state.close()


def shown_pane(
    qtbot: QtBot, context: ViewerContext, size: tuple[int, int] = (600, 450)
) -> HistogramPane:
    pane = HistogramPane(context)
    qtbot.addWidget(pane)
    pane.resize(*size)
    pane.show()
    qtbot.waitExposed(pane)
    return pane


def show(qtbot: QtBot, pane: HistogramPane, nodes: list[Node]) -> None:
    with qtbot.waitSignal(pane.histogram_drawn, timeout=20_000):
        pane.show_nodes(nodes)


def test_one_bin_is_one_bin(qtbot: QtBot, context: ViewerContext, tree: Node) -> None:
    """The header said "1 bins"."""
    pane = shown_pane(qtbot, context)
    pane.bins_spin.setValue(1)
    show(qtbot, pane, [tensor(tree, KERNEL)])
    assert pane.status.text().splitlines()[0] == "1 bin"
    with qtbot.waitSignal(pane.histogram_drawn, timeout=20_000):
        pane.bins_spin.setValue(3)
    assert pane.status.text().splitlines()[0] == "3 bins"


def test_a_loading_selection_shows_loading_not_the_old_plot_or_a_hint(
    qtbot: QtBot, context: ViewerContext, tree: Node
) -> None:
    pane = shown_pane(qtbot, context)
    assert pane.canvas.message == SELECT_HINT
    with qtbot.waitSignal(pane.histogram_drawn, timeout=20_000):
        pane.show_nodes([tensor(tree, KERNEL)])
        assert pane.canvas.message is not None and pane.canvas.message.startswith("Loading")
    assert pane.canvas.figure.axes
    pane.canvas.toolbar.set_message("x=0.1 y=3")
    with qtbot.waitSignal(pane.histogram_drawn, timeout=20_000):
        pane.show_nodes([tensor(tree, SLOT)])
        # never the previous tensor's bars: its axes are hidden, kept to be reused
        assert not [ax for ax in pane.canvas.figure.axes if ax.get_visible()]
        assert pane.canvas.message is not None and pane.canvas.message.startswith("Loading")
        assert SLOT in pane.canvas.message
        assert pane.canvas.toolbar.locLabel.text() == ""
    assert pane.canvas.figure.axes[0].get_title() == SLOT


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_export_histogram_csv_has_edges_and_counts_per_tensor(
    qtbot: QtBot, context: ViewerContext, tree: Node, tmp_path: Path
) -> None:
    pane = shown_pane(qtbot, context)
    assert not pane.export_action.isEnabled()
    with pytest.raises(ValueError, match="no histogram"):
        pane.export_histogram_csv(tmp_path / "none.csv")
    nodes = [tensor(tree, KERNEL), tensor(tree, SLOT)]
    show(qtbot, pane, nodes)
    assert pane.export_action.isEnabled()
    assert pane.export_action in pane.canvas.toolbar.actions()
    pane.export_histogram_csv(tmp_path / "hist.csv")
    rows = read_csv(tmp_path / "hist.csv")
    assert list(rows[0]) == ["tensor", "bin", "left", "right", "count"]
    assert pane.histogram is not None
    edges = pane.histogram.edges
    for node in nodes:
        mine = [r for r in rows if r["tensor"] == node.name]
        assert [int(r["bin"]) for r in mine] == list(range(len(edges) - 1))
        np.testing.assert_array_equal([float(r["left"]) for r in mine], edges[:-1])
        np.testing.assert_array_equal([float(r["right"]) for r in mine], edges[1:])
        counts = [int(r["count"]) for r in mine]
        np.testing.assert_array_equal(counts, np.histogram(data(node), bins=edges)[0])


# -------------------------------------------------------------------------- layout
def drawn_ticklabels(axis: Axis) -> list[Text]:
    """The tick labels within the axis's view (the others are not drawn)."""
    low, high = sorted(axis.get_view_interval())
    return [
        tick.label1
        for tick in axis.get_major_ticks()
        if low <= tick.get_loc() <= high and tick.label1.get_visible() and tick.label1.get_text()
    ]


def assert_labels_fit(figure: Figure) -> None:
    """Every label and drawn tick label inside the figure; no two x tick labels touch."""
    canvas = figure.canvas
    canvas.draw()
    renderer = canvas.get_renderer()  # type: ignore[attr-defined]
    box = figure.bbox
    for ax in figure.axes:
        xticks, yticks = drawn_ticklabels(ax.xaxis), drawn_ticklabels(ax.yaxis)
        for text in [ax.xaxis.label, ax.yaxis.label, *xticks, *yticks]:
            if not text.get_text():
                continue
            extent = text.get_window_extent(renderer)
            assert extent.x0 >= box.x0 - 0.5 and extent.x1 <= box.x1 + 0.5, text.get_text()
            assert extent.y0 >= box.y0 - 0.5 and extent.y1 <= box.y1 + 0.5, text.get_text()
        extents = sorted((t.get_window_extent(renderer) for t in xticks), key=lambda e: e.x0)
        for a, b in itertools.pairwise(extents):
            assert a.x1 < b.x0, "x tick labels collide"


@pytest.mark.parametrize("size", [(330, 240), (900, 600)])
def test_histogram_labels_stay_inside_at_any_size(
    qtbot: QtBot, context: ViewerContext, tmp_path: Path, size: tuple[int, int]
) -> None:
    """A narrow plot clipped "count" and its x tick labels collided."""
    rng = np.random.default_rng(5)
    path = tmp_path / "w.npz"
    save_state(path, {"w": (rng.standard_normal(50_000) * 0.01 - 0.0125).astype(np.float32)})
    with open_state(path) as state:
        root = build_tree(state)
        pane = shown_pane(qtbot, context, size)
        show(qtbot, pane, [tensor(root, "w")])
        assert_labels_fit(pane.canvas.figure)
        context.shutdown()


def test_heatmap_labels_stay_inside_a_narrow_plot(
    qtbot: QtBot, context: ViewerContext, tree: Node
) -> None:
    pane = HeatmapPane(context)
    qtbot.addWidget(pane)
    pane.resize(330, 260)
    pane.show()
    qtbot.waitExposed(pane)
    with qtbot.waitSignal(pane.image_drawn, timeout=20_000):
        pane.show_nodes([tensor(tree, KERNEL)])
    assert_labels_fit(pane.canvas.figure)
