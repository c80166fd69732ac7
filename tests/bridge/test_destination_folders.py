"""TensorFlow and Keras destinations in folders that do not exist yet: created, or left out."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from csv_state_viewer import load_state
from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.tfcheckpoint import save_tf_checkpoint
from csv_state_viewer.core.progress import Cancelled

if TYPE_CHECKING:
    from tests.conftest import ProgressRecorder

CliRunner = Callable[..., subprocess.CompletedProcess[str]]  # the csv_state fixture

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
STATE = SAMPLES / "mlp_adam.csv"
MODEL = SAMPLES / "mlp_adam.keras"


def test_a_checkpoint_prefix_in_new_folders(csv_state: CliRunner, tmp_path: Path) -> None:
    prefix = tmp_path / "out" / "run1" / "ckpt"
    result = csv_state("convert", STATE, prefix)
    assert result.returncode == 0, result.stderr
    reader = tfimport.tensorflow().train.load_checkpoint(str(prefix))
    expected = load_state(STATE)
    assert {name: reader.get_tensor(name).tobytes() for name in expected} == {
        name: array.tobytes() for name, array in expected.items()
    }
    assert not [name for name in os.listdir(prefix.parent) if name.endswith(".tmp")]


@pytest.mark.parametrize("name", ["x.keras", "w.weights.h5"])
def test_a_model_file_in_new_folders(csv_state: CliRunner, tmp_path: Path, name: str) -> None:
    out = tmp_path / "new" / "dir" / name
    result = csv_state("convert", STATE, out, "--model", MODEL)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out.parent)) == [name]
    back = csv_state("convert", out, tmp_path / "back.csv")
    assert back.returncode == 0, back.stderr


def test_a_refused_mapping_leaves_no_folder(csv_state: CliRunner, tmp_path: Path) -> None:
    other = SAMPLES / "cnn_sgd.csv"  # a different network: it does not fit the model
    result = csv_state("convert", other, tmp_path / "new" / "dir" / "x.keras", "--model", MODEL)
    assert result.returncode != 0
    assert os.listdir(tmp_path) == []


def test_a_cancelled_checkpoint_write_leaves_no_folder(
    tmp_path: Path, recorder: type[ProgressRecorder]
) -> None:
    with pytest.raises(Cancelled):
        save_tf_checkpoint(
            str(tmp_path / "new" / "run" / "ckpt"), load_state(STATE), progress=recorder(2)
        )
    assert os.listdir(tmp_path) == []


def test_an_ancestor_that_is_a_file_is_refused_in_one_line(
    csv_state: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "out").write_text("not a folder")
    result = csv_state("convert", STATE, tmp_path / "out" / "run1" / "ckpt")
    assert result.returncode != 0
    assert f"{tmp_path / 'out'}: is a file, not a folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert os.listdir(tmp_path) == ["out"]
