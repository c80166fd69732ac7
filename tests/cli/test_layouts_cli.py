"""The command line over the layouts: --layout, --from, --scale, and writing them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import numpy as np

from csv_state_viewer.core.api import load_state, save_state

CliRunner = Callable[..., CompletedProcess[str]]  # the csv_state fixture


def state(tmp_path: Path) -> Path:
    rng = np.random.default_rng(4)
    tensors = {
        "model/conv/kernel": rng.standard_normal((3, 3, 2, 4)).astype(np.float32),
        "model/conv/bias": rng.standard_normal(4).astype(np.float32),
        "model/dense/kernel": rng.standard_normal((8, 3)),
        "step": np.array(7, np.int64),
    }
    path = tmp_path / "s.csv"
    save_state(path, tensors)
    return path


def test_matrix_and_long_layouts_write_and_read_back_bit_exact(
    csv_state: CliRunner, tmp_path: Path
) -> None:
    source = state(tmp_path)
    original = load_state(source)
    for layout, destination in (
        ("matrix", f"{tmp_path / 'as_matrix'}/"),
        ("long", tmp_path / "l.csv"),
    ):
        written = csv_state("convert", source, destination, "--layout", layout)
        assert written.returncode == 0, written.stderr
        back = load_state(destination)
        if layout == "long":
            assert list(back) == list(original)
        else:  # a folder's order is its files' natural order
            assert sorted(back) == sorted(original)
        for name, array in original.items():
            assert back[name].dtype == array.dtype and back[name].tobytes() == array.tobytes()
    conv = (tmp_path / "as_matrix" / "model" / "conv" / "kernel.csv").read_text().splitlines()
    assert conv[0].startswith("#") and "3, 3, 2, 4" in conv[0].replace("[", "").replace("]", "")
    assert len(conv) == 1 + 18 and conv[1].count(",") == 3  # (3*3*2, 4), np.savetxt style
    info = csv_state("info", tmp_path / "l.csv", "--layout", "long")
    assert info.returncode == 0 and "model/dense/kernel" in info.stdout


def test_fixed_point_with_a_scale(csv_state: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "q.txt"
    np.savetxt(path, np.array([[16, -8, 4], [2, 0, 1]]), fmt="%d")
    plain = csv_state("info", path, "--json")
    assert '"dtype": "int64"' in plain.stdout
    out = tmp_path / "real.npz"
    converted = csv_state("convert", path, out, "--scale", "1/16")
    assert converted.returncode == 0, converted.stderr
    assert load_state(out)["q"].tolist() == [[1.0, -0.5, 0.25], [0.125, 0.0, 0.0625]]
    refused = csv_state("info", tmp_path / "q.txt", "--scale", "zero")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1


def test_folders_and_layout_choice_on_every_command(csv_state: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "layers"
    folder.mkdir()
    for index in (1, 2, 10):
        np.savetxt(folder / f"w_{index}.txt", np.full((2, 2), index, np.float32))
    for command in ("info", "validate"):
        result = csv_state(command, folder)
        assert result.returncode == 0, result.stderr
    listed = csv_state("info", folder).stdout.splitlines()
    assert [row.split()[0] for row in listed[1:4]] == ["w_1", "w_2", "w_10"]
    same = csv_state("diff", folder, folder)
    assert same.returncode == 0
    wrong = csv_state("info", folder / "w_1.txt", "--layout", "long")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
