"""A progress bar on stderr for the command line: the CLI's :class:`~csv_state_viewer.core.
progress.Progress`.

:class:`TerminalProgress` shows a ``rich`` bar (what is being done, the bar, percent,
elapsed time and time left) only when stderr is a terminal, ``--quiet`` was not given and
the operation has run for :data:`SHOW_AFTER` seconds already, so quick commands print
nothing and piped or redirected stderr gets no bar at all. :meth:`TerminalProgress.report`
is cheap and thread-safe (codec threads call it): it stores the numbers and pushes them to
the bar at most :data:`REFRESHES_PER_SECOND` times a second. Used as a context manager it
always clears the bar when the block ends, on success, error or Ctrl-C, so the lines
printed afterwards are clean.

Ctrl-C: while the block runs, SIGINT makes :meth:`TerminalProgress.cancelled` true (so
worker threads stop at their next check) and raises ``KeyboardInterrupt`` in the main
thread, as Python's own handler does; ``main`` turns either into exit 130.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType, TracebackType
from typing import Any, TextIO

SHOW_AFTER = 0.5  # seconds an operation runs before its bar appears
REFRESHES_PER_SECOND = 10


class TerminalProgress:
    """Progress of one command-line operation, shown as a bar on ``stream`` (stderr)."""

    def __init__(
        self,
        description: str,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        show_after: float = SHOW_AFTER,
    ) -> None:
        self.description = description
        self.stream = stream if stream is not None else sys.stderr
        self.show_after = show_after
        self.enabled = not quiet and _is_terminal(self.stream)
        self._lock = threading.Lock()
        self._done, self._total = 0, 0
        self._pushed_at = 0.0
        self._interrupted = False
        self._closed = False
        self._bar: Any = None  # rich.progress.Progress once shown
        self._task: Any = None
        self._timer: threading.Timer | None = None
        self._previous_handler: Any = None

    # -- the Progress protocol ------------------------------------------------------------

    def report(self, done: int, total: int) -> None:
        self._done, self._total = done, total  # read by the bar when it appears
        if self._bar is None:
            return
        now = time.monotonic()
        if now - self._pushed_at < 1.0 / REFRESHES_PER_SECOND:
            return
        self._pushed_at = now
        self._push()

    def cancelled(self) -> bool:
        return self._interrupted

    # -- the context ----------------------------------------------------------------------

    def __enter__(self) -> TerminalProgress:
        self._install_interrupt_handler()
        if self.enabled:
            self._timer = threading.Timer(self.show_after, self._show)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the bar's timer, clear the bar and restore Ctrl-C; safe to call twice."""
        timer = self._timer
        if timer is not None:
            timer.cancel()
        with self._lock:
            self._closed = True
            bar, self._bar = self._bar, None
        if bar is not None:
            bar.stop()  # transient: the bar's lines are erased, the cursor shown again
        self._restore_interrupt_handler()

    # -- inside ---------------------------------------------------------------------------

    def _show(self) -> None:
        """Start the bar (on the timer's thread), unless the operation ended meanwhile."""
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        with self._lock:
            if self._closed:
                return
            bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream, highlight=False),
                transient=True,
                refresh_per_second=REFRESHES_PER_SECOND,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            done, total = self._done, self._total
            self._task = bar.add_task(
                _escaped(self.description), total=total or None, completed=done
            )
            bar.start()
            self._bar = bar

    def _push(self) -> None:
        with self._lock:
            if self._bar is not None:
                done, total = self._done, self._total
                self._bar.update(self._task, completed=done, total=total or None)

    def _install_interrupt_handler(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        # only over Python's default: an ignored SIGINT (a background job) stays ignored
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return
        self._previous_handler = signal.signal(signal.SIGINT, self._on_interrupt)

    def _restore_interrupt_handler(self) -> None:
        previous, self._previous_handler = self._previous_handler, None
        if previous is not None:
            signal.signal(signal.SIGINT, previous)

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        self._interrupted = True  # worker threads stop at their next check
        raise KeyboardInterrupt


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # closed or not a real file
        return False


def _escaped(text: str) -> str:
    """``text`` as plain text for rich: file names are escaped (no terminal escapes, no
    rich markup such as ``[bold]``)."""
    from rich.markup import escape

    from csv_state_viewer.core.formatting import safe_text

    return escape(safe_text(text))
