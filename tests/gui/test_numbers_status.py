"""The status bar: one count of bad rows, plurals, and no text about closed files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMainWindow
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.analysis.tree import bad_row_count, build_tree
from csv_state_viewer.core.api import open_state, save_state
from csv_state_viewer.core.errors import RowError
from csv_state_viewer.gui.mainwindow import MainWindow
from csv_state_viewer.gui.statusprogress import StatusProgress, opened_text
from csv_state_viewer.gui.treemodel import TensorTreeModel

from .conftest import SAMPLES


@pytest.fixture
def status(qtbot: QtBot) -> Iterator[StatusProgress]:
    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    yield StatusProgress(window.statusBar(), window)
    window.close()


def test_the_bad_row_count_follows_what_reads_find(qtbot: QtBot, status: StatusProgress) -> None:
    """damaged.csv has 5 bad rows; 4 are known when it opens, the 5th when it is read."""
    model = TensorTreeModel()
    status.follow(model)
    with open_state(SAMPLES / "damaged.csv") as state:
        root = build_tree(state, "damaged.csv")
        model.add_root(root)
        status.set_text(status.opened(root))
        assert status.label.text() == "Opened damaged.csv: 7 tensors, 4 bad rows"
        bias = root.find("dense/bias")
        assert bias is not None and bias.entry is not None
        with pytest.raises(RowError):
            state.read(bias.entry)
        with qtbot.waitSignal(model.dataChanged):
            model.refresh(bias)  # what the window does when a pane's read failed
        # the same count as validate's "5 of 7 rows are bad" and the Summary's
        assert bad_row_count(state) == 5
        assert status.label.text() == "Opened damaged.csv: 7 tensors, 5 bad rows"


def test_plurals_and_thousands(tmp_path: Path) -> None:
    save_state(tmp_path / "one.csv", {"w": np.ones(2, np.float32)})
    many = {f"t{i}": np.zeros(1, np.float32) for i in range(1001)}
    save_state(tmp_path / "many.csv", many)
    with open_state(tmp_path / "one.csv") as one, open_state(tmp_path / "many.csv") as lots:
        assert opened_text(build_tree(one, "one.csv")) == "Opened one.csv: 1 tensor"
        assert opened_text(build_tree(lots, "many.csv")) == "Opened many.csv: 1,001 tensors"
    broken = tmp_path / "broken.csv"
    broken.write_text(
        'tensor_name,tensor_data,tensor_metadata\nw,"1","{""shape"": [1]}"\n', encoding="utf-8"
    )
    with open_state(broken) as state:
        assert opened_text(build_tree(state, "b.csv")) == "Opened b.csv: 1 tensor, 1 bad row"


def test_the_text_goes_when_its_file_or_the_last_file_closes(
    qtbot: QtBot, status: StatusProgress, tmp_path: Path
) -> None:
    model = TensorTreeModel()
    status.follow(model)
    save_state(tmp_path / "a.csv", {"w": np.ones(2, np.float32)})
    with open_state(tmp_path / "a.csv") as a, open_state(SAMPLES / "damaged.csv") as b:
        first, second = build_tree(a, "a.csv"), build_tree(b, "damaged.csv")
        model.add_root(first)
        model.add_root(second)
        status.set_text(status.opened(second))
        model.remove_root(first)  # another file: the text stays
        assert status.label.text().startswith("Opened damaged.csv: 7 tensors")
        model.remove_root(second)
        assert status.label.text() == ""

        model.add_root(first)
        status.set_text("Wrote 2 tensors to x.npz")  # not about a file: kept until the last
        model.remove_root(first)
        assert status.label.text() == ""


def test_the_window_says_one_bad_row_count_and_forgets_a_closed_file(
    qtbot: QtBot, window: MainWindow
) -> None:
    """The window's own status text (not only the status object): damaged.csv has 5 bad
    rows, as validate and the Summary say, and the text goes with the last file."""
    from .conftest import SAMPLES

    with qtbot.waitSignal(window.file_opened, timeout=20_000) as opened:
        window.open_file(str(SAMPLES / "damaged.csv"))
    qtbot.waitUntil(lambda: not window.context.runner.busy, timeout=20_000)
    # 4 rows are bad by their text; the 5th ('oops' in its data) once the file is read
    window.select_node(opened.args[0])  # the file's Summary reads every tensor
    qtbot.waitUntil(lambda: "5 bad rows" in window.status_label.text(), timeout=20_000)
    window.close_file(opened.args[0])
    assert "damaged.csv" not in window.status_label.text()
