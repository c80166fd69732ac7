"""The health checks, each on a state file with its problem planted, and on a healthy one."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csv_state_viewer import open_state, save_state
from csv_state_viewer.core.analysis.health import CHECKS, Finding, check_state, slot_links
from csv_state_viewer.core.analysis.spectral import as_matrix, esd, power_law_alpha
from csv_state_viewer.core.progress import Cancelled

DENSE, BIAS = "sequential/dense/kernel", "sequential/dense/bias"
CONV, CONV_BIAS = "sequential/conv2d/kernel", "sequential/conv2d/bias"
BN = "sequential/batch_normalization"
ITERATION = "adam/iteration"
TRAINABLE = [DENSE, BIAS, CONV, CONV_BIAS, f"{BN}/gamma", f"{BN}/beta"]


def slot_name(variable: str, slot: str) -> str:
    return f"adam/{variable.replace('/', '_')}_{slot}"


def healthy(seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """A small Keras 3 state that is sane: fan-in scaled kernels, Adam slots that fit their
    variables, a positive step count, velocities >= 0, positive BN variances. Every
    matrix has a side below 16, so the spectral check does not measure it."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    tensors: dict[str, np.ndarray] = {
        DENSE: (rng.standard_normal((8, 12)) / math.sqrt(8)).astype(f32),
        BIAS: (rng.standard_normal(12) * 0.01).astype(f32),
        CONV: (rng.standard_normal((3, 3, 2, 8)) / math.sqrt(18)).astype(f32),
        CONV_BIAS: (rng.standard_normal(8) * 0.01).astype(f32),
        f"{BN}/gamma": (1 + rng.standard_normal(8) * 0.1).astype(f32),
        f"{BN}/beta": (rng.standard_normal(8) * 0.1).astype(f32),
        f"{BN}/moving_mean": (rng.standard_normal(8) * 0.1).astype(f32),
        f"{BN}/moving_variance": rng.uniform(0.5, 1.5, 8).astype(f32),
        ITERATION: np.array(100, dtype=np.int64),
        "adam/learning_rate": np.array(0.001, dtype=f32),
    }
    metadata: dict[str, dict[str, Any]] = {n: {"role": "weight"} for n in tensors}
    metadata[ITERATION] = {"role": "optimizer", "optimizer_variable": "iteration"}
    metadata["adam/learning_rate"] = {"role": "optimizer", "optimizer_variable": "learning_rate"}
    for variable in TRAINABLE:
        shape = tensors[variable].shape
        for slot, values in (
            ("momentum", rng.standard_normal(shape) * 1e-3),
            ("velocity", np.abs(rng.standard_normal(shape)) * 1e-6),
        ):
            tensors[slot_name(variable, slot)] = values.astype(f32)
            metadata[slot_name(variable, slot)] = {
                "role": "optimizer",
                "optimizer": "Adam",
                "slot_of": variable,
                "slot": slot,
            }
    return tensors, metadata


def check(
    tmp_path: Path,
    tensors: dict[str, np.ndarray],
    metadata: dict[str, dict[str, Any]] | None = None,
    name: str = "s.csv",
) -> list[Finding]:
    path = tmp_path / name
    save_state(path, tensors, metadata=metadata)
    with open_state(path) as state:
        return check_state(state)


def only(findings: list[Finding], check_name: str) -> list[Finding]:
    return [f for f in findings if f.check == check_name]


def test_a_healthy_state_has_no_findings(tmp_path: Path) -> None:
    tensors, metadata = healthy()
    assert check(tmp_path, tensors, metadata) == []


def test_nonfinite_in_a_kernel_a_bias_and_a_velocity(tmp_path: Path) -> None:
    tensors, metadata = healthy()
    tensors[DENSE][0, 3] = tensors[DENSE][1, 0] = np.nan
    tensors[DENSE][2, 5] = np.inf
    tensors[BIAS][4] = -np.inf
    tensors[slot_name(DENSE, "velocity")][1, 1] = np.nan
    found = check(tmp_path, tensors, metadata)
    assert found == [
        Finding(
            DENSE, "nonfinite", "error", "2 NaN, 1 +Inf; first at index 3 (row 0, column 3)", 3
        ),
        Finding(BIAS, "nonfinite", "error", "1 -Inf; first at index 4", 1),
        Finding(
            slot_name(DENSE, "velocity"),
            "nonfinite",
            "error",
            "1 NaN; first at index 13 (row 1, column 1)",
            1,
        ),
    ]


def test_dead_units_of_a_dense_and_a_conv_kernel(tmp_path: Path) -> None:
    tensors, metadata = healthy()
    tensors[DENSE][:, [2, 5]] = 0
    tensors[BIAS][2] = 0  # unit 5 keeps a bias: it still outputs something
    tensors[CONV][..., 3] = 0
    del tensors[CONV_BIAS], tensors[slot_name(CONV_BIAS, "momentum")]
    del tensors[slot_name(CONV_BIAS, "velocity")]
    found = only(check(tmp_path, tensors, metadata), "dead_units")
    assert [(f.tensor, f.check, f.severity, f.value) for f in found] == [
        (DENSE, "dead_units", "warning", 1),
        (CONV, "dead_units", "warning", 1),
    ]
    assert found[0].message == "1 of 12 units are dead (all-zero weights and bias): 2"
    assert found[1].message == "1 of 8 output channels are dead (all-zero weights and bias): 3"


