"""What a tensor is (parameter, optimizer state, counter) and the statistics kept apart."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from csv_state_viewer.core.analysis.roles import (
    COUNTER,
    OPTIMIZER_SCALAR,
    OTHER,
    SLOT,
    WEIGHT,
    kind_of,
)
from csv_state_viewer.core.analysis.stats import tensor_stats
from csv_state_viewer.core.analysis.summary import percent_text, plural, summarize, tensor_record
from csv_state_viewer.core.errors import RowError, RowProblem
from csv_state_viewer.core.progress import NO_PROGRESS
from csv_state_viewer.core.state import TensorEntry


def entry(name: str, shape: tuple[int, ...] = (3,), **metadata: Any) -> TensorEntry:
    return TensorEntry(name, shape, np.dtype("float32"), "text", metadata=metadata)


@pytest.mark.parametrize(
    ("made", "kind"),
    [
        (entry("sequential/dense/kernel", role="weight"), WEIGHT),
        (entry("dense/kernel"), WEIGHT),  # no role: a parameter
        (entry("weight_3"), WEIGHT),  # the recipe's names
        (entry("adam/m", role="optimizer", slot_of="dense/kernel"), SLOT),
        (
            entry("adam/iteration", (), role="optimizer", optimizer_variable="iteration"),
            OPTIMIZER_SCALAR,
        ),
        (entry("adam/learning_rate", (), role="optimizer"), OPTIMIZER_SCALAR),
        (entry("adam/dense_kernel_m"), SLOT),  # no role: under an optimizer's scope
        (entry("optimizer/iteration", ()), OPTIMIZER_SCALAR),
        (entry("dense/kernel/Adam_1"), SLOT),  # TF1 slot names
        (entry("beta1_power", ()), OPTIMIZER_SCALAR),
        (entry("global_step", ()), COUNTER),
        (entry("epoch", (), role="counter"), COUNTER),
        (entry("save_counter", (), role="checkpoint"), COUNTER),
        (entry("seed_generator/state", (2,), role="rng"), OTHER),
        (entry("x", slot_of="w"), SLOT),
    ],
)
def test_kind_of(made: TensorEntry, kind: str) -> None:
    assert kind_of(made) == kind


def test_summarize_measures_parameters_and_optimizer_state_apart() -> None:
    arrays: dict[str, np.ndarray] = {
        "w": np.array([1.0, -2.0, 3.0], np.float32),
        "adam/m": np.array([0.5, 0.25, 0.0], np.float32),
        "adam/iteration": np.array(320, np.int64),
        "broken": np.zeros(3, np.float32),
    }
    entries = [
        entry("w", role="weight"),
        entry("adam/m", role="optimizer", slot_of="w"),
        TensorEntry(
            "adam/iteration", (), np.dtype("int64"), "text", metadata={"role": "optimizer"}
        ),
        entry("broken"),
    ]

    def measure(item: TensorEntry, _: object) -> Any:
        if item.name == "broken":
            raise RowError(RowProblem("f.csv", 5, "broken", "bad value"))
        return tensor_stats(arrays[item.name])

    result = summarize(entries, lambda e: e, measure, NO_PROGRESS)
    assert result.measured == 3 and [e.name for e, _ in result.failed] == ["broken"]
    assert (result.parameters.max, result.parameters.count) == (3.0, 3)
    assert (result.optimizer.max, result.optimizer.count) == (0.5, 3)  # not 320
    assert [(m.entry.name, m.value) for m in result.values] == [("adam/iteration", "320")]
    record = tensor_record(result.tensors[1])
    assert record["role"] == "optimizer" and record["zeros"] == pytest.approx(1 / 3)
    assert record["l2"] == pytest.approx(np.sqrt(0.25 + 0.0625))


def test_wording() -> None:
    assert plural(1, "tensor") == "1 tensor"
    assert plural(2, "tensor") == "2 tensors"
    assert plural(0, "bad row") == "0 bad rows"
    assert plural(12_345, "value") == "12,345 values"
    assert percent_text(1, 8) == "12.5 %"
    assert percent_text(0, 8) == "0 %" and percent_text(8, 8) == "100 %"
    assert percent_text(1, 10**7) == "< 0.001 %"  # not zero, never said to be
    assert percent_text(10**7 - 1, 10**7) == "> 99.999 %"
