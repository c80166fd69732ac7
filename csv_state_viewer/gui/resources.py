"""Where the bundled samples and icons are: inside the installed package, or the checkout."""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]


def resources_dir() -> Path:
    """``csv_state_viewer/resources`` in a wheel or frozen app, ``resources/`` in a checkout."""
    frozen = getattr(sys, "_MEIPASS", None)
    candidates = [Path(frozen) / "csv_state_viewer" / "resources"] if frozen else []
    candidates += [_PACKAGE / "resources", _PACKAGE.parent / "resources"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[-1]


def sample_files() -> list[Path]:
    """The bundled sample states, sorted by name (empty when none are installed)."""
    folder = resources_dir() / "samples"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def icon_file() -> Path | None:
    for name in ("icons/csv-state-viewer.svg", "icons/csv-state-viewer-256.png"):
        path = resources_dir() / name
        if path.is_file():
            return path
    return None