def test_a_zeroed_layer_is_dead_not_an_outlier(tmp_path: Path) -> None:
    tensors, metadata = healthy()
    tensors[DENSE][:] = 0
    tensors[BIAS][:] = 0
    found = check(tmp_path, tensors, metadata)
    assert [(f.tensor, f.check, f.value) for f in found] == [(DENSE, "dead_units", 12)]
    assert found[0].message.endswith(": 0, 1, 2, 3, 4, 5, 6, 7, ...")


def test_batch_norm_variance_and_gamma(tmp_path: Path) -> None:
    tensors, metadata = healthy()
    tensors[f"{BN}/moving_variance"][[1, 4]] = [-0.5, 0.0]
    tensors[f"{BN}/gamma"][:] = 0
    found = check(tmp_path, tensors, metadata)
    assert [(f.tensor, f.check, f.severity, f.value) for f in found] == [
        (f"{BN}/moving_variance", "bn_variance", "error", 2),
        (f"{BN}/gamma", "bn_variance", "warning", 8),
    ]
    assert found[0].message == "2 of 8 values are <= 0 or not finite (first at index 1)"


def test_a_slot_that_does_not_fit_its_variable(tmp_path: Path) -> None:
    tensors, metadata = healthy()
    tensors[slot_name(DENSE, "momentum")] = tensors[slot_name(DENSE, "momentum")].T.copy()
    found = check(tmp_path, tensors, metadata)
    assert found == [
        Finding(
            slot_name(DENSE, "momentum"),
            "optimizer_state",
            "error",
            f"shape [12, 8] differs from [8, 12] of its variable {DENSE}",
            None,
        )
    ]


def test_negative_second_moments(tmp_path: Path) -> None:
    tensors, metadata = healthy()
    tensors[slot_name(CONV, "velocity")].reshape(-1)[[0, 7, 9]] = -1e-3
    tensors[slot_name(CONV, "momentum")].reshape(-1)[:5] = -1.0  # a first moment may be < 0
    found = check(tmp_path, tensors, metadata)
    assert [(f.tensor, f.check, f.severity, f.value) for f in found] == [
        (slot_name(CONV, "velocity"), "optimizer_state", "error", 3)
    ]


def test_moments_reset_while_the_step_count_is_positive(tmp_path: Path) -> None:
    tensors, metadata = healthy()
    for variable in TRAINABLE:
        tensors[slot_name(variable, "momentum")][:] = 0
        tensors[slot_name(variable, "velocity")][:] = 0
    tensors[slot_name(BIAS, "velocity")][0] = 1e-6  # one slot still holds something
    found = check(tmp_path, tensors, metadata)
    assert [(f.tensor, f.check, f.severity, f.value) for f in found] == [
        (ITERATION, "optimizer_state", "warning", 11)
    ]
    assert "11 moment slots are all zero after 100 steps" in found[0].message


def test_moments_without_steps(tmp_path: Path) -> None:
    tensors, metadata = healthy()
    tensors[ITERATION] = np.array(0, dtype=np.int64)
    found = check(tmp_path, tensors, metadata)
    assert [(f.tensor, f.check, f.severity, f.value) for f in found] == [
        (ITERATION, "optimizer_state", "warning", 12)
    ]
    del tensors[ITERATION]
    found = check(tmp_path, tensors, metadata, "no_count.csv")
    first = slot_name(DENSE, "momentum")
    assert [(f.tensor, f.check, f.severity, f.value) for f in found] == [
        (first, "optimizer_state", "warning", 12)
    ]
    assert (
        found[0].message
        == f"12 moment slots are non-zero but there is no step count (first: {first})"
    )


def test_slots_linked_by_name_without_metadata(tmp_path: Path) -> None:
    """TF1 checkpoint names (Adam_1 is the second moment) and Keras 3 names without
    ``slot_of``, linked by the names alone."""
    rng = np.random.default_rng(5)
    kernel = (rng.standard_normal((6, 4)) / math.sqrt(6)).astype(np.float32)
    tensors = {
        "dense/kernel": kernel,
        "dense/kernel/Adam": np.full((6, 4), 1e-3, np.float32),
        "dense/kernel/Adam_1": -np.ones((6, 4), np.float32),
        "global_step": np.array(7, np.int64),
        "sequential/dense_1/kernel": kernel,
        "adam/sequential_dense_1_kernel_momentum": np.ones((4, 6), np.float32),
        "adam/sequential_dense_1_kernel_velocity": np.ones((6, 4), np.float32),
    }
    path = tmp_path / "tf1.npz"
    save_state(path, tensors)
    with open_state(path) as state:
        links = slot_links(state)
        found = check_state(state)
    assert {
        name: (link.owner.name if link.owner else None, link.kind) for name, link in links.items()
    } == {
        "dense/kernel/Adam": ("dense/kernel", "first"),
        "dense/kernel/Adam_1": ("dense/kernel", "second"),
        "adam/sequential_dense_1_kernel_momentum": ("sequential/dense_1/kernel", "first"),
        "adam/sequential_dense_1_kernel_velocity": ("sequential/dense_1/kernel", "second"),
    }
    assert [(f.tensor, f.check, f.severity, f.value) for f in found] == [
        ("dense/kernel/Adam_1", "optimizer_state", "error", 24),
        ("adam/sequential_dense_1_kernel_momentum", "optimizer_state", "error", None),
    ]


