"""Structure-aware mutations for the fuzzing suite: hypothesis strategies that draw a
*plan* (what to break, and how), and writers that turn a plan into a file.

Each format starts from a valid file made the way its own tool makes it (our CSV writer,
``np.savez``, h5py, a hand-written checkpoint bundle, a ``.keras`` zip) and breaks it
where its structure declares something: shapes, dtypes, sizes, offsets, names, nesting,
compression, and the bytes themselves.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import hostile

from csv_state_viewer import save_state

# ------------------------------------------------------------------------ values
HUGE = [2**31, 2**32 + 1, 2**40, 2**62, 2**63 - 1, 2**64, 10**30]
dims = st.one_of(st.integers(0, 6), st.sampled_from(HUGE), st.integers(-(2**63), -1), st.just(1))
shapes = st.lists(dims, max_size=5) | st.lists(st.just(1), min_size=33, max_size=300)
dtype_names = st.sampled_from(
    ["float32", "float16", "bfloat16", "float8_e4m3fn", "int64", "bool", "uint8", "object",
     "complex64", "<U8", "V8", "float128", "", "f4", ">f4", "datetime64", "int4"]
)  # fmt: skip
texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
) | st.sampled_from(["\x00", "\x1b[31m", "\u202e", "a" * 70000, "\r\n", '"', "nan", "1e999"])
flips = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4)
cuts = st.one_of(st.none(), st.floats(0, 1))


def _arrays() -> dict[str, np.ndarray]:
    return {
        "dense/kernel": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
        "dense/bias": np.arange(4, dtype=np.float16),
        "adam/iteration": np.asarray(7, np.int64),
    }


def damage(data: bytes, flip_list: list[tuple[float, int]], cut: float | None) -> bytes:
    """Bytes with some replaced and, with ``cut``, the tail cut off."""
    out = bytearray(data)
    for where, value in flip_list:
        if out:
            out[min(int(where * len(out)), len(out) - 1)] = value
    if cut is not None:
        out = out[: int(cut * len(out))]
    return bytes(out)


# --------------------------------------------------------------------------- CSV
csv_plans = st.fixed_dictionaries(
    {
        "encoding": st.sampled_from(["text", "base64"]),
        "row": st.integers(0, 2),
        "name": st.none() | texts,
        "data": st.none() | texts | st.sampled_from(["", "1,2,", "AAAA", "1" * 5000, "--1"]),
        "shape": st.none() | shapes,
        "dtype": st.none() | dtype_names,
        "metadata": st.none() | st.sampled_from(
            ["{", "[" * 5000, '{"shape": "x"}', '{"shape": [1e400]}', "null", '{"dtype": 5}',
             '{"shape":[2],"dtype":"float32","encoding":"zip"}']
        ),
        "columns": st.none() | st.integers(0, 5),
        "flips": flips,
        "cut": cuts,
    }
)  # fmt: skip


def write_csv(path: Path, plan: dict[str, Any]) -> None:
    save_state(path, _arrays(), encoding=plan["encoding"])
    rows = list(csv.reader(io.StringIO(path.read_text(), newline="")))
    row = rows[1 + plan["row"]]
    if plan["name"] is not None:
        row[0] = plan["name"]
    if plan["data"] is not None:
        row[1] = plan["data"]
    if plan["metadata"] is not None:
        row[2] = plan["metadata"]
    else:
        meta = json.loads(row[2])
        if plan["shape"] is not None:
            meta["shape"] = plan["shape"]
        if plan["dtype"] is not None:
            meta["dtype"] = plan["dtype"]
        row[2] = json.dumps(meta)
    if plan["columns"] is not None:
        row[:] = (row + ["x"] * 5)[: plan["columns"]]
    text = io.StringIO(newline="")
    csv.writer(text, lineterminator="\n").writerows(rows)
    path.write_bytes(
        damage(text.getvalue().encode("utf-8", "surrogatepass"), plan["flips"], plan["cut"])
    )


# --------------------------------------------------------------------------- npz
DESCRS = ["<f4", "|O", "<U10", ">f8", "V8", "<f16", "|b1", "<c8", "x"]
HEADERS = ["{", "{'descr': '<f4'}", "A" * 70000, "{'shape': (1,)*99}"]
npz_plans = st.fixed_dictionaries(
    {
        "compressed": st.booleans(),
        "member": st.integers(0, 2),
        "shape": st.none() | shapes,
        "descr": st.none() | st.sampled_from(DESCRS),
        "header": st.none() | st.sampled_from(HEADERS),
        "method": st.none() | st.integers(0, 99),
        "flag": st.none() | st.integers(0, 0xFFFF),
        "declared": st.none() | st.sampled_from([0, 1, 2**31, 2**32 - 1]),
        "flips": flips,
        "cut": cuts,
    }
)  # fmt: skip


def _npy(array: np.ndarray, plan: dict[str, Any]) -> bytes:
    header: dict[str, Any] = {
        "descr": plan["descr"] or np.lib.format.dtype_to_descr(array.dtype),
        "fortran_order": False,
        "shape": tuple(plan["shape"]) if plan["shape"] is not None else array.shape,
    }
    text = plan["header"] or repr(header)
    body = text.encode("latin-1", "replace")
    body += b" " * ((64 - (10 + len(body) + 1) % 64) % 64) + b"\n"
    if len(body) < 65536:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body + array.tobytes()
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(body)) + body + array.tobytes()


def write_npz(path: Path, plan: dict[str, Any]) -> None:
    arrays = list(_arrays().items())
    method = zipfile.ZIP_DEFLATED if plan["compressed"] else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as archive:
        for index, (name, array) in enumerate(arrays):
            data = (
                _npy(array, plan)
                if index == plan["member"]
                else _npy(array, {**plan, "shape": None, "descr": None, "header": None})
            )
            archive.writestr(name.replace("/", "_") + ".npy", data)
    raw = bytearray(path.read_bytes())
    for offset in _zip_headers(bytes(raw)):
        if plan["flag"] is not None:
            raw[offset + 6 : offset + 8] = struct.pack("<H", plan["flag"])
        if plan["method"] is not None:
            raw[offset + 8 : offset + 10] = struct.pack("<H", plan["method"])
        if plan["declared"] is not None:
            raw[offset + 22 : offset + 26] = struct.pack("<I", plan["declared"])
        break  # the first member's local header
    path.write_bytes(damage(bytes(raw), plan["flips"], plan["cut"]))


def _zip_headers(raw: bytes) -> list[int]:
    found, start = [], 0
    while (at := raw.find(b"PK\x03\x04", start)) >= 0:
        found.append(at)
        start = at + 4
    return found


# -------------------------------------------------------------------------- HDF5
h5_plans = st.fixed_dictionaries(
    {
        "shape": st.lists(st.sampled_from([0, 1, 3, 2**20, 2**31]), max_size=4),
        "dtype": st.sampled_from(["f4", "f2", "i8", "u1", "?", "c8", "S4", "V8"]),
        "allocate": st.booleans(),
        "chunked": st.booleans(),
        "gzip": st.booleans(),
        "flips": flips,
        "cut": cuts,
    }
)


def write_h5(path: Path, plan: dict[str, Any]) -> None:
    import h5py

    shape = tuple(plan["shape"])
    count = int(np.prod(shape, dtype=object)) if shape else 1
    with h5py.File(path, "w") as file:
        layer = file.create_group("layers/dense/vars")
        layer.attrs["name"] = "dense"
        layer.create_dataset("0", data=np.ones((3, 4), np.float32))
        options: dict[str, Any] = {}
        if plan["chunked"] or plan["gzip"]:
            options["chunks"] = True
        if plan["gzip"]:
            options["compression"] = "gzip"
        try:
            if plan["allocate"] and count * 8 <= 1 << 16:
                data = np.zeros(shape, plan["dtype"])
                layer.create_dataset("1", data=data, **options)
            else:
                layer.create_dataset("1", shape=shape, dtype=plan["dtype"], **options)
        except (ValueError, TypeError, OverflowError):
            layer.create_dataset("1", data=np.zeros(2, np.float32))
        file.create_group("optimizer/vars").create_dataset("0", data=np.int64(3))
    path.write_bytes(damage(path.read_bytes(), plan["flips"], plan["cut"]))


# -------------------------------------------------------------------- checkpoint
checkpoint_plans = st.fixed_dictionaries(
    {
        "declared": st.none() | shapes,
        "name": st.none() | texts,
        "index_flips": flips,
        "index_cut": cuts,
        "data_cut": cuts,
    }
)


def write_checkpoint(folder: Path, plan: dict[str, Any]) -> Path:
    prefix = folder / "ckpt"
    tensors = []
    for index, (key, value) in enumerate(_arrays().items()):
        array = value if value.dtype in (np.float32, np.float64, np.int32) else value.astype("f4")
        shape = list(array.shape)
        if index == 0 and plan["declared"] is not None:
            shape = [d if -(2**63) <= d < 2**63 else 2**63 - 1 for d in plan["declared"]]
        name = plan["name"] if index == 1 and plan["name"] is not None else key
        tensors.append((name, shape, array))
    try:
        hostile.write_checkpoint(str(prefix), tensors)
    except (UnicodeEncodeError, ValueError):
        hostile.write_checkpoint(str(prefix), tensors[:1])
    index = Path(f"{prefix}.index")
    index.write_bytes(damage(index.read_bytes(), plan["index_flips"], plan["index_cut"]))
    data = Path(f"{prefix}.data-00000-of-00001")
    data.write_bytes(damage(data.read_bytes(), [], plan["data_cut"]))
    return prefix


# ------------------------------------------------------------------------ .keras
CONFIGS = ["{", "[]", '{"class_name": "Sequential"}', "[" * 3000]
keras_plans = st.fixed_dictionaries(
    {
        "units": st.sampled_from([4, 2**25, 2**31, -1, 0, "x", None]),
        "layer": st.sampled_from(["Dense", "Embedding", "Conv2D", "NoSuchLayer"]),
        "config": st.none() | st.sampled_from(CONFIGS),
        "weights": h5_plans,
        "method": st.none() | st.integers(0, 99),
        "flips": flips,
        "cut": cuts,
    }
)  # fmt: skip


def write_keras(path: Path, plan: dict[str, Any]) -> None:
    layer = {
        "module": "keras.layers",
        "class_name": plan["layer"],
        "config": {"name": "dense", "units": plan["units"], "input_dim": 4,
                   "output_dim": plan["units"], "filters": plan["units"],
                   "kernel_size": [3, 3], "dtype": "float32"},
        "build_config": {"input_shape": [None, 4]},
    }  # fmt: skip
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "sequential", "layers": [layer]},
        "build_config": {"input_shape": [None, 4]},
    }
    weights = path.with_suffix(".h5")
    write_h5(weights, plan["weights"])
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("config.json", plan["config"] or json.dumps(config))
        archive.write(weights, "model.weights.h5")
    weights.unlink()
    raw = bytearray(path.read_bytes())
    if plan["method"] is not None:
        last = _zip_headers(bytes(raw))[-1]
        raw[last + 8 : last + 10] = struct.pack("<H", plan["method"])
    path.write_bytes(damage(bytes(raw), plan["flips"], plan["cut"]))
