"""Long tables (one value per row) and rows tables (one tensor per row), written the way
people write them: pandas ``to_csv`` and the standard ``csv.writer``, from real arrays."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csv_state_viewer import open_state, save_state
from csv_state_viewer.core.registry import format_for_reading, formats_for_reading, write_choices

RNG = np.random.default_rng(7)
KERNEL = (RNG.standard_normal((4, 3)) * 0.3).astype(np.float32)  # a small Dense layer
BIAS = (RNG.standard_normal(3) * 0.01).astype(np.float32)
DENSE = {"dense/kernel": KERNEL, "dense/bias": BIAS}


def same_bits(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def long_frame(tensors: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = [
        (name, index, value)
        for name, array in tensors.items()
        for index, value in enumerate(array.reshape(-1).tolist())
    ]
    return pd.DataFrame(rows, columns=["name", "index", "value"])


def write_rows(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_all(path: Path) -> dict[str, np.ndarray]:
    with open_state(path) as state:
        assert state.errors == []
        return state.read_all()


# ------------------------------------------------------------------------------ long


@pytest.mark.parametrize("with_index", [False, True])
def test_long_table_from_pandas(tmp_path: Path, with_index: bool) -> None:
    path = tmp_path / "weights.csv"
    long_frame(DENSE).to_csv(path, index=with_index)  # index=True adds an unnamed column
    assert format_for_reading(str(path)).name == "long"
    with open_state(path) as state:
        assert state.names() == ["dense/kernel", "dense/bias"]
        assert state.entry("dense/bias").shape == (3,)
        assert state.entry("dense/kernel").dtype == np.float32
        assert state.entry("dense/kernel").metadata["dtype_decided"].startswith("float32")
    loaded = read_all(path)
    same_bits(loaded["dense/kernel"], KERNEL.reshape(-1))
    same_bits(loaded["dense/bias"], BIAS)


def test_long_table_quoted_multi_index_shuffled(tmp_path: Path) -> None:
    rows: list[list[object]] = []
    for index in np.ndindex(KERNEL.shape):
        rows.append(["dense", "kernel", str(index), repr(float(KERNEL[index]))])
    for (i,) in np.ndindex(BIAS.shape):
        rows.append(["dense", "bias", f"{i}", str(BIAS[i])])
    order = RNG.permutation(len(rows))
    path = write_rows(
        tmp_path / "t.csv", ["Layer", "Parameter", "Index", "Value"], [rows[i] for i in order]
    )
    loaded = read_all(path)
    assert next(iter(loaded)) == "/".join(map(str, rows[order[0]][:2]))  # first appearance
    same_bits(loaded["dense/kernel"], KERNEL)
    same_bits(loaded["dense/bias"], BIAS)


def test_long_table_i_j_index_spelling(tmp_path: Path) -> None:
    rows = [["k", f"{i},{j}", str(KERNEL[i, j])] for i, j in np.ndindex(KERNEL.shape)]
    path = write_rows(tmp_path / "t.csv", ["tensor", "idx", "val"], rows[::-1])
    same_bits(read_all(path)["k"], KERNEL)


@pytest.mark.parametrize(
    "axes", [["row", "col"], ["i", "j"], ["dim0", "dim1"], ["d_0", "d_1"]], ids=str
)
def test_long_table_separate_index_columns(tmp_path: Path, axes: list[str]) -> None:
    frame = pd.DataFrame(
        [("dense/kernel", i, j, KERNEL[i, j]) for i, j in np.ndindex(KERNEL.shape)]
        + [("dense/bias", i, None, BIAS[i]) for i in range(3)],
        columns=["name", *axes, "value"],
    )
    path = tmp_path / "t.csv"
    frame.sample(frac=1, random_state=1).to_csv(path, index=False)  # col with NaN: "3.0"
    loaded = read_all(path)
    same_bits(loaded["dense/kernel"], KERNEL)
    same_bits(loaded["dense/bias"], BIAS)


def test_long_table_three_axes(tmp_path: Path) -> None:
    cube = np.arange(24, dtype=np.int64).reshape(2, 3, 4) - 5
    rows = [["c", i, j, k, cube[i, j, k]] for i, j, k in np.ndindex(cube.shape)]
    path = write_rows(tmp_path / "t.csv", ["name", "i", "j", "k", "value"], rows)
    loaded = read_all(path)["c"]
    same_bits(loaded, cube)


@pytest.mark.parametrize(
    ("spelling", "dtype"),
    [
        ("float32", np.float32),
        ("torch.float32", np.float32),
        ("tf.float32", np.float32),
        ("<dtype: 'float32'>", np.float32),
        ("torch.float", np.float32),
        ("float64", np.float64),
        ("torch.int64", np.int64),
    ],
)
def test_long_table_dtype_column(tmp_path: Path, spelling: str, dtype: type) -> None:
    values = np.array([1, 2, 3, 0], dtype=dtype)
    rows = [["w", i, str(v), spelling] for i, v in enumerate(values.tolist())]
    path = write_rows(tmp_path / "t.csv", ["weight", "position", "data", "dtype"], rows)
    with open_state(path) as state:
        assert state.entry("w").dtype == np.dtype(dtype)
        same_bits(state.read("w"), values)


def test_long_table_decides_int64_and_float64(tmp_path: Path) -> None:
    wide = np.array([0.1, 1 / 3, 2.5])  # 0.1 is no float32
    rows = [["ints", i, v] for i, v in enumerate([3, -7, 0])]
    rows += [["wide", i, repr(v)] for i, v in enumerate(wide.tolist())]
    loaded = read_all(write_rows(tmp_path / "t.csv", ["name", "index", "value"], rows))
    same_bits(loaded["ints"], np.array([3, -7, 0], dtype=np.int64))
    same_bits(loaded["wide"], wide)


def test_long_table_missing_and_duplicated_index(tmp_path: Path) -> None:
    rows = [["a", 0, 1.5], ["a", 2, 2.5], ["b", 0, 1.0], ["b", 1, 2.0], ["b", 1, 3.0]]
    rows += [["c", 0, 4.0]]
    path = write_rows(tmp_path / "t.csv", ["name", "index", "value"], rows)
    with open_state(path) as state:
        problems = {p.name: p for p in state.errors}
        assert set(problems) == {"a", "b"}
        assert str(problems["a"]).startswith(f"{path}:2: 'a': index (1,) is missing")
        assert str(problems["b"]).startswith(f"{path}:6: 'b': index (1,) given twice")
        assert "line 5" in problems["b"].message
        assert state.names() == ["c"]


def test_long_table_bad_value_and_bad_index(tmp_path: Path) -> None:
    rows = [["a", 0, "0.5"], ["a", 1, "oops"], ["b", "x", "1"], ["c", 0, "1"]]
    path = write_rows(tmp_path / "t.csv", ["name", "index", "value"], rows)
    with open_state(path) as state:
        problems = {p.name: str(p) for p in state.errors}
        assert problems["a"] == f"{path}:3: 'a': bad value 'oops'"
        assert problems["b"].startswith(f"{path}:4: 'b': bad index")
        assert state.names() == ["c"]


def test_long_table_bad_value_under_a_declared_dtype_is_found_on_read(tmp_path: Path) -> None:
    rows = [["a", 0, "0.5", "float32"], ["a", 1, "zz", ""]]
    path = write_rows(tmp_path / "t.csv", ["name", "index", "value", "dtype"], rows)
    with open_state(path) as state:
        assert state.errors == []
        problems = state.validate()
    assert len(problems) == 1
    assert str(problems[0]) == f"{path}:2: 'a': bad value 'zz' on line 3"


def test_long_table_with_short_rows_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("name,index,value\na,0,1.5\na,1\nb,0,2\n")
    with open_state(path) as state:
        assert [str(p) for p in state.errors] == [f"{path}:3: 'a': 2 fields where the header has 3"]
        assert state.names() == ["b"]


RANKS = [(), (5,), (2, 3), (2, 3, 4), (2, 1, 3, 2), (3, 0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_long_writer_round_trip(tmp_path: Path, dtype: type, suffix: str) -> None:
    tensors = {}
    for rank, shape in enumerate(RANKS):
        if np.dtype(dtype).kind == "f":
            values = RNG.standard_normal(shape) * 10.0 ** RNG.integers(-30, 30, shape)
        else:
            values = RNG.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, shape)
        tensors[f'layer_{rank}/w, "odd"'] = np.asarray(values).astype(dtype)
    tensors["float32 like"] = np.array([0.5, 1.0, 2.0], dtype=dtype)  # dtype is written
    path = tmp_path / f"out{suffix}"
    save_state(path, tensors, format_name="long")
    assert format_for_reading(str(path)).name == "long"
    loaded = read_all(path)
    assert list(loaded) == list(tensors)
    for name, array in tensors.items():
        same_bits(loaded[name], array)


def test_long_writer_is_offered_for_csv() -> None:
    labels = {c.label: c for c in write_choices()}
    choice = labels["Long table (name, index, value)"]
    assert (choice.format_name, choice.extension) == ("long", ".csv")


def test_long_writer_output_reads_with_pandas(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    save_state(path, DENSE, format_name="long")
    frame = pd.read_csv(path)
    assert list(frame.columns[:3]) == ["name", "index", "value"]
    kernel = frame[frame["name"] == "dense/kernel"].sort_values("index")["value"].to_numpy()
    assert np.array_equal(kernel.astype(np.float32), KERNEL.reshape(-1))


# ------------------------------------------------------------------------------ rows


def test_rows_table_from_pandas_nested_lists(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        [
            ("dense", "kernel", str(KERNEL.shape), str(KERNEL.tolist())),
            ("dense", "bias", str(list(BIAS.shape)), str(BIAS.tolist())),
        ],
        columns=["layer", "weight_index", "shape", "values"],
    )
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    assert format_for_reading(str(path)).name == "rows"
    with open_state(path) as state:
        assert state.names() == ["dense/kernel", "dense/bias"]
        assert state.entry("dense/kernel").shape == (4, 3)
    loaded = read_all(path)
    same_bits(loaded["dense/kernel"], KERNEL)
    same_bits(loaded["dense/bias"], BIAS)


@pytest.mark.parametrize(
    ("shape_text", "values_text"),
    [
        ("(4, 3)", None),
        ("[4, 3]", None),
        ("4x3", None),
        ("torch.Size([4, 3])", None),
        ("(4, 3)", " "),
        ("(4, 3)", ";"),
    ],
)
def test_rows_table_spellings(tmp_path: Path, shape_text: str, values_text: str | None) -> None:
    flat = [str(v) for v in KERNEL.reshape(-1).tolist()]
    values = str(KERNEL.tolist()) if values_text is None else values_text.join(flat)
    path = write_rows(
        tmp_path / "r.csv", ["parameter", "shape", "values"], [["k", shape_text, values]]
    )
    same_bits(read_all(path)["k"], KERNEL)


def test_rows_table_scalar_and_dtype_column(tmp_path: Path) -> None:
    rows = [
        ["step", "()", "int32", "[12]"],
        ["w", "[2, 2]", "torch.float64", "[[1, 2], [3, 4]]"],
        ["v", "[3]", "", "[0.5, 0.25, 1e-3]"],
    ]
    loaded = read_all(write_rows(tmp_path / "r.csv", ["name", "shape", "dtype", "values"], rows))
    same_bits(loaded["step"], np.array(12, dtype=np.int32))
    same_bits(loaded["w"], np.array([[1.0, 2.0], [3.0, 4.0]]))
    same_bits(loaded["v"], np.array([0.5, 0.25, 1e-3], dtype=np.float32))


def test_rows_table_problems_have_lines(tmp_path: Path) -> None:
    rows = [
        ["ok", "[2]", "[1.5, 2.5]"],
        ["short", "(2, 2)", "[1, 2, 3]"],
        ["bad", "[2]", "[1.5, what]"],
        ["ok", "[1]", "[1]"],
    ]
    path = write_rows(tmp_path / "r.csv", ["name", "shape", "values"], rows)
    with open_state(path) as state:
        problems = [str(p) for p in state.errors]
    assert problems == [
        f"{path}:3: 'short': 3 values for shape [2, 2] (4 elements)",
        f"{path}:4: 'bad': bad value 'what' at element 2",
        f"{path}:5: 'ok': duplicate name (first at line 2)",
    ]


def test_rows_count_mismatch_under_a_declared_dtype_is_found_on_read(tmp_path: Path) -> None:
    rows = [["a", "[3]", "float32", "[1, 2]"]]
    path = write_rows(tmp_path / "r.csv", ["name", "shape", "dtype", "values"], rows)
    with open_state(path) as state:
        problems = state.validate()
    assert [str(p) for p in problems] == [f"{path}:2: 'a': 2 values for shape [3] (3 elements)"]


# ------------------------------------------------------------------------- sniffing


def test_recipe_csv_and_matrix_are_not_claimed(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.csv"
    save_state(recipe, DENSE)
    positional = tmp_path / "positional.csv"
    positional.write_text('dense/bias,"0.5,1.5","{""shape"": [2], ""dtype"": ""float32""}"\n')
    matrix = tmp_path / "kernel.csv"
    np.savetxt(matrix, KERNEL, delimiter=",")
    frame_matrix = tmp_path / "frame.csv"
    pd.DataFrame(KERNEL).to_csv(frame_matrix)
    for path in (recipe, positional, matrix, frame_matrix):
        names = [f.name for f in formats_for_reading(str(path))]
        assert "long" not in names, path
        assert "rows" not in names, path
    assert format_for_reading(str(recipe)).name == "csv"


def test_long_and_rows_headers_are_told_apart(tmp_path: Path) -> None:
    long_path = write_rows(tmp_path / "a.csv", ["name", "index", "value", "shape"], [])
    rows_path = write_rows(tmp_path / "b.csv", ["name", "shape", "value"], [])
    tab_path = tmp_path / "c.tsv"
    tab_path.write_text("Variable\tFlat_Index\tValue\nx\t0\t1.5\n")
    assert format_for_reading(str(long_path)).name == "long"
    assert format_for_reading(str(rows_path)).name == "rows"
    assert format_for_reading(str(tab_path)).name == "long"
