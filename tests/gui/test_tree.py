"""The tensor tree: the core's plain tree and its Qt model, filter and sorting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QModelIndex, Qt

from csv_state_viewer.core.analysis.diff import diff_states
from csv_state_viewer.core.analysis.tree import (
    FILE,
    GROUP,
    TENSOR,
    Node,
    build_tree,
    name_matches,
    totals,
)
from csv_state_viewer.core.api import open_state, save_state
from csv_state_viewer.core.errors import RowError
from csv_state_viewer.core.state import State
from csv_state_viewer.gui.context import Comparison
from csv_state_viewer.gui.treefilter import TensorFilterProxy
from csv_state_viewer.gui.treemodel import (
    DIFFERENCE,
    NAME,
    NODE_ROLE,
    PARAMETERS,
    SHAPE,
    TensorTreeModel,
)

from .conftest import SAMPLES


@pytest.fixture
def state(small_state: Path) -> Iterator[State]:
    with open_state(small_state) as opened:
        yield opened


def labels(node: Node) -> list[str]:
    return [child.label for child in node.children]


def test_tree_groups_by_scope_and_hangs_slots_under_their_variable(state: State) -> None:
    root = build_tree(state, "small.csv")
    assert root.kind == FILE
    assert labels(root) == ["model", "optimizer"]
    model = root.children[0]
    assert model.kind == GROUP and labels(model) == ["dense", "conv", "special"]
    kernel = model.children[0].children[0]
    assert kernel.kind == TENSOR and kernel.name == "model/dense/kernel"
    assert labels(kernel) == ["m"]
    assert kernel.children[0].name == "optimizer/adam/dense_kernel_m"
    # the slot moved under its variable; the scope it came from keeps the other tensors
    optimizer = root.children[1]
    assert [n.name for n in optimizer.tensors()] == ["optimizer/iteration"]
    assert sum(1 for _ in root.tensors()) == len(state.entries)
    counts = totals(root)
    # the model's parameters apart from the optimizer's slot (128) and iteration (1)
    assert counts.parameters == sum(e.size for e in state.entries) - 129
    assert (counts.optimizer_tensors, counts.optimizer_state) == (2, 129)


def test_damaged_file_keeps_bad_rows_with_their_errors() -> None:
    with open_state(SAMPLES / "damaged.csv") as state:
        root = build_tree(state)
        bad = [n for n in root.tensors() if n.error is not None]
        assert {n.entry.line for n in bad if n.entry} == {p.line for p in state.errors}
        assert totals(root).errors == len(state.errors)
        # a bad row's declared shape (here 10^10 values) is not counted
        counts = totals(root)
        assert counts.parameters + counts.optimizer_state + counts.other == sum(
            e.size for e in state.entries if e.ok
        )


@pytest.mark.parametrize(
    ("pattern", "name", "hit"),
    [
        ("kernel", "model/dense/kernel", True),
        ("KERNEL", "model/dense/kernel", True),
        ("*kernel", "model/dense/kernel", True),
        ("dense*/kernel", "model/dense/kernel", True),
        ("dense", "model/conv/kernel", False),
        ("*bias", "model/dense/kernel", False),
        ("", "anything", True),
    ],
)
def test_name_matches_substring_or_glob(pattern: str, name: str, hit: bool) -> None:
    assert name_matches(name, pattern) is hit


def test_qt_model_passes_the_model_tester(
    qapp: object, qtmodeltester: object, state: State
) -> None:
    model = TensorTreeModel()
    model.add_root(build_tree(state, "a"))
    with open_state(SAMPLES / "damaged.csv") as damaged:
        model.add_root(build_tree(damaged, "b"))
        qtmodeltester.check(model)  # type: ignore[attr-defined]
        proxy = TensorFilterProxy()
        proxy.setSourceModel(model)
        proxy.set_pattern("kernel")
        qtmodeltester.check(proxy)  # type: ignore[attr-defined]


def visible_names(proxy: TensorFilterProxy, parent: QModelIndex | None = None) -> list[str]:
    parent = parent or QModelIndex()
    names = []
    for row in range(proxy.rowCount(parent)):
        index = proxy.index(row, 0, parent)
        node = index.data(NODE_ROLE)
        if node.kind == TENSOR:
            names.append(node.name)
        names += visible_names(proxy, index)
    return names


def test_filter_keeps_parents_and_subtrees_of_matches(state: State) -> None:
    model = TensorTreeModel()
    model.add_root(build_tree(state, "small.csv"))
    proxy = TensorFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_pattern("dense/kernel")
    # the variable matches, so its slot stays, with every parent up to the file
    assert visible_names(proxy) == ["model/dense/kernel", "optimizer/adam/dense_kernel_m"]
    proxy.set_pattern("*special")
    assert visible_names(proxy) == ["model/special"]
    proxy.set_pattern("no-such-name")
    assert visible_names(proxy) == []
    assert proxy.rowCount() == 1  # the file row stays
    proxy.set_pattern("")
    assert len(visible_names(proxy)) == len(state.entries)


def test_sorting_by_parameters_is_numeric(state: State) -> None:
    model = TensorTreeModel()
    root = build_tree(state, "small.csv")
    model.add_root(root)
    proxy = TensorFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(PARAMETERS, Qt.SortOrder.DescendingOrder)
    scope = proxy.index(0, 0, proxy.index(0, 0))  # "model" or "optimizer", by size
    assert scope.data(NODE_ROLE).label == "model"
    sizes = [proxy.index(r, 0, scope).data(NODE_ROLE) for r in range(proxy.rowCount(scope))]
    params = [totals(n).parameters for n in sizes]
    assert params == sorted(params, reverse=True) and len(set(params)) > 1


def test_columns_errors_and_tooltips() -> None:
    with open_state(SAMPLES / "damaged.csv") as state:
        model = TensorTreeModel()
        root = build_tree(state, "damaged.csv")
        file_index = model.add_root(root)
        assert "bad row" in file_index.data(Qt.ItemDataRole.ToolTipRole)
        assert file_index.data(Qt.ItemDataRole.DecorationRole) is not None
        good = root.find("dense/bias")
        assert good is not None
        index = model.index_of(good)
        assert (
            index.siblingAtColumn(SHAPE).data() == "[" + ",".join(map(str, good.entry.shape)) + "]"
        )  # type: ignore[union-attr]
        assert index.data(Qt.ItemDataRole.DecorationRole) is None
        for node in (n for n in root.tensors() if n.error):
            index = model.index_of(node)
            assert index.data(Qt.ItemDataRole.ToolTipRole) == node.error
            assert index.data(Qt.ItemDataRole.DecorationRole) is not None
            assert index.data(Qt.ItemDataRole.ForegroundRole) is not None


def test_difference_column_shows_the_comparison(tmp_path: Path) -> None:
    a = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, np.float32)}
    b = {"w": a["w"] + np.float32(0.5), "b": np.ones(4, np.float32)}
    save_state(tmp_path / "a.csv", a)
    save_state(tmp_path / "b.csv", b)
    with open_state(tmp_path / "a.csv") as sa, open_state(tmp_path / "b.csv") as sb:
        root = build_tree(sa, "a.csv")
        model = TensorTreeModel()
        model.add_root(root)
        compared = diff_states(sa, sb)
        result = {d.name: d for d in compared.tensors}
        model.set_comparison(Comparison(root, sb, compared))
        w, bias = root.find("w"), root.find("b")
        assert w is not None and bias is not None
        assert model.index_of(w, DIFFERENCE).data() == "max |Δ| 0.5, rel L2 " + format(
            result["w"].rel_l2, ".3g"
        )
        assert model.index_of(bias, DIFFERENCE).data() == "shape [3] vs [4]"
        assert model.index_of(root, DIFFERENCE).data() == "2 of 2 differ"
        assert model.index_of(w, NAME).data() == "w"


def test_only_the_first_row_of_a_repeated_name_shows_its_difference(tmp_path: Path) -> None:
    header = "tensor_name,tensor_data,tensor_metadata\n"
    meta = '"{""shape"": [2], ""dtype"": ""float32""}"'
    (tmp_path / "a.csv").write_text(header + f'w,"1,2",{meta}\nw,"5,6",{meta}\n', encoding="utf-8")
    save_state(tmp_path / "b.csv", {"w": np.array([1, 3], np.float32)})
    with open_state(tmp_path / "a.csv") as sa, open_state(tmp_path / "b.csv") as sb:
        root = build_tree(sa, "a.csv")
        model = TensorTreeModel()
        model.add_root(root)
        comparison = Comparison(root, sb, diff_states(sa, sb))
        model.set_comparison(comparison)
        first, second = root.tensors()
        assert comparison.diff_of(first) is comparison.result.tensors[0]
        assert model.index_of(first, DIFFERENCE).data().startswith("max |Δ| 1")
        assert comparison.diff_of(second) is None
        assert model.index_of(second, DIFFERENCE).data() == ""
        model.set_comparison(None)
        assert model.index_of(first, DIFFERENCE).data() == ""


def test_bad_data_found_by_a_read_marks_the_row(tmp_path: Path) -> None:
    """The state records what a read met; the tree asks it, and keeps no copy."""
    path = tmp_path / "bad.csv"
    path.write_text(
        "tensor_name,tensor_data,tensor_metadata\n"
        'w,"0.5,oops","{""shape"": [2], ""dtype"": ""float32""}"\n',
        encoding="utf-8",
    )
    with open_state(path) as state:
        root = build_tree(state, "bad.csv")
        model = TensorTreeModel()
        model.add_root(root)
        (node,) = root.tensors()
        assert node.entry is not None and state.problem_of(node.entry) is None
        assert node.error is None and totals(root).errors == 0
        with pytest.raises(RowError) as raised:
            state.read(node.entry)
        assert state.problem_of(node.entry) == raised.value.problem
        assert node.error == raised.value.problem.message and "oops" in node.error
        assert model.index_of(node).data(Qt.ItemDataRole.ToolTipRole) == node.error
        assert model.index_of(node).data(Qt.ItemDataRole.ForegroundRole) is not None
        model.refresh()
        assert totals(root).errors == 1
