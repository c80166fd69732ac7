"""The plot panes: histogram, heatmap and compare draw what NumPy computes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.patches import StepPatch
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.analysis.diff import diff_states
from csv_state_viewer.core.analysis.slicing import SLICE
from csv_state_viewer.core.analysis.stats import auto_bins
from csv_state_viewer.core.analysis.tree import Node, build_tree
from csv_state_viewer.core.api import open_state, save_state
from csv_state_viewer.core.errors import StateWriteError
from csv_state_viewer.core.state import TensorEntry
from csv_state_viewer.gui.context import Comparison, ViewerContext
from csv_state_viewer.gui.panes.compare import NO_COMPARISON, ComparePane
from csv_state_viewer.gui.panes.heatmap import HeatmapPane
from csv_state_viewer.gui.panes.histogram import MAX_OVERLAY, SCOPE_HINT, HistogramPane
from csv_state_viewer.gui.tasks import TaskSlot

from .conftest import SAMPLES

KERNEL = "model/dense/kernel"
BIAS = "model/dense/bias"
CONV = "model/conv/kernel"
SPECIAL = "model/special"
SLOT = "optimizer/adam/dense_kernel_m"


@pytest.fixture
def tree(context: ViewerContext, small_state: Path) -> Iterator[Node]:
    """The small state's tree; workers stop before the state is closed."""
    state = open_state(small_state)
    yield build_tree(state)
    context.shutdown()
    state.close()


def tensor(root: Node, name: str) -> Node:
    node = root.find(name)
    assert node is not None, name
    return node


def tensor_entry(node: Node) -> TensorEntry:
    assert node.entry is not None
    return node.entry


def data(node: Node) -> np.ndarray:
    assert node.state is not None and node.entry is not None
    return node.state.read(node.entry)


def wait_idle(qtbot: QtBot, context: ViewerContext) -> None:
    qtbot.waitUntil(lambda: not context.runner.busy, timeout=10_000)


def steps(pane: HistogramPane | ComparePane) -> list[StepPatch]:
    (ax,) = pane.canvas.figure.axes
    return [p for p in ax.patches if isinstance(p, StepPatch)]


