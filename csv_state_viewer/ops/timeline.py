"""The timeline of a run for a front end: files, globs or folders in, a Timeline out.

The core's :func:`~csv_state_viewer.core.analysis.timeline.compute_timeline` opens states
in this process; Keras files need TensorFlow, which front ends read in the worker process
(:func:`csv_state_viewer.ops.opening.open_state`). This is the one place that joins them,
so the CLI and the GUI see the same run the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from csv_state_viewer.core.analysis.run import RunMember, order_run, run_paths
from csv_state_viewer.core.analysis.statscache import StatsCache
from csv_state_viewer.core.analysis.timeline import Timeline, compute_timeline
from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.state import State
from csv_state_viewer.ops.opening import open_state


def open_member(path: str) -> State:
    """One state of a run, opened the way front ends open files (Keras in the worker)."""
    return open_state(path)


def order_members(arguments: Sequence[str], progress: Progress = NO_PROGRESS) -> list[RunMember]:
    """The states that ``arguments`` name, in training order (see ``order_run``)."""
    return order_run(run_paths(arguments), progress, open_member)


def member_timeline(
    members: Sequence[RunMember],
    names: Sequence[str] | None = None,
    *,
    progress: Progress = NO_PROGRESS,
    cache: StatsCache | None = None,
) -> Timeline:
    """The timeline of a run already ordered (the viewer's open run)."""
    paths = [m.path for m in members]
    return compute_timeline(paths, names, progress=progress, cache=cache, opener=open_member)


def run_timeline(
    arguments: Sequence[str],
    names: Sequence[str] | None = None,
    *,
    progress: Progress = NO_PROGRESS,
    cache: StatsCache | None = None,
) -> Timeline:
    """The timeline of the states that ``arguments`` (files, glob patterns, folders)
    name; see :func:`~csv_state_viewer.core.analysis.run.run_paths`."""
    return compute_timeline(
        run_paths(arguments), names, progress=progress, cache=cache, opener=open_member
    )
