"""Keras files are checked against what they store before anything is materialised.

HDF5 datasets that declare gigabytes their storage cannot back (never allocated, or
compressed beyond the ratio ceiling) are bad rows, never read; the members of a ``.keras``
archive are checked like an ``.npz``'s; and a ``.keras`` config implying far more variables
than its weights file stores is not rebuilt (structural names, with the reason), while
real models (an MLP, MobileNetV2) still are. The hostile files come from
``tests/hostile_files.py``; the command line runs them under a 1.5 GB address-space limit
where TensorFlow is not involved, and with its peak RSS measured where it might be.
"""

from __future__ import annotations

import os
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.kerasfiles import open_keras_file
from csv_state_viewer.core.errors import NotAStateError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import hostile_files as hostile

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

EXE = os.path.join(os.path.dirname(sys.executable), "csv-state")
ADDRESS_SPACE = 1536 << 20
MAX_RSS = 1 << 30


def cli(*args: str | Path, address_space: int | None = ADDRESS_SPACE) -> tuple[int, list[str], int]:
    result, peak = hostile.run_bounded([EXE, *map(str, args)], address_space=address_space)
    text = result.stdout + result.stderr
    assert "Traceback" not in text and "internal error" not in text, text
    return result.returncode, text.strip().splitlines(), peak


def errors_of(path: Path) -> dict[str, str]:
    with open_keras_file(path) as state:
        return {problem.name or "": problem.message for problem in state.errors}


# --------------------------------------------------------------------------- HDF5
def test_unallocated_dataset_is_a_bad_row_not_four_gigabytes(tmp_path: Path) -> None:
    path = hostile.h5_unallocated(tmp_path / "huge.weights.h5", (1 << 30,))
    assert path.stat().st_size < 64 << 10
    code, lines, _ = cli("validate", path)
    assert code == 1, lines
    assert lines[0] == (
        f"{path}: 'layers/huge/vars/0': declares 4 GiB but stores 0 bytes (unallocated)"
    )
    with open_keras_file(path) as state:
        assert np.array_equal(state.read("layers/dense/vars/0"), np.arange(6.0).reshape(2, 3))


def test_dataset_declaring_128_tib_is_a_bad_row(tmp_path: Path) -> None:
    path = hostile.h5_unallocated(tmp_path / "tib.weights.h5", (1 << 45,), chunks=(1 << 20,))
    assert errors_of(path) == {
        "layers/huge/vars/0": "declares 128 TiB but stores 0 bytes (unallocated)"
    }


def test_compressed_dataset_beyond_the_ratio_ceiling_is_a_bad_row(tmp_path: Path) -> None:
    path = hostile.h5_compressed_bomb(tmp_path / "gz.weights.h5", (1 << 30,))
    message = errors_of(path)["layers/dense/vars/0"]
    assert message.startswith("declares 4 GiB from ") and "decompression bomb" in message


def test_compressed_dataset_within_the_ceiling_reads(tmp_path: Path) -> None:
    import h5py

    path = tmp_path / "ok.weights.h5"
    with h5py.File(path, "w") as file:
        group = file.create_group("layers/dense/vars")
        group.create_dataset("0", data=np.zeros(1 << 20, np.float32), compression="gzip")
    with open_keras_file(path) as state:
        assert not state.errors and not state.read("layers/dense/vars/0").any()


def test_legacy_h5_unallocated_weight_is_a_bad_row(tmp_path: Path) -> None:
    path = hostile.h5_legacy_unallocated(tmp_path / "legacy.h5", (1 << 31,))
    assert errors_of(path) == {"dense/bias:0": "declares 8 GiB but stores 0 bytes (unallocated)"}


# ------------------------------------------------------------------------- .keras
@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras = tfimport.keras()
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(4, name="wide"), keras.layers.Dense(2)]
    )
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path_factory.mktemp("mlp") / "mlp.keras"
    model.save(path)
    return path


def _structural_reason(path: Path) -> str | None:
    with open_keras_file(path) as state:
        metadata: dict[str, Any] = state.entries[0].metadata
        return metadata.get("reason") if metadata.get("names") == "structural" else None


def _copy(source: Path, folder: Path, name: str) -> Path:
    target = folder / name
    shutil.copyfile(source, target)
    return target


def test_config_implying_gigabytes_is_not_rebuilt(mlp: Path, tmp_path: Path) -> None:
    path = _copy(mlp, tmp_path, "units.keras")
    hostile.edit_keras_config(path, lambda c: hostile.set_layer_option(c, "wide", "units", 2**25))
    code, lines, peak = cli("info", path, address_space=None)
    assert code == 0, lines
    assert peak < MAX_RSS, f"peak RSS {peak >> 20} MiB"
    reason = _structural_reason(path)
    assert reason is not None
    # Dense(8 -> 2**25): 9 * 2**25 float32 values (the next layer's build shape is unchanged)
    assert reason.startswith("the model was not rebuilt: its config implies 1.13 GiB of ")
    assert "but the weights file stores" in reason


def test_normal_models_are_still_rebuilt(mlp: Path, tmp_path: Path) -> None:
    assert _structural_reason(mlp) is None
    keras = tfimport.keras()
    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), weights=None, classes=10)
    path = tmp_path / "mobilenet.keras"
    model.save(path)
    with open_keras_file(path) as state:
        assert len(state.entries) == len(model.weights)
        assert "names" not in state.entries[0].metadata


def test_deflated_weights_member_is_read_through_a_checked_copy(mlp: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(mlp) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    path = hostile.write_zip(tmp_path / "deflated.keras", members, zipfile.ZIP_DEFLATED)
    assert _structural_reason(path) is None
    hostile.damage_member(path, "model.weights.h5")
    with pytest.raises(NotAStateError, match=r"model.weights.h5 is refused: .*damaged"):
        open_keras_file(path)


def test_a_refused_member_stops_the_rebuild(mlp: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(mlp) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    stream = hostile.bzip2_bomb(b"x", 200 << 20)
    path = hostile.write_bzip2_member(
        tmp_path / "assets.keras", "assets/blob", stream, 1000, before=members
    )
    reason = _structural_reason(path)
    assert reason is not None
    assert "the member 'assets/blob' is refused: the compressed data inflates to more" in reason


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"flag_bits": 1}, "model.weights.h5 is refused: encrypted"),
        ({"method": 98}, "model.weights.h5 is refused: compressed with method 98 (PPMd)"),
    ],
)
def test_a_refused_weights_member_refuses_the_file(
    mlp: Path, tmp_path: Path, patch: dict[str, int], expected: str
) -> None:
    path = hostile.patch_member(_copy(mlp, tmp_path, "w.keras"), "model.weights.h5", **patch)
    code, lines, _ = cli("info", path)
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith(f"csv-state: {path}: {expected}"), lines


def test_config_bomb_is_not_handed_to_keras(mlp: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(mlp) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    config = members.pop("config.json")
    stream = hostile.bzip2_bomb(config, 200 << 20)
    path = hostile.write_bzip2_member(
        tmp_path / "config.keras", "config.json", stream, config, before=members
    )
    reason = _structural_reason(path)
    assert reason is not None and "config.json is refused" in reason
