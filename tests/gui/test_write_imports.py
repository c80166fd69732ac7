"""The Write dialog's "Import modules": a subclassed model loads in the TensorFlow worker
once the module registering its classes is named, the refusal before says what to do, and
the choice is remembered."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.api import open_state
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.dialogs.writemodel import WriteModelDialog
from csv_state_viewer.ops.convert import convert
from csv_state_viewer.ops.imports import model_imports, use_model_imports
from csv_state_viewer.ops.tfworker import shutdown_shared_worker

CASES_FILE = Path(__file__).resolve().parents[1] / "bridge" / "resume_cases.py"
CASE = "subclassed+dropout"
TF_WAIT = 60_000


@pytest.fixture
def no_imports() -> Iterator[None]:
    """The process-wide module list is empty before and after the test."""
    use_model_imports([])
    yield
    use_model_imports([])


@pytest.fixture
def subclassed(tmp_path: Path, no_imports: None) -> tuple[Path, Path]:
    """(state CSV of a trained subclassed model, a fresh model of the same class)."""
    sys.path.insert(0, str(CASES_FILE.parent))
    import resume_cases

    model = resume_cases.build(CASE)
    resume_cases.train(model, CASE, 2)
    model.save(tmp_path / "net.keras")
    resume_cases.build(CASE).save(tmp_path / "fresh.keras")
    use_model_imports([str(CASES_FILE)])
    convert(str(tmp_path / "net.keras"), str(tmp_path / "net.csv"))
    use_model_imports([])
    shutdown_shared_worker()  # a worker keeps what it imported: the test starts a clean one
    return tmp_path / "net.csv", tmp_path / "fresh.keras"


def test_import_modules_let_a_subclassed_model_load_and_are_remembered(
    qtbot: QtBot, context: ViewerContext, subclassed: tuple[Path, Path], tmp_path: Path
) -> None:
    state_path, fresh = subclassed
    with open_state(state_path) as state:
        dialog = WriteModelDialog(state, context)
        qtbot.addWidget(dialog)
        dialog.show()
        assert dialog.imports_edit.text() == ""
        dialog.model_edit.setText(str(fresh))
        dialog.check_mapping()
        qtbot.waitUntil(lambda: "not registered" in dialog.status_label.text(), timeout=TF_WAIT)
        assert "Import modules" in dialog.status_label.text()
        assert not dialog.write_button.isEnabled()

        dialog.imports_edit.setText(str(tmp_path / "missing.py"))
        dialog.check_mapping()
        assert "no such file" in dialog.status_label.text()  # refused at once, no worker

        dialog.imports_edit.setText(str(CASES_FILE))
        with qtbot.waitSignal(dialog.mapping_checked, timeout=TF_WAIT) as checked:
            dialog.check_mapping()
        assert checked.args[0].ok, checked.args[0].summary()
        output = tmp_path / "out.keras"
        dialog.output_edit.setText(str(output))
        with qtbot.waitSignal(dialog.written, timeout=TF_WAIT):
            dialog.write()
        dialog.close()
    assert output.exists()
    assert model_imports() == (str(CASES_FILE),)
    assert context.settings.model_imports() == [str(CASES_FILE)]
    again = WriteModelDialog(state, context)
    qtbot.addWidget(again)
    assert again.imports_edit.text() == str(CASES_FILE)
