"""Compare two states tensor by tensor: the job behind ``csv-state diff`` and *Compare with*."""

from __future__ import annotations

from dataclasses import dataclass

from csv_state_viewer.core.analysis.diff import StateDiff, diff_states
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, Span
from csv_state_viewer.core.state import State
from csv_state_viewer.ops.opening import open_state


@dataclass
class Compared:
    """A comparison with ``other`` (B, kept open for the viewer to read; close it)."""

    other: State
    diff: StateDiff


def compare(
    state: State,
    other_path: str,
    progress: Progress = NO_PROGRESS,
    layout: str | None = None,
    match: str = "auto",
) -> Compared:
    """Open ``other_path`` (B, as ``layout`` when given) and compare ``state`` (A) with it.

    ``match`` is how tensor names are paired: ``auto``, ``name`` or ``order`` (see
    :func:`~csv_state_viewer.core.analysis.names.pair_names`).
    """
    other = open_state(other_path, Span(progress, 0, 100), layout)
    try:
        return Compared(other, diff_states(state, other, Span(progress, 100, 1000), match=match))
    except BaseException:
        other.close()
        raise
