"""The window's menus and the dialogs they open; the work itself is in fileactions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox, QWidget

from csv_state_viewer.core.errors import CsvStateError
from csv_state_viewer.core.format import Format, WriteChoice
from csv_state_viewer.core.formatting import display_name, safe_text
from csv_state_viewer.core.layouts.matrixtext import parse_scale
from csv_state_viewer.core.registry import (
    file_stem,
    format_named,
    formats_for_reading,
    model_filter,
    open_filter,
    write_choices,
)
from csv_state_viewer.gui import exporttensor, fileactions, helpmenu
from csv_state_viewer.gui.errors import show_error
from csv_state_viewer.gui.resources import sample_files

if TYPE_CHECKING:
    from csv_state_viewer.gui.mainwindow import MainWindow

PLOT_PANES = ("histogram", "heatmap", "compare")


@dataclass
class Menus:
    recent: QMenu
    file_actions: list[QAction]  # enabled only when a file is open
    dialogs: list[QWidget] = field(default_factory=list)
    actions: dict[str, QAction] = field(default_factory=dict)  # by name, for enabling and tests


def _action(
    window: MainWindow,
    menu: QMenu,
    text: str,
    slot: Any,
    shortcut: Any = None,
    *,
    named: dict[str, QAction] | None = None,
    name: str = "",
) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda _checked=False: slot())
    menu.addAction(action)
    if named is not None:
        named[name] = action
    return action


def build(window: MainWindow) -> Menus:
    bar = window.menuBar()
    named: dict[str, QAction] = {}  # actions enabled by update_actions
    file_menu = bar.addMenu("&File")
    _action(
        window, file_menu, "&Open…", partial(open_dialog, window), QKeySequence.StandardKey.Open
    )
    _action(window, file_menu, "Open &Folder…", partial(open_folder_dialog, window))
    _action(window, file_menu, "Open R&un…", partial(open_run_dialog, window))
    recent = file_menu.addMenu("Open &Recent")
    samples = file_menu.addMenu("Open &Sample")
    for path in sample_files():
        _action(window, samples, path.name, partial(window.open_file, str(path)))
    file_menu.addSeparator()
    needs_file = [
        _action(
            window,
            file_menu,
            "&Compare with…",
            partial(compare_dialog, window),
            named=named,
            name="compare",
        ),
    ]
    _action(
        window,
        file_menu,
        "Clear comparison",
        partial(clear_comparison, window),
        named=named,
        name="clear_comparison",
    )
    file_menu.addSeparator()
    needs_file.append(
        _action(
            window, file_menu, "Save &As CSV…", partial(_save_as_dialog, window), "Ctrl+Shift+S"
        )
    )
    export_menu = file_menu.addMenu("&Export")
    for choice in write_choices():
        needs_file.append(
            _action(
                window, export_menu, choice.label + "…", partial(_export_dialog, window, choice)
            )
        )
    export_menu.addSeparator()
    _action(
        window,
        export_menu,
        "Selected &tensors (.npy, CSV matrix, text)…",
        partial(exporttensor.export_dialog, window),
        "Ctrl+E",
        named=named,
        name="export_tensors",
    )
    for pane, label in (("histogram", "&Histogram bins as CSV…"), ("summary", "S&ummary…")):
        _action(
            window,
            export_menu,
            label,
            partial(_export_pane_dialog, window, pane),
            named=named,
            name=f"export_{pane}",
        )
    needs_file.append(
        _action(window, file_menu, "&Write into Keras model…", partial(write_model_dialog, window))
    )
    _action(window, file_menu, "Take s&hapes from a model…", partial(take_shapes_dialog, window))
    needs_file.append(
        _action(window, file_menu, "Fi&xed-point scale…", partial(fixed_point_dialog, window))
    )
    _action(window, file_menu, "Con&vert files…", partial(convert_dialog, window))
    file_menu.addSeparator()
    needs_file.append(
        # no shortcut: Ctrl+P means Print everywhere, Ctrl+Shift+S is Save As
        _action(window, file_menu, "Save &plot as…", partial(_save_plot_dialog, window))
    )
    needs_file.append(
        _action(
            window,
            file_menu,
            "C&lose file",
            partial(_close_current, window),
            QKeySequence.StandardKey.Close,
        )
    )
    _action(window, file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)
    help_menu = bar.addMenu("&Help")
    _action(
        window,
        help_menu,
        "&Keyboard Shortcuts",
        partial(shortcuts_dialog, window),
        QKeySequence.StandardKey.HelpContents,
    )
    _action(window, help_menu, "&About", partial(about, window))
    menus = Menus(recent, needs_file, actions=named)
    window.file_opened.connect(lambda _root: update_actions(window))
    window.context.comparison_changed.connect(lambda: update_actions(window))
    return menus


def update_actions(window: MainWindow) -> None:
    """Enable what can act now: file actions with a file open, export of tensors with
    tensors selected, the histogram's export with a histogram shown, Clear comparison
    with a comparison."""
    menus = getattr(window, "menus", None)
    if menus is None:  # still being built
        return
    has_file = bool(window.roots)
    for action in menus.file_actions:
        action.setEnabled(has_file)
    actions = menus.actions
    actions["clear_comparison"].setEnabled(window.context.comparison is not None)
    tensors = has_file and window.has_tensor_selected()
    actions["export_tensors"].setEnabled(tensors)
    if "export_histogram" in actions:
        actions["export_histogram"].setEnabled(tensors)
    if "export_summary" in actions:
        actions["export_summary"].setEnabled(has_file)


def fill_recent(window: MainWindow, paths: list[str]) -> None:
    menu = window.menus.recent
    menu.clear()
    for path in paths:  # shown escaped, with any & as itself, not a shortcut key
        text = safe_text(path).replace("&", "&&")
        _action(window, menu, text, partial(window.open_file, path))
    menu.setEnabled(bool(paths))
    if paths:
        menu.addSeparator()
        _action(window, menu, "Clear list", partial(_clear_recent, window))


def _clear_recent(window: MainWindow) -> None:
    window.settings.clear_recent()
    window.refresh_recent()


# ------------------------------------------------------------------ dialogs
def open_dialog(window: MainWindow) -> None:
    paths, _ = QFileDialog.getOpenFileNames(window, "Open training state", "", open_filter())
    window.open_files(paths)


def open_folder_dialog(window: MainWindow) -> None:
    """A folder of per-tensor files (one np.savetxt matrix per layer...) as one state."""
    folder = QFileDialog.getExistingDirectory(window, "Open a folder of per-tensor files")
    if folder:
        window.open_file(folder)


def open_run_dialog(window: MainWindow) -> None:
    """A folder of states saved during one training (one per epoch or step) as a run."""
    folder = QFileDialog.getExistingDirectory(
        window, "Open a run: a folder of states saved during training"
    )
    if folder:
        window.open_run([folder])


def fitting_layouts(path: str) -> list[Format]:
    """The formats other than the fallbacks that could read ``path`` (empty on errors:
    the open itself will say what is wrong)."""
    try:
        return [f for f in formats_for_reading(path) if not f.fallback]
    except (CsvStateError, OSError):
        return []


def ask_layout(
    window: MainWindow, path: str, fitting: list[Format], like: str | None
) -> QMessageBox:
    """The content of ``path`` fits several layouts: the user picks one."""
    box = QMessageBox(window)
    box.setObjectName("layout_choice")
    box.setWindowTitle("Choose how to read the file")
    box.setTextFormat(Qt.TextFormat.PlainText)  # a file name is not markup
    box.setText(
        f"{display_name(os.path.basename(path))} can be read in {len(fitting)} ways. Read it as:"
    )
    buttons = {box.addButton(f.display_name, QMessageBox.ButtonRole.ActionRole): f for f in fitting}
    box.addButton(QMessageBox.StandardButton.Cancel)

    def chosen(button: Any) -> None:
        fmt = buttons.get(button)
        if fmt is not None:
            window.open_file(path, layout=fmt.name, like=like)

    box.buttonClicked.connect(chosen)
    _keep(window, box)
    return box


def take_shapes_dialog(window: MainWindow) -> None:
    """Reopen the current file with the weight shapes (and names, for unnamed rows) of a
    model or another state, by order; with no file open (unnamed rows open no other way),
    ask for the file first."""
    root = window.current_root()
    path = None
    if root is None:
        path, _ = QFileDialog.getOpenFileName(window, "File to read", "", open_filter())
        if not path:
            return
    model, _ = QFileDialog.getOpenFileName(window, "Take shapes from", "", open_filter())
    if not model:
        return
    if root is not None:
        window.reopen(root, like=model)
    elif path:
        window.open_file(path, like=model)


def fixed_point_dialog(window: MainWindow) -> None:
    """Show the current file's integer (fixed-point) matrices as real values: each times a
    scale; an empty scale shows the integers again."""
    root = window.current_root()
    if root is None or root.state is None:
        return
    text, ok = QInputDialog.getText(
        window,
        "Fixed-point scale",
        "Each integer times (0.0625, 2^-4 or 1/16; empty for the integers):",
        text=window.settings.fixed_point_scale(),
    )
    if not ok:
        return
    text = text.strip()
    if text:
        try:
            parse_scale(text)
        except ValueError as err:
            window.error_boxes.append(show_error(window, "Fixed-point scale", err))
            return
    window.settings.set_fixed_point_scale(text)
    window.reopen(root, options={"scale": text} if text else None)


def compare_dialog(window: MainWindow) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Compare with", "", open_filter())
    if path:
        fileactions.compare_with(window, path)


def clear_comparison(window: MainWindow) -> None:
    fileactions.clear_diffs(window)


def _save_as_dialog(window: MainWindow) -> None:
    choices = {f"{c.label} (*{c.extension})": c for c in format_named("csv").write_choices()}
    path, chosen = QFileDialog.getSaveFileName(window, "Save as CSV", "", ";;".join(choices))
    if path:
        fileactions.export(window, path, choices.get(chosen, next(iter(choices.values()))))


def _export_dialog(window: MainWindow, choice: WriteChoice) -> None:
    fmt = format_named(choice.format_name)
    if fmt.writes_folder:  # a folder of files, one per tensor, named after the state
        _export_folder(window, choice)
        return
    path, _ = QFileDialog.getSaveFileName(
        window, f"Export as {choice.label}", "", f"{choice.label} ({' '.join(fmt.file_patterns())})"
    )
    if not path:
        return
    model = None
    if choice.needs_model:
        model, _ = QFileDialog.getOpenFileName(
            window, "Model the weights belong to", "", model_filter()
        )
        if not model:
            return
    if choice.extension and not fmt.matches_extension(path):
        path += choice.extension
    fileactions.export(window, path, choice, model)


def _export_folder(window: MainWindow, choice: WriteChoice) -> None:
    root = window.current_root()
    if root is None or root.state is None:
        return
    parent = QFileDialog.getExistingDirectory(window, f"Export as {choice.label} into")
    if parent:
        folder = os.path.join(parent, file_stem(root.state.path) or "state") + os.sep
        fileactions.export(window, folder, choice, overwrite=False)


def _save_plot_dialog(window: MainWindow) -> None:
    current = window.panes.current_name()
    name = current if current in PLOT_PANES else "histogram"
    window.set_tab(name)
    path, _ = QFileDialog.getSaveFileName(
        window, "Save plot", f"{name}.png", "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf)"
    )
    if path:
        save_plot(window, path)


def save_plot(window: MainWindow, path: str) -> None:
    pane: Any = window.current_pane()
    if not hasattr(pane, "save_plot"):
        pane = window.panes["histogram"]
    try:
        pane.save_plot(path)
    except (OSError, ValueError) as err:
        window.error_boxes.append(show_error(window, "Cannot save the plot", err))
        return
    window.status_label.setText(f"Saved plot to {path}")


def write_model_dialog(window: MainWindow) -> QWidget | None:
    from csv_state_viewer.gui.dialogs.writemodel import WriteModelDialog

    root = window.current_root()
    if root is None or root.state is None:
        return None
    dialog = WriteModelDialog(root.state, window.context, window)
    _keep(window, dialog)
    return dialog


def convert_dialog(window: MainWindow, paths: list[str] | None = None) -> QWidget:
    from csv_state_viewer.gui.dialogs.convert import ConvertDialog

    dialog = ConvertDialog(window.context, window)
    if paths:
        dialog.add_files(paths)
    _keep(window, dialog)
    return dialog


def _keep(window: MainWindow, dialog: QWidget) -> None:
    window.menus.dialogs.append(dialog)
    dialog.show()
    dialog.raise_()


def about(window: MainWindow) -> QMessageBox:
    """Help > About (kept among the dialogs the window closes)."""
    box = helpmenu.about_box(window, window.settings.store.fileName())
    _keep(window, box)
    return box


def shortcuts_dialog(window: MainWindow) -> QMessageBox:
    """Help > Keyboard Shortcuts."""
    box = helpmenu.shortcuts_box(window)
    _keep(window, box)
    return box


def close_dialogs(window: MainWindow) -> None:
    for dialog in window.menus.dialogs:
        dialog.close()
    window.menus.dialogs.clear()


def ask_open_or_convert(window: MainWindow, paths: list[str]) -> QMessageBox:
    """Several files dropped: open them all, or convert them."""
    box = QMessageBox(window)
    box.setObjectName("drop_choice")
    box.setWindowTitle("Files dropped")
    box.setText(
        f"{len(paths)} files dropped. Open each, open them as one state (a tensor per file), "
        "open them as a run (states saved during one training, followed on the Timeline "
        "tab), or convert them to another format?"
    )
    open_button = box.addButton("Open all", QMessageBox.ButtonRole.AcceptRole)
    together_button = box.addButton("Open as one state", QMessageBox.ButtonRole.ActionRole)
    run_button = box.addButton("Open as a run", QMessageBox.ButtonRole.ActionRole)
    convert_button = box.addButton("Convert…", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Cancel)

    def chosen(button: Any) -> None:
        if button is open_button:
            window.open_files(paths)
        elif button is together_button:
            window.open_together(paths)
        elif button is run_button:
            window.open_run(paths)
        elif button is convert_button:
            convert_dialog(window, paths)

    box.buttonClicked.connect(chosen)
    _keep(window, box)
    return box


def _close_current(window: MainWindow) -> None:
    root = window.current_root()
    if root is not None:
        window.close_file(root)


def _export_pane_dialog(window: MainWindow, name: str) -> None:
    """Export what the histogram (bins as CSV) or the Summary pane shows."""
    window.set_tab(name)
    pane: Any = window.panes[name]
    title, default, pattern = {
        "histogram": ("Export histogram bins", "histogram.csv", "CSV (*.csv)"),
        "summary": ("Export summary", "summary.csv", "CSV (*.csv);;JSON (*.json)"),
    }[name]
    path, _ = QFileDialog.getSaveFileName(window, title, default, pattern)
    if not path:
        return
    export = pane.export_histogram_csv if name == "histogram" else pane.export_summary
    try:
        export(path)
    except (CsvStateError, OSError, ValueError) as err:
        window.error_boxes.append(show_error(window, f"{title} failed", err))
        return
    window.status_label.setText(f"Exported to {path}")
