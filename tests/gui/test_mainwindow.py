"""The main window as a user drives it: open, browse, filter, drop, cancel, compare, save."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.analysis.diff import DiffStatus
from csv_state_viewer.core.analysis.tree import TENSOR, Node
from csv_state_viewer.core.api import load_state, open_state, save_state
from csv_state_viewer.core.progress import Cancelled, Progress
from csv_state_viewer.core.registry import write_choices
from csv_state_viewer.gui import fileactions, mainwindow, menus
from csv_state_viewer.gui.app import _excepthook
from csv_state_viewer.gui.mainwindow import MainWindow
from csv_state_viewer.gui.settings import Settings
from csv_state_viewer.gui.treemodel import DIFFERENCE, NODE_ROLE
from csv_state_viewer.ops import compare as compare_operation

from .conftest import SAMPLES, drag_enter_event, drop_event

WAIT = 20000


def open_and_wait(qtbot: QtBot, window: MainWindow, path: Path | str) -> Node:
    with qtbot.waitSignal(window.file_opened, timeout=WAIT) as blocker:
        window.open_file(str(path))
    root: Node = blocker.args[0]
    qtbot.waitUntil(lambda: not window.context.runner.busy, timeout=WAIT)
    return root


def current_node(window: MainWindow) -> Node:
    return window.tree.currentIndex().data(NODE_ROLE)  # type: ignore[no-any-return]


def test_opens_a_sample_selects_the_first_tensor_and_remembers_it(
    qtbot: QtBot, window: MainWindow, settings: Settings
) -> None:
    assert window.stack.currentWidget() is window.welcome
    sample = SAMPLES / "mlp_adam.csv"
    root = open_and_wait(qtbot, window, sample)
    assert window.stack.currentWidget() is window.splitter
    assert window.roots == [root]
    node = current_node(window)
    assert node.kind == TENSOR and node.name == "sequential/dense/kernel"
    summary: Any = window.panes["summary"]
    qtbot.waitUntil(lambda: summary.field_text("name") == node.name, timeout=WAIT)
    assert settings.recent_files()[0] == str(sample.resolve())
    assert "mlp_adam.csv" in window.windowTitle()
    # the same file again only selects it
    window.open_file(str(sample))
    assert len(window.roots) == 1


def test_keyboard_navigation_moves_the_selection_and_the_panes_follow(
    qtbot: QtBot, window: MainWindow
) -> None:
    open_and_wait(qtbot, window, SAMPLES / "mlp_adam.csv")
    window.tree.setFocus()
    first = current_node(window)
    QTest.keyClick(window.tree, Qt.Key.Key_Down)
    second = current_node(window)
    assert second is not first
    summary: Any = window.panes["summary"]
    qtbot.waitUntil(lambda: summary.field_text("name") == second.name, timeout=WAIT)


def test_filter_box_shows_matches_with_their_parents(qtbot: QtBot, window: MainWindow) -> None:
    open_and_wait(qtbot, window, SAMPLES / "mlp_adam.csv")
    qtbot.keyClicks(window.filter_edit, "dense_2*")
    proxy = window.proxy
    shown: list[str] = []

    def walk(parent: Any) -> None:
        for row in range(proxy.rowCount(parent)):
            index = proxy.index(row, 0, parent)
            node = index.data(NODE_ROLE)
            if node.kind == TENSOR:
                shown.append(node.name)
            walk(index)

    walk(window.tree.rootIndex())
    assert shown and all("dense_2" in name for name in shown)
    assert "sequential/dense_2/kernel" in shown


def test_malformed_file_opens_with_good_rows_and_marked_errors(
    qtbot: QtBot, window: MainWindow
) -> None:
    root = open_and_wait(qtbot, window, SAMPLES / "damaged.csv")
    assert root.state is not None
    bad = [n for n in root.tensors() if n.error]
    good = [n for n in root.tensors() if not n.error]
    assert len(bad) == len(root.state.errors) and good
    assert "bad row" in window.status_label.text()
    index = window.model.index_of(bad[0])
    assert index.data(Qt.ItemDataRole.ToolTipRole) == bad[0].error
    window.select_node(bad[0])
    summary: Any = window.panes["summary"]
    qtbot.waitUntil(lambda: bad[0].error in summary.field_text("error"), timeout=WAIT)


def test_a_file_that_is_not_a_state_gives_an_error_dialog_not_a_crash(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x00\x01\x02 not a state \xff")
    with qtbot.waitSignal(window.open_failed, timeout=WAIT) as blocker:
        window.open_file(str(junk))
    assert str(junk) in blocker.args[1] and "\n" not in blocker.args[1]
    box = window.error_boxes[-1]
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert window.roots == []


def drop(window: MainWindow, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = drag_enter_event(QPointF(10, 10), mime)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, drop_event(QPointF(10, 10), mime))


def test_dropping_one_file_opens_it(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.file_opened, timeout=WAIT):
        drop(window, [SAMPLES / "mlp_recipe.csv"])
    assert window.roots[0].label == "mlp_recipe.csv"


def test_dropping_several_files_offers_open_or_convert(qtbot: QtBot, window: MainWindow) -> None:
    files = [SAMPLES / "mlp_adam.csv", SAMPLES / "mlp_recipe.csv"]
    drop(window, files)
    box = window.findChild(QMessageBox, "drop_choice")
    assert box is not None and box.isVisible()
    convert = next(b for b in box.buttons() if b.text() == "Convert…")
    convert.click()
    dialog: Any = window.menus.dialogs[-1]
    assert dialog.isVisible()
    assert dialog.files == [str(p) for p in files]
    drop(window, files)
    box = [w for w in window.menus.dialogs if isinstance(w, QMessageBox)][-1]
    open_all = next(b for b in box.buttons() if b.text() == "Open all")
    open_all.click()
    qtbot.waitUntil(lambda: len(window.roots) == 2, timeout=WAIT)


def test_cancelling_a_load_mid_way_leaves_nothing_open(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()

    def slow_open(path: str, progress: Progress, *_options: Any) -> Any:
        progress.report(1, 10)
        started.set()
        while not progress.cancelled():  # a long index, as far as the window can tell
            threading.Event().wait(0.005)
        raise Cancelled

    monkeypatch.setattr(mainwindow, "open_for_viewing", slow_open)
    window.open_file(str(SAMPLES / "mlp_adam.csv"))
    assert started.wait(10)
    assert window.cancel_button.isVisible()
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.context.runner.busy, timeout=WAIT)
    assert window.roots == [] and window.error_boxes == []
    assert not window.progress.isVisible()
    assert window.status_label.text() == "Cancelled"


def test_closing_the_window_while_loading_waits_for_the_worker(
    qtbot: QtBot, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()

    def slow_open(path: str, progress: Progress, *_options: Any) -> Any:
        started.set()
        while not progress.cancelled():
            threading.Event().wait(0.005)
        raise Cancelled

    monkeypatch.setattr(mainwindow, "open_for_viewing", slow_open)
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    win.open_file(str(SAMPLES / "mlp_adam.csv"))
    assert started.wait(10)
    win.close()
    assert win.context.runner.pool.activeThreadCount() == 0


def test_unexpected_exceptions_are_shown_not_fatal(qtbot: QtBot, window: MainWindow) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError as err:
        _excepthook(RuntimeError, err, err.__traceback__)
    boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "error_box"]
    box = boxes[-1]
    assert isinstance(box, QMessageBox)
    assert "RuntimeError: boom" in box.text() and "Traceback" in box.detailedText()
    box.close()


def test_save_as_export_and_compare(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    a = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.ones(4, np.float32)}
    b = {"w": a["w"] * np.float32(2), "b": np.ones(4, np.float32)}
    save_state(tmp_path / "a.csv", a)
    save_state(tmp_path / "b.csv", b)
    root = open_and_wait(qtbot, window, tmp_path / "a.csv")

    fileactions.save_as(window, str(tmp_path / "copy.csv"), "base64")
    qtbot.waitUntil(lambda: "Wrote 2 tensors" in window.status_label.text(), timeout=WAIT)
    copy = load_state(tmp_path / "copy.csv")
    assert all(np.array_equal(copy[k], a[k]) for k in a)
    with open_state(tmp_path / "copy.csv") as written:
        assert {e.encoding for e in written.entries} == {"base64"}

    npz = next(c for c in write_choices() if c.format_name == "npz")
    fileactions.export(window, str(tmp_path / "out.npz"), npz)
    qtbot.waitUntil(lambda: "out.npz" in window.status_label.text(), timeout=WAIT)
    assert np.array_equal(load_state(tmp_path / "out.npz")["w"], a["w"])

    fileactions.compare_with(window, str(tmp_path / "b.csv"))
    qtbot.waitUntil(lambda: window.context.comparison is not None, timeout=WAIT)
    w, bias = root.find("w"), root.find("b")
    assert w is not None and bias is not None
    diff = window.context.diff_of(w)
    assert diff is not None and diff.status is DiffStatus.DIFFERENT
    assert diff.max_abs_diff == float(np.max(np.abs(b["w"] - a["w"])))
    assert window.model.diff_of(w) is diff  # one comparison, held by the context
    assert getattr(window.context.diff_of(bias), "status", None) is DiffStatus.IDENTICAL
    assert window.status_label.text() == "Compared with b.csv: 1 identical, 1 different"
    assert window.current_pane() is window.panes["compare"]
    assert not window.progress.isVisible()
    menus.clear_comparison(window)
    assert window.context.comparison is None and window.context.diff_of(w) is None
    assert window.model.index_of(w, DIFFERENCE).data() == ""


def test_source_file_is_never_overwritten(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    source = tmp_path / "a.csv"
    save_state(source, {"w": np.ones(3, np.float32)})
    before = source.read_bytes()
    open_and_wait(qtbot, window, source)
    fileactions.save_as(window, str(source))
    qtbot.waitUntil(lambda: bool(window.error_boxes), timeout=WAIT)
    assert source.read_bytes() == before


def test_layout_and_recent_files_persist(qtbot: QtBot, settings: Settings) -> None:
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 500)  # the offscreen screen is 800x800; restoring clamps to it
    first.splitter.setSizes([250, 450])
    with qtbot.waitSignal(first.file_opened, timeout=WAIT):
        first.open_file(str(SAMPLES / "mlp_recipe.csv"))
    sizes = first.splitter.sizes()
    first.close()
    second = MainWindow(settings)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    assert (second.width(), second.height()) == (700, 500)
    assert second.splitter.sizes()[0] == sizes[0]  # the tree keeps the width the user gave it
    recent = second.welcome.recent_list
    assert recent.item(0).text() == "mlp_recipe.csv"
    second.close()


def test_menu_actions_open_their_dialogs_and_save_plots(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    actions = {a.text(): a for a in window.menuBar().actions()[0].menu().actions()}
    assert not actions["Save &As CSV…"].isEnabled()  # nothing open yet
    root = open_and_wait(qtbot, window, SAMPLES / "mlp_adam.csv")
    assert actions["Save &As CSV…"].isEnabled()

    dialog: Any = menus.write_model_dialog(window)
    assert dialog is not None and dialog.isVisible()
    assert dialog.state is root.state
    dialog.close()
    convert: Any = menus.convert_dialog(window, [str(SAMPLES / "mlp_recipe.csv")])
    assert convert.files == [str(SAMPLES / "mlp_recipe.csv")]
    convert.close()

    window.set_tab("histogram")
    histogram: Any = window.panes["histogram"]
    qtbot.waitUntil(lambda: histogram.histogram is not None, timeout=WAIT)
    menus.save_plot(window, str(tmp_path / "plot.svg"))
    assert "<svg" in (tmp_path / "plot.svg").read_text()
    assert window.status_label.text().startswith("Saved plot")

    about = menus.about(window)
    assert "csv-state-viewer" in about.text()
    about.close()

    window.close_file(root)
    assert window.roots == [] and window.stack.currentWidget() is window.welcome


def test_selecting_a_tensor_on_the_compare_tab_leaves_a_running_comparison_alone(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Compare pane and File ▸ Compare with… once shared a task key: a click cancelled
    the comparison, and the status bar said "Comparing…" with a spinning bar for ever."""
    a = {"w": np.arange(6, dtype=np.float32), "b": np.ones(3, np.float32)}
    save_state(tmp_path / "a.csv", a)
    save_state(tmp_path / "b.csv", {**a, "w": a["w"] + np.float32(1)})
    root = open_and_wait(qtbot, window, tmp_path / "a.csv")
    window.set_tab("compare")
    started, release = threading.Event(), threading.Event()
    real_diff = compare_operation.diff_states

    def slow_diff(state_a: Any, state_b: Any, progress: Progress, **options: Any) -> Any:
        started.set()
        while not release.wait(0.005):  # a long comparison that honours cancellation
            if progress.cancelled():
                raise Cancelled
        return real_diff(state_a, state_b, progress, **options)

    monkeypatch.setattr(compare_operation, "diff_states", slow_diff)
    fileactions.compare_with(window, str(tmp_path / "b.csv"))
    assert started.wait(10)
    other = root.find("b")
    assert other is not None
    window.select_node(other)
    pane: Any = window.panes["compare"]
    qtbot.waitUntil(lambda: pane.nodes == [other], timeout=WAIT)  # the pane saw the click
    release.set()
    qtbot.waitUntil(lambda: window.context.comparison is not None, timeout=10_000)
    qtbot.waitUntil(lambda: not window.context.runner.busy, timeout=WAIT)
    assert window.status_label.text().startswith("Compared with b.csv: ")
    assert not window.progress.isVisible() and not window.cancel_button.isVisible()
    qtbot.waitUntil(lambda: pane.summary.text().startswith("b: identical"), timeout=WAIT)
