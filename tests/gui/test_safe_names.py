"""The viewer shows names from files safely and keeps them exact as data.

Real widgets on a CSV whose names hold a terminal escape, a bidi override, zero-width
characters, markup, a ``$`` and 300 characters: every place that shows a name (the tree,
the Summary, the Values label, plot titles, the status bar, the window title, error
dialogs) shows escapes instead of those characters and elides long names in the middle,
with the whole escaped name in a tooltip; the tree's nodes and exports keep the real names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.analysis.tree import TENSOR, Node, build_tree
from csv_state_viewer.core.api import load_state, open_state, save_state
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.formatting import DISPLAY_NAME_LIMIT, display_name, safe_text
from csv_state_viewer.core.registry import format_named
from csv_state_viewer.gui import fileactions
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.errors import error_box
from csv_state_viewer.gui.mainwindow import MainWindow
from csv_state_viewer.gui.panes.heatmap import HeatmapPane
from csv_state_viewer.gui.panes.histogram import HistogramPane
from csv_state_viewer.gui.treemodel import NAME, NODE_ROLE, TensorTreeModel

WAIT = 20_000
ESCAPE = "dense\x1b[31m/kernel"
BIDI = "bias\u202eevil"
ZERO_WIDTH = "conv\u200b/kernel"
MARKUP = "<img src=x><b>bold"  # markup a QLabel would render
DOLLARS = "cost$\\x$"  # Matplotlib's math mode fails to draw it (unknown symbol \x)
LONG = "scope/" + "x" * 150 + "MIDDLE" + "y" * 150
NAMES = [ESCAPE, BIDI, ZERO_WIDTH, MARKUP, DOLLARS, LONG]
RAW_DANGER = ("\x1b", "\u202e", "\u200b")


def assert_safe(text: str) -> None:
    for char in RAW_DANGER:
        assert char not in text, f"{char!r} shown raw in {text!r}"


@pytest.fixture
def hostile_state(tmp_path: Path) -> Path:
    path = tmp_path / "names\x1b[31m.csv"
    save_state(path, {name: np.arange(6, dtype=np.float32) + i for i, name in enumerate(NAMES)})
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('bad\u202erow,1,"{""shape"": [5], ""dtype"": ""float32""}"\n')
    return path


@pytest.fixture
def tree(context: ViewerContext, hostile_state: Path) -> Iterator[Node]:
    state = open_state(hostile_state)
    yield build_tree(state)
    context.shutdown()
    state.close()


def nodes_of(model: TensorTreeModel, parent: QModelIndex | None = None) -> list[QModelIndex]:
    parent = parent or QModelIndex()
    found = []
    for row in range(model.rowCount(parent)):
        index = model.index(row, NAME, parent)
        found += [index, *nodes_of(model, index)]
    return found


def open_and_wait(qtbot: QtBot, window: MainWindow, path: Path) -> Node:
    with qtbot.waitSignal(window.file_opened, timeout=WAIT) as blocker:
        window.open_file(str(path))
    qtbot.waitUntil(lambda: not window.context.runner.busy, timeout=WAIT)
    root: Node = blocker.args[0]
    return root


def tensor(root: Node, name: str) -> Node:
    found = next((n for n in root.tensors() if n.name == name), None)
    assert found is not None, name
    return found


def test_the_tree_shows_escaped_elided_names_and_keeps_the_real_ones(tree: Node) -> None:
    model = TensorTreeModel()
    model.add_root(tree)
    indexes = nodes_of(model)
    shown = [index.data(Qt.ItemDataRole.DisplayRole) for index in indexes]
    for text in shown:
        assert_safe(text)
        assert len(text) <= DISPLAY_NAME_LIMIT
    assert "dense\\x1b[31m" in shown  # a scope
    assert "bias\\u202eevil" in shown and "conv\\u200b" in shown
    assert MARKUP in shown and DOLLARS in shown  # text, shown as it is
    nodes = {index.data(NODE_ROLE).name: index for index in indexes}
    assert set(NAMES) <= set(nodes)  # the real names, for everything else
    long_index = nodes[LONG]
    label = long_index.data(Qt.ItemDataRole.DisplayRole)
    assert len(label) == DISPLAY_NAME_LIMIT and "…" in label and "MIDDLE" not in label
    assert label.startswith("xxx") and label.endswith("yyy")
    assert long_index.data(Qt.ItemDataRole.ToolTipRole) == LONG  # whole, in the tooltip
    assert nodes[BIDI].data(Qt.ItemDataRole.ToolTipRole) == "bias\\u202eevil"
    bad = nodes["bad\u202erow"]
    assert bad.data(Qt.ItemDataRole.DisplayRole) == "bad\\u202erow"
    tip = bad.data(Qt.ItemDataRole.ToolTipRole)
    assert_safe(tip)
    assert "bad\\u202erow" in tip and "declares 5 values" in tip


def test_a_long_bad_rows_tooltip_names_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "long_bad.csv"
    name = "z" * 300
    meta = '"{""shape"": [5], ""dtype"": ""float32""}"'
    path.write_text(f"tensor_name,tensor_data,tensor_metadata\n{name},1,{meta}\n")
    with open_state(path) as state:
        model = TensorTreeModel()
        model.add_root(build_tree(state))
        (_root, bad) = nodes_of(model)
        assert len(bad.data(Qt.ItemDataRole.DisplayRole)) == DISPLAY_NAME_LIMIT
        assert bad.data(Qt.ItemDataRole.ToolTipRole).startswith(f"{name}: shape [5]")


def test_the_window_shows_names_safely(
    qtbot: QtBot, window: MainWindow, hostile_state: Path
) -> None:
    root = open_and_wait(qtbot, window, hostile_state)
    qtbot.waitUntil(lambda: "names" in window.windowTitle(), timeout=WAIT)
    assert_safe(window.windowTitle())
    assert "names\\x1b[31m.csv" in window.windowTitle()
    assert_safe(window.status_label.text())
    summary: Any = window.panes["summary"]

    window.select_node(root)  # the file: its problems
    qtbot.waitUntil(summary.problems_box.isVisible, timeout=WAIT)
    problems = summary.problems.toPlainText()
    assert_safe(problems)
    assert "'bad\\u202erow': shape [5] declares 5 values" in problems
    assert "names\\x1b[31m.csv" in summary.problems_path.text()  # the path, once, above
    assert_safe(summary.problems_path.text())
    assert_safe(summary.heading.text())
    assert_safe(summary.field_text("name"))

    window.select_node(tensor(root, BIDI))
    qtbot.waitUntil(lambda: summary.field_text("name") == "bias\\u202eevil", timeout=WAIT)
    assert summary.heading.text() == "Tensor bias\\u202eevil"
    assert summary.heading.textFormat() == Qt.TextFormat.PlainText
    assert_safe(summary.field_text("file"))

    window.select_node(tensor(root, MARKUP))
    qtbot.waitUntil(lambda: summary.field_text("name") == MARKUP, timeout=WAIT)
    assert summary.heading.text() == f"Tensor {MARKUP}"  # shown as text, never as markup
    assert summary.heading.textFormat() == Qt.TextFormat.PlainText

    window.select_node(tensor(root, LONG))
    qtbot.waitUntil(lambda: summary.field_text("name") == display_name(LONG), timeout=WAIT)
    assert len(summary.field_text("name")) == DISPLAY_NAME_LIMIT
    assert summary.field_tooltip("name") == LONG
    assert summary.heading.toolTip() == LONG
    assert len(summary.heading.text()) <= DISPLAY_NAME_LIMIT + len("Tensor ")

    window.set_tab("values")
    window.select_node(tensor(root, ESCAPE))
    values: Any = window.panes["values"]
    qtbot.waitUntil(lambda: values.model.array is not None, timeout=WAIT)
    assert values.label.text().startswith("dense\\x1b[31m/kernel   [6]")
    assert isinstance(values.label, QLabel) and values.label.textFormat() == Qt.TextFormat.PlainText


def test_plot_titles_and_legends_are_escaped_and_literal(
    qtbot: QtBot, context: ViewerContext, tree: Node
) -> None:
    pane = HistogramPane(context)
    qtbot.addWidget(pane)
    for name in (DOLLARS, BIDI, LONG):
        pane.show_nodes([tensor(tree, name)])
        qtbot.waitUntil(lambda: pane.histogram is not None, timeout=WAIT)
        (ax,) = pane.canvas.figure.axes
        title = ax.get_title()
        assert_safe(title)
        assert len(title) <= DISPLAY_NAME_LIMIT
        pane.canvas.canvas.draw()  # a name with $...$ draws as text, not as math
    assert ax.get_title() == display_name(LONG)
    pane.show_nodes([tensor(tree, DOLLARS), tensor(tree, ESCAPE)])
    qtbot.waitUntil(lambda: pane.histogram is not None, timeout=WAIT)
    (ax,) = pane.canvas.figure.axes
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["cost\\$\\x\\$", "dense\\x1b[31m/kernel"]
    pane.canvas.canvas.draw()

    heatmap = HeatmapPane(context)
    qtbot.addWidget(heatmap)
    heatmap.show_nodes([tensor(tree, DOLLARS)])
    qtbot.waitUntil(lambda: heatmap.image_data is not None, timeout=WAIT)
    (ax, _colorbar) = heatmap.canvas.figure.axes
    assert ax.get_title().startswith("cost\\$\\x\\$")
    heatmap.canvas.canvas.draw()


def test_error_dialogs_show_plain_escaped_text(qtbot: QtBot) -> None:
    error = NotAStateError("/tmp/<b>x</b>\x1b[2J.csv", "not a state\u202e")
    box = error_box(None, "Open failed", str(error), "details \x1b[31m")
    qtbot.addWidget(box)
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert box.text() == safe_text(str(error))
    assert_safe(box.text() + box.detailedText())
    box.close()


def test_exports_keep_the_real_names(
    qtbot: QtBot, window: MainWindow, hostile_state: Path, tmp_path: Path
) -> None:
    root = open_and_wait(qtbot, window, hostile_state)
    window.select_node(root)
    out = tmp_path / "export.npz"
    fileactions.export(window, str(out), format_named("npz").write_choices()[0])
    qtbot.waitUntil(lambda: out.exists() and not window.context.runner.busy, timeout=WAIT)
    assert list(load_state(out)) == NAMES
    assert_safe(window.status_label.text())
    csv_out = tmp_path / "copy.csv"
    fileactions.save_as(window, str(csv_out))
    qtbot.waitUntil(lambda: csv_out.exists() and not window.context.runner.busy, timeout=WAIT)
    assert list(load_state(csv_out)) == NAMES
    assert [n.name for n in root.tensors() if n.kind == TENSOR][: len(NAMES)] == NAMES
