"""The csv-state command line, run as a user runs it: a real process on real files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import load_state, save_state

EXE = shutil.which("csv-state", path=os.path.dirname(sys.executable)) or "csv-state"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.csv"
    save_state(
        path,
        {
            "dense/kernel": np.arange(12, dtype=np.float32).reshape(3, 4),
            "dense/bias": np.zeros(4, dtype=np.float32),
            "step": np.array(7, dtype=np.int64),
        },
    )
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.csv"
    path.write_bytes(
        b"tensor_name,tensor_data,tensor_metadata\n"
        b'a,"1,2,3","{""shape"": [3], ""dtype"": ""float32""}"\n'
        b'b,"1,x","{""shape"": [2], ""dtype"": ""float32""}"\n'
        b'c,"1,2","{""shape"": [2], ""dtype"": ""object""}"\n'
        b'd,"1,2","{""shape"": [2], ""dtype"": ""float32""}"\n'
    )
    return path


def test_info_table_lists_every_tensor(good: Path) -> None:
    result = run("info", good)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SHAPE", "DTYPE", "ENCODING", "PARAMETERS", "BYTES"]
    assert lines[1].split()[:5] == ["dense/kernel", "[3,4]", "float32", "text", "12"]
    assert lines[3].split()[:5] == ["step", "[]", "int64", "text", "1"]
    assert "3 tensors, 17 parameters" in result.stdout


def test_info_json_has_documented_keys(bad: Path) -> None:
    result = run("info", bad, "--json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["path"] == str(bad)
    assert [t["name"] for t in report["tensors"]] == ["a", "b", "c", "d"]
    assert report["tensors"][0] == {
        "name": "a",
        "shape": [3],
        "dtype": "float32",
        "encoding": "text",
        "line": 2,
    }
    assert [(e["line"], e["name"]) for e in report["errors"]] == [(4, "c")]
    assert "refused" in report["errors"][0]["message"]


def test_validate_good_file_exits_zero(good: Path) -> None:
    result = run("validate", good)
    assert result.returncode == 0
    assert result.stdout == ""


def test_validate_reports_file_line_message(bad: Path) -> None:
    result = run("validate", bad)
    assert result.returncode == 1
    no_traceback(result)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{bad}:3: 'b': bad float32 value 'x' at element 2")
    assert lines[1].startswith(f"{bad}:4: 'c': dtype 'object' is refused")
    assert len(lines) == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"\x00\x01\x02binary\xff" * 10, "binary file"),
        (b"a,b,c\n1,2,3\n", "a 1\u00d73 numeric matrix with a header and no tensor names"),
        (b"tensor_name,tensor_data\nx,1\n", "no tensor_metadata column"),
    ],
)
def test_not_a_state_exits_two_with_one_line(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    for command in ("info", "validate"):
        result = run(command, path)
        assert result.returncode == 2
        no_traceback(result)
        assert result.stderr.splitlines() == [f"csv-state: {path}: {reason}"] or (
            reason in result.stderr and len(result.stderr.splitlines()) == 1
        )


def test_usage_errors_exit_two(tmp_path: Path) -> None:
    assert run().returncode == 2
    assert run("validate").returncode == 2
    missing = run("info", tmp_path / "missing.csv")
    assert missing.returncode == 2
    assert "no such file" in missing.stderr


def test_convert_between_formats_round_trips(good: Path, tmp_path: Path) -> None:
    original = load_state(good)
    for name in ("out.npz", "out.csv.gz", "out_b64.csv"):
        target = tmp_path / name
        extra = ["--encoding", "base64"] if "b64" in name else []
        result = run("convert", good, target, *extra)
        assert result.returncode == 0, result.stderr
        back = load_state(target)
        assert list(back) == list(original)
        for key, value in original.items():
            assert back[key].tobytes() == value.tobytes()


def test_convert_refuses_to_overwrite_without_force(good: Path, tmp_path: Path) -> None:
    target = tmp_path / "exists.csv"
    target.write_bytes(b"keep me")
    result = run("convert", good, target)
    assert result.returncode == 2
    assert "already exists" in result.stderr
    assert target.read_bytes() == b"keep me"
    assert run("convert", good, target, "--force").returncode == 0
    assert list(load_state(target)) == ["dense/kernel", "dense/bias", "step"]


def test_convert_refuses_bad_rows_unless_skip_bad(bad: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    refused = run("convert", bad, target)
    assert refused.returncode == 1
    assert f"{bad}:4: 'c'" in refused.stderr
    assert not target.exists()
    # Row b's bad number only shows when its data is decoded: still nothing is written.
    skipped_index_errors_only = run("convert", bad, tmp_path / "partial.csv", "--skip-bad")
    assert skipped_index_errors_only.returncode == 0, skipped_index_errors_only.stderr
    assert list(load_state(tmp_path / "partial.csv")) == ["a", "d"]
    assert "(2 tensors, csv)" in skipped_index_errors_only.stdout
    assert f"{bad}:3: 'b'" in skipped_index_errors_only.stderr


def test_convert_refuses_writing_over_its_source(good: Path) -> None:
    before = good.read_bytes()
    result = run("convert", good, good, "--force")
    assert result.returncode == 2
    assert result.stderr == f"csv-state: {good}: the destination is the source file\n"
    assert good.read_bytes() == before


def test_unknown_destination_extension(good: Path, tmp_path: Path) -> None:
    result = run("convert", good, tmp_path / "out.xyz")
    assert result.returncode == 2
    assert "no format writes" in result.stderr
