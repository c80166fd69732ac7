"""The one progress/cancel protocol of the project.

Long core functions take a :class:`Progress`; the GUI's workers implement it on top of
Qt signals, the CLI uses :data:`NO_PROGRESS`. Cancellation raises :class:`Cancelled`.
"""

from __future__ import annotations

from typing import Protocol


class Cancelled(Exception):  # noqa: N818 - it is an event, not an error
    """The operation was cancelled through its :class:`Progress`."""


class Progress(Protocol):
    def report(self, done: int, total: int) -> None:
        """Say that ``done`` of ``total`` units of work are finished."""

    def cancelled(self) -> bool:
        """Return True when the caller asks the work to stop."""


class _NoProgress:
    def report(self, done: int, total: int) -> None:
        pass

    def cancelled(self) -> bool:
        return False


NO_PROGRESS: Progress = _NoProgress()


def check_cancelled(progress: Progress) -> None:
    """Raise :class:`Cancelled` when ``progress`` asks to stop."""
    if progress.cancelled():
        raise Cancelled


class Span:
    """One phase of a longer job: reports its own ``done/total`` as the range
    ``start..end`` of ``steps`` units of the outer progress (open 0-10 %, write 10-100 %)."""

    def __init__(self, outer: Progress, start: int, end: int, steps: int = 1000) -> None:
        self.outer, self.start, self.end, self.steps = outer, start, end, steps

    def report(self, done: int, total: int) -> None:
        part = min(done / total, 1.0) if total > 0 else 0.0
        self.outer.report(self.start + int((self.end - self.start) * part), self.steps)

    def cancelled(self) -> bool:
        return self.outer.cancelled()
