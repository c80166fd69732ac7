"""What a state format is: how to recognise, open and save it, and its policy.

Everything format-specific lives on its :class:`Format`: the sniff, the reader and
writer, the names and file patterns that menus and dialogs show, and the policy the front
ends follow (reads or writes with TensorFlow, needs a model to write, reads one file at a
time, writes a prefix). Menus, dialogs, the CLI and the operations derive their lists from
the registry (:mod:`csv_state_viewer.core.registry`), so a new format is one module and one
line there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from csv_state_viewer.core.progress import Progress
from csv_state_viewer.core.state import State

Opener = Callable[[str, Progress], State]
Saver = Callable[..., int]  # returns the number of tensors written


@dataclass(frozen=True)
class WriteChoice:
    """One way to write a format, as offered by the export menu and the Convert dialog.

    Most formats have one; CSV has two (decimal text and base64), told apart by
    ``options`` that are passed to its saver.
    """

    format_name: str
    label: str
    extension: str  # appended to a stem to make a destination ("" for a bare prefix)
    options: Mapping[str, Any] = field(default_factory=dict)
    needs_model: bool = False


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    extensions: tuple[str, ...]
    sniff: Callable[[str, bytes], bool]
    open: Opener | None = None
    save: Saver | None = None
    save_options: tuple[str, ...] = ()
    open_options: tuple[str, ...] = ()  # keyword options its opener takes (matrix: scale)
    label: str = ""  # short name for menus and file dialogs; the description when empty
    variants: tuple[tuple[str, Mapping[str, Any]], ...] = ()  # (label, save options) choices
    fallback: bool = False  # unless its extension matches, tried last (CSV reads any text)
    binary: bool = False  # its files are not text: text under its extension is not it
    # Its reader and writer import TensorFlow or Keras; ``reads_with_tensorflow`` and
    # ``writes_with_tensorflow`` say it per direction (each defaults to this). Afterwards
    # all three are booleans, and this one says whether either direction does.
    needs_tensorflow: bool = False
    reads_with_tensorflow: bool | None = None
    writes_with_tensorflow: bool | None = None
    needs_model: bool = False  # writing needs a model (passed as the ``model`` option)
    takes_model: bool = False  # writing can take a model (what `apply` may write to)
    holds_model: bool = False  # a file holds a whole model that can be loaded and written into
    one_at_a_time: bool = False  # its reader must not run in parallel with itself
    writes_prefix: bool = False  # writes to a path prefix without extension (checkpoints)
    writes_folder: bool = False  # can write a folder of files (one per tensor)
    marker_suffix: str = ""  # a prefix write exists when PREFIX + this exists (".index")
    # A file named <file><suffix> next to one of its files belongs to that file (the .npy
    # sidecar, "k.npy.json"): a folder of its files does not list it as a tensor.
    companion_suffix: str = ""

    def __post_init__(self) -> None:
        reads, writes = self.reads_with_tensorflow, self.writes_with_tensorflow
        reads = self.needs_tensorflow if reads is None else reads
        writes = self.needs_tensorflow if writes is None else writes
        object.__setattr__(self, "reads_with_tensorflow", reads)
        object.__setattr__(self, "writes_with_tensorflow", writes)
        object.__setattr__(self, "needs_tensorflow", reads or writes)

    @property
    def display_name(self) -> str:
        return self.label or self.description

    @property
    def default_extension(self) -> str:
        """What a destination of this format ends with ("" for a bare prefix)."""
        return self.extensions[0] if self.extensions else ""

    def matches_extension(self, path: str) -> bool:
        lower = path.lower().rstrip("/")
        return any(lower.endswith(ext) for ext in self.extensions)

    def file_patterns(self) -> list[str]:
        """Glob patterns for file dialogs (``*`` for a prefix without extension)."""
        patterns = [f"*{ext}" for ext in self.extensions]
        return patterns or ["*"]

    def dialog_filter(self) -> str:
        """One entry of a Qt file dialog filter: ``Label (*.a *.b)``."""
        return f"{self.display_name} ({' '.join(self.file_patterns())})"

    def destination_marker(self, path: str) -> str:
        """The file whose presence means a write to ``path`` would replace something."""
        return path + self.marker_suffix if self.writes_prefix else path

    def destination_exists(self, path: str) -> bool:
        marker = self.destination_marker(path)
        if self.writes_folder and os.path.isdir(marker):
            with os.scandir(marker) as found:  # an empty folder is a fine destination
                return any(True for _ in found)
        return os.path.lexists(marker)

    def write_choices(self) -> list[WriteChoice]:
        """The ways to write this format (empty when it cannot be written)."""
        if self.save is None:
            return []
        extension = self.default_extension
        if self.writes_prefix:  # a prefix's own suffix (".ckpt"), never its marker (".index")
            extension = next((e for e in self.extensions if e != self.marker_suffix), "")
        variants = self.variants or ((self.display_name, {}),)
        return [
            WriteChoice(self.name, label, extension, dict(options), self.needs_model)
            for label, options in variants
        ]
