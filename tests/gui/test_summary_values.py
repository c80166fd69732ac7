"""The Summary and Values panes, and the paged table model of an array's values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import ml_dtypes
import numpy as np
import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from csv_state_viewer.cli.output import shape_text
from csv_state_viewer.core.analysis.tree import Node, build_tree
from csv_state_viewer.core.api import load_state, open_state
from csv_state_viewer.core.progress import Cancelled
from csv_state_viewer.core.state import State
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.panes.summary import (
    SummaryPane,
    bytes_text,
    inf_text,
    measure,
    number_text,
    zeros_text,
)
from csv_state_viewer.gui.panes.values import HINT, ValuesPane
from csv_state_viewer.gui.valuesmodel import MAX_COPY_CELLS, PAGE, ValuesModel

from .conftest import SAMPLES

WAIT = 10_000  # ms; generous for slow CI machines, tests finish far sooner


# ---------------------------------------------------------------------- helpers
@pytest.fixture
def small(small_state: Path) -> Iterator[State]:
    with open_state(small_state) as state:
        yield state


if TYPE_CHECKING:
    from tests.conftest import ProgressRecorder


@pytest.fixture
def summary(qtbot: QtBot, context: ViewerContext) -> SummaryPane:
    pane = SummaryPane(context)
    qtbot.addWidget(pane)
    return pane


@pytest.fixture
def values(qtbot: QtBot, context: ViewerContext) -> ValuesPane:
    pane = ValuesPane(context)
    qtbot.addWidget(pane)
    return pane


def show_summary(qtbot: QtBot, pane: SummaryPane, nodes: list[Node]) -> None:
    with qtbot.waitSignal(pane.summary_ready, timeout=WAIT):
        pane.show_nodes(nodes)


def show_values(qtbot: QtBot, pane: ValuesPane, nodes: list[Node]) -> None:
    with qtbot.waitSignal(pane.values_shown, timeout=WAIT):
        pane.show_nodes(nodes)


def node_of(root: Node, name: str) -> Node:
    node = root.find(name)
    assert node is not None, name
    return node


def expected_stats(arrays: list[np.ndarray], integer: bool = False) -> dict[str, str]:
    """The statistics the pane must show, computed directly with NumPy."""
    real = np.concatenate([np.asarray(a, np.float64).reshape(-1) for a in arrays])
    finite = real[np.isfinite(real)]
    posinf = int(np.count_nonzero(real == np.inf))
    neginf = int(np.count_nonzero(real == -np.inf))
    return {
        "min": number_text(float(finite.min()), integer),
        "max": number_text(float(finite.max()), integer),
        "mean": number_text(float(finite.mean())),
        "std": number_text(float(finite.std())),
        "l2": number_text(float(np.linalg.norm(finite))),
        "zeros": zeros_text(int(np.count_nonzero(real == 0)), real.size),
        "nan": str(int(np.count_nonzero(np.isnan(real)))),
        "inf": inf_text(posinf, neginf),
    }


# ---------------------------------------------------------------------- summary
@pytest.mark.parametrize(
    "name",
    [
        "model/dense/kernel",
        "model/dense/bias",
        "model/conv/kernel",
        "model/special",
        "optimizer/adam/dense_kernel_m",
        "optimizer/iteration",
    ],
)
def test_tensor_summary_matches_numpy(
    qtbot: QtBot, summary: SummaryPane, small: State, small_state: Path, name: str
) -> None:
    array = load_state(small_state)[name]
    entry = small.entry(name)
    show_summary(qtbot, summary, [node_of(build_tree(small), name)])

    for key, text in expected_stats([array], array.dtype.kind in "iub").items():
        assert summary.field_text(key) == text, key
    assert float(summary.field_tooltip("mean")) == pytest.approx(
        float(array[np.isfinite(array)].astype(np.float64).mean()), rel=1e-12
    )
    nan = int(np.count_nonzero(np.isnan(array))) if array.dtype.kind == "f" else 0
    inf = int(np.count_nonzero(np.isinf(array))) if array.dtype.kind == "f" else 0
    assert summary.is_highlighted("nan") == (nan > 0)
    assert summary.is_highlighted("inf") == (inf > 0)
    assert not summary.is_highlighted("min")

    assert summary.field_text("name") == name
    assert summary.field_text("shape") == shape_text(array.shape)
    assert summary.field_text("dtype") == str(array.dtype)
    assert summary.field_text("parameters") == f"{array.size:,}"
    assert summary.field_text("encoding") == entry.encoding
    assert summary.field_text("line") == str(entry.line)
    assert entry.span is not None
    assert summary.field_text("bytes") == bytes_text(entry.span[1] - entry.span[0])
    assert summary.metadata.toPlainText() == json.dumps(entry.metadata, indent=2, sort_keys=True)
    assert summary.error_label.isHidden()
    assert summary.field_text("error") == "" and not summary.is_highlighted("error")


def test_special_values_are_counted_and_highlighted(
    qtbot: QtBot, summary: SummaryPane, small: State
) -> None:
    show_summary(qtbot, summary, [node_of(build_tree(small), "model/special")])
    assert summary.field_text("nan") == "2"
    assert summary.field_text("inf") == inf_text(1, 1)
    assert summary.is_highlighted("nan")
    assert summary.is_highlighted("inf")


def test_file_node_totals_and_aggregate_statistics(
    qtbot: QtBot, summary: SummaryPane, small: State, small_state: Path
) -> None:
    arrays = load_state(small_state)
    root = build_tree(small)
    show_summary(qtbot, summary, [root])

    entries = small.entries
    optimizer = ["optimizer/adam/dense_kernel_m", "optimizer/iteration"]
    weights = {name: array for name, array in arrays.items() if name not in optimizer}
    assert summary.field_text("tensors") == str(len(entries))
    assert summary.field_text("parameters") == f"{sum(a.size for a in weights.values()):,}"
    assert summary.field_text("optimizer") == "129 in 2 tensors"
    assert summary.field_text("errors") == "0"
    assert summary.field_text("format") == small.format_name
    assert summary.field_text("measured") == str(len(arrays))
    assert summary.field_text("skipped") == "0"
    assert summary.field_text("bytes") == bytes_text(
        sum(e.span[1] - e.span[0] for e in entries if e.span is not None)
    )
    # parameters and optimizer state are measured apart; the counter is a value
    expected = expected_stats(list(weights.values()))
    slot = expected_stats([arrays["optimizer/adam/dense_kernel_m"]])
    for key in ("min", "max", "mean", "std", "l2", "zeros", "nan", "inf"):
        assert summary.field_text(key) == expected[key], key
        assert summary.field_text(f"optimizer_{key}") == slot[key], key
    assert summary.field_text("value:optimizer/iteration") == "12"
    assert summary.problems_box.isVisibleTo(summary)
    assert summary.problems.toPlainText() == "No problems found"

    # A scope aggregates only its own tensors; selecting it again uses the cache.
    scope = node_of(root, "model/dense/kernel").parent
    assert scope is not None
    show_summary(qtbot, summary, [scope])
    dense = [arrays["model/dense/kernel"], arrays["model/dense/bias"]]
    assert summary.field_text("tensors") == "3"  # the slot hangs under its kernel
    assert summary.field_text("max") == expected_stats(dense)["max"]
    assert summary.field_text("optimizer_max") == slot["max"]
    assert summary.problems_box.isHidden()


def test_several_selected_show_the_first(qtbot: QtBot, summary: SummaryPane, small: State) -> None:
    root = build_tree(small)
    nodes = [node_of(root, n) for n in ("model/special", "model/dense/bias", "optimizer/iteration")]
    show_summary(qtbot, summary, nodes)
    assert summary.selection_label.text() == "3 selected"
    assert summary.selection_label.isVisibleTo(summary)
    assert summary.field_text("name") == "model/special"


def test_damaged_sample_shows_problems_and_bad_rows(
    qtbot: QtBot, summary: SummaryPane, context: ViewerContext
) -> None:
    with open_state(SAMPLES / "damaged.csv") as state:
        bad_at_index = [e for e in state.entries if e.error is not None]
        root = build_tree(state)
        # Aggregating reads every good row; "dense/bias" turns out bad ("oops").
        with qtbot.waitSignals([summary.summary_ready, context.tensor_failed], timeout=WAIT):
            summary.show_nodes([root])
        bias = [n for n in root.tensors() if n.name == "dense/bias"]
        assert bias[0].error is not None and "oops" in bias[0].error
        assert summary.field_text("errors") == str(len(bad_at_index) + 1)
        assert summary.is_highlighted("errors")
        good = [state.read(e) for e in state.entries if e.ok and e.name != "dense/bias"]
        assert summary.field_text("measured") == str(len(good))
        assert summary.field_text("skipped") == str(len(bad_at_index) + 1)
        assert summary.field_text("min") == expected_stats(good)["min"]
        assert summary.field_text("max") == expected_stats(good)["max"]
        lines = summary.problems.toPlainText().splitlines()
        # relative to the file: "line N: ...", the whole path once above them
        assert sorted(lines) == sorted(
            f"line {str(p)[len(state.path) + 1 :]}" for p in state.errors
        )
        assert [int(line.split(":")[0].removeprefix("line ")) for line in lines] == sorted(
            p.line for p in state.errors if p.line is not None
        )
        assert len(lines) == len(bad_at_index) + 1
        assert any(line.startswith("line 3: 'dense/bias': ") for line in lines)
        assert summary.problems_path.text() == f"In {state.path}"
        assert summary.problems.toPlainText().count(state.path) == 0

        # A row that was bad when indexed shows its error instead of statistics.
        huge = node_of(root, "dense_1/kernel")
        show_summary(qtbot, summary, [huge])
        assert summary.field_text("error") == huge.entry.error  # type: ignore[union-attr]
        assert summary.is_highlighted("error")
        assert summary.error_label.isVisibleTo(summary)
        assert not summary.has_field("min")


def test_written_broken_csv(
    qtbot: QtBot, summary: SummaryPane, context: ViewerContext, tmp_path: Path
) -> None:
    path = tmp_path / "broken.csv"
    meta = '"{""shape"": [3], ""dtype"": ""float32""}"'
    path.write_text(
        "tensor_name,tensor_data,tensor_metadata\n"
        f'good,"1,2,3",{meta}\n'
        f'typo,"1,x,3",{meta}\n'
        'cut,"1,2","{""shape"": [2], ""dtype"": }"\n',
        encoding="utf-8",
    )
    with open_state(path) as state:
        root = build_tree(state)
        show_summary(qtbot, summary, [root])
        lines = summary.problems.toPlainText().splitlines()
        assert len(lines) == len(state.errors)
        assert summary.problems.toPlainText().startswith("line 3: 'typo': ")
        assert "line 4: 'cut': metadata is not valid JSON" in summary.problems.toPlainText()
        assert summary.field_text("min") == "1" and summary.field_text("max") == "3"

    # In a fresh tree the data error of "typo" is met by the summary of the tensor itself.
    with open_state(path) as state:
        typo = node_of(build_tree(state), "typo")
        with qtbot.waitSignal(context.tensor_failed, timeout=WAIT) as failed:
            show_summary(qtbot, summary, [typo])
        assert failed.args == [typo]
        assert "'x'" in summary.error_label.text()
        assert summary.error_label.isVisibleTo(summary)
        assert not summary.has_field("min")


def test_summary_follows_a_quick_change_of_selection(
    qtbot: QtBot, summary: SummaryPane, context: ViewerContext, small: State, small_state: Path
) -> None:
    root = build_tree(small)
    summary.show_nodes([node_of(root, "model/special")])
    show_summary(qtbot, summary, [node_of(root, "model/conv/kernel")])
    qtbot.waitUntil(lambda: not context.runner.busy, timeout=WAIT)
    conv = load_state(small_state)["model/conv/kernel"]
    assert summary.field_text("name") == "model/conv/kernel"
    assert summary.field_text("max") == expected_stats([conv])["max"]


# ---------------------------------------------------------------------- values model
@pytest.mark.parametrize("shape", [(10,), (3, 4), (2, 3, 4, 5)])
def test_values_model_passes_the_model_tester(
    qtmodeltester: object, shape: tuple[int, ...]
) -> None:
    array = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    model = ValuesModel()
    # Set before the tester attaches: Qt's tester calls fetchMore from its modelReset
    # handler while the reset is still "in flight" and would flag the insert.
    model.set_array(array)
    qtmodeltester.check(model)  # type: ignore[attr-defined]

    table = array.reshape(-1, shape[-1]) if array.ndim > 1 else array.reshape(-1, 1)
    assert (model.rowCount(), model.columnCount()) == table.shape
    for row in range(table.shape[0]):
        for column in range(table.shape[1]):
            text = model.data(model.index(row, column))
            assert float(np.float32(text)) == table[row, column]
            assert text == str(table[row, column])  # NumPy's shortest float32 repr
    if array.ndim > 2:
        last = table.shape[0] - 1
        lead = np.unravel_index(last, shape[:-1])
        expected = "[" + ", ".join(str(int(i)) for i in lead) + "]"
        assert model.headerData(last, Qt.Orientation.Vertical) == expected


def test_values_model_pages_rows() -> None:
    total = 2_500_500
    model = ValuesModel()
    model.set_array(np.arange(total, dtype=np.float32))
    assert model.rowCount() == PAGE
    assert model.canFetchMore(model.index(-1, -1))
    model.fetchMore(model.index(-1, -1))
    assert model.rowCount() == 2 * PAGE
    while model.canFetchMore(model.index(-1, -1)):
        model.fetchMore(model.index(-1, -1))
        assert model.rowCount() <= total
    assert model.rowCount() == total
    model.fetchMore(model.index(-1, -1))
    assert model.rowCount() == total
    assert model.data(model.index(total - 1, 0)) == str(np.float32(total - 1))


def test_values_model_texts_and_colours() -> None:
    model = ValuesModel()
    model.set_array(np.array([0.1, np.nan, np.inf, -np.inf], np.float32))
    texts = [model.data(model.index(r, 0)) for r in range(4)]
    assert texts == ["0.1", "nan", "inf", "-inf"]
    colours = [model.data(model.index(r, 0), Qt.ItemDataRole.ForegroundRole) for r in range(4)]
    assert colours[0] is None and all(c is not None for c in colours[1:])
    tip = model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert tip.endswith(repr(float(np.float32(0.1))))

    for array, expected in [
        (np.array(12, np.int64), ["12"]),
        (np.array([True, False]), ["True", "False"]),
        (np.array([1 + 2j], np.complex64), [str(np.complex64(1 + 2j))]),
        (np.array([0.1, 3], ml_dtypes.bfloat16), [repr(float(ml_dtypes.bfloat16(0.1))), "3.0"]),
    ]:
        model.set_array(array)
        assert [model.data(model.index(r, 0)) for r in range(model.rowCount())] == expected


def test_selection_text_is_the_bounding_rectangle() -> None:
    array = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    model = ValuesModel()
    model.set_array(array)
    cells = [(1, 1), (1, 2), (3, 3)]
    text = model.selection_text([model.index(r, c) for r, c in cells])
    expected = [
        [str(array[r, c]) if (r, c) in cells else "" for c in range(1, 4)] for r in range(1, 4)
    ]
    assert text == "\n".join("\t".join(row) for row in expected)

    model.set_array(np.zeros((MAX_COPY_CELLS // 1000 + 1, 1000), np.float32))
    model.fetchMore(model.index(-1, -1))
    corners = [model.index(0, 0), model.index(MAX_COPY_CELLS // 1000, 999)]
    with pytest.raises(ValueError, match="at most 1,000,000 cells"):
        model.selection_text(corners)


# ---------------------------------------------------------------------- values pane
def test_values_pane_shows_and_copies(
    qtbot: QtBot, values: ValuesPane, small: State, small_state: Path
) -> None:
    kernel = load_state(small_state)["model/dense/kernel"]
    show_values(qtbot, values, [node_of(build_tree(small), "model/dense/kernel")])
    assert values.model.array is not None
    np.testing.assert_array_equal(values.model.array, kernel)
    assert "model/dense/kernel" in values.label.text()
    assert shape_text(kernel.shape) in values.label.text()

    model, selection = values.model, values.view.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select
    selection.select(QItemSelection(model.index(2, 1), model.index(3, 2)), flags)
    selection.select(model.index(4, 3), flags)
    values.copy_action.trigger()
    rows = [[str(kernel[r, c]) for c in range(1, 4)] for r in range(2, 5)]
    rows[0][2] = rows[1][2] = rows[2][0] = rows[2][1] = ""
    expected = "\n".join("\t".join(row) for row in rows)
    assert QGuiApplication.clipboard().text() == expected

    # Ctrl+C on the focused table does the same.
    QGuiApplication.clipboard().clear()
    values.show()
    qtbot.waitExposed(values)
    values.view.setFocus()
    qtbot.waitUntil(values.view.hasFocus, timeout=WAIT)
    qtbot.keyClick(values.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == expected


def test_values_pane_pages_large_tensors(qtbot: QtBot, values: ValuesPane, tmp_path: Path) -> None:
    from csv_state_viewer.core.api import save_state

    path = tmp_path / "big.npz"
    save_state(path, {"big": np.arange(3 * PAGE + 5, dtype=np.float32)})
    with open_state(path) as state:
        show_values(qtbot, values, [node_of(build_tree(state), "big")])
        assert values.model.rowCount() == PAGE
        assert f"showing first {PAGE:,} of {3 * PAGE + 5:,} rows" in values.label.text()
        values.model.fetchMore(values.model.index(-1, -1))
        assert f"showing first {2 * PAGE:,} of" in values.label.text()


def test_values_pane_hint_errors_and_quick_changes(
    qtbot: QtBot, values: ValuesPane, context: ViewerContext, small: State, small_state: Path
) -> None:
    root = build_tree(small)
    show_values(qtbot, values, [root])
    assert values.label.text() == HINT
    assert values.model.array is None

    values.show_nodes([node_of(root, "model/conv/kernel")])
    show_values(qtbot, values, [node_of(root, "model/special")])
    qtbot.waitUntil(lambda: not context.runner.busy, timeout=WAIT)
    special = load_state(small_state)["model/special"]
    np.testing.assert_array_equal(values.model.array, special)  # type: ignore[arg-type]
    assert "model/special" in values.label.text()

    with open_state(SAMPLES / "damaged.csv") as state:
        bias = node_of(build_tree(state), "dense/bias")
        with qtbot.waitSignal(context.tensor_failed, timeout=WAIT):
            show_values(qtbot, values, [bias])
        assert "oops" in values.label.text()
        assert values.model.array is None


def test_aggregate_reports_progress_and_can_be_cancelled(
    qtbot: QtBot,
    summary: SummaryPane,
    context: ViewerContext,
    small: State,
    recorder: type[ProgressRecorder],
) -> None:
    root = build_tree(small)
    tensors = list(root.tensors())
    progress = recorder()
    result = measure(context, tensors, progress)
    assert result.measured == len(tensors) and not result.failed
    done = [d for d, _ in progress.reports]
    assert done == sorted(done) and progress.reports[-1][0] == progress.reports[-1][1]

    with pytest.raises(Cancelled):
        measure(context, tensors, recorder(cancel_after=1))

    context.cache.forget(small)
    summary.show_nodes([root])
    assert summary.progress.isVisibleTo(summary)
    summary.cancel()
    qtbot.waitUntil(lambda: not context.runner.busy, timeout=WAIT)
    assert summary.status_label.text() == "Statistics cancelled"
    assert not summary.has_field("min")
    assert summary.progress.isHidden()
