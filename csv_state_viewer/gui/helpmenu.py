"""The Help menu's contents: every keyboard shortcut, and the About box."""

from __future__ import annotations

import html
import os
import platform
import sys

from PySide6.QtWidgets import QMessageBox, QWidget

from csv_state_viewer import __version__
from csv_state_viewer.core.formatting import safe_text

# Every shortcut of the viewer, for Help > Keyboard Shortcuts and the README; a test checks
# that each menu action's shortcut is listed. Standard keys are shown as on Linux/Windows.
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Ctrl+O", "Open files…"),
    ("Ctrl+Shift+S", "Save As CSV…"),
    ("Ctrl+E", "Export the selected tensors (.npy, CSV matrix, text)…"),
    ("Ctrl+W, Ctrl+F4", "Close the current file"),
    ("Ctrl+Q", "Quit"),
    ("Ctrl+F", "Filter names (the filter box)"),
    ("Down (in the filter box)", "Move into the results"),
    ("Enter (in the filter box)", "Select the first match"),
    ("Escape (in the filter box)", "Clear the filter (the tree's expansion comes back)"),
    ("Arrow keys, Page Up/Down, Home/End", "Move in the tree; the panes follow"),
    ("Shift/Ctrl+click, Shift+arrows", "Select several tensors"),
    ("Ctrl+C (tree)", "Copy the full names of the selected rows, one per line"),
    ("Menu key, Shift+F10 (tree)", "The tree's context menu"),
    ("Ctrl+Tab, Ctrl+Page Down", "Next tab"),
    ("Ctrl+Shift+Tab, Ctrl+Page Up", "Previous tab"),
    ("Ctrl+C (Values)", "Copy the selected cells as tab-separated text"),
    ("Ctrl+Home / Ctrl+End (Values)", "First / last element (with Shift: select to it)"),
    ("F1", "Keyboard shortcuts (this list)"),
)


def versions() -> list[tuple[str, str]]:
    """The versions About shows; TensorFlow only when this process has loaded it (the
    viewer never imports it itself: reading a state does not need it)."""
    import matplotlib
    import numpy
    import PySide6
    from PySide6.QtCore import qVersion

    loaded = sys.modules.get("tensorflow")
    tensorflow = getattr(loaded, "__version__", "loaded") if loaded is not None else None
    return [
        ("Python", platform.python_version()),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("Matplotlib", matplotlib.__version__),
        ("NumPy", numpy.__version__),
        ("TensorFlow", tensorflow or "not loaded"),
    ]


def about_box(parent: QWidget, settings_file: str) -> QMessageBox:
    """The About box: version, what the viewer does, library versions, settings file."""
    box = QMessageBox(parent)
    box.setWindowTitle("About csv-state-viewer")
    rows = "".join(
        f"<tr><td>{name}</td><td>{html.escape(version)}</td></tr>" for name, version in versions()
    )
    settings_path = html.escape(safe_text(os.path.abspath(settings_file)))
    box.setText(
        f"<b>csv-state-viewer {__version__}</b><p>Inspect, compare and convert neural-network "
        "training state saved as CSV, TensorFlow checkpoints, Keras files and NumPy archives."
        f"<p>Files open lazily; statistics and plots are computed in the background."
        f"<p><table>{rows}</table>"
        f"<p>Settings: {settings_path}"
    )
    return box


def shortcuts_box(parent: QWidget) -> QMessageBox:
    """Help > Keyboard Shortcuts: :data:`SHORTCUTS` as a table."""
    box = QMessageBox(parent)
    box.setObjectName("shortcuts")
    box.setWindowTitle("Keyboard shortcuts")
    rows = "".join(
        f"<tr><td><b>{html.escape(keys)}</b>&nbsp;&nbsp;</td><td>{html.escape(what)}</td></tr>"
        for keys, what in SHORTCUTS
    )
    box.setText(f"<table>{rows}</table>")
    return box
