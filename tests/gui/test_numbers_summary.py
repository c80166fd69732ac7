"""The Summary's numbers: parameters and optimizer state apart, counters as values, export."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.analysis.summary import COLUMNS
from csv_state_viewer.core.analysis.tree import Node, build_tree
from csv_state_viewer.core.api import load_state, open_state
from csv_state_viewer.core.state import State
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.panes.summary import SummaryPane, number_text

from .conftest import SAMPLES

WAIT = 10_000


@pytest.fixture
def summary(qtbot: QtBot, context: ViewerContext) -> SummaryPane:
    pane = SummaryPane(context)
    qtbot.addWidget(pane)
    return pane


@pytest.fixture
def mlp() -> Iterator[State]:
    with open_state(SAMPLES / "mlp_adam.csv") as state:
        yield state


def show(qtbot: QtBot, pane: SummaryPane, node: Node) -> None:
    with qtbot.waitSignal(pane.summary_ready, timeout=WAIT):
        pane.show_nodes([node])


def test_the_step_counter_is_a_value_not_the_maximum(
    qtbot: QtBot, summary: SummaryPane, mlp: State
) -> None:
    """mlp_adam.csv once said maximum 320 and L2 norm 320.357: its iteration counter."""
    arrays = load_state(SAMPLES / "mlp_adam.csv")
    weights = np.concatenate(
        [a.reshape(-1) for n, a in arrays.items() if n.startswith("sequential/")]
    ).astype(np.float64)
    slots = np.concatenate(
        [a.reshape(-1) for n, a in arrays.items() if n.endswith(("_momentum", "_velocity"))]
    ).astype(np.float64)
    show(qtbot, summary, build_tree(mlp))
    assert summary.field_text("parameters") == "17,226"
    assert summary.field_text("optimizer") == "34,454 in 14 tensors"
    assert summary.field_text("max") == number_text(float(weights.max()))
    assert summary.field_text("l2") == number_text(float(np.linalg.norm(weights)))
    assert summary.field_text("optimizer_max") == number_text(float(slots.max()))
    assert summary.field_text("optimizer_l2") == number_text(float(np.linalg.norm(slots)))
    assert summary.field_text("parameters_heading") == "over 6 tensors"
    assert summary.field_text("optimizer_heading") == "over 12 tensors"
    assert summary.field_text("value:adam/iteration") == "320"
    assert summary.field_text("value:adam/learning_rate") == "0.001"
    assert "320" not in summary.field_text("max") + summary.field_text("optimizer_max")


def test_a_scope_counts_like_keras(qtbot: QtBot, summary: SummaryPane, mlp: State) -> None:
    kernel = build_tree(mlp).find("sequential/dense/kernel")
    assert kernel is not None and kernel.parent is not None
    show(qtbot, summary, kernel.parent)
    assert summary.field_text("parameters") == "8,320"
    assert summary.field_text("optimizer") == "16,640 in 4 tensors"
    assert summary.field_text("zeros").startswith("0 % (0 of 8,320)")


def test_damaged_file_one_count_of_bad_rows(
    qtbot: QtBot, summary: SummaryPane, context: ViewerContext
) -> None:
    with open_state(SAMPLES / "damaged.csv") as state:
        with qtbot.waitSignals([summary.summary_ready, context.tensor_failed], timeout=WAIT):
            summary.show_nodes([build_tree(state)])
        assert summary.field_text("errors") == "5" == str(len(state.errors))
        assert summary.problems_box.title() == "Problems (5)"


def test_export_summary_of_a_file_as_csv_and_json(
    qtbot: QtBot, summary: SummaryPane, mlp: State, tmp_path: Path
) -> None:
    assert not summary.export_button.isEnabled()
    with pytest.raises(ValueError, match="no statistics"):
        summary.export_summary(tmp_path / "none.csv")
    show(qtbot, summary, build_tree(mlp))
    assert summary.export_button.isEnabled() and summary.export_button.text() == "Export…"

    summary.export_summary(tmp_path / "s.csv")
    with open(tmp_path / "s.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 1 + len(mlp.entries)
    by_name = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]}
    kernel = by_name["sequential/dense/kernel"]
    assert (kernel["shape"], kernel["dtype"], kernel["role"]) == (
        "[64,128]",
        "float32",
        "parameter",
    )
    array = load_state(SAMPLES / "mlp_adam.csv")["sequential/dense/kernel"].astype(np.float64)
    assert float(kernel["max"]) == float(array.max())
    assert float(kernel["l2"]) == pytest.approx(np.linalg.norm(array))
    assert by_name["adam/iteration"]["role"] == "optimizer"

    summary.export_summary(tmp_path / "s.json")
    data = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert data["file"] == mlp.path and len(data["tensors"]) == len(mlp.entries)
    assert data["parameters"]["elements"] == 17_226 and data["parameters"]["tensors"] == 6
    assert data["values"] == {"adam/iteration": "320", "adam/learning_rate": "0.001"}
    with pytest.raises(ValueError, match=r"\.csv or \.json"):
        summary.export_summary(tmp_path / "s.txt")


def test_export_summary_of_one_tensor(
    qtbot: QtBot, summary: SummaryPane, mlp: State, tmp_path: Path
) -> None:
    bias = build_tree(mlp).find("sequential/dense/bias")
    assert bias is not None
    show(qtbot, summary, bias)
    summary.export_summary(tmp_path / "t.json")
    (record,) = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))["tensors"]
    assert record["name"] == "sequential/dense/bias" and record["parameters"] == 128
    assert record["shape"] == [128] and record["nan"] == 0


@pytest.mark.parametrize(
    "case",
    [
        ("sequential/dense/kernel", "Parameters", "model parameter"),
        ("adam/sequential_dense_kernel_momentum", "Optimizer state", "optimizer state"),
        ("adam/iteration", "Optimizer state", "optimizer scalar"),
    ],
)
def test_a_tensor_says_what_its_count_is(
    qtbot: QtBot, summary: SummaryPane, mlp: State, case: tuple[str, str, str]
) -> None:
    name, label, role = case
    node = build_tree(mlp).find(name)
    assert node is not None
    show(qtbot, summary, node)
    assert summary.field_label("parameters") == label
    assert summary.field_text("role").startswith(role)
