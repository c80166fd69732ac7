"""Names from files are shown safely by the command line, and kept exact as data.

A tensor name may hold a terminal escape (``\\x1b[31m`` turns the rest of a terminal red),
a bidi override (U+202E shows what follows reversed), zero-width characters and very long
text. Text output shows them as visible escapes (``\\x1b``, ``\\u202e``); ``--json`` keeps
them exact (JSON escapes them itself); conversions keep the real names.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import load_state, open_state, save_state
from csv_state_viewer.bridge.mapping import MATCHED, MappingReport, MappingRow
from csv_state_viewer.cli.apply import render
from csv_state_viewer.cli.output import table
from csv_state_viewer.core.errors import RowProblem
from csv_state_viewer.core.formatting import display_name, elide_middle, one_line, safe_text

CliRunner = Callable[..., subprocess.CompletedProcess[str]]  # the csv_state fixture

ESCAPE = "dense\x1b[31m/kernel"  # recolours a terminal
BIDI = "bias\u202eevil"  # shows "bias" then "live" reversed
ISOLATE = "a\u2066b\u2069c"  # a bidi isolate pair
ZERO_WIDTH = "conv\u200b/kernel"  # looks like conv/kernel
LONG = "scope/" + "x" * 300
NAMES = [ESCAPE, BIDI, ISOLATE, ZERO_WIDTH, LONG]
RAW_DANGER = ("\x1b", "\u202e", "\u2066", "\u2069", "\u200b")


def escaped(name: str) -> str:
    return (
        name.replace("\x1b", "\\x1b")
        .replace("\u202e", "\\u202e")
        .replace("\u2066", "\\u2066")
        .replace("\u2069", "\\u2069")
        .replace("\u200b", "\\u200b")
    )


@pytest.fixture
def hostile_state(tmp_path: Path) -> Path:
    """A CSV state with the names above, and a bad row whose name holds a bidi override."""
    path = tmp_path / "names.csv"
    save_state(path, {name: np.arange(2, dtype=np.float32) + i for i, name in enumerate(NAMES)})
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('bad\u202erow,1,"{""shape"": [5], ""dtype"": ""float32""}"\n')
    return path


def assert_safe(text: str) -> None:
    for char in RAW_DANGER:
        assert char not in text, f"{char!r} printed raw"


# ------------------------------------------------------------------ the helpers
@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("dense/kernel", "dense/kernel"),
        ("ünïcødé/层/カーネル", "ünïcødé/层/カーネル"),  # printable text stays as it is
        ("a b\u00a0c", "a b\u00a0c"),  # spaces too
        ("back\\slash", "back\\slash"),
        (ESCAPE, "dense\\x1b[31m/kernel"),
        (BIDI, "bias\\u202eevil"),
        ("\u202a\u202b\u202c\u202d\u202e", "\\u202a\\u202b\\u202c\\u202d\\u202e"),
        ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),
        (
            "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff",
            "\\u200b\\u200c\\u200d\\u200e\\u200f\\u2060\\ufeff",
        ),
        ("tab\tnew\nline\rend", "tab\\tnew\\nline\\rend"),
        ("nul\x00del\x7fc1\x9b", "nul\\x00del\\x7fc1\\x9b"),
        ("sep\u2028para\u2029", "sep\\u2028para\\u2029"),
        ("\u061c\u00ad", "\\u061c\\xad"),  # the Arabic letter mark, a soft hyphen
        ("tag\U000e0041", "tag\\U000e0041"),
        ("undecodable\udcff", "undecodable\\udcff"),
    ],
)
def test_safe_text(name: str, shown: str) -> None:
    assert safe_text(name) == shown
    assert safe_text(shown) == shown  # escaping twice changes nothing


def test_long_names_are_elided_in_the_middle() -> None:
    shown = display_name(LONG)
    assert len(shown) == 200
    assert shown.startswith("scope/xxx") and shown.endswith("xxx") and "…" in shown
    assert display_name("short") == "short"
    assert elide_middle("abcdefghij", 5) == "ab…ij"
    assert display_name(ESCAPE * 40).startswith("dense\\x1b[31m")


def test_one_line() -> None:
    assert one_line("a\n  b\tc\x1bd") == "a b c\\x1bd"
    assert one_line("x" * 500, 50) == "x" * 49 + "…"


def test_a_row_problem_prints_escaped() -> None:
    problem = RowProblem("dir\x1b/f.csv", 7, BIDI, "bad value '\x1b[2J' at element 3")
    text = str(problem)
    assert_safe(text)
    assert text == "dir\\x1b/f.csv:7: 'bias\\u202eevil': bad value '\\x1b[2J' at element 3"
    assert str(RowProblem("f.csv", 2, "dense/bias", "oops")) == "f.csv:2: 'dense/bias': oops"


def test_table_columns_line_up_after_escaping() -> None:
    text = table([["NAME", "SHAPE"], [ESCAPE, "[2]"], ["b", "[3]"]], set())
    lines = text.splitlines()
    assert_safe(text)
    column = lines[0].index("SHAPE")
    assert lines[1][column:] == "[2]" and lines[2][column:] == "[3]"


def test_apply_table_escapes_names() -> None:
    report = MappingReport(
        [MappingRow(MATCHED, "weight", BIDI, ESCAPE, (2,), (2,), "float32", "float32")], "name"
    )
    text = render(report)
    assert_safe(text)
    assert "bias\\u202eevil" in text and "dense\\x1b[31m/kernel" in text


# ---------------------------------------------------------------- the commands
def test_info_prints_escaped_names(csv_state: CliRunner, hostile_state: Path) -> None:
    result = csv_state("info", hostile_state)
    assert result.returncode == 0, result.stderr
    assert_safe(result.stdout + result.stderr)
    for name in NAMES:
        assert escaped(name) in result.stdout  # whole: the 300-character name too
    assert "'bad\\u202erow'" in result.stdout  # the bad row's problem


def test_info_json_keeps_names_exact(csv_state: CliRunner, hostile_state: Path) -> None:
    result = csv_state("info", hostile_state, "--json")
    assert result.returncode == 0, result.stderr
    assert_safe(result.stdout)  # JSON escapes them: \u001b, \u202e ...
    listed = json.loads(result.stdout)
    assert [t["name"] for t in listed["tensors"]] == [*NAMES, "bad\u202erow"]
    assert listed["errors"][0]["name"] == "bad\u202erow"


def test_validate_prints_escaped_problems(csv_state: CliRunner, hostile_state: Path) -> None:
    result = csv_state("validate", hostile_state)
    assert result.returncode == 1
    assert_safe(result.stdout + result.stderr)
    assert f"{hostile_state}:7: 'bad\\u202erow': shape [5] declares 5 values" in result.stdout


def test_diff_escapes_the_table_not_the_json(
    csv_state: CliRunner, hostile_state: Path, tmp_path: Path
) -> None:
    with open_state(hostile_state) as state:
        tensors = state.read_all(skip_bad=True)
    tensors[BIDI] = tensors[BIDI] + 1
    other = tmp_path / "other.csv"
    save_state(other, tensors)
    result = csv_state("diff", hostile_state, other)
    assert result.returncode == 1
    assert_safe(result.stdout + result.stderr)
    assert "bias\\u202eevil" in result.stdout and escaped(LONG) in result.stdout
    as_json = csv_state("diff", hostile_state, other, "--json")
    assert_safe(as_json.stdout)
    names = {t["name"] for t in json.loads(as_json.stdout)["tensors"]}
    assert set(NAMES) <= names


def test_convert_keeps_the_real_names(
    csv_state: CliRunner, hostile_state: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy.npz"
    result = csv_state("convert", hostile_state, out, "--skip-bad")
    assert result.returncode == 0, result.stderr
    assert_safe(result.stdout + result.stderr)
    assert "'bad\\u202erow'" in result.stderr  # the skipped row, named safely
    assert list(load_state(out)) == NAMES


def test_an_error_message_escapes_the_path(csv_state: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "not\x1b[31ma state.csv"
    path.write_text("just some words\n")
    result = csv_state("info", path)
    assert result.returncode == 2
    assert_safe(result.stderr)
    assert "not\\x1b[31ma state.csv" in result.stderr


def test_very_long_names_round_trip_through_the_csv_writer(tmp_path: Path) -> None:
    names = ["n/" + "y" * 10_000, "é" * 5_000]  # long, but under the reader's 64 KiB
    path = tmp_path / "long.csv"
    save_state(path, {name: np.zeros(1) for name in names})
    assert list(load_state(path)) == names
