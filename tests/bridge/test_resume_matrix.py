"""Exact resume for the models and optimizers users bring (issue: write into any real
Keras model): each case is trained 2 steps, its full training state saved with
``save_training_state``, restored into a fresh model built in this process (auto-numbered
names) and into one built in another process, trained 1 more step there, and compared bit
for bit with the uninterrupted run: weights, optimizer variables and RNG states. The
case's ``.keras`` file converts to CSV without losing a tensor.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from csv_state_viewer import open_state, restore_training_state, save_training_state
from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.kerasmodel import GLOBAL_RNG, named_variables, variable_value
from csv_state_viewer.ops.convert import ConvertOptions, convert_here

CASES_FILE = Path(__file__).with_name("resume_cases.py")

tf = tfimport.tensorflow()
keras = tfimport.keras()
sys.path.insert(0, str(CASES_FILE.parent))
import resume_cases  # noqa: E402  (registers the subclassed model's classes)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True, scope="module")
def deterministic_ops() -> Any:
    tf.config.experimental.enable_op_determinism()
    yield


def live_values(model: Any) -> list[tuple[str, bytes]]:
    """(role, bytes) of every variable, RNG states included, in naming order."""
    return [
        (item.metadata["role"], variable_value(item.variable).tobytes())
        for item in named_variables(model, include_rng=True)
        if item.name != GLOBAL_RNG
    ]


def file_values(
    path: Path, roles: tuple[str, ...] = ("weight", "optimizer", "rng")
) -> list[tuple[str, bytes]]:
    with open_state(path) as state:
        return [
            (entry.metadata.get("role", "weight"), state.read(entry).tobytes())
            for entry in state.entries
            if entry.metadata.get("role", "weight") in roles and entry.name != GLOBAL_RNG
        ]


@pytest.mark.parametrize("case", sorted(resume_cases.CASES))
def test_resume_is_exact_in_this_and_another_process(case: str, tmp_path: Path) -> None:
    original = resume_cases.build(case)
    resume_cases.train(original, case, 2)
    state = tmp_path / "state.csv"
    save_training_state(original, state, counters={"step": 2})
    original.save(tmp_path / "model.keras")

    fresh = resume_cases.build(case)  # same process: Keras numbers its names anew
    restored = restore_training_state(fresh, state)
    assert restored.report.ok and restored.counters == {"step": 2}
    assert not any("RNG" in note for note in restored.report.notes), restored.report.notes

    out = tmp_path / "resumed.csv"
    subprocess.run(
        [sys.executable, str(CASES_FILE), "resume", case, str(state), str(out)],
        check=True,
        capture_output=True,
        timeout=600,
    )

    resume_cases.train(original, case, 1)
    resume_cases.train(fresh, case, 1)
    expected = live_values(original)
    assert any(role == "optimizer" for role, _ in expected)
    assert live_values(fresh) == expected
    assert file_values(out) == expected

    # the .keras file Keras saved converts without losing a tensor or a bit (here, in this
    # process, where the classes are registered: --import is tested with the command line
    # in test_wrapper_optimizers.py)
    converted = tmp_path / "model.csv"
    done = convert_here(str(tmp_path / "model.keras"), str(converted), ConvertOptions())
    assert done.written == len(file_values(state, ("weight", "optimizer")))
    saved = file_values(state, ("weight", "optimizer"))
    assert file_values(converted) == saved
