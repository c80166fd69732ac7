"""The heatmap pane: large maps pooled in a worker, loading states, constant tensors,
small vector files."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

import csv_state_viewer.gui.panes.heatmap as heatmap_module
from csv_state_viewer.core.analysis.image import MEAN, TIMES
from csv_state_viewer.core.analysis.tree import Node, build_tree
from csv_state_viewer.core.api import open_state, save_state
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.panes.heatmap import HeatmapPane

from .test_plots import BIAS, KERNEL, SLOT, data, tensor

BIG = "big"
BIG_SHAPE = (2048, 1536)


@pytest.fixture
def big_tree(context: ViewerContext, tmp_path: Path) -> Iterator[Node]:
    """An npz state with a map larger than any test window, and a small tensor."""
    rng = np.random.default_rng(3)
    path = tmp_path / "big.npz"
    save_state(path, {BIG: rng.standard_normal(BIG_SHAPE).astype(np.float32), "small": np.ones(3)})
    state = open_state(path)
    yield build_tree(state)
    context.shutdown()
    state.close()


@pytest.fixture
def small_tree(context: ViewerContext, small_state: Path) -> Iterator[Node]:
    state = open_state(small_state)
    yield build_tree(state)
    context.shutdown()
    state.close()


def shown_pane(
    qtbot: QtBot, context: ViewerContext, size: tuple[int, int] = (500, 400)
) -> HeatmapPane:
    pane = HeatmapPane(context)
    qtbot.addWidget(pane)
    pane.resize(*size)
    pane.show()
    qtbot.waitExposed(pane)
    return pane


def show(qtbot: QtBot, pane: HeatmapPane, node: Node) -> None:
    with qtbot.waitSignal(pane.image_drawn, timeout=20_000):
        pane.show_nodes([node])


def visible_axes(pane: HeatmapPane) -> list[object]:
    return [ax for ax in pane.canvas.figure.axes if ax.get_visible()]


def block_pool(data: np.ndarray, block: tuple[int, int], how: str) -> np.ndarray:
    """The reference pooling: reshape into blocks (NaN-padded), reduce each."""
    rows, cols = data.shape
    br, bc = block
    out = (math.ceil(rows / br), math.ceil(cols / bc))
    padded = np.full((out[0] * br, out[1] * bc), np.nan)
    padded[:rows, :cols] = data
    blocks = padded.reshape(out[0], br, out[1], bc).transpose(0, 2, 1, 3).reshape(*out, -1)
    if how == MEAN:
        return np.nanmean(blocks, axis=-1)
    index = np.nanargmax(np.abs(blocks), axis=-1)
    return np.take_along_axis(blocks, index[..., None], axis=-1)[..., 0]


def test_a_large_map_is_pooled_in_a_worker_to_the_canvas_size(
    qtbot: QtBot, context: ViewerContext, big_tree: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4096x4096 heatmap froze the window 1.4 s: it was thinned to 2048 and drawn as is."""
    threads: list[threading.Thread] = []
    pooling = heatmap_module.heatmap_image

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return pooling(*args, **kwargs)

    monkeypatch.setattr(heatmap_module, "heatmap_image", recording)
    pane = shown_pane(qtbot, context)
    node = tensor(big_tree, BIG)
    with qtbot.waitSignal(pane.image_drawn, timeout=20_000):
        pane.show_nodes([node])
        assert not visible_axes(pane) and pane.canvas.message is not None
        assert pane.canvas.message.startswith("Loading")
    assert threads and threads[0] is not threading.main_thread()

    assert pane.image is not None and pane.image_data is not None
    (image,) = pane.canvas.figure.axes[0].get_images()
    ratio = pane.canvas.devicePixelRatioF()
    drawn = image.get_array()
    assert drawn is not None
    rows, cols = drawn.shape
    assert rows <= pane.canvas.canvas.height() * ratio
    assert cols <= pane.canvas.canvas.width() * ratio
    block = pane.image.block
    assert block[0] > 1 and block[1] > 1
    values = big_tree.find(BIG).state.read(BIG)  # type: ignore[union-attr]
    np.testing.assert_array_equal(image.get_array(), block_pool(values, block, "max_abs"))
    title = pane.canvas.figure.axes[0].get_title()
    x = TIMES
    first, second = title.splitlines()[:2]
    assert first.endswith("(2048, 1536)")  # a 2-D tensor is not "shown as" its own shape
    assert second == f"shown as {rows}{x}{cols}, max |x| per {block[0]}{x}{block[1]} block"
    peak = float(np.abs(values).max())
    assert image.get_clim() == (-peak, peak)  # the colours of the whole map, not the pooled
    # the axes keep the tensor's row and column numbers
    assert pane.canvas.figure.axes[0].get_xlim() == (-0.5, BIG_SHAPE[1] - 0.5)


