"""Exporting single tensors: the operation, and the viewer's context menu and dialogs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.api import save_state
from csv_state_viewer.core.errors import StateWriteError
from csv_state_viewer.gui import exporttensor
from csv_state_viewer.gui.mainwindow import MainWindow
from csv_state_viewer.ops.tensorexport import export_tensor, file_name_for, matrix_of

WAIT = 20000


def test_npy_round_trips_every_bit(tmp_path: Path) -> None:
    array = np.array([0.1, -0.0, np.nan, np.inf, 1e-45], np.float32)
    written = export_tensor(array, "a/b", str(tmp_path / "a.npy"))
    loaded = np.load(written.path, allow_pickle=False)
    assert loaded.dtype == array.dtype and loaded.tobytes() == array.tobytes()


def test_csv_matrix_is_2d_and_higher_ranks_are_reshaped_first_by_rest(tmp_path: Path) -> None:
    array = np.arange(3 * 3 * 2 * 4, dtype=np.float32).reshape(3, 3, 2, 4) / 7
    written = export_tensor(array, "conv/kernel", str(tmp_path / "k.csv"))
    assert written.note == "reshaped (3, 3, 2, 4) to (3, 24)"
    loaded = np.loadtxt(written.path, delimiter=",", dtype=np.float32)
    assert loaded.shape == (3, 24)
    assert np.array_equal(loaded, array.reshape(3, 24))
    vector = export_tensor(np.arange(5, dtype=np.int64), "v", str(tmp_path / "v.csv"))
    assert vector.note == ""
    assert (tmp_path / "v.csv").read_text() == "0\n1\n2\n3\n4\n"


def test_text_names_the_tensor_and_loads_with_loadtxt(tmp_path: Path) -> None:
    array = np.array([[1.5, -2.0], [0.25, 3.0]], np.float64)
    written = export_tensor(array, "dense/kernel", str(tmp_path / "k.txt"))
    text = Path(written.path).read_text()
    assert text.startswith("# dense/kernel\n# shape: [2, 2]\n# dtype: float64\n")
    assert np.array_equal(np.loadtxt(written.path), array)


def test_never_overwrites_unless_asked_and_refuses_unknown_kinds(tmp_path: Path) -> None:
    target = tmp_path / "a.npy"
    target.write_bytes(b"keep")
    with pytest.raises(StateWriteError, match="already exists"):
        export_tensor(np.zeros(2), "a", str(target))
    assert target.read_bytes() == b"keep"
    export_tensor(np.zeros(2), "a", str(target), overwrite=True)
    assert np.load(target).shape == (2,)
    with pytest.raises(StateWriteError, match="export kind"):
        export_tensor(np.zeros(2), "a", str(tmp_path / "a.bin"))
    with pytest.raises(StateWriteError, match="real numbers"):
        export_tensor(np.zeros(2, np.complex64), "c", str(tmp_path / "c.csv"))


def test_file_names_for_tensors_are_safe() -> None:
    assert file_name_for("sequential/dense/kernel", "csv") == "sequential__dense__kernel.csv"
    assert file_name_for("../x:y", "npy") == "__x_y.npy"


def test_matrix_of_keeps_2d_and_makes_vectors_columns() -> None:
    assert matrix_of(np.zeros((2, 3)))[0].shape == (2, 3)
    assert matrix_of(np.zeros(4))[0].shape == (4, 1)
    assert matrix_of(np.array(1, np.float32))[0].shape == (1, 1)


@pytest.fixture
def opened(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> MainWindow:
    tensors = {
        "model/dense/kernel": np.arange(12, dtype=np.float32).reshape(3, 4),
        "model/conv/kernel": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2),
    }
    save_state(tmp_path / "s.csv", tensors)
    with qtbot.waitSignal(window.file_opened, timeout=WAIT):
        window.open_file(str(tmp_path / "s.csv"))
    return window


def test_the_viewer_exports_the_selected_tensor_through_the_dialog(
    qtbot: QtBot, opened: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = opened
    assert window.select("model/conv/kernel")
    target = tmp_path / "out" / "conv"
    monkeypatch.setattr(
        exporttensor.QFileDialog,
        "getSaveFileName",
        lambda *_a, **_k: (str(target), "CSV matrix (*.csv)"),
    )
    slot = window.action_slots["tensor"]
    with qtbot.waitSignal(window.tensors_exported, timeout=WAIT):
        exporttensor.export_dialog(window)
        assert slot.running
    text = window.status_label.text()
    assert text.startswith("Exported model/conv/kernel to ") and "(2, 12)" in text
    loaded = np.loadtxt(str(target) + ".csv", delimiter=",")
    assert loaded.shape == (2, 12)

    # the extension was added after the file dialog asked: the viewer asks itself
    asked: list[str] = []

    def refuse(_parent: object, _title: str, text: str, *_a: object) -> object:
        asked.append(text)
        return exporttensor.QMessageBox.StandardButton.No

    monkeypatch.setattr(exporttensor.QMessageBox, "question", refuse)
    before = (tmp_path / "out" / "conv.csv").read_bytes()
    exporttensor.export_dialog(window)
    assert asked == [f"{target}.csv exists. Replace it?"]
    assert not slot.running
    assert (tmp_path / "out" / "conv.csv").read_bytes() == before


def test_exporting_several_tensors_asks_before_replacing(
    qtbot: QtBot, opened: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = opened
    root = window.roots[0]
    nodes = list(root.tensors())
    folder = tmp_path / "many"
    folder.mkdir()
    (folder / "model__dense__kernel.npy").write_bytes(b"old")
    monkeypatch.setattr(
        exporttensor.QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(folder)
    )
    monkeypatch.setattr(
        exporttensor.QInputDialog, "getItem", lambda *_a, **_k: ("NumPy array (*.npy)", True)
    )
    asked: list[str] = []

    def refuse(_parent: object, _title: str, text: str, *_a: object) -> object:
        asked.append(text)
        return exporttensor.QMessageBox.StandardButton.No

    monkeypatch.setattr(exporttensor.QMessageBox, "question", refuse)
    exporttensor.export_dialog(window, nodes)
    assert asked and "1 of the 2 files exist" in asked[0]
    assert not window.action_slots["tensor"].running
    assert (folder / "model__dense__kernel.npy").read_bytes() == b"old"

    monkeypatch.setattr(
        exporttensor.QMessageBox,
        "question",
        lambda *_a: exporttensor.QMessageBox.StandardButton.Yes,
    )
    with qtbot.waitSignal(window.tensors_exported, timeout=WAIT):
        exporttensor.export_dialog(window, nodes)
    assert window.status_label.text().startswith("Exported 2 tensors to ")
    assert np.load(folder / "model__dense__kernel.npy").shape == (3, 4)
    assert np.load(folder / "model__conv__kernel.npy").shape == (2, 3, 2, 2)


def test_a_selected_scope_exports_its_tensors(opened: MainWindow) -> None:
    window = opened
    assert window.select("model/dense")
    assert window.menus.actions["export_tensors"].isEnabled()
    assert [n.name for n in exporttensor.exportable(window.selected_nodes())] == [
        "model/dense/kernel"
    ]
    window.select_node(window.roots[0])  # a whole file: File > Export writes it
    assert not window.menus.actions["export_tensors"].isEnabled()
