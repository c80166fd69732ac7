"""Keras files as states: .keras archives, Keras 3 .weights.h5 and legacy HDF5, with real Keras.

A small functional model (Dense + BatchNormalization + Dense, Adam) is trained for two
epochs on fixed data and saved in every format Keras 3 writes. Keras 3.15 refuses to write
a legacy weights-only HDF5 (``save_weights`` wants ``*.weights.h5``), so the Keras 2
layouts (weights only, and a full model with ``OptimizerV2`` slot names) are written here
with h5py, following the layout Keras 2's ``save_weights_to_hdf5_group`` documents.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.kerasfiles import (
    legacy_slot_owner,
    looks_like_keras,
    looks_like_keras_h5,
    open_keras_file,
)
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.openfiles import is_open_for_reading
from csv_state_viewer.core.progress import Cancelled
from csv_state_viewer.core.state import State

# NumPy 2 warns when np.array() meets the __array__ of TensorFlow variables (no ``copy``
# keyword): Keras's own saving does it, and so does kerasmodel.variable_value.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

EPOCHS, BATCH, SAMPLES = 2, 16, 32
LAYERS = ("dense", "bn", "out")


def build_model(*, compiled: bool = True) -> Any:
    keras = tfimport.keras()
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(3, name="dense")(inputs)
    hidden = keras.layers.BatchNormalization(name="bn")(hidden)
    outputs = keras.layers.Dense(2, name="out")(hidden)
    model = keras.Model(inputs, outputs, name="net")
    if compiled:
        model.compile(optimizer=keras.optimizers.Adam(1e-2, name="adam"), loss="mse")
    return model


@dataclass
class Trained:
    model: Any
    folder: Path
    keras_file: Path
    weights_file: Path
    legacy_file: Path

    def variables(self) -> dict[str, np.ndarray]:
        """Every variable of the live model, weights then optimizer, by path."""
        out = {v.path: v.numpy() for v in self.model.weights}
        out.update({v.path: v.numpy() for v in self.model.optimizer.variables})
        return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    keras = tfimport.keras()
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(SAMPLES, 4)).astype(np.float32)
    y = rng.normal(size=(SAMPLES, 2)).astype(np.float32)
    model = build_model()
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0, shuffle=False)
    folder = tmp_path_factory.mktemp("keras")
    found = Trained(
        model, folder, folder / "m.keras", folder / "m.weights.h5", folder / "legacy.h5"
    )
    model.save(found.keras_file)
    model.save_weights(found.weights_file)
    model.save(found.legacy_file)  # the legacy HDF5 format: Keras 3 still writes it
    return found


def assert_same(state: State, expected: dict[str, np.ndarray]) -> None:
    assert state.names() == list(expected)
    loaded = state.read_all()
    for name, value in expected.items():
        assert loaded[name].dtype == value.dtype, name
        assert loaded[name].shape == value.shape, name
        assert loaded[name].tobytes() == value.tobytes(), name


def one_line_error(path: Path) -> NotAStateError:
    with pytest.raises(NotAStateError) as caught:
        open_keras_file(path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"{path}: ")
    return caught.value


# -------------------------------------------------------------------------- .keras
def test_keras_archive_has_real_names_and_roles(trained: Trained) -> None:
    expected = trained.variables()
    with open_keras_file(trained.keras_file) as state:
        assert state.format_name == "keras"
        assert_same(state, expected)
        kernel = state.entry("dense/kernel").metadata
        assert kernel == {"role": "weight", "trainable": True}
        assert state.entry("bn/moving_mean").metadata["trainable"] is False
        slot = state.entry("adam/dense_kernel_momentum").metadata
        assert slot == {
            "role": "optimizer",
            "optimizer": "Adam",
            "slot_of": "dense/kernel",
            "slot": "momentum",
        }
        iteration = state.entry("adam/iteration")
        assert iteration.metadata["optimizer_variable"] == "iteration"
        assert int(state.read(iteration)) == EPOCHS * SAMPLES // BATCH


def rewrite_archive(
    source: Path, target: Path, compression: int, edit: Any = None, drop: str | None = None
) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", compression) as new:
        for info in old.infolist():
            if info.filename == drop:
                continue
            data = old.read(info)
            if info.filename == "config.json" and edit is not None:
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            new.writestr(info.filename, data)


def unknown_bn_layer(config: dict[str, Any]) -> None:
    for layer in config["config"]["layers"]:
        if layer["config"]["name"] == "bn":
            layer.update(
                module="my_project.layers",
                class_name="MissingLayer",
                registered_name="my_project>MissingLayer",
            )


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_unknown_custom_layer_falls_back_to_structural_names(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compression: int
) -> None:
    path = tmp_path / "custom.keras"
    rewrite_archive(trained.keras_file, path, compression, unknown_bn_layer)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # a deflated member is copied here
    live = trained.variables()
    with open_keras_file(path) as state:
        assert state.format_name == "keras"
        loaded = state.read_all()
        assert len(loaded) == len(live)
        for entry in state.entries:
            assert entry.metadata["names"] == "structural"
            reason = entry.metadata["reason"]
            assert "MissingLayer" in reason
            assert "\n" not in reason
        assert np.array_equal(loaded["layers/dense/vars/0"], live["dense/kernel"])
        bn = state.entry("layers/batch_normalization/vars/2").metadata
        assert (bn["role"], bn["layer"]) == ("weight", "bn")
        assert loaded["layers/batch_normalization/vars/2"].tobytes() == (
            live["bn/moving_mean"].tobytes()
        )
        optimizer = state.entry("optimizer/vars/2").metadata
        assert (optimizer["role"], optimizer["optimizer"]) == ("optimizer", "Adam")
        assert loaded["optimizer/vars/2"].tobytes() == live["adam/dense_kernel_momentum"].tobytes()
    assert list(scratch.iterdir()) == []


# ------------------------------------------------------------------- .weights.h5
def test_weights_file_without_model_has_structural_names(trained: Trained) -> None:
    live = trained.variables()
    with open_keras_file(trained.weights_file) as state:
        assert state.format_name == "keras-weights"
        names = state.names()
        assert names[:2] == [
            "layers/batch_normalization/vars/0",
            "layers/batch_normalization/vars/1",
        ]
        assert names[-3:] == ["optimizer/vars/11", "optimizer/vars/12", "optimizer/vars/13"]
        loaded = state.read_all()
        for entry in state.entries:
            assert entry.metadata["names"] == "structural"
            role = "optimizer" if entry.name.startswith("optimizer/") else "weight"
            assert entry.metadata["role"] == role
        assert state.entry("layers/dense_1/vars/0").metadata["layer"] == "out"
        # every value is present, bit for bit
        assert sorted(v.tobytes() + v.dtype.str.encode() for v in loaded.values()) == sorted(
            v.tobytes() + v.dtype.str.encode() for v in live.values()
        )
        assert loaded["layers/dense_1/vars/0"].tobytes() == live["out/kernel"].tobytes()
        assert loaded["optimizer/vars/0"].tobytes() == live["adam/iteration"].tobytes()


def test_weights_file_with_model_has_real_names(trained: Trained) -> None:
    fresh = build_model()  # compiled, optimizer not built yet: the reader builds it
    with open_keras_file(trained.weights_file, model=fresh) as state:
        assert state.format_name == "keras-weights"
        assert_same(state, trained.variables())
        assert state.entry("adam/bn_gamma_velocity").metadata["slot_of"] == "bn/gamma"


def test_weights_file_with_uncompiled_model_keeps_optimizer_structural(
    trained: Trained,
) -> None:
    fresh = build_model(compiled=False)
    live = trained.variables()
    with open_keras_file(trained.weights_file, model=fresh) as state:
        weights = [e for e in state.entries if e.metadata["role"] == "weight"]
        assert [e.name for e in weights] == [v.path for v in trained.model.weights]
        assert all("names" not in e.metadata for e in weights)
        stored = state.entry("optimizer/vars/3")
        assert stored.metadata["names"] == "structural"
        assert "no optimizer" in stored.metadata["reason"]
        assert state.read(stored).tobytes() == live["adam/dense_kernel_velocity"].tobytes()
        assert state.read("out/bias").tobytes() == live["out/bias"].tobytes()


def test_weights_that_do_not_fit_the_model_fall_back(trained: Trained) -> None:
    keras = tfimport.keras()
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5)], name="other")
    with open_keras_file(trained.weights_file, model=other) as state:
        entry = state.entry("layers/dense/vars/0")
        assert entry.metadata["names"] == "structural"
        assert entry.metadata["reason"].startswith("the weights do not fit the given model")
        assert "\n" not in entry.metadata["reason"]


# ------------------------------------------------------------------- legacy HDF5
def test_legacy_h5_written_by_keras3(trained: Trained) -> None:
    live = trained.variables()
    with open_keras_file(trained.legacy_file) as state:
        assert state.format_name == "keras-h5"
        assert_same(state, live)  # Keras 3 writes variable paths as the weight names
        assert state.entry("bn/beta").metadata == {"role": "weight", "layer": "bn"}
        slot = state.entry("adam/out_bias_velocity").metadata
        assert (slot["slot_of"], slot["slot"], slot["optimizer"]) == (
            "out/bias",
            "velocity",
            "Adam",
        )
        assert state.entry("adam/iteration").metadata["optimizer_variable"] == "iteration"


KERAS2_WEIGHTS = {  # Keras 2 weight name -> Keras 3 variable path of the same value
    "dense": {"dense/kernel:0": "dense/kernel", "dense/bias:0": "dense/bias"},
    "bn": {
        "bn/gamma:0": "bn/gamma",
        "bn/beta:0": "bn/beta",
        "bn/moving_mean:0": "bn/moving_mean",
        "bn/moving_variance:0": "bn/moving_variance",
    },
    "out": {"out/kernel:0": "out/kernel", "out/bias:0": "out/bias"},
}


def names_attr(names: list[str]) -> np.ndarray:
    return np.array([n.encode("utf8") for n in names])  # Keras 2 stores bytes ('S')


def write_keras2_weights(group: h5py.Group, live: dict[str, np.ndarray], chunk: bool) -> None:
    group.attrs["layer_names"] = names_attr(list(KERAS2_WEIGHTS))
    group.attrs["backend"] = b"tensorflow"
    group.attrs["keras_version"] = b"2.13.1"
    for layer, weights in KERAS2_WEIGHTS.items():
        layer_group = group.create_group(layer)
        names = list(weights)
        if chunk and len(names) > 2:  # as Keras splits attributes over the header limit
            layer_group.attrs["weight_names0"] = names_attr(names[:2])
            layer_group.attrs["weight_names1"] = names_attr(names[2:])
        else:
            layer_group.attrs["weight_names"] = names_attr(names)
        for name, path in weights.items():
            layer_group.create_dataset(name, data=live[path])


def test_legacy_keras2_weights_only(trained: Trained, tmp_path: Path) -> None:
    live = trained.variables()
    path = tmp_path / "keras2.weights.hdf5"
    with h5py.File(path, "w") as f:
        write_keras2_weights(f, live, chunk=True)
    expected = {name: live[p] for weights in KERAS2_WEIGHTS.values() for name, p in weights.items()}
    with open_keras_file(path) as state:
        assert state.format_name == "keras-h5"
        assert_same(state, expected)
        assert state.entry("bn/moving_variance:0").metadata == {"role": "weight", "layer": "bn"}


def test_legacy_keras2_full_model_links_optimizer_slots(trained: Trained, tmp_path: Path) -> None:
    live = trained.variables()
    path = tmp_path / "keras2.h5"
    optimizer = {"Adam/iter:0": "adam/iteration", "Adam/learning_rate:0": "adam/learning_rate"}
    for weights in KERAS2_WEIGHTS.values():
        for name, var in weights.items():
            if "moving" in name:
                continue
            base = name.removesuffix(":0")
            flat = var.replace("/", "_")
            optimizer[f"training/Adam/{base}/m:0"] = f"adam/{flat}_momentum"
            optimizer[f"training/Adam/{base}/v:0"] = f"adam/{flat}_velocity"
    with h5py.File(path, "w") as f:
        f.attrs["training_config"] = json.dumps(
            {"loss": "mse", "optimizer_config": {"class_name": "Adam", "config": {}}}
        )
        write_keras2_weights(f.create_group("model_weights"), live, chunk=False)
        group = f.create_group("optimizer_weights")
        group.attrs["weight_names"] = names_attr(list(optimizer))
        for name, var in optimizer.items():
            group.create_dataset(name, data=live[var])
    expected = {name: live[p] for weights in KERAS2_WEIGHTS.values() for name, p in weights.items()}
    expected.update({name: live[var] for name, var in optimizer.items()})
    with open_keras_file(path) as state:
        assert_same(state, expected)
        slot = state.entry("training/Adam/dense/kernel/m:0").metadata
        assert slot == {
            "role": "optimizer",
            "optimizer": "Adam",
            "slot_of": "dense/kernel:0",
            "slot": "m",
        }
        assert state.entry("Adam/iter:0").metadata["optimizer_variable"] == "iter"


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("training/Adam/dense/kernel/m:0", ("dense/kernel:0", "m")),  # Keras 2 OptimizerV2
        ("Adam/dense/kernel/v:0", ("dense/kernel:0", "v")),
        ("Adam/m/dense/kernel:0", ("dense/kernel:0", "m")),  # Keras 2.11+ optimizers
        ("m/dense_1/kernel:0", ("dense_1/kernel:0", "m")),
        ("Adam/dense_1/kernel/m:0", ("dense_1/kernel:0", "m")),  # not dense/kernel
        ("adam/net_dense_kernel_momentum", ("net/dense/kernel", "momentum")),  # Keras 3
        ("Adam/iter:0", None),
        ("training/Adam/Variable:0", None),  # TF1 Keras: unnamed slots
    ],
)
def test_legacy_slot_owner(name: str, owner: tuple[str, str] | None) -> None:
    weights = ["dense/kernel:0", "dense/bias:0", "dense_1/kernel:0", "net/dense/kernel"]
    assert legacy_slot_owner(name, weights) == owner


# ---------------------------------------------------------------------- refusals
def test_corrupt_files_are_not_states(trained: Trained, tmp_path: Path) -> None:
    data = trained.keras_file.read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    assert "zip" in one_line_error(truncated).reason

    text = tmp_path / "notes.h5"
    text.write_text("just some text\nover two lines\n")
    one_line_error(text)

    weights = trained.weights_file.read_bytes()
    cut = tmp_path / "cut.weights.h5"
    cut.write_bytes(weights[: len(weights) // 3])
    one_line_error(cut)

    no_config = tmp_path / "no_config.keras"
    rewrite_archive(trained.keras_file, no_config, zipfile.ZIP_STORED, drop="config.json")
    assert "config.json" in one_line_error(no_config).reason

    other = tmp_path / "data.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("x", data=np.arange(3))
    assert "not a Keras" in one_line_error(other).reason

    one_line_error(tmp_path)  # a directory
    one_line_error(tmp_path / "missing.keras")


def test_closed_state_releases_the_file(trained: Trained) -> None:
    state = open_keras_file(trained.weights_file)
    assert is_open_for_reading(str(trained.weights_file))
    state.close()
    assert not is_open_for_reading(str(trained.weights_file))
    with pytest.raises(Exception, match="closed"):
        state.read("layers/dense/vars/0")


class CancelAfter:
    def __init__(self, calls: int) -> None:
        self.calls = calls

    def report(self, done: int, total: int) -> None:
        pass

    def cancelled(self) -> bool:
        self.calls -= 1
        return self.calls < 0


def test_cancelled_open_releases_the_file(trained: Trained) -> None:
    with pytest.raises(Cancelled):
        open_keras_file(trained.weights_file, CancelAfter(3))
    assert not is_open_for_reading(str(trained.weights_file))


# ---------------------------------------------------------------------- sniffing
def test_sniffers(trained: Trained, tmp_path: Path) -> None:
    def head(path: Path) -> bytes:
        return path.read_bytes()[:4096]

    renamed = tmp_path / "model.zip"
    renamed.write_bytes(trained.keras_file.read_bytes())
    plain_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("a.txt", "x")
    assert looks_like_keras(str(trained.keras_file), head(trained.keras_file))
    assert looks_like_keras(str(renamed), head(renamed))
    assert not looks_like_keras(str(plain_zip), head(plain_zip))
    assert not looks_like_keras(str(trained.weights_file), head(trained.weights_file))
    assert not looks_like_keras(str(tmp_path / "missing.keras"), b"")
    assert looks_like_keras_h5(str(trained.weights_file), head(trained.weights_file))
    assert looks_like_keras_h5(str(trained.legacy_file), head(trained.legacy_file))
    assert not looks_like_keras_h5(str(trained.keras_file), head(trained.keras_file))
    assert not looks_like_keras_h5("notes.h5", b"just text")
    assert not looks_like_keras_h5("weights.bin", head(trained.weights_file))


def test_sniffers_do_not_import_tensorflow(trained: Trained) -> None:
    script = """
import sys
from csv_state_viewer.bridge.kerasfiles import looks_like_keras, looks_like_keras_h5
results = []
for path in sys.argv[1:]:
    with open(path, "rb") as handle:
        head = handle.read(4096)
    results.append(looks_like_keras(path, head) or looks_like_keras_h5(path, head))
assert all(results), results
loaded = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
assert not loaded, loaded
"""
    paths = [str(trained.keras_file), str(trained.weights_file), str(trained.legacy_file)]
    done = subprocess.run(
        [sys.executable, "-c", script, *paths],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
