"""What a refused text file is said to be: one line, what it holds and what to do."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer.core.csv.csvstate import open_csv_state
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.layouts.describe import HEAD_BYTES, describe_text

TIMES = "\u00d7"


def savetxt(array: np.ndarray, **options: str) -> bytes:
    out = io.BytesIO()
    np.savetxt(out, array, **options)  # type: ignore[arg-type]
    return out.getvalue()


CASES = {
    "matrix": (
        savetxt(np.ones((8, 16)), delimiter=","),
        f"an 8{TIMES}16 numeric matrix with no names (comma-separated): open its folder, "
        "or give a model's shapes with --like",
    ),
    "matrix_spaces": (savetxt(np.ones((3, 4))), f"a 3{TIMES}4 numeric matrix with no names"),
    "matrix_tabs": (savetxt(np.ones((11, 2)), delimiter="\t"), f"an 11{TIMES}2 numeric matrix"),
    "ragged": (
        b"\n".join([b",".join([b"1.5"] * 16)] * 3 + [b"2"]),
        "ragged numeric rows (lengths 16, 16, 16, 1) with no names: "
        "give a model's shapes with --like",
    ),
    "many_ragged": (
        b"\n".join([b",".join([b"1"] * 16)] * 9 + [b"2"]),
        "ragged numeric rows (lengths 16, 16, \u2026, 1)",
    ),
    "column": (savetxt(np.arange(5.0)), "5 numbers, one per line, with no names"),
    "header_matrix": (
        b"a,b,c\n1,2,3\n4,5,6\n",
        f"a 2{TIMES}3 numeric matrix with a header and no tensor names (comma-separated)",
    ),
    "pandas": (
        b",0,1,2\n0,1.5,2,3\n1,4,5,6\n",
        f"a 2{TIMES}3 numeric matrix with a header row and an index column (pandas)",
    ),
    "long": (
        b"name,index,value\nw,0,1.5\nw,1,2\nb,0,3\n",
        "a long-format table (name, index, value), 2 names: open it with --layout long",
    ),
    "long_bad_index": (
        b"name,index,value\nw,0,1.5\nw,2,2\n",
        "a long-format table (name, index, value) whose index column does not count "
        "0, 1, 2, \u2026 within each name (line 3: 'w' has index 2, expected 1)",
    ),
    "named_rows": (
        b"w,1,2,3\nb,4,5\n",
        "rows of a name and numbers (comma-separated; 3, 2 numbers) with no shapes or dtypes",
    ),
    "tsv_text": (b"a\tb\tc\nx\ty\tz\n", "tab-separated text with header a, b, c (3 columns)"),
    "semicolon_recipe": (
        b"tensor_name;tensor_data;tensor_metadata\nw;1;{}\n",
        "semicolon-separated text with header tensor_name, tensor_data, tensor_metadata "
        "(3 columns): the recipe's columns must be separated by commas",
    ),
    "json": (json.dumps({"a": 1, "b": 2}).encode(), "JSON, not CSV (an object with keys a, b)"),
    "json_numbers": (
        b"[[1.0, 2.0], [3.0, 4.0]]",
        f"JSON, not CSV: a 2{TIMES}2 array of numbers",
    ),
    "json_lines": (b'{"a": 1}\n{"a": 2}\n', "JSON Lines (one JSON object per line), not CSV"),
    "html": (b"<!DOCTYPE html>\n<html><body>x</body></html>", "HTML (a web page"),
    "xml": (b'<?xml version="1.0"?><a/>', "XML, not CSV"),
    "empty": (b"", "empty file"),
    "blank": (b"\xef\xbb\xbf \n\r\n", "empty file"),
    "binary": (b"\x00\x01\x02binary\xff" * 10, "binary file, not CSV text"),
    "latin1_noise": (bytes(range(128, 256)) * 8, "binary file, not CSV text"),
    "npy": (b"\x93NUMPY\x01\x00", "a NumPy .npy array (binary), not CSV text"),
    "zip": (b"PK\x03\x04rest", "a ZIP archive (binary)"),
    "pickle": (b"\x80\x04\x95", "a Python pickle (binary, never loaded"),
    "utf16": ("a,b\n1,2\n".encode("utf-16"), "UTF-16 text"),
    "plain": (b"hello\n", "plain text, not CSV (one line: 'hello')"),
}


@pytest.mark.parametrize("case_id", list(CASES))
def test_describe_text(case_id: str) -> None:
    content, expected = CASES[case_id]
    description = describe_text("f.csv", content)
    assert description.startswith(expected)
    assert "\n" not in description


def test_a_long_matrix_is_described_from_its_head() -> None:
    content = savetxt(np.random.default_rng(1).random((5000, 16)), delimiter=",")
    assert len(content) > HEAD_BYTES
    description = describe_text("f.csv", content)
    assert description.startswith("a 16-column numeric matrix (")
    assert "rows in the first 64 KB) with no names (comma-separated)" in description


def test_a_numeric_matrix_is_never_called_unreadable() -> None:
    for content in (savetxt(np.ones((4, 4)), delimiter=","), b"1 2\n3\n"):
        description = describe_text("f.csv", content)
        assert "numeric" in description
        assert "--like" in description
        assert "not" not in description.split(":")[0]


@pytest.mark.parametrize("case_id", ["matrix", "ragged", "json", "html", "binary", "empty"])
def test_the_csv_reader_refuses_with_the_description(tmp_path: Path, case_id: str) -> None:
    content, expected = CASES[case_id]
    path = tmp_path / "weights.csv"
    path.write_bytes(content)
    with pytest.raises(NotAStateError) as caught:
        open_csv_state(path)
    assert str(caught.value).startswith(f"{path}: {expected}")
    assert "\n" not in str(caught.value)
