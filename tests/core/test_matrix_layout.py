"""The matrix layout: files written by np.savetxt and pandas, read back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csv_state_viewer.core.api import open_state, save_state
from csv_state_viewer.core.errors import NotAStateError, RowError, StateWriteError
from csv_state_viewer.core.formats.matrix import open_matrix_state, parse_scale
from csv_state_viewer.core.layouts import matrixtext
from csv_state_viewer.core.layouts.matrixtext import float32_faithful, sniff_matrix
from csv_state_viewer.core.layouts.values import DECIDED_KEY, INTEGERS
from csv_state_viewer.core.registry import format_for_reading

RNG = np.random.default_rng(7)
F32 = (RNG.standard_normal((5, 4)) * 0.05).astype(np.float32)
F64 = RNG.standard_normal((3, 6))


def read_one(path: Path, **options: object) -> tuple[str, np.ndarray, dict[str, object]]:
    assert format_for_reading(str(path)).name == "matrix"
    with open_matrix_state(path, **options) as state:  # type: ignore[arg-type]
        (entry,) = state.entries
        assert not state.errors, state.errors
        return entry.name, state.read(entry), entry.metadata


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize(
    ("filename", "options"),
    [
        ("default.txt", {}),
        ("comma.csv", {"delimiter": ","}),
        ("tab.tsv", {"delimiter": "\t"}),
        ("semicolon.dat", {"delimiter": ";"}),
        ("shortest.csv", {"delimiter": ",", "fmt": "%r"}),
        ("nine.csv", {"delimiter": ",", "fmt": "%.9g"}),
        ("header.csv", {"delimiter": ",", "header": "weights of dense\nsecond line"}),
    ],
)
def test_float32_from_savetxt_is_bit_exact(
    tmp_path: Path, filename: str, options: dict[str, str]
) -> None:
    path = tmp_path / filename
    if options.get("fmt") == "%r":
        path.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in F32) + "\n")
    else:
        np.savetxt(path, F32, **options)  # type: ignore[call-overload]
    name, value, metadata = read_one(path)
    assert name == path.stem
    assert same_bits(value, F32)
    assert str(metadata[DECIDED_KEY]).startswith("float32")


def test_float64_values_stay_float64(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    np.savetxt(path, F64, delimiter=",")
    assert same_bits(read_one(path)[1], F64)
    path.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in F64) + "\n")
    assert same_bits(read_one(path)[1], F64)


def test_six_decimals_and_integers(tmp_path: Path) -> None:
    np.savetxt(tmp_path / "six.csv", F32, delimiter=",", fmt="%.6f")
    _, value, _ = read_one(tmp_path / "six.csv")
    assert value.dtype == np.float32
    assert np.array_equal(value, np.loadtxt(tmp_path / "six.csv", delimiter=",").astype("f4"))
    ints = np.arange(-6, 6).reshape(3, 4) * 1000
    np.savetxt(tmp_path / "ints.txt", ints, fmt="%d")
    _, value, metadata = read_one(tmp_path / "ints.txt")
    assert same_bits(value, ints.astype(np.int64))
    assert metadata[DECIDED_KEY] == INTEGERS


def test_one_dimensional_and_single_value(tmp_path: Path) -> None:
    np.savetxt(tmp_path / "bias.txt", F32[0])
    assert same_bits(read_one(tmp_path / "bias.txt")[1], F32[0])
    np.savetxt(tmp_path / "row.csv", F32[:1], delimiter=",")
    assert read_one(tmp_path / "row.csv")[1].shape == (4,)
    np.savetxt(tmp_path / "one.csv", [2.5])
    assert read_one(tmp_path / "one.csv")[1].shape == ()


@pytest.mark.parametrize("comment", ["(4, 1, 3, 3)", "shape: [4, 1, 3, 3]"])
def test_shape_comment_gives_the_shape(tmp_path: Path, comment: str) -> None:
    kernel = (RNG.standard_normal((4, 1, 3, 3)) * 0.1).astype(np.float32)
    path = tmp_path / "conv_kernel.csv"
    np.savetxt(path, kernel.reshape(4, 9), delimiter=",", header=comment)
    assert same_bits(read_one(path)[1], kernel)


def test_shape_comment_that_disagrees_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    np.savetxt(path, F32, delimiter=",", header="shape: [3, 3]")
    with open_state(path) as state:
        (problem,) = state.errors
        assert problem.line == 1
        assert "[3, 3]" in problem.message and "20 values" in problem.message


@pytest.mark.parametrize(
    "options", [{}, {"index": False}, {"index": False, "header": False}], ids=str
)
def test_pandas_to_csv(tmp_path: Path, options: dict[str, bool]) -> None:
    path = tmp_path / "frame.csv"
    pd.DataFrame(F32).to_csv(path, **options)  # type: ignore[call-overload]
    assert same_bits(read_one(path)[1], F32)
    pd.DataFrame(F64).to_csv(path, **options)  # type: ignore[call-overload]
    assert same_bits(read_one(path)[1], F64)


def test_nan_inf_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("# made by hand\n1.5,nan,-inf\n\n0.25,inf,-0.0\n")
    _, value, _ = read_one(path)
    assert value.dtype == np.float32 and value.shape == (2, 3)
    assert np.isnan(value[0, 1]) and value[0, 2] == -np.inf and np.signbit(value[1, 2])


def test_bad_value_is_a_row_problem_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("1.5,2.5,3.5\n4.5,oops,6.5\n7.5,8.5,9.5\n")
    with open_state(path) as state:
        assert state.format_name == "matrix"
        with pytest.raises(RowError) as caught:
            state.read("bad")
    assert str(caught.value).startswith(f"{path}:2: ")
    assert "column 2: 'oops' is not a number" in str(caught.value)


def test_bad_value_deep_in_a_large_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matrixtext, "BLOCK_BYTES", 4096)
    path = tmp_path / "big.csv"
    rows = [",".join(["0.5"] * 8)] * 3000
    rows[2500] = ",".join(["0.5"] * 7)
    path.write_text("\n".join(rows) + "\n")
    with open_state(path) as state:
        (problem,) = state.errors
    assert problem.line == 2501 and "7 values, not 8" in problem.message


def test_fixed_point_scale(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    np.savetxt(path, np.array([[16, -8], [3, 1]]), fmt="%d", delimiter=",")
    _, value, metadata = read_one(path, scale="2^-4")
    assert same_bits(value, np.array([[1, -0.5], [0.1875, 0.0625]], dtype=np.float32))
    assert metadata["fixed_point"] is True and metadata["scale"] == 0.0625
    _, value, _ = read_one(path, scale=0.1)
    assert value.dtype == np.float64 and value[0, 0] == 16 * 0.1


@pytest.mark.parametrize(
    ("text", "value"), [("2^-4", 0.0625), ("2**-4", 0.0625), ("1/16", 0.0625), ("1e-3", 1e-3)]
)
def test_parse_scale(text: str, value: float) -> None:
    assert parse_scale(text) == value


@pytest.mark.parametrize("text", ["", "zero", "0", "1/0", "nan"])
def test_parse_scale_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="scale"):
        parse_scale(text)


def test_sniff_leaves_other_csv_layouts_alone(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.csv"
    save_state(recipe, {"a": F32, "b": F64})
    assert format_for_reading(str(recipe)).name == "csv"
    assert not sniff_matrix(b"name,index,value\ndense/kernel,0,0.5\ndense/kernel,1,0.25\n")
    assert not sniff_matrix(b"dense/kernel,0,0.5\ndense/kernel,1,0.25\n")
    assert not sniff_matrix(b'name,shape,values\nk,"[2]","0.5,0.25"\n')
    assert not sniff_matrix(b"1,2,3\n4,5\n")
    assert not sniff_matrix(b"PK\x03\x04\0\0")
    assert sniff_matrix(b"# (2, 2)\n1 2\n3 4\n")


def test_not_a_matrix_when_forced(tmp_path: Path) -> None:
    path = tmp_path / "words.txt"
    path.write_text("hello,world\n")
    with pytest.raises(NotAStateError, match="not a numeric matrix"):
        open_state(path, layout="matrix")


def test_float32_decision() -> None:
    assert float32_faithful(np.array([0.1, 0.100000001, 1e-30, 3.0, np.nan]))
    assert not float32_faithful(np.array([123456789.0]))  # the float32 is 123456792
    assert not float32_faithful(np.array([0.1234567891]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_folder_round_trip_is_bit_exact(tmp_path: Path, dtype: type) -> None:
    shapes = {"scalar": (), "seq/dense/bias": (5,), "seq/dense/kernel": (3, 4)}
    shapes |= {"conv/kernel": (2, 3, 4), "conv2/kernel": (3, 3, 2, 4)}
    tensors = {
        name: (RNG.standard_normal(shape) * 100).astype(dtype) for name, shape in shapes.items()
    }
    tensors["scalar"] = np.asarray(tensors["scalar"])
    folder = tmp_path / "out"
    written = save_state(str(folder) + "/", tensors, format_name="matrix")
    assert written == len(tensors)
    assert (folder / "seq" / "dense" / "kernel.csv").is_file()
    for name, array in tensors.items():
        path = folder / (name + ".csv")
        back = read_one(path)[1]
        assert same_bits(back, array), name
        assert np.loadtxt(path, delimiter=",").size == array.size


def test_single_file_destination_and_refusals(tmp_path: Path) -> None:
    single = tmp_path / "w.txt"
    assert save_state(single, {"w": F32}, format_name="matrix") == 1
    assert same_bits(read_one(single)[1], F32)
    with pytest.raises(StateWriteError, match="one tensor"):
        save_state(tmp_path / "two.txt", {"a": F32, "b": F32}, format_name="matrix")
    with pytest.raises(StateWriteError, match="inside the folder"):
        save_state(str(tmp_path / "o") + "/", {"../x": F32}, format_name="matrix")
    (tmp_path / "plain").write_bytes(b"x")
    with pytest.raises(StateWriteError, match="plain: is a file, not a folder"):
        save_state(str(tmp_path / "plain" / "such") + "/", {"a": F32}, format_name="matrix")
    assert not (tmp_path / "o").exists()  # refused names create no folder
    assert save_state(str(tmp_path / "no" / "such") + "/", {"a": F32}, format_name="matrix") == 1
    assert same_bits(read_one(tmp_path / "no" / "such" / "a.csv")[1], F32)


def test_fixed_point_write_round_trip(tmp_path: Path) -> None:
    values = np.array([[1.0, -0.5], [0.1875, 0.0625]], dtype=np.float32)
    path = tmp_path / "q.csv"
    save_state(path, {"q": values}, format_name="matrix", options={"scale": "2^-4"})
    assert path.read_text().splitlines()[1:] == ["16,-8", "3,1"]
    assert same_bits(read_one(path)[1], values)
    assert json.dumps(read_one(path)[2]["scale"]) == "0.0625"


def test_one_dtype_rule_for_every_layout() -> None:
    """float32 weights written exactly, shortest or with 9 digits stay float32; more is float64."""
    from csv_state_viewer.core.layouts.values import FLOAT32_DIGITS, FLOAT64, decide_dtype

    weights = np.random.default_rng(5).standard_normal(1000).astype(np.float32)
    shortest = np.array([float(np.format_float_positional(w, unique=True)) for w in weights])
    values, why = decide_dtype(shortest, integers=False)
    assert values.dtype == np.float32 and why == FLOAT32_DIGITS
    assert values.tobytes() == weights.tobytes()
    nine = np.array([float(f"{w:.9g}") for w in weights.astype(np.float64)])
    assert decide_dtype(nine, integers=False)[0].tobytes() == weights.tobytes()
    doubles = np.random.default_rng(6).standard_normal(1000)
    values, why = decide_dtype(doubles, integers=False)
    assert values.dtype == np.float64 and why == FLOAT64