def count_submits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the owners of tasks submitted from now on, in any slot."""
    owners: list[str] = []
    submit = TaskSlot.submit

    def counting(slot: TaskSlot, *args: Any, **kwargs: Any) -> Any:
        owners.append(slot.owner)
        return submit(slot, *args, **kwargs)

    monkeypatch.setattr(TaskSlot, "submit", counting)
    return owners


def finite_histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return np.histogram(values[np.isfinite(values)], bins=edges)[0]


# ------------------------------------------------------------------------ histogram
def histogram_pane(qtbot: QtBot, context: ViewerContext) -> HistogramPane:
    pane = HistogramPane(context)
    qtbot.addWidget(pane)
    return pane


def test_histogram_counts_are_numpys(qtbot: QtBot, context: ViewerContext, tree: Node) -> None:
    pane = histogram_pane(qtbot, context)
    node = tensor(tree, KERNEL)
    pane.show_nodes([node])
    wait_idle(qtbot, context)
    assert pane.histogram is not None
    kernel = data(node)
    assert pane.histogram.bins == auto_bins(kernel.size)
    (patch,) = steps(pane)
    counts, edges, _ = patch.get_data()
    np.testing.assert_array_equal(edges, pane.histogram.edges)
    np.testing.assert_array_equal(counts, finite_histogram(kernel, edges))
    assert edges[0] == kernel.min() and edges[-1] == kernel.max()
    assert patch.get_fill()


def test_nan_and_inf_are_reported_and_excluded(
    qtbot: QtBot, context: ViewerContext, tree: Node
) -> None:
    pane = histogram_pane(qtbot, context)
    node = tensor(tree, SPECIAL)
    pane.show_nodes([node])
    wait_idle(qtbot, context)
    values = data(node)
    nan, pos, neg = np.isnan(values).sum(), (values == np.inf).sum(), (values == -np.inf).sum()
    assert nan and pos and neg
    text = pane.status.text()
    assert f"{nan} NaN" in text and f"{pos} +Inf" in text and f"{neg} -Inf" in text
    (patch,) = steps(pane)
    counts, edges, _ = patch.get_data()
    assert counts.sum() == np.isfinite(values).sum()
    np.testing.assert_array_equal(counts, finite_histogram(values, edges))
    assert np.isfinite(edges).all()


def test_constant_tensor_is_said(qtbot: QtBot, context: ViewerContext, tree: Node) -> None:
    pane = histogram_pane(qtbot, context)
    node = tensor(tree, BIAS)
    pane.show_nodes([node])
    wait_idle(qtbot, context)
    bias = data(node)
    assert f"constant: all {bias.size} finite values are {float(bias[0])!r}" in pane.status.text()
    (patch,) = steps(pane)
    counts, edges, _ = patch.get_data()
    assert counts.sum() == bias.size
    assert edges[0] < bias[0] < edges[-1]


def test_overlay_has_a_legend_entry_per_tensor(
    qtbot: QtBot, context: ViewerContext, tree: Node
) -> None:
    pane = histogram_pane(qtbot, context)
    nodes = [tensor(tree, KERNEL), tensor(tree, SLOT)]
    pane.show_nodes(nodes)
    wait_idle(qtbot, context)
    legend = pane.canvas.figure.axes[0].get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [KERNEL, SLOT]
    patches = steps(pane)
    assert [p.get_fill() for p in patches] == [False, False]
    for patch, node in zip(patches, nodes, strict=True):
        counts, edges, _ = patch.get_data()
        np.testing.assert_array_equal(counts, finite_histogram(data(node), edges))


def test_overlay_is_capped(qtbot: QtBot, context: ViewerContext, tree: Node) -> None:
    pane = histogram_pane(qtbot, context)
    pane.show_nodes([tensor(tree, BIAS)] * (MAX_OVERLAY + 2))
    wait_idle(qtbot, context)
    assert len(steps(pane)) == MAX_OVERLAY
    assert f"{MAX_OVERLAY} of {MAX_OVERLAY + 2}" in pane.status.text()


def test_bins_change_recomputes_and_is_saved(
    qtbot: QtBot, context: ViewerContext, tree: Node
) -> None:
    pane = histogram_pane(qtbot, context)
    pane.show_nodes([tensor(tree, KERNEL)])
    wait_idle(qtbot, context)
    pane.bins_spin.setValue(16)
    qtbot.waitUntil(lambda: pane.histogram is not None and pane.histogram.bins == 16)
    (patch,) = steps(pane)
    assert len(patch.get_data()[0]) == 16
    assert context.settings.bins() == 16
    assert histogram_pane(qtbot, context).bins_spin.value() == 16
    pane.bins_spin.setValue(0)
    assert pane.bins_spin.text() == "auto"


def test_log_toggle_redraws_without_recomputing(
    qtbot: QtBot, context: ViewerContext, tree: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    pane = histogram_pane(qtbot, context)
    pane.show_nodes([tensor(tree, SPECIAL)])
    wait_idle(qtbot, context)
    before = pane.histogram
    keys = count_submits(monkeypatch)
    pane.log_check.setChecked(True)
    ax = pane.canvas.figure.axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_ylim()[0] > 0
    assert keys == [] and not context.runner.busy
    assert pane.histogram is before
    assert context.settings.log_counts()
    pane.log_check.setChecked(False)
    assert pane.canvas.figure.axes[0].get_yscale() == "linear"


def test_stale_result_is_discarded(qtbot: QtBot, context: ViewerContext, tree: Node) -> None:
    pane = histogram_pane(qtbot, context)
    pane.show_nodes([tensor(tree, KERNEL)])
    pane.show_nodes([tensor(tree, SPECIAL)])
    wait_idle(qtbot, context)
    assert pane.histogram is not None
    assert [s.label for s in pane.histogram.series] == [SPECIAL]
    assert pane.canvas.figure.axes[0].get_title() == SPECIAL


def test_scope_selection_gives_a_hint(qtbot: QtBot, context: ViewerContext, tree: Node) -> None:
    pane = histogram_pane(qtbot, context)
    scope = tensor(tree, KERNEL).parent
    assert scope is not None
    pane.show_nodes([scope])
    assert pane.canvas.message == SCOPE_HINT
    assert pane.histogram is None and not context.runner.busy


def test_bad_data_is_a_message_and_marks_the_node(
    qtbot: QtBot, context: ViewerContext, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "tensor_name,tensor_data,tensor_metadata\n"
        'w,"0.5,oops","{""shape"": [2], ""dtype"": ""float32""}"\n',
        encoding="utf-8",
    )
    with open_state(path) as state:
        node = tensor(build_tree(state), "w")
        pane = histogram_pane(qtbot, context)
        with qtbot.waitSignal(context.tensor_failed, timeout=10_000) as failed:
            pane.show_nodes([node])
        assert failed.args == [node]
        assert pane.canvas.message is not None and "oops" in pane.canvas.message
        problem = state.problem_of(tensor_entry(node))
        assert problem is not None and "oops" in problem.message  # recorded by the state
        assert node.error == problem.message and pane.histogram is None
        wait_idle(qtbot, context)


# -------------------------------------------------------------------------- heatmap
def heatmap(qtbot: QtBot, context: ViewerContext, node: Node) -> HeatmapPane:
    pane = HeatmapPane(context)
    qtbot.addWidget(pane)
    pane.show_nodes([node])
    wait_idle(qtbot, context)
    return pane


def test_heatmap_of_a_matrix(qtbot: QtBot, context: ViewerContext, tree: Node) -> None:
    node = tensor(tree, KERNEL)
    pane = heatmap(qtbot, context, node)
    kernel = data(node)
    assert pane.image_data is not None
    np.testing.assert_array_equal(pane.image_data, kernel)
    (image,) = pane.canvas.figure.axes[0].get_images()
    np.testing.assert_array_equal(image.get_array(), kernel)
    peak = float(np.abs(kernel).max())
    assert image.get_clim() == (-peak, peak)
    assert image.get_cmap().name == "RdBu_r"
    assert not pane.mode_combo.isVisibleTo(pane) and pane.index_spins == []


def test_heatmap_of_a_conv_kernel(
    qtbot: QtBot, context: ViewerContext, tree: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = tensor(tree, CONV)
    pane = heatmap(qtbot, context, node)
    conv = data(node)
    assert pane.image_data is not None
    np.testing.assert_array_equal(pane.image_data, conv.reshape(18, 4))
    assert pane.mode_combo.isVisibleTo(pane)
    assert [s.maximum() for s in pane.index_spins] == [conv.shape[0] - 1, conv.shape[1] - 1]

    keys = count_submits(monkeypatch)
    pane.set_mode(SLICE)
    pane.index_spins[0].setValue(2)
    pane.index_spins[1].setValue(1)
    np.testing.assert_array_equal(pane.image_data, conv[2, 1])
    (image,) = pane.canvas.figure.axes[0].get_images()
    low, high = image.get_clim()
    assert low == -high == -float(np.abs(conv[2, 1]).max())
    assert keys == []


def test_heatmap_blanks_nan(qtbot: QtBot, context: ViewerContext, tree: Node) -> None:
    node = tensor(tree, SPECIAL)
    pane = heatmap(qtbot, context, node)
    values = data(node)
    assert pane.image_data is not None and pane.image_data.shape == (1, values.size)
    assert f"{np.isnan(values).sum()} NaN" in pane.status.text()
    (image,) = pane.canvas.figure.axes[0].get_images()
    finite = values[np.isfinite(values)]
    assert image.get_clim()[1] == float(np.abs(finite).max())


def test_heatmap_of_a_scalar_is_a_message(qtbot: QtBot, context: ViewerContext, tree: Node) -> None:
    node = tensor(tree, "optimizer/iteration")
    pane = heatmap(qtbot, context, node)
    assert pane.image_data is None
    assert pane.canvas.message is not None and str(data(node).item()) in pane.canvas.message


# -------------------------------------------------------------------------- compare
@pytest.fixture
def compared(tmp_path: Path, context: ViewerContext) -> Iterator[Comparison]:
    """A and B differing by a known delta in ``w``, by shape in ``s``, not at all in ``same``."""
    rng = np.random.default_rng(11)
    w = rng.standard_normal((6, 5)).astype(np.float32)
    delta = rng.standard_normal((6, 5)).astype(np.float32) * 0.01
    same = rng.standard_normal(7)
    save_state(tmp_path / "a.csv", {"w": w, "s": np.ones((2, 3)), "same": same})
    save_state(tmp_path / "b.csv", {"w": w + delta, "s": np.ones((3, 2)), "same": same})
    state_a, state_b = open_state(tmp_path / "a.csv"), open_state(tmp_path / "b.csv")
    yield Comparison(build_tree(state_a), state_b, diff_states(state_a, state_b))
    context.shutdown()
    state_a.close()
    state_b.close()


def compare_pane(qtbot: QtBot, context: ViewerContext) -> ComparePane:
    pane = ComparePane(context)
    qtbot.addWidget(pane)
    return pane


def test_compare_histogram_is_numpys_of_b_minus_a(
    qtbot: QtBot, context: ViewerContext, compared: Comparison
) -> None:
    root, other = compared.root, compared.other
    pane = compare_pane(qtbot, context)
    node = tensor(root, "w")
    pane.show_nodes([node])
    assert pane.canvas.message == NO_COMPARISON
    context.set_comparison(compared)  # comparison_changed refreshes the pane
    wait_idle(qtbot, context)
    assert pane.histogram is not None
    b_minus_a = other.read("w").astype(np.float64) - data(node).astype(np.float64)
    (patch,) = steps(pane)
    counts, edges, _ = patch.get_data()
    np.testing.assert_array_equal(counts, np.histogram(b_minus_a, bins=edges)[0])
    assert edges[0] == b_minus_a.min() and edges[-1] == b_minus_a.max()
    assert "values differ" in pane.summary.text()
    assert f"{np.count_nonzero(b_minus_a)} of {b_minus_a.size}" in pane.summary.text()


def test_compare_identical_and_shape_mismatch(
    qtbot: QtBot, context: ViewerContext, compared: Comparison
) -> None:
    root = compared.root
    context.set_comparison(compared)
    pane = compare_pane(qtbot, context)
    pane.show_nodes([tensor(root, "same")])
    wait_idle(qtbot, context)
    assert pane.histogram is not None
    assert pane.histogram.series[0].constant == 0.0
    assert "identical" in pane.summary.text()

    pane.show_nodes([tensor(root, "s")])
    assert pane.histogram is None and pane.canvas.figure.axes == []
    assert pane.canvas.message is not None and "Shapes differ" in pane.canvas.message
    assert "(2, 3)" in pane.canvas.message and "(3, 2)" in pane.canvas.message
    assert not context.runner.busy

    context.set_comparison(None)
    assert pane.canvas.message == NO_COMPARISON


def test_compare_of_a_scalar_tensor_is_plotted(qtbot: QtBot, context: ViewerContext) -> None:
    """Scalars (an optimizer's iteration) showed "TypeError: 'numpy.float64' object does
    not support item assignment" instead of their difference."""
    with (
        open_state(SAMPLES / "mlp_adam.csv") as state_a,
        open_state(SAMPLES / "mlp_adam_later.csv") as state_b,
    ):
        root = build_tree(state_a)
        context.set_comparison(Comparison(root, state_b, diff_states(state_a, state_b)))
        pane = compare_pane(qtbot, context)
        node = tensor(root, "adam/iteration")
        pane.show_nodes([node])
        wait_idle(qtbot, context)
        step = float(state_b.read("adam/iteration")) - float(data(node))
        assert step != 0
        assert pane.histogram is not None, pane.canvas.message
        assert pane.histogram.series[0].constant == step
        assert "values differ" in pane.summary.text()
        assert f"constant: the only finite value is {step!r}" in pane.summary.text()
        context.set_comparison(None)
        context.shutdown()


# ----------------------------------------------------------------------------- saving
def test_save_plot_formats(
    qtbot: QtBot, context: ViewerContext, tree: Node, tmp_path: Path
) -> None:
    pane = histogram_pane(qtbot, context)
    pane.show_nodes([tensor(tree, KERNEL)])
    wait_idle(qtbot, context)
    for name, check in (
        ("plot.png", lambda raw: raw.startswith(b"\x89PNG")),
        ("plot.SVG", lambda raw: b"<svg" in raw),
        ("plot.pdf", lambda raw: raw.startswith(b"%PDF")),
    ):
        pane.save_plot(tmp_path / name)
        assert check((tmp_path / name).read_bytes()), name
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        pane.save_plot(tmp_path / "plot.txt")
    assert not (tmp_path / "plot.txt").exists()
    pane.save_plot(tmp_path / "new" / "folder" / "plot.png")  # made as every writer makes it
    assert (tmp_path / "new" / "folder" / "plot.png").read_bytes().startswith(b"\x89PNG")
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(StateWriteError, match="is a file, not a folder"):
        pane.save_plot(tmp_path / "a_file" / "plot.png")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("suffix", [".svg", ".pdf"])
def test_histogram_follows_the_selection_after_saving_a_vector_plot(
    qtbot: QtBot, context: ViewerContext, tree: Node, tmp_path: Path, suffix: str
) -> None:
    """Matplotlib's Qt canvas marks a draw pending after saving and waits for a paint
    event; SVG and PDF saves cause none, so every later draw request was ignored."""
    pane = histogram_pane(qtbot, context)
    pane.show()
    qtbot.waitExposed(pane)
    drawn: list[str] = []  # the title of each figure really drawn on screen

    def on_draw(_event: object) -> None:
        axes = pane.canvas.figure.axes
        drawn.append(axes[0].get_title() if axes else "")

    pane.canvas.canvas.mpl_connect("draw_event", on_draw)
    pane.show_nodes([tensor(tree, KERNEL)])
    wait_idle(qtbot, context)
    qtbot.waitUntil(lambda: drawn[-1:] == [KERNEL])
    pane.save_plot(tmp_path / f"plot{suffix}")
    # a tensor with as many status lines: a taller label would resize and so repaint
    pane.show_nodes([tensor(tree, SLOT)])
    wait_idle(qtbot, context)
    qtbot.waitUntil(lambda: drawn[-1:] == [SLOT], timeout=3000)
