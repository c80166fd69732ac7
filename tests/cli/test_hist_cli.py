"""``csv-state hist`` run as a user runs it, and the histogram data it shares with the
viewer (text chart, CSV, counted words, percentages)."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import save_state
from csv_state_viewer.core.analysis.histdata import (
    histogram_csv,
    text_histogram,
)
from csv_state_viewer.core.analysis.stats import histogram
from csv_state_viewer.core.analysis.summary import format_percent, plural

BIN_LINE = re.compile(r"\[\s*(\S+),\s*(\S+)([)\]])\s+([\d,]+)\s+\S")
CliRunner = Callable[..., subprocess.CompletedProcess[str]]  # the csv_state fixture

RNG = np.random.default_rng(9)
KERNEL = RNG.standard_normal((40, 25)).astype(np.float32)
SPECIAL = np.array([0.5, np.nan, np.inf, -np.inf, 1.5, 2.5], np.float32)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "s.csv"
    save_state(path, {"dense/kernel": KERNEL, "special": SPECIAL, "zeros": np.zeros(4)})
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_text_histogram_lists_every_bin(csv_state: CliRunner, state: Path) -> None:
    result = csv_state("hist", state, "dense/kernel", "--bins", "7")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("dense/kernel: [40,25] float32, 1,000 finite values, 7 bins")
    edges = np.linspace(float(KERNEL.min()), float(KERNEL.max()), 8)
    counts = np.histogram(KERNEL, bins=edges)[0]
    assert len(lines) == 1 + 7
    parsed = [BIN_LINE.match(line) for line in lines[1:]]
    assert all(parsed), lines
    assert [int(m.group(4)) for m in parsed if m] == counts.tolist()
    assert [m.group(3) for m in parsed if m] == [")"] * 6 + ["]"]  # the last bin is closed


def test_csv_and_png_outputs(csv_state: CliRunner, state: Path, tmp_path: Path) -> None:
    out_csv, out_png = tmp_path / "h.csv", tmp_path / "plots" / "h.png"
    result = csv_state(
        "hist", state, "special", "--bins", "4", "--log", "--csv", out_csv, "--png", out_png
    )
    assert result.returncode == 0, result.stderr
    assert "excluded 1 NaN, 1 +Inf, 1 -Inf" in result.stdout.splitlines()[0]
    rows = read_rows(out_csv)
    assert [r["tensor"] for r in rows] == ["special"] * 4
    edges = np.linspace(0.5, 2.5, 5)
    np.testing.assert_array_equal([float(r["left"]) for r in rows], edges[:-1])
    np.testing.assert_array_equal([float(r["right"]) for r in rows], edges[1:])
    assert [int(r["count"]) for r in rows] == [1, 0, 1, 1]
    assert out_png.read_bytes().startswith(b"\x89PNG")


def test_the_png_needs_no_qt(state: Path, tmp_path: Path) -> None:
    out = tmp_path / "h.png"
    code = (
        "import sys\n"
        "from csv_state_viewer.cli.main import main\n"
        f"rc = main(['hist', {str(state)!r}, 'dense/kernel', '--png', {str(out)!r}])\n"
        "assert rc == 0, rc\n"
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert out.read_bytes().startswith(b"\x89PNG")


def test_a_constant_tensor(csv_state: CliRunner, state: Path) -> None:
    result = csv_state("hist", state, "zeros", "--bins", "1")
    assert result.returncode == 0, result.stderr
    first, *bins = result.stdout.splitlines()
    assert "1 bin," in first and "constant 0.0" in first
    assert len(bins) == 1 and "100 %" in bins[0]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("nope",), 2, "no tensor named 'nope'"),
        (("dense/kernel", "--bins", "0"), 2, "between 1 and"),
        (("dense/kernel", "--png", "out.jpg"), 2, "--png writes PNG"),
    ],
)
def test_errors_exit_as_the_other_commands(
    csv_state: CliRunner, state: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    result = csv_state("hist", state, *args)
    assert result.returncode == code
    assert message in result.stderr


def test_bad_data_is_a_bad_row(csv_state: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "tensor_name,tensor_data,tensor_metadata\n"
        'w,"0.5,oops","{""shape"": [2], ""dtype"": ""float32""}"\n',
        encoding="utf-8",
    )
    result = csv_state("hist", path, "w")
    assert result.returncode == 1
    assert f"{path}:2:" in result.stderr and "oops" in result.stderr


# ------------------------------------------------------------------ shared data
def test_plural_and_percentages() -> None:
    assert plural(1, "bin") == "1 bin" and plural(2, "bin") == "2 bins"
    assert plural(0, "bin") == "0 bins" and plural(1024, "bin") == "1,024 bins"
    assert format_percent(100 * 2 / 16_777_216) == "< 0.001 %"  # was "1.19209e-05 %"
    assert format_percent(0.0) == "0 %" and format_percent(100.0) == "100 %"
    assert format_percent(0.0125) == "0.0125 %"
    assert format_percent(12.5) == "12.5 %"
    assert format_percent(99.9999) == "> 99.999 %"


def test_csv_and_text_are_the_histograms() -> None:
    result = histogram([SPECIAL, KERNEL], ["special", "k"], 3)
    lines = histogram_csv(result).splitlines()
    assert lines[0] == "tensor,bin,left,right,count"
    assert len(lines) == 1 + 2 * 3
    chart = text_histogram(result, 1).splitlines()
    assert len(chart) == 3
    assert sum(int(line.split()[2].replace(",", "")) for line in chart) == KERNEL.size
