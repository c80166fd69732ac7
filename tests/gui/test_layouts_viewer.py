"""Layouts in the viewer: a folder or several files as one state, a choice when a file
fits several layouts, and shapes taken from a model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.api import save_state
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.formats.csv import FORMAT as CSV
from csv_state_viewer.core.registry import register_format, unregister_format
from csv_state_viewer.gui import menus
from csv_state_viewer.gui.mainwindow import MainWindow

WAIT = 20000


def open_and_wait(qtbot: QtBot, window: MainWindow, opener: Any) -> None:
    before = len(window.roots)
    opener()
    qtbot.waitUntil(lambda: len(window.roots) > before, timeout=WAIT)


def tensor_names(window: MainWindow) -> list[str]:
    root = window.roots[-1]
    return [leaf.entry.name for leaf in root.tensors() if leaf.entry is not None and leaf.entry.ok]


@pytest.fixture
def per_tensor(tmp_path: Path) -> list[Path]:
    paths = []
    for index in (10, 2, 1):
        path = tmp_path / "parts" / f"layer_{index}.csv"
        path.parent.mkdir(exist_ok=True)
        save_state(path, {"w": np.full((2, index), index, np.float32)})
        paths.append(path)
    return paths


def test_several_dropped_files_open_as_one_state(
    qtbot: QtBot, window: MainWindow, per_tensor: list[Path]
) -> None:
    box = menus.ask_open_or_convert(window, [str(p) for p in per_tensor])
    button = next(b for b in box.buttons() if b.text() == "Open as one state")
    open_and_wait(qtbot, window, button.click)
    assert len(window.roots) == 1
    assert tensor_names(window) == ["layer_1", "layer_2", "layer_10"]  # natural order
    assert window.roots[0].label == "3 files in parts"
    state = window.roots[0].state
    assert state is not None
    assert state.read("layer_10").tolist() == np.full((2, 10), 10, np.float32).tolist()


def test_a_folder_opens_as_one_state_and_lists_what_is_no_tensor(
    qtbot: QtBot, window: MainWindow, per_tensor: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = per_tensor[0].parent
    (folder / "README.md").write_text("# weights of the demo model\n")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(folder))
    open_and_wait(qtbot, window, lambda: menus.open_folder_dialog(window))
    state = window.roots[0].state
    assert state is not None and state.format_name == "folder"
    assert [p.name for p in state.errors] == ["README"]
    assert state.errors[0].path == str(folder / "README.md")
    assert tensor_names(window) == ["layer_1", "layer_2", "layer_10"]


@pytest.fixture
def twins() -> Iterator[list[Format]]:
    """Two formats that both claim the same files, as two layouts may."""
    made = [
        Format(
            name=f"twin{n}",
            description=f"reader {n} of the same files",
            label=f"Twin reader {n}",
            extensions=(".csv",),
            sniff=lambda path, head: head.startswith(b"tensor_name"),
            open=CSV.open,
        )
        for n in (1, 2)
    ]
    for fmt in made:
        register_format(fmt)
    yield made
    for fmt in made:
        unregister_format(fmt.name)


def test_the_user_chooses_when_a_file_fits_several_layouts(
    qtbot: QtBot, window: MainWindow, per_tensor: list[Path], twins: list[Format]
) -> None:
    window.open_file(str(per_tensor[0]))  # the layouts are found in the opening worker
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "layout_choice") is not None)
    box = window.findChild(QMessageBox, "layout_choice")
    assert box is not None and box.isVisible()
    assert not window.context.runner.busy  # the open stopped to ask
    labels = [b.text() for b in box.buttons()]
    assert {"Twin reader 1", "Twin reader 2"} <= set(labels)
    assert "CSV training state" not in labels  # the fallback reads anything: not offered
    assert window.roots == []
    twin_button = next(b for b in box.buttons() if b.text() == "Twin reader 2")
    open_and_wait(qtbot, window, twin_button.click)
    assert tensor_names(window) == ["w"]


def test_shapes_and_names_from_a_model_for_unnamed_rows(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernel = np.arange(6, dtype=np.float32).reshape(2, 3) / 8
    bias = np.array([0.5, -1.25, 2.0], np.float32)
    like = tmp_path / "model_state.csv"
    save_state(like, {"dense/kernel": np.zeros((2, 3), np.float32), "dense/bias": np.zeros(3)})
    rows = tmp_path / "weights.txt"
    rows.write_text("0 0.125 0.25\n0.375 0.5 0.625\n0.5\n-1.25\n2\n")
    answers = iter([str(rows), str(like)])
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: (next(answers), ""))
    open_and_wait(qtbot, window, lambda: menus.take_shapes_dialog(window))
    assert tensor_names(window) == ["dense/kernel", "dense/bias"]
    state = window.roots[0].state
    assert state is not None
    assert state.read("dense/kernel").tobytes() == kernel.tobytes()
    assert state.read("dense/bias").tobytes() == bias.tobytes()
    assert "unnamed rows cut into the 2 weights" in window.status_label.text()


def test_the_summary_says_how_a_dtype_was_decided() -> None:
    from csv_state_viewer.core.analysis.tree import build_tree
    from csv_state_viewer.core.layouts.values import DECIDED_KEY, FLOAT32
    from csv_state_viewer.core.lazystate import LazyState, tensor_from_array
    from csv_state_viewer.gui.panes.summary import tensor_rows

    state = LazyState(
        "w.txt", "matrix", [tensor_from_array("w", np.ones(3, np.float32), {DECIDED_KEY: FLOAT32})]
    )
    leaf = next(build_tree(state).tensors())
    dtype = next(row for row in tensor_rows(leaf) if row.key == "dtype")
    assert dtype.text == f"float32 (decided from the text: {FLOAT32})"


def test_export_writes_the_state_as_shown_not_its_path_again(
    qtbot: QtBot,
    window: MainWindow,
    per_tensor: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two of three files opened together: the export holds those two, as a folder of
    np.savetxt matrices and as a TensorFlow checkpoint (whose writer runs in the worker)."""
    from csv_state_viewer.core.api import load_state
    from csv_state_viewer.core.registry import write_choices
    from csv_state_viewer.gui import fileactions

    chosen = [str(p) for p in per_tensor[1:]]
    open_and_wait(qtbot, window, lambda: window.open_together(chosen))
    window.select_node(window.roots[0])
    out = tmp_path / "exports"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(out))
    matrix = next(c for c in write_choices() if c.format_name == "matrix")
    menus._export_dialog(window, matrix)
    qtbot.waitUntil(lambda: window.status_label.text().startswith("Wrote"), timeout=WAIT)
    folder = out / "parts"
    assert sorted(p.name for p in folder.iterdir()) == ["layer_1.csv", "layer_2.csv"]
    assert load_state(folder)["layer_2"].tolist() == np.full((2, 2), 2, np.float32).tolist()

    checkpoint = next(c for c in write_choices() if c.format_name == "tf-checkpoint")
    fileactions.export(window, str(tmp_path / "ckpt"), checkpoint)
    qtbot.waitUntil(lambda: "ckpt" in window.status_label.text(), timeout=60000)
    assert window.status_label.text() == f"Wrote 2 tensors to {tmp_path / 'ckpt'}"
    assert sorted(load_state(tmp_path / "ckpt")) == ["layer_1", "layer_2"]


