"""A folder of per-tensor files, or several files chosen together, as one state.

Each file is opened with the format that recognises it (a ``np.savetxt`` matrix, a
``.npy`` array, a recipe CSV...); a file holding one tensor gives a tensor named by the
file's path in the folder without its extension (``dense/kernel.csv`` ->
``dense/kernel``), a file holding several gives ``<stem>/<name>`` tensors. Files are
taken in natural order (``layer_2`` before ``layer_10``). A file that is not a state, or
whose format needs TensorFlow (open those on their own), is listed as a problem of the
state, never fatal.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from csv_state_viewer.core.errors import CsvStateError, RowError, RowProblem
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.state import State, TensorEntry

MAX_FILES = 100_000
_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> list[object]:
    """``layer_2`` sorts before ``layer_10``."""
    return [int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(text)]


def folder_files(folder: str) -> list[str]:
    """The regular files below ``folder`` (hidden ones left out), in natural order."""
    found: list[str] = []
    for top, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [os.path.join(top, f) for f in files if not f.startswith(".")]
        if len(found) > MAX_FILES:
            raise CsvStateError(f"{folder}: more than {MAX_FILES} files; open a smaller folder")
    return sorted(
        (f for f in found if os.path.isfile(f)),
        key=lambda f: natural_key(os.path.relpath(f, folder)),
    )


def without_companions(files: Sequence[str], formats: Sequence[Format]) -> list[str]:
    """``files`` less the companions of other files in it: a file is left out when it is
    a file of the list plus a format's ``companion_suffix`` and that file is of that format
    (``k.npy.json`` beside ``k.npy``); a lone ``notes.json`` stays, to be reported."""
    present = set(files)
    kept = []
    for file in files:
        owned = any(
            fmt.companion_suffix
            and file.lower().endswith(fmt.companion_suffix.lower())
            and (owner := file[: -len(fmt.companion_suffix)]) in present
            and fmt.matches_extension(owner)
            for fmt in formats
        )
        if not owned:
            kept.append(file)
    return kept


def tensor_stem(relative: str, extensions: Sequence[str]) -> str:
    """The tensor name a file gives: its path without the extension of its format."""
    name = relative.replace(os.sep, "/")
    lower = name.lower()
    for ext in sorted(extensions, key=len, reverse=True):
        if ext and lower.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)]
    return os.path.splitext(name)[0] or name


Opener = Callable[[str, Progress], tuple[Format, State]]


class FolderState(State):
    """Several files, one tensor (or a few) each, as one state."""

    format_name = "folder"

    def __init__(
        self,
        path: str,
        files: Sequence[str],
        open_file: Opener,
        extensions: Sequence[str],
        *,
        progress: Progress = NO_PROGRESS,
        base: str | None = None,
    ) -> None:
        self._folder = path
        self._parts: dict[int, tuple[State, TensorEntry]] = {}
        self._files: dict[int, str] = {}  # entry id -> the file it comes from
        self._states: list[State] = []
        entries: list[TensorEntry] = []
        try:
            for done, file in enumerate(files, start=1):
                check_cancelled(progress)
                relative = os.path.relpath(file, base) if base else os.path.basename(file)
                stem = tensor_stem(relative, extensions)
                entries += self._open_one(file, stem, open_file)
                progress.report(done, len(files))
        except BaseException:
            self.close()
            raise
        super().__init__(path, entries)

    def _open_one(self, file: str, stem: str, open_file: Opener) -> list[TensorEntry]:
        try:
            fmt, state = open_file(file, NO_PROGRESS)
        except CsvStateError as err:
            message = str(err)
            if message.startswith(file + ": "):
                message = message[len(file) + 2 :]
            problem = TensorEntry(stem, None, None, None, error=message)
            self._files[id(problem)] = file
            return [problem]
        self._states.append(state)
        single = len(state.entries) == 1
        made = []
        for sub in state.entries:
            name = stem if single else f"{stem}/{sub.name}"
            inner = os.path.relpath(file, self._folder) if os.path.isdir(self._folder) else file
            metadata = {**sub.metadata, "file": inner, "file_format": fmt.name}
            entry = replace(sub, name=name, metadata=metadata)
            self._parts[id(entry)] = (state, sub)
            self._files[id(entry)] = file
            made.append(entry)
        if not made:
            empty = TensorEntry(stem, None, None, None, error=f"no tensors in this {fmt.name} file")
            self._files[id(empty)] = file
            made.append(empty)
        return made

    def _decode(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
        state, sub = self._parts[id(entry)]
        try:
            return state.read(sub, progress)
        except RowError as err:  # reworded as this state's problem, at the file's line
            raise ValueError(err.problem.message) from None

    def _problem(self, entry: TensorEntry, message: str) -> RowProblem:
        return RowProblem(self._files.get(id(entry), self.path), entry.line, entry.name, message)

    def close(self) -> None:
        for state in self._states:
            state.close()
        self._states.clear()
