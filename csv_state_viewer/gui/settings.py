"""What the viewer remembers between sessions, stored with QSettings."""

from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "csv-state-viewer"
APPLICATION = "csv-state-viewer"
MAX_RECENT = 10


def _as_bool(value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


class Settings:
    """Typed access to the viewer's QSettings (recent files, layout, plot options).

    Without a ``store`` these are the user's own (``~/.config/csv-state-viewer/`` on
    Linux); :meth:`in_file` keeps them elsewhere (screenshots, tests).
    """

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else QSettings(ORGANIZATION, APPLICATION)

    @classmethod
    def in_file(cls, path: str | os.PathLike[str]) -> Settings:
        """Settings kept in the INI file ``path`` instead of the user's."""
        return cls(QSettings(os.fspath(path), QSettings.Format.IniFormat))

    # ---------------------------------------------------------------- recent files
    def recent_files(self) -> list[str]:
        value = self.store.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            return []
        return [str(v) for v in value if v]

    def add_recent(self, path: str) -> list[str]:
        path = os.path.abspath(path)
        files = [path] + [p for p in self.recent_files() if p != path]
        self.store.setValue("recent_files", files[:MAX_RECENT])
        return files[:MAX_RECENT]

    def clear_recent(self) -> None:
        self.store.setValue("recent_files", [])

    # ---------------------------------------------------------------- plot options
    def bins(self) -> int:
        """Histogram bins; 0 means automatic."""
        try:
            return max(0, int(str(self.store.value("histogram/bins", 0))))
        except (TypeError, ValueError):
            return 0

    def set_bins(self, bins: int) -> None:
        self.store.setValue("histogram/bins", int(bins))

    def log_counts(self) -> bool:
        return _as_bool(self.store.value("histogram/log_counts"), False)

    def set_log_counts(self, on: bool) -> None:
        self.store.setValue("histogram/log_counts", bool(on))

    # --------------------------------------------------------------------- layout
    def fixed_point_scale(self) -> str:
        """The scale last used for fixed-point matrices ("" when none)."""
        value = self.store.value("view/fixed_point_scale", "")
        return value if isinstance(value, str) else ""

    def set_fixed_point_scale(self, text: str) -> None:
        self.store.setValue("view/fixed_point_scale", text)

    def model_imports(self) -> list[str]:
        """The modules the Write dialog imports before loading a model (custom classes)."""
        value = self.store.value("model/imports", "")
        text = value if isinstance(value, str) else ""
        return [part.strip() for part in text.split(";") if part.strip()]

    def set_model_imports(self, specs: list[str]) -> None:
        self.store.setValue("model/imports", ";".join(specs))

    def geometry(self, key: str) -> QByteArray | None:
        value = self.store.value(f"layout/{key}")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, key: str, value: QByteArray) -> None:
        self.store.setValue(f"layout/{key}", value)

    def sync(self) -> None:
        self.store.sync()
