"""Export the selected tensors, one file each: ``.npy``, a CSV matrix or text.

The dialogs ask where (one tensor: a file; several: a folder and a kind) and never replace
a file without asking; the writing itself is :func:`csv_state_viewer.ops.tensorexport.
export_tensor`, run in the window's own task slot for it, with the status bar's progress.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from csv_state_viewer.core.analysis.tree import GROUP, TENSOR, Node
from csv_state_viewer.core.formatting import display_name
from csv_state_viewer.core.progress import Progress, check_cancelled
from csv_state_viewer.gui.errors import show_error
from csv_state_viewer.ops.tensorexport import (
    KINDS,
    LABELS,
    ExportedTensor,
    export_tensor,
    file_name_for,
    kind_of,
)

if TYPE_CHECKING:
    from csv_state_viewer.gui.mainwindow import MainWindow

FILTERS = {f"{LABELS[kind]} (*{ext})": kind for kind, ext in KINDS.items()}


def exportable(nodes: list[Node]) -> list[Node]:
    """The tensors among ``nodes``, and those of selected scopes, that can be read (no bad
    row); each once, in order. A whole file is exported by File > Export instead."""
    found: dict[int, Node] = {}
    for node in nodes:
        below = node.tensors() if node.kind == GROUP else [node]
        for tensor in below:
            if tensor.kind == TENSOR and tensor.entry is not None and tensor.error is None:
                found.setdefault(id(tensor), tensor)
    return list(found.values())


def export_dialog(window: MainWindow, nodes: list[Node] | None = None) -> None:
    """Ask where to export the selected tensors, then export them."""
    tensors = exportable(window.selected_nodes() if nodes is None else nodes)
    if not tensors:
        return
    if len(tensors) == 1:
        tensor = tensors[0]
        path, chosen = QFileDialog.getSaveFileName(
            window,
            f"Export {display_name(tensor.name)}",
            file_name_for(tensor.name, "npy"),
            ";;".join(FILTERS),
        )
        if not path:
            return
        kind = kind_of(path) or FILTERS.get(chosen, "npy")
        if kind_of(path) is None:  # the dialog asked about the name without the extension
            path += KINDS[kind]
            if os.path.lexists(path) and not _replace(window, f"{path} exists. Replace it?"):
                return
        # otherwise the file dialog has asked before replacing a file
        export_tensors(window, tensors, [path], kind, overwrite=True)
        return
    folder = QFileDialog.getExistingDirectory(window, f"Export {len(tensors)} tensors into")
    if not folder:
        return
    label, ok = QInputDialog.getItem(
        window, "Export tensors", "One file per tensor, as:", list(FILTERS), 0, False
    )
    if not ok:
        return
    kind = FILTERS[label]
    paths = [os.path.join(folder, file_name_for(t.name, kind)) for t in tensors]
    existing = [p for p in paths if os.path.lexists(p)]
    overwrite = False
    if existing:
        question = (
            f"{len(existing)} of the {len(paths)} files exist already in {folder} "
            f"(first: {os.path.basename(existing[0])}). Replace them?"
        )
        if not _replace(window, question):
            return
        overwrite = True
    export_tensors(window, tensors, paths, kind, overwrite=overwrite)


def _replace(window: MainWindow, question: str) -> bool:
    answer = QMessageBox.question(window, "Replace files?", question)
    return answer == QMessageBox.StandardButton.Yes


def export_tensors(
    window: MainWindow, tensors: list[Node], paths: list[str], kind: str, *, overwrite: bool
) -> None:
    """Write each tensor to its path (``paths`` parallel to ``tensors``) in a worker."""
    context = window.context
    jobs = list(zip(tensors, paths, strict=True))

    def work(progress: Progress) -> list[ExportedTensor]:
        written = []
        for done, (node, path) in enumerate(jobs):
            check_cancelled(progress)
            array = context.load_array(node)
            written.append(export_tensor(array, node.name, path, kind, overwrite=overwrite))
            progress.report(done + 1, len(jobs))
        return written

    def done(written: list[ExportedTensor]) -> str:
        window.tensors_exported.emit(written)
        if len(written) == 1:
            one = written[0]
            note = f" ({one.note})" if one.note else ""
            return f"Exported {display_name(one.name)} to {one.path}{note}"
        reshaped = sum(1 for w in written if w.note)
        note = f" ({reshaped} reshaped to 2-D)" if reshaped else ""
        folder = os.path.dirname(written[0].path) if written else ""
        return f"Exported {len(written)} tensors to {folder}{note}"

    def failed(error: BaseException) -> str:
        window.error_boxes.append(show_error(window, "Export failed", error))
        return "Export failed"

    window.status.run(
        window.action_slots["tensor"],
        f"Exporting {len(jobs)} tensor{'s' * (len(jobs) != 1)}…",
        work,
        on_done=done,
        on_error=failed,
    )
