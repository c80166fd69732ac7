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
