"""``csv-state diff`` run as a user runs it: a real process on real files."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import save_state

CliRunner = Callable[..., subprocess.CompletedProcess[str]]  # the csv_state fixture


TENSORS: dict[str, np.ndarray] = {
    "dense/kernel": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "dense/bias": np.array([0.0, -0.0, np.nan, 1.0], dtype=np.float32),
    "step": np.array(7, dtype=np.int64),
}
JSON_KEYS = {
    "name",
    "status",
    "shape_a",
    "shape_b",
    "dtype_a",
    "dtype_b",
    "max_abs_diff",
    "rel_l2",
    "changed",
    "nan_mismatches",
    "message",
}


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.csv"
    save_state(path, TENSORS)
    return path


@pytest.fixture
def changed(tmp_path: Path) -> Path:
    kernel = TENSORS["dense/kernel"].copy()
    kernel[1, 2] = 10.0
    path = tmp_path / "changed.npz"
    save_state(path, {**TENSORS, "dense/kernel": kernel, "extra": np.zeros(2)})
    return path


def rows_by_name(stdout: str) -> dict[str, list[str]]:
    lines = stdout.splitlines()
    header = ["NAME", "STATUS", "SHAPE", "DTYPE", "CHANGED", "MAX", "|DIFF|", "REL", "L2"]
    assert lines[0].split() == header
    rows = {}
    for line in lines[1:]:
        if not line:
            break
        cells = line.split()
        rows[cells[0]] = cells[1:]
    return rows


def test_same_state_in_other_formats_exits_zero(
    csv_state: CliRunner, good: Path, tmp_path: Path
) -> None:
    for name, encoding in (("b64.csv", "base64"), ("same.npz", "text"), ("gz.csv.gz", "text")):
        other = tmp_path / name
        save_state(other, TENSORS, encoding)
        result = csv_state("diff", good, other)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert set(rows_by_name(result.stdout)) == set(TENSORS)
        assert all(r[0] == "identical" for r in rows_by_name(result.stdout).values())
        assert "3 tensors: 3 identical; the states are identical" in result.stdout


def test_differences_exit_one_with_a_row_per_tensor(
    csv_state: CliRunner, good: Path, changed: Path
) -> None:
    result = csv_state("diff", good, changed)
    assert result.returncode == 1, result.stderr
    rows = rows_by_name(result.stdout)
    expected_max = 10.0 - float(TENSORS["dense/kernel"][1, 2])
    assert rows["dense/kernel"][:4] == ["different", "[3,4]", "float32", "1"]
    assert rows["dense/kernel"][4] == f"{expected_max:.6g}"
    assert rows["dense/bias"][0] == "identical"
    assert rows["extra"][:2] == ["only_in_b", "[2]"]
    summary = "4 tensors: 2 identical, 1 different, 1 only in B; the states are different"
    assert summary in result.stdout


def test_shape_and_dtype_changes_show_both_sides(
    csv_state: CliRunner, good: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.csv"
    save_state(
        other,
        {
            "dense/kernel": TENSORS["dense/kernel"].reshape(4, 3),
            "dense/bias": TENSORS["dense/bias"].astype(np.float64),
            "step": TENSORS["step"],
        },
    )
    result = csv_state("diff", good, other)
    assert result.returncode == 1
    rows = rows_by_name(result.stdout)
    assert rows["dense/kernel"][:2] == ["shape_differs", "[3,4]"]
    assert rows["dense/kernel"][2:4] == ["->", "[4,3]"]
    assert rows["dense/bias"][:5] == ["dtype_differs", "[4]", "float32", "->", "float64"]


def test_json_output_parses_with_documented_keys(
    csv_state: CliRunner, good: Path, changed: Path
) -> None:
    result = csv_state("diff", good, changed, "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert set(document) == {"a", "b", "identical", "tensors"}
    assert (document["a"], document["b"], document["identical"]) == (str(good), str(changed), False)
    assert all(set(t) == JSON_KEYS for t in document["tensors"])
    by_name = {t["name"]: t for t in document["tensors"]}
    assert list(by_name) == [*TENSORS, "extra"]
    kernel = by_name["dense/kernel"]
    a = TENSORS["dense/kernel"].astype(np.float64)
    b = a.copy()
    b[1, 2] = 10.0
    assert kernel["status"] == "different"
    assert kernel["changed"] == 1
    assert kernel["max_abs_diff"] == np.max(np.abs(b - a))
    assert kernel["rel_l2"] == pytest.approx(np.linalg.norm(b - a) / np.linalg.norm(a))
    assert kernel["shape_a"] == kernel["shape_b"] == [3, 4]
    assert by_name["extra"]["status"] == "only_in_b"
    assert by_name["extra"]["dtype_a"] is None


def test_json_identical_exits_zero(csv_state: CliRunner, good: Path) -> None:
    result = csv_state("diff", good, good, "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["identical"] is True


def test_bad_row_is_reported_and_exits_one(
    csv_state: CliRunner, good: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    text = good.read_text().replace('"0,-0,nan,1"', '"0,-0,oops,1"')
    assert text != good.read_text()
    bad.write_text(text)
    result = csv_state("diff", good, bad)
    assert result.returncode == 1
    assert rows_by_name(result.stdout)["dense/bias"][0] == "unreadable"
    assert f"{bad}:3: 'dense/bias': bad float32 value 'oops'" in result.stdout


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "no such file"), (b"\x00\x01\x02binary\xff" * 10, "binary file")],
)
def test_missing_or_binary_file_exits_two(
    csv_state: CliRunner, good: Path, tmp_path: Path, content: bytes | None, reason: str
) -> None:
    other = tmp_path / "other.csv"
    if content is not None:
        other.write_bytes(content)
    for args in ((good, other), (other, good)):
        result = csv_state("diff", *args)
        assert result.returncode == 2
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1
        assert reason in result.stderr.lower()
        assert str(other) in result.stderr


def test_usage_errors_exit_two(csv_state: CliRunner, good: Path) -> None:
    assert csv_state("diff").returncode == 2
    assert csv_state("diff", good).returncode == 2
    assert csv_state("diff", good, good, "--bogus").returncode == 2


def test_names_are_paired_past_a_prefix_and_keras_auto_numbering(
    csv_state: CliRunner, tmp_path: Path
) -> None:
    kernel, bias = TENSORS["dense/kernel"], TENSORS["dense/bias"]
    a, b = tmp_path / "a.csv", tmp_path / "b.npz"
    save_state(a, {"sequential/dense/kernel": kernel, "sequential/dense/bias": bias})
    save_state(b, {"dense_1/kernel": kernel, "dense_1/bias": bias})
    result = csv_state("diff", a, b)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split()[:4] == ["sequential/dense/kernel", "->", "dense_1/kernel", "identical"]
    assert lines[2].split()[:4] == ["sequential/dense/bias", "->", "dense_1/bias", "identical"]
    assert "2 tensors: 2 identical; the states are identical" in result.stdout
    assert lines[-1] == (
        "names paired by position where they differ only by Keras auto-numbering "
        "(dense -> dense_1) and a leading prefix (sequential/)"
    )

    document = json.loads(csv_state("diff", a, b, "--json").stdout)
    assert [(t["name"], t["name_b"]) for t in document["tensors"]] == [
        ("sequential/dense/kernel", "dense_1/kernel"),
        ("sequential/dense/bias", "dense_1/bias"),
    ]

    by_name = csv_state("diff", a, b, "--match", "name")
    assert by_name.returncode == 1
    assert "2 only in A, 2 only in B" in by_name.stdout
    assert by_name.stdout.splitlines()[-1] == "no names paired"

    by_order = csv_state("diff", a, b, "--match", "order")
    assert by_order.returncode == 0
    assert by_order.stdout.splitlines()[-1] == "names paired by position in file order"


def test_identical_names_say_so_and_keep_json_unchanged(csv_state: CliRunner, good: Path) -> None:
    assert csv_state("diff", good, good).stdout.splitlines()[-1] == "names paired exactly"
    document = json.loads(csv_state("diff", good, good, "--json").stdout)
    assert all("name_b" not in t for t in document["tensors"])


def test_unknown_match_mode_is_a_usage_error(csv_state: CliRunner, good: Path) -> None:
    result = csv_state("diff", good, good, "--match", "fuzzy")
    assert result.returncode == 2
    assert "--match" in result.stderr
