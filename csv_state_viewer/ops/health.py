"""The health check of a state file, and of a run of them: for ``csv-state health`` and
the viewer's Health pane.

One state: open it as the other commands do (in the TensorFlow worker when its format
needs it), run :func:`~csv_state_viewer.core.analysis.health.check_state`. A run: order
its states (by step count, else by name), check each in turn with one file open at a
time, and tell for each problem the first state it appears in, which is what a user
resuming a diverged training wants (the last good checkpoint is the one before).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from csv_state_viewer.core.analysis import spectral
from csv_state_viewer.core.analysis.health import Finding, check_state
from csv_state_viewer.core.analysis.roles import WEIGHT, kind_of
from csv_state_viewer.core.analysis.run import RunMember, order_run, run_paths
from csv_state_viewer.core.analysis.summary import plural
from csv_state_viewer.core.errors import RowProblem
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, Span
from csv_state_viewer.core.state import State
from csv_state_viewer.ops.opening import open_like, open_state


@dataclass(frozen=True)
class HealthReport:
    """The findings of one state; ``notes`` say what was not checked (bad rows, kernels
    too large for the spectral check) and what the reader decided; ``problems`` are the
    bad rows, which are not findings."""

    path: str
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


@dataclass(frozen=True)
class RunFinding:
    """A problem of a run: its finding where it first appears (``first_state`` indexes
    :attr:`RunHealth.states`) and whether the last state still has it."""

    finding: Finding
    first_state: int
    first_path: str
    first_step: int | None
    in_last_state: bool

    def to_json(self) -> dict[str, Any]:
        return {
            **self.finding.to_json(),
            "first_state": self.first_state,
            "first_path": self.first_path,
            "first_step": self.first_step,
            "in_last_state": self.in_last_state,
        }


@dataclass(frozen=True)
class RunHealth:
    """The states of a run in training order, and each distinct (tensor, check) problem
    with the first state it appears in (in order of appearance)."""

    states: list[RunMember]
    findings: list[RunFinding]
    notes: list[str] = field(default_factory=list)


def report_of(state: State, progress: Progress = NO_PROGRESS) -> HealthReport:
    """The health report of an open state."""
    findings = check_state(state, progress)
    notes = list(state.notes)
    if state.errors:
        notes.append(f"{plural(len(state.errors), 'bad row')} not checked")
    large = [
        e.name
        for e in state.entries
        if e.ok
        and e.shape is not None
        and kind_of(e) == WEIGHT
        and len(e.shape) >= 2
        and min(e.size // max(e.shape[-1], 1), e.shape[-1]) > spectral.MAX_SIDE
    ]
    if large:
        notes.append(
            f"spectral: {plural(len(large), 'kernel')} larger than {spectral.MAX_SIDE} on "
            f"both sides not measured (first: {large[0]})"
        )
    return HealthReport(state.path, findings, notes, list(state.errors))


def health_of(
    path: str,
    *,
    layout: str | None = None,
    like: str | None = None,
    progress: Progress = NO_PROGRESS,
    **options: Any,
) -> HealthReport:
    """Open ``path`` (as ``layout``, shaped ``like`` a model, with reading ``options``)
    and check it."""
    opening, checking = Span(progress, 0, 100), Span(progress, 100, 1000)
    state = (
        open_like(path, like, opening, layout, **options)
        if like
        else open_state(path, opening, layout, **options)
    )
    with state:
        return report_of(state, checking)


def health_of_run(paths: Sequence[str], progress: Progress = NO_PROGRESS) -> RunHealth:
    """Check the states that ``paths`` name (files, globs, folders: see
    :func:`~csv_state_viewer.core.analysis.run.run_paths`) in training order."""
    members = order_run(run_paths(paths), Span(progress, 0, 100))
    first: dict[tuple[str, str], RunFinding] = {}
    last: set[tuple[str, str]] = set()
    notes: list[str] = []
    for index, member in enumerate(members):
        part = Span(
            progress, 100 + 900 * index // len(members), 100 + 900 * (index + 1) // len(members)
        )
        with open_state(member.path, part) as state:
            report = report_of(state, part)
        notes += [f"{os.path.basename(member.path)}: {note}" for note in report.notes]
        last = {(f.tensor, f.check) for f in report.findings}
        for finding in report.findings:
            key = (finding.tensor, finding.check)
            if key not in first:
                first[key] = RunFinding(finding, index, member.path, member.step, False)
    findings = [
        RunFinding(f.finding, f.first_state, f.first_path, f.first_step, key in last)
        for key, f in first.items()
    ]
    return RunHealth(members, findings, notes)
