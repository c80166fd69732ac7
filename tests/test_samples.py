"""The bundled samples (resources/samples, made by resources/make_samples.py) are sound.

Every state has a trained ``.keras`` model beside it: the state opens without bad rows,
holds the model's values, and the bridge maps every row onto the model, optimizer
included. Every recipe file holds the same weights under ``weight_N`` names.
"""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csv_state_viewer import open_state
from csv_state_viewer.bridge.apply import load_model, plan_apply

# NumPy 2 warns when np.array() meets the __array__ of TensorFlow variables (no ``copy``
# keyword): Keras's own loading does it, and so does kerasmodel.variable_value.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

CliRunner = Callable[..., subprocess.CompletedProcess[str]]
SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
MAX_TOTAL_BYTES = 5 << 20
RECIPE_SUFFIX = "_recipe.csv"
# Variants of a model's state: the other encoding, the same run trained further.
VARIANT_SUFFIXES = ("_base64", "_later")
POSITIONAL = re.compile(r"^weight_\d+$")

MODELS = sorted(SAMPLES.glob("*.keras"))
RECIPES = sorted(SAMPLES.glob(f"*{RECIPE_SUFFIX}"))


def model_file(state_file: Path) -> Path | None:
    """The ``.keras`` a state belongs to: ``mlp_adam_base64.csv`` -> ``mlp_adam.keras``."""
    stem = state_file.name.removesuffix(".csv")
    for suffix in VARIANT_SUFFIXES:
        stem = stem.removesuffix(suffix)
    candidate = SAMPLES / f"{stem}.keras"
    return candidate if candidate.is_file() else None


def recipe_model(recipe: Path) -> Path:
    """The ``.keras`` of a recipe's model family: ``mlp_recipe.csv`` -> ``mlp_adam.keras``."""
    family = recipe.name.removesuffix(RECIPE_SUFFIX)
    found = [m for m in MODELS if m.stem.startswith(f"{family}_")]
    assert len(found) == 1, f"{recipe.name}: no single model of its family ({found})"
    return found[0]


STATES = sorted(p for p in SAMPLES.glob("*.csv") if model_file(p) is not None)


@functools.cache
def model(path: Path) -> Any:
    """Each model is loaded once: loading is most of this module's time."""
    return load_model(str(path))


@functools.cache
def model_values(path: Path) -> list[np.ndarray]:
    """The values the ``.keras`` holds, in the bridge's order (weights, then optimizer)."""
    with open_state(path) as state:
        assert not state.errors
        return list(state.read_all().values())


def test_the_samples_are_there_and_small() -> None:
    names = {p.name for p in SAMPLES.iterdir()}
    expected = {"mlp_adam.csv", "mlp_adam_base64.csv", "mlp_adam_later.csv", "mlp_recipe.csv"}
    assert expected | {"damaged.csv", "mlp_adam.keras"} <= names
    assert len(MODELS) >= 3 and len(RECIPES) == len(MODELS)
    total = sum(p.stat().st_size for p in SAMPLES.iterdir() if p.is_file())
    assert total < MAX_TOTAL_BYTES


@pytest.mark.parametrize("state_file", STATES, ids=lambda p: p.name)
def test_state_maps_onto_its_model_with_the_optimizer(state_file: Path) -> None:
    keras_file = model_file(state_file)
    assert keras_file is not None
    with open_state(state_file) as state:
        assert not state.errors
        roles = [entry.metadata.get("role") for entry in state.entries]
        assert {"weight", "optimizer"} <= set(roles)
        report = plan_apply(state, model(keras_file))
        assert report.ok, [(row.state_name, row.status) for row in report.problems]
        matched = {row.state_name for row in report.matched()}
        assert matched == set(state.names())  # every row, the optimizer's included
        if "_later" not in state_file.name:  # the same values as the saved model, in order
            values = list(state.read_all().values())
            expected = model_values(keras_file)
            assert len(values) == len(expected)
            for got, want in zip(values, expected, strict=True):
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_file_holds_the_same_weights_by_position(recipe: Path) -> None:
    keras_file = recipe_model(recipe)
    named = SAMPLES / f"{keras_file.stem}.csv"
    with open_state(named) as state:
        weights = [state.read(e.name) for e in state.entries if e.metadata.get("role") == "weight"]
    with open_state(recipe) as state:
        assert not state.errors
        assert all(POSITIONAL.match(name) for name in state.names())
        values = list(state.read_all().values())
        assert len(values) == len(weights)
        for got, want in zip(values, weights, strict=True):
            np.testing.assert_array_equal(got, want)
        report = plan_apply(state, model(keras_file))
        assert report.match == "order" and report.ok


def test_later_state_is_the_same_run_trained_further() -> None:
    with open_state(SAMPLES / "mlp_adam.csv") as a, open_state(SAMPLES / "mlp_adam_later.csv") as b:
        assert a.names() == b.names()
        assert int(b.read("adam/iteration")) > int(a.read("adam/iteration"))
        assert not np.array_equal(
            a.read("sequential/dense/kernel"), b.read("sequential/dense/kernel")
        )


def test_converting_a_keras_sample_prints_nothing_on_stderr(
    csv_state: CliRunner, tmp_path: Path
) -> None:
    """Rebuilding the model probes devices; TensorFlow's C++ chatter must not leak."""
    out = tmp_path / "state.csv"
    result = csv_state("convert", SAMPLES / "mlp_adam.keras", out)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert out.exists()
