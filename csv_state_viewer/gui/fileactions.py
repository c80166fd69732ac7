"""What the File menu does once paths are chosen: save, export, compare, in workers.

Each function takes explicit paths so that tests (and scripts) can drive it without a
file dialog; :mod:`csv_state_viewer.gui.menus` asks the user for the paths. Each action
runs in the window's own slot for it (``window.action_slots``), through the status bar's
:class:`~csv_state_viewer.gui.statusprogress.StatusProgress`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from csv_state_viewer.core.format import WriteChoice
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.core.registry import format_named
from csv_state_viewer.core.state import State
from csv_state_viewer.gui.context import Comparison
from csv_state_viewer.gui.errors import show_error
from csv_state_viewer.ops.compare import Compared, compare
from csv_state_viewer.ops.convert import Converted, ConvertOptions
from csv_state_viewer.ops.convert import export as export_state

if TYPE_CHECKING:
    from csv_state_viewer.core.analysis.tree import Node
    from csv_state_viewer.gui.mainwindow import MainWindow


def _run(
    window: MainWindow,
    action: str,
    what: str,
    fn: Callable[[Progress], Any],
    done: Callable[[Any], str],
) -> None:
    """Run ``fn`` as the window's ``action``; ``done`` gives the final status text, errors
    become dialogs."""

    def failed(error: BaseException) -> str:
        window.error_boxes.append(show_error(window, f"{what} failed", error))
        return f"{what} failed"

    window.status.run(window.action_slots[action], f"{what}…", fn, on_done=done, on_error=failed)


def _source(window: MainWindow) -> State | None:
    root = window.current_root()
    return root.state if root is not None else None


def save_as(window: MainWindow, path: str, encoding: str = "text") -> None:
    """Write the current file as CSV (``text`` or ``base64``); bad rows are left out."""
    choice = next(
        (c for c in format_named("csv").write_choices() if c.options.get("encoding") == encoding),
        None,
    )
    if choice is None:
        raise ValueError(f"no CSV encoding {encoding!r}")
    _write(window, "save", "Saving", path, choice)


def export(
    window: MainWindow,
    path: str,
    choice: WriteChoice,
    model: str | None = None,
    *,
    overwrite: bool = True,
) -> None:
    """Write the current file, as the viewer shows it, as ``choice`` says (a model for
    formats that need one); bad rows are left out. ``overwrite`` is True when a file
    dialog has already asked before replacing."""
    what = f"Exporting {choice.label}"
    _write(window, "export", what, path, choice, model=model, overwrite=overwrite)


def _write(
    window: MainWindow,
    action: str,
    what: str,
    path: str,
    choice: WriteChoice,
    *,
    model: str | None = None,
    overwrite: bool = True,
) -> None:
    state = _source(window)
    if state is None:
        return
    options = ConvertOptions(
        format_name=choice.format_name,
        save_options=choice.options,
        model=model,
        overwrite=overwrite,
        skip_bad=True,
    )

    def work(progress: Progress) -> Converted:
        return export_state(state, path, options, progress)

    def wrote(converted: Converted) -> str:
        skipped = len(converted.skipped)
        note = f" ({skipped} bad row{'s' * (skipped != 1)} left out)" if skipped else ""
        return f"Wrote {converted.written} tensors to {path}{note}"

    _run(window, action, what, work, wrote)


def compare_with(window: MainWindow, path: str) -> None:
    """Compare the current file (A) with the state at ``path`` (B), tensor by tensor."""
    root = window.current_root()
    if root is None or root.state is None:
        return
    state = root.state

    def work(progress: Progress) -> Compared:
        return compare(state, path, progress)

    compared = lambda result: _compared(window, root, result)  # noqa: E731
    _run(window, "compare", "Comparing", work, compared)


def _compared(window: MainWindow, root: Node, compared: Compared) -> str:
    other, result = compared.other, compared.diff
    name = os.path.basename(other.path)
    if root not in window.roots:  # closed while it was compared
        other.close()
        return f"Not compared with {name}: {root.label} was closed"
    clear_diffs(window)
    window.context.set_comparison(Comparison(root, other, result))
    counts = ", ".join(f"{n} {s.value.replace('_', ' ')}" for s, n in result.counts().items())
    window.set_tab("compare")
    return f"Compared with {name}: {counts}"


def clear_diffs(window: MainWindow) -> None:
    """Forget the comparison (the tree's Difference column empties)."""
    comparison = window.context.comparison
    if comparison is None:
        return
    window.context.set_comparison(None)
    comparison.other.close()