def test_fixed_point_matrices_shown_as_real_values(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QInputDialog

    path = tmp_path / "q8.csv"
    np.savetxt(path, np.array([[16, -8], [4, 1]]), fmt="%d", delimiter=",")
    open_and_wait(qtbot, window, lambda: window.open_file(str(path)))
    state = window.roots[0].state
    assert state is not None and state.read("q8").dtype == np.int64
    monkeypatch.setattr(QInputDialog, "getText", lambda *_a, **_k: ("2^-4", True))
    window.select_node(window.roots[0])
    qtbot.waitUntil(lambda: window.current_root() is not None, timeout=WAIT)
    menus.fixed_point_dialog(window)
    qtbot.waitUntil(lambda: bool(window.roots) and window.roots[0].state is not state, timeout=WAIT)
    scaled = window.roots[0].state
    assert scaled is not None
    assert scaled.read("q8").tolist() == [[1.0, -0.5], [0.25, 0.0625]]
    assert window.settings.fixed_point_scale() == "2^-4"  # offered again next time


def test_compare_finds_b_of_a_renamed_pair(tmp_path: Path) -> None:
    """diff pairs auto-numbered names; the panes must read B's tensor under its own name."""
    from csv_state_viewer.core.analysis.diff import diff_states
    from csv_state_viewer.core.analysis.tree import build_tree
    from csv_state_viewer.core.api import open_state
    from csv_state_viewer.gui.context import Comparison

    save_state(tmp_path / "a.csv", {"sequential/dense/kernel": np.ones((2, 2), np.float32)})
    save_state(tmp_path / "b.csv", {"dense_1/kernel": np.full((2, 2), 2, np.float32)})
    with open_state(tmp_path / "a.csv") as a, open_state(tmp_path / "b.csv") as b:
        root = build_tree(a)
        comparison = Comparison(root, b, diff_states(a, b))
        leaf = next(root.tensors())
        found = comparison.diff_of(leaf)
        assert found is not None and found.name_b == "dense_1/kernel"
        other = comparison.other_entry(leaf)
        assert other is not None and other.name == "dense_1/kernel"