def test_mean_pooling_is_a_choice(qtbot: QtBot, context: ViewerContext, big_tree: Node) -> None:
    pane = shown_pane(qtbot, context)
    node = tensor(big_tree, BIG)
    show(qtbot, pane, node)
    with qtbot.waitSignal(pane.image_drawn, timeout=20_000):
        pane.set_reduction(MEAN)
    assert pane.image is not None and pane.image_data is not None
    values = big_tree.find(BIG).state.read(BIG)  # type: ignore[union-attr]
    np.testing.assert_allclose(
        pane.image_data, block_pool(values, pane.image.block, MEAN), rtol=1e-5, atol=1e-6
    )
    assert "mean per" in pane.canvas.figure.axes[0].get_title()


def test_a_constant_tensor_is_said_with_a_symmetric_range(
    qtbot: QtBot, context: ViewerContext, small_tree: Node
) -> None:
    """An all-zero bias was blank with a 0-1 colour bar and no word about it."""
    pane = shown_pane(qtbot, context)
    show(qtbot, pane, tensor(small_tree, BIAS))
    ax = pane.canvas.figure.axes[0]
    (image,) = ax.get_images()
    low, high = image.get_clim()
    assert low == -high and high > 0
    assert "constant 0" in ax.get_title() and "constant 0" in pane.status.text()


def test_loading_replaces_the_previous_plot_and_its_read_out(
    qtbot: QtBot, context: ViewerContext, small_tree: Node
) -> None:
    pane = shown_pane(qtbot, context)
    show(qtbot, pane, tensor(small_tree, KERNEL))
    assert pane.canvas.figure.axes
    pane.canvas.toolbar.set_message("x=3 y=2\n[0.25]")  # as hovering the image does
    with qtbot.waitSignal(pane.image_drawn, timeout=20_000):
        pane.show_nodes([tensor(small_tree, SLOT)])
        assert not visible_axes(pane)  # never the previous tensor's image
        assert pane.canvas.message is not None and pane.canvas.message.startswith("Loading")
        assert pane.canvas.toolbar.locLabel.text() == ""
    assert len(visible_axes(pane)) == 2  # the map and its colour bar, made again or reused
    assert SLOT in pane.canvas.figure.axes[0].get_title()
    slot = data(tensor(small_tree, SLOT))
    (image,) = pane.canvas.figure.axes[0].get_images()
    np.testing.assert_array_equal(image.get_array(), slot)
    peak = float(np.abs(slot).max())
    assert image.get_clim() == (-peak, peak)
    assert pane.canvas.figure.axes[0].get_xlim() == (-0.5, slot.shape[1] - 0.5)


def test_vector_saves_of_a_large_map_stay_small(
    qtbot: QtBot, context: ViewerContext, big_tree: Node, tmp_path: Path
) -> None:
    """Saving a large heatmap as SVG froze the window 1.25 s writing the whole image."""
    pane = shown_pane(qtbot, context)
    show(qtbot, pane, tensor(big_tree, BIG))
    (image,) = pane.canvas.figure.axes[0].get_images()
    assert image.get_rasterized()
    for name in ("map.svg", "map.pdf"):
        pane.save_plot(tmp_path / name)
        assert (tmp_path / name).stat().st_size < 2_000_000, name


def test_a_pooled_map_is_pooled_again_when_the_plot_grows(
    qtbot: QtBot, context: ViewerContext, big_tree: Node
) -> None:
    pane = shown_pane(qtbot, context, (400, 300))
    show(qtbot, pane, tensor(big_tree, BIG))
    assert pane.image is not None
    before = pane.image.image.shape
    with qtbot.waitSignal(pane.image_drawn, timeout=20_000):
        pane.resize(1000, 800)
    assert pane.image is not None
    after = pane.image.image.shape
    assert after[0] > before[0] and after[1] > before[1]
