"""A run opened in the viewer: the Timeline follows a tensor through its states, a click
opens a step's state, and the Health tab finds a planted NaN and badges the tree."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backend_bases import MouseButton, MouseEvent
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QStyle
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.analysis.tree import Node
from csv_state_viewer.core.api import save_state
from csv_state_viewer.gui.mainwindow import MainWindow
from csv_state_viewer.gui.panes.health import HealthPane
from csv_state_viewer.gui.panes.timeline import BANDS, RIDGE, STRIP, TimelinePane
from csv_state_viewer.gui.treemodel import NODE_ROLE

KERNEL = "model/dense/kernel"
VELOCITY = "adam/model_dense_kernel_velocity"
RNG = np.random.default_rng(16)
START = (RNG.standard_normal((16, 8)) / 4).astype(np.float32)


def kernel_at(step: int) -> np.ndarray:
    return (START * (1 + 0.1 * step)).astype(np.float32)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """Three epochs saved in a folder; file names out of step order on purpose."""
    folder = tmp_path / "run"
    folder.mkdir()
    for name, step in (("b_epoch1.csv", 10), ("a_epoch2.csv", 20), ("c_epoch3.csv", 30)):
        velocity = np.full((16, 8), 1e-4, np.float32)
        if step == 30:
            velocity[2, 3] = np.nan  # what went wrong at the last epoch
        save_state(
            folder / name,
            {
                KERNEL: kernel_at(step),
                "model/dense/bias": np.full(8, 0.01 * step, np.float32),
                VELOCITY: velocity,
                "adam/iteration": np.array(step, np.int64),
            },
            metadata={VELOCITY: {"role": "slot", "slot_of": KERNEL, "slot": "velocity"}},
        )
    return folder


def open_run(qtbot: QtBot, window: MainWindow, folder: Path) -> Node:
    window.open_run([str(folder)])
    qtbot.waitUntil(lambda: len(window.roots) == 1, timeout=20000)
    return window.roots[0]


def test_the_timeline_follows_a_tensor_through_the_run_and_a_click_opens_a_step(
    qtbot: QtBot, window: MainWindow, run: Path
) -> None:
    root = open_run(qtbot, window, run)
    assert root.state is not None and root.state.path.endswith("c_epoch3.csv")  # the last step
    pane = window.panes["timeline"]
    assert isinstance(pane, TimelinePane)
    node = root.find(KERNEL)
    assert node is not None
    with qtbot.waitSignal(pane.timeline_drawn, timeout=20000):
        window.select_node(node)
        window.set_tab("timeline")
    timeline = pane.timeline
    assert timeline is not None and pane.canvas.message is None
    assert [m.step for m in timeline.members] == [10, 20, 30]
    (series,) = timeline.tensors
    expected = [float(np.linalg.norm(kernel_at(s).astype(np.float64))) for s in (10, 20, 30)]
    np.testing.assert_allclose(series.l2, expected, rtol=1e-12)
    ratio = np.linalg.norm(
        kernel_at(20).astype(np.float64) - kernel_at(10).astype(np.float64)
    ) / np.linalg.norm(kernel_at(10).astype(np.float64))
    assert series.update_ratio[0] is None
    assert series.update_ratio[1] == pytest.approx(ratio, rel=1e-12)
    assert len(pane.canvas.figure.axes) == 4  # L2, mean ± std, max |w|, update ratio
    for view in (BANDS, RIDGE, STRIP):
        with qtbot.waitSignal(pane.timeline_drawn, timeout=20000):
            pane.view.setCurrentText(view)
        assert pane.canvas.message is None, view
    with qtbot.waitSignal(pane.timeline_drawn, timeout=20000):
        pane.view.setCurrentText("Statistics")

    # a click on the first step opens that state on the same tensor
    pane.canvas.canvas.draw()
    ax = pane.canvas.figure.axes[0]
    x, y = ax.transData.transform((10, expected[0]))
    event = MouseEvent("button_press_event", pane.canvas.canvas, x, y, MouseButton.LEFT)
    pane.canvas.canvas.callbacks.process("button_press_event", event)
    qtbot.waitUntil(lambda: len(window.roots) == 2, timeout=20000)
    qtbot.waitUntil(lambda: window.selected_nodes()[:1] != [node], timeout=5000)
    chosen = window.selected_nodes()[0]
    assert chosen.name == KERNEL
    assert chosen.state is not None and chosen.state.path.endswith("b_epoch1.csv")


def test_health_finds_the_planted_nan_and_badges_the_tree(
    qtbot: QtBot, window: MainWindow, run: Path
) -> None:
    root = open_run(qtbot, window, run)
    pane = window.panes["health"]
    assert isinstance(pane, HealthPane)
    with qtbot.waitSignal(pane.checked, timeout=20000):
        window.select_node(root)
        window.set_tab("health")
    qtbot.waitUntil(lambda: root.state is not None and root.state.path in window.context.findings)
    errors = [f for f in pane.shown if f.severity == "error"]
    assert [(f.tensor, f.check) for f in errors] == [(VELOCITY, "nonfinite")]
    assert pane.table.rowCount() == len(pane.shown)
    velocity = root.find(VELOCITY)
    assert velocity is not None
    index = window.model.index_of(velocity)
    critical = QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)
    icon = window.model.data(index, 1)  # DecorationRole
    assert icon.pixmap(16).toImage() == critical.pixmap(16).toImage()
    assert "nonfinite" in errors[0].check and "NaN" in window.model.data(index, 3)  # tooltip
    assert window.model.data(index, NODE_ROLE) is velocity
    # double-clicking the finding selects its tensor
    row = pane.shown.index(errors[0])
    pane.table.cellDoubleClicked.emit(row, 0)
    assert window.selected_nodes()[0] is velocity


def test_the_first_pass_over_a_run_can_be_cancelled(
    qtbot: QtBot, window: MainWindow, run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from csv_state_viewer.core.progress import Cancelled, Progress
    from csv_state_viewer.gui.panes import timeline as timeline_module

    started: list[bool] = []

    def endless(*_args: object, progress: Progress, **_kwargs: object) -> None:
        started.append(True)
        while not progress.cancelled():  # a long first pass, reporting as it goes
            progress.report(1, 100)
            time.sleep(0.01)
        raise Cancelled()

    monkeypatch.setattr(timeline_module, "member_timeline", endless)
    open_run(qtbot, window, run)  # shows the Timeline tab on the run's first tensor
    pane = window.panes["timeline"]
    assert isinstance(pane, TimelinePane)
    qtbot.waitUntil(lambda: bool(started) and pane.cancel_button.isVisible(), timeout=20000)
    with qtbot.waitSignal(pane.timeline_drawn, timeout=20000):
        qtbot.mouseClick(pane.cancel_button, Qt.MouseButton.LeftButton)
    assert pane.canvas.message is not None and pane.canvas.message.startswith("Cancelled")
    assert not pane.cancel_button.isVisible()
    assert pane.timeline is None


def test_a_folder_without_states_is_one_error_and_can_be_tried_again(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no states here")
    for attempt in range(1, 3):  # a failed run is forgotten, so the same one can be retried
        window.open_run([str(empty)])
        qtbot.waitUntil(lambda n=attempt: len(window.error_boxes) == n, timeout=20000)
        assert "notes.txt: space-separated text" in window.error_boxes[-1].text()
        window.error_boxes[-1].close()
    assert window.roots == []
