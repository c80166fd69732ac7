"""Near-misses of the recipe's CSV, each written the way a tool or a user writes it, read exactly.

Every case writes the file with ``csv.writer`` as the recipe does, changing only the one
thing that tool or user does differently, and checks the values to the bit.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Callable
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from csv_state_viewer import open_state
from csv_state_viewer.core.dtypes import DtypeError, normalize_dtype_name, resolve_dtype

RNG = np.random.default_rng(20240611)
MATRIX = RNG.standard_normal((3, 4)).astype(np.float32)


def write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """The recipe's writer: header, then csv.writer rows (quoting as it decides)."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["tensor_name", "tensor_data", "tensor_metadata"])
        writer.writerows(rows)
    return path


def text_of(array: np.ndarray) -> str:
    return ",".join(map(str, array.flatten()))


def read_one(path: Path) -> np.ndarray:
    with open_state(path) as state:
        assert [p.message for p in state.errors] == []
        assert state.validate() == []
        return state.read(state.entries[0])


def assert_exact(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()


# ------------------------------------------------------------------ shape as a string


@pytest.mark.parametrize(
    ("shape_text", "array"),
    [
        ("(3, 4)", MATRIX),  # json.dumps({"shape": str(w.shape)})
        ("[3, 4]", MATRIX),  # str(list(w.shape))
        ("3x4", MATRIX),
        ("3 x 4", MATRIX),
        ("(12,)", MATRIX.reshape(12)),
        ("()", np.float32(2.5).reshape(())),
        ("[]", np.float32(-1.0).reshape(())),
        ("torch.Size([3, 4])", MATRIX),  # str(t.shape)
        ("TensorShape([3, 4])", MATRIX),  # repr(tf_variable.shape)
    ],
)
def test_shape_written_as_a_string(tmp_path: Path, shape_text: str, array: np.ndarray) -> None:
    meta = json.dumps({"shape": shape_text, "dtype": "float32"})
    path = write(tmp_path / "s.csv", [("w", text_of(array), meta)])
    assert_exact(read_one(path), array)


@pytest.mark.parametrize("shape_text", ["(3, -4)", "3x", "(a, b)", "(3, None)", ""])
def test_bad_shape_strings_are_row_problems(tmp_path: Path, shape_text: str) -> None:
    meta = json.dumps({"shape": shape_text, "dtype": "float32"})
    path = write(tmp_path / "s.csv", [("w", text_of(MATRIX), meta)])
    with open_state(path) as state:
        assert len(state.errors) == 1
        assert "shape" in state.errors[0].message


# ------------------------------------------------------------------ dtype spellings

SPELLINGS = {
    "<dtype: 'float32'>": np.float32,  # str(tf_variable.dtype)
    "<dtype: 'float32_ref'>": np.float32,  # a TensorFlow 1 reference variable
    "float32_ref": np.float32,
    "tf.float32": np.float32,  # repr(tf.float32)
    "tf.half": np.float16,
    "torch.float32": np.float32,  # str(t.dtype)
    "torch.half": np.float16,
    "torch.float": np.float32,  # torch's float is 32-bit, NumPy's 'float' is not
    "torch.double": np.float64,
    "torch.long": np.int64,
    "torch.int": np.int32,
    "torch.bfloat16": ml_dtypes.bfloat16,
    "np.float32": np.float32,
    "numpy.float32": np.float32,
    "<class 'numpy.float32'>": np.float32,  # str(np.float32)
    "<class 'numpy.int16'>": np.int16,
    "dtype('float32')": np.float32,  # repr(w.dtype)
    "dtype('>f4')": np.dtype(">f4"),
    "float64": np.float64,
    "float": np.float64,  # NumPy's (and Python's) float stays float64
}


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_dtype_spellings(tmp_path: Path, spelling: str) -> None:
    want = (RNG.standard_normal(6) * 100).astype(SPELLINGS[spelling])
    meta = json.dumps({"shape": [6], "dtype": spelling})
    path = write(tmp_path / "d.csv", [("w", text_of(want), meta)])
    assert_exact(read_one(path), want)
    assert resolve_dtype(spelling) == np.dtype(SPELLINGS[spelling])


@pytest.mark.parametrize(
    "spelling",
    [
        "tf.string",
        "<dtype: 'string'>",
        "<class 'numpy.str_'>",
        "<class 'str'>",
        "np.object_",
        "dtype('O')",
        "dtype('V8')",
        "torch.object",
    ],
)
def test_non_numeric_spellings_stay_refused(spelling: str) -> None:
    with pytest.raises(DtypeError):
        resolve_dtype(spelling)


def test_normalize_dtype_name_keeps_unknown_names_for_resolve_to_judge() -> None:
    assert normalize_dtype_name("  np.float32 ") == "float32"
    assert normalize_dtype_name("dtype('>f4')") == ">f4"
    assert normalize_dtype_name("mystery") == "mystery"
    with pytest.raises(DtypeError, match=r"unknown dtype 'torch\.mystery'"):
        resolve_dtype("torch.mystery")


# --------------------------------------------------------- metadata as a Python literal


@pytest.mark.parametrize(
    "meta_of",
    [
        lambda w: str({"shape": w.shape, "dtype": str(w.dtype)}),  # str() instead of json.dumps
        lambda w: str({"shape": w.shape, "dtype": w.dtype}),  # ... and the dtype object
        lambda w: repr({"shape": list(w.shape), "dtype": "float32", "role": None}),
        lambda w: "{'shape': torch.Size([3, 4]), 'dtype': torch.float32}",  # a torch user's str()
        lambda w: "{'shape': TensorShape([3, 4]), 'dtype': tf.float32}",  # a TensorFlow user's
        lambda w: "{'shape': (3, 4), 'dtype': <dtype: 'float32'>}",
    ],
    ids=["str_dict", "dtype_object", "repr_with_none", "torch", "tensorflow", "tf_str_dtype"],
)
def test_metadata_as_a_python_dict(tmp_path: Path, meta_of: Callable[[np.ndarray], str]) -> None:
    path = write(tmp_path / "m.csv", [("w", text_of(MATRIX), meta_of(MATRIX))])
    assert_exact(read_one(path), MATRIX)


@pytest.mark.parametrize(
    "meta",
    [
        "{'shape': (3, 4), 'dtype': __import__('os').system('true')}",
        "{'shape': (3, 4), 'dtype': 'float32', 'x': {1, 2}}",
        "{'shape': (3, 4), 'dtype': 'float32', 'x': b'raw'}",
        "{'shape': (3, 4), 'dtype': 'float32', 'x': " + "(" * 200 + ")" * 200 + "}",
        "{'shape': (3, 4), 'dtype': 'float32', 'x': '" + "a" * 70_000 + "'}",
        "{1: 2}",
    ],
    ids=["call", "set", "bytes", "deep", "huge", "int_key"],
)
def test_python_dicts_that_are_not_plain_literals_are_refused(tmp_path: Path, meta: str) -> None:
    path = write(tmp_path / "m.csv", [("w", text_of(MATRIX), meta)])
    with open_state(path) as state:
        assert len(state.errors) == 1
        assert "metadata is not valid JSON" in state.errors[0].message


def test_shape_and_dtype_spellings_in_base64_rows(tmp_path: Path) -> None:
    data = base64.b64encode(MATRIX.tobytes()).decode("ascii")
    meta = str({"shape": str(MATRIX.shape), "dtype": "<dtype: 'float32'>"})
    path = write(tmp_path / "b.csv", [("w", data, meta)])
    assert_exact(read_one(path), MATRIX)


# ------------------------------------------------------- text data with other separators

BIG = RNG.standard_normal(700_000).astype(np.float32)  # several chunks of either text path
SMALL_INTS = RNG.integers(-(2**31), 2**31 - 1, size=(5, 7), dtype=np.int64)


def joined(separator: str) -> Callable[[np.ndarray], str]:
    return lambda w: separator.join(map(str, w.flatten()))


TEXT_WRITERS: dict[str, Callable[[np.ndarray], str]] = {
    "semicolons": joined(";"),
    "semicolon_space": joined("; "),
    "spaces": joined(" "),  # " ".join(...)
    "tabs": joined("\t"),
    "newlines": joined("\n"),  # one value per line inside the quoted field
    "crlf": joined("\r\n"),
    "comma_space": joined(", "),  # ", ".join(...)
    "list": lambda w: str(w.flatten().tolist()),  # str(list)
    "nested_list": lambda w: str(w.tolist()),  # str(arr.tolist()), nested by shape
    "rows_by_line": lambda w: "\n".join(
        ",".join(map(str, row)) for row in w.reshape(w.shape[0], -1)
    ),  # np.savetxt-like rows
    "numpy_str": lambda w: np.array2string(
        w, separator=" ", threshold=w.size + 1, floatmode="unique", max_line_width=75
    ),  # str(arr) without the '...' summary
}


@pytest.mark.parametrize("writer", list(TEXT_WRITERS))
@pytest.mark.parametrize(
    "array",
    [MATRIX, SMALL_INTS, MATRIX.astype(np.float16), np.array([1.5, np.nan, -np.inf, -0.0])],
    ids=["float32", "int64", "float16", "special"],
)
def test_text_data_with_other_separators(tmp_path: Path, writer: str, array: np.ndarray) -> None:
    if array.ndim == 1 and writer == "rows_by_line":
        array = array.reshape(2, 2)
    meta = json.dumps({"shape": list(array.shape), "dtype": str(array.dtype)})
    path = write(tmp_path / "t.csv", [("w", TEXT_WRITERS[writer](array), meta)])
    got = read_one(path)
    assert got.tobytes() == array.tobytes()


@pytest.mark.parametrize("writer", ["spaces", "newlines", "nested_list", "semicolons"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["native", "general"])
def test_big_text_data_with_other_separators(tmp_path: Path, writer: str, dtype: type) -> None:
    array = BIG.astype(dtype).reshape(700, 1000)
    meta = json.dumps({"shape": list(array.shape), "dtype": str(array.dtype)})
    path = write(tmp_path / "big.csv", [("w", TEXT_WRITERS[writer](array), meta)])
    assert_exact(read_one(path), array)


@pytest.mark.parametrize(
    ("data", "count", "words"),
    [
        ("[1.0, 2.0", 2, "starts with '[' but does not end with ']'"),
        ("1;;2", 2, "empty value at element 2"),
        ("1,5;2,5", 2, "mixes ';' and ','"),
        ("[1.0, 2.0, 3.0]", 2, "3 values"),
        ("1 2 3", 2, "3 values"),
    ],
)
def test_other_separators_keep_exact_errors(
    tmp_path: Path, data: str, count: int, words: str
) -> None:
    meta = json.dumps({"shape": [count], "dtype": "float32"})
    path = write(tmp_path / "e.csv", [("w", data, meta)])
    with open_state(path) as state:
        problems = state.validate()
        assert len(problems) == 1
        assert words in problems[0].message


# ----------------------------------------------------------- base64 broken into lines


def encodebytes(array: np.ndarray) -> str:
    return base64.encodebytes(array.tobytes()).decode("ascii")  # 76 per line, final "\n"


def wrap(text: str, width: int) -> str:
    """Lines of ``width`` characters (``base64 -w 64``, PEM)."""
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


BASE64_WRITERS: dict[str, Callable[[np.ndarray], str]] = {
    "encodebytes": encodebytes,
    "encodebytes_stripped": lambda w: encodebytes(w).strip(),
    "crlf": lambda w: encodebytes(w).replace("\n", "\r\n"),
    "crlf_stripped": lambda w: encodebytes(w).strip().replace("\n", "\r\n"),
    "pem_64": lambda w: wrap(base64.b64encode(w.tobytes()).decode("ascii"), 64),
}


@pytest.mark.parametrize("writer", list(BASE64_WRITERS))
@pytest.mark.parametrize("declared", [True, False], ids=["declared", "detected"])
@pytest.mark.parametrize(
    "array",
    [
        MATRIX,
        np.arange(57 * 4, dtype=np.uint8),  # whole lines only: no short last line
        np.arange(10, dtype=np.int16),  # one short line
        BIG.astype(np.float64),  # several decoding chunks
    ],
    ids=["matrix", "whole_lines", "one_line", "big"],
)
def test_base64_broken_into_lines(
    tmp_path: Path, writer: str, declared: bool, array: np.ndarray
) -> None:
    meta: dict[str, object] = {"shape": list(array.shape), "dtype": str(array.dtype)}
    if declared:
        meta["encoding"] = "base64"
    path = write(tmp_path / "b.csv", [("w", BASE64_WRITERS[writer](array), json.dumps(meta))])
    with open_state(path) as state:
        assert state.entries[0].encoding == "base64"
    assert_exact(read_one(path), array)


def test_wrapped_base64_of_the_wrong_size_is_refused_at_open(tmp_path: Path) -> None:
    data = encodebytes(np.arange(40, dtype=np.float32))
    meta = json.dumps({"shape": [41], "dtype": "float32", "encoding": "base64"})
    path = write(tmp_path / "b.csv", [("w", data, meta)])
    with open_state(path) as state:
        assert "needs 164 bytes" in state.errors[0].message


def test_bad_character_in_wrapped_base64(tmp_path: Path) -> None:
    data = encodebytes(np.arange(40, dtype=np.float32))
    data = data[:100] + "*" + data[101:]
    meta = json.dumps({"shape": [40], "dtype": "float32", "encoding": "base64"})
    path = write(tmp_path / "b.csv", [("w", data, meta)])
    with open_state(path) as state:
        problems = state.validate()
        assert "bad base64" in problems[0].message