@pytest.mark.parametrize(("factor", "prefix"), [(40.0, "std "), (0.02, "std ")])
def test_norm_outliers(tmp_path: Path, factor: float, prefix: str) -> None:
    tensors, metadata = healthy()
    tensors[DENSE] = (tensors[DENSE] * factor).astype(np.float32)
    found = check(tmp_path, tensors, metadata)
    expected = float(np.std(tensors[DENSE], dtype=np.float64)) * math.sqrt(8)
    assert [(f.tensor, f.check, f.severity) for f in found] == [(DENSE, "norm_outlier", "warning")]
    assert found[0].value == pytest.approx(expected, rel=1e-6)
    assert found[0].message.startswith(prefix) and "1/sqrt(8)" in found[0].message


def test_spectral_alpha_outside_the_range_is_info(tmp_path: Path) -> None:
    """A random Gaussian 256x64 kernel, fan-in scaled: no heavy tail. Its fitted alpha is
    noisy (4.4 to 10.4 over seeds 0-7, see test_spectral): this seed gives 10.4."""
    tensors, metadata = healthy()
    kernel = (np.random.default_rng(3).standard_normal((256, 64)) / 16).astype(np.float32)
    tensors["sequential/dense_1/kernel"] = kernel
    metadata["sequential/dense_1/kernel"] = {"role": "weight"}
    alpha = power_law_alpha(esd(as_matrix(kernel)))[0]
    assert alpha > 6  # the premise of the test, for this seed
    found = check(tmp_path, tensors, metadata)
    assert [(f.tensor, f.check, f.severity) for f in found] == [
        ("sequential/dense_1/kernel", "spectral", "info")
    ]
    assert found[0].value == pytest.approx(alpha)
    assert found[0].message.startswith(f"alpha {alpha:.1f} (outside 2-6: no heavy tail")
    assert ", stable rank " in found[0].message


def test_bad_rows_are_not_findings(tmp_path: Path) -> None:
    tensors, metadata = healthy()
    tensors[DENSE][:, 2] = 0  # dead only if its bias says so: the bias is bad
    tensors[BIAS][2] = 0
    path = tmp_path / "bad.csv"
    save_state(path, tensors, metadata=metadata)
    lines = path.read_text().splitlines(keepends=True)
    row = next(i for i, line in enumerate(lines) if line.startswith(BIAS + ","))
    lines[row] = lines[row].replace('"', '"oops,', 1)
    path.write_text("".join(lines))
    with open_state(path) as state:
        found = check_state(state)
        assert [p.name for p in state.errors] == [BIAS]
    assert found == []


def test_order_progress_cancel_and_json(tmp_path: Path, recorder: Any) -> None:
    tensors, metadata = healthy()
    tensors[f"{BN}/gamma"][:] = 0  # a warning before ...
    tensors[f"{BN}/moving_variance"][0] = np.nan  # ... errors later in the file
    path = tmp_path / "s.npz"
    save_state(path, tensors, metadata=metadata)
    progress = recorder()
    with open_state(path) as state:
        found = check_state(state, progress)
        with pytest.raises(Cancelled):
            check_state(state, recorder(cancel_after=2))
    assert [(f.severity, f.tensor, f.check) for f in found] == [
        ("error", f"{BN}/moving_variance", "nonfinite"),
        ("error", f"{BN}/moving_variance", "bn_variance"),
        ("warning", f"{BN}/gamma", "bn_variance"),
    ]
    assert progress.reports[-1] == (len(tensors), len(tensors))
    assert {f.check for f in found} <= set(CHECKS)
    assert found[0].to_json() == {
        "tensor": f"{BN}/moving_variance",
        "check": "nonfinite",
        "severity": "error",
        "message": "1 NaN; first at index 0",
        "value": 1,
    }
    assert Finding("t", "spectral", "info", "m", float("nan")).to_json()["value"] == "nan"
    assert Finding("t", "norm_outlier", "info", "m", -math.inf).to_json()["value"] == "-inf"


def test_each_tensor_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tensors, metadata = healthy()
    path = tmp_path / "s.csv"
    save_state(path, tensors, metadata=metadata)
    with open_state(path) as state:
        reads: list[str] = []
        original = state.read

        def counted(which: Any, *args: Any) -> np.ndarray:
            reads.append(which if isinstance(which, str) else which.name)
            return original(which, *args)

        monkeypatch.setattr(state, "read", counted)
        check_state(state)
    repeated = {name for name in reads if reads.count(name) > 1}
    assert repeated <= {ITERATION}  # a scalar read again at the end
