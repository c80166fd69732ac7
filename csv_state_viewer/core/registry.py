"""The one registry of state formats, shared by the API, the operations, the CLI and the viewer.

A format (:class:`~csv_state_viewer.core.format.Format`) is registered once; every list a
front end shows is derived from here: the Open dialog's filter, the export menu and the
Convert dialog's targets (:func:`write_choices`), ``csv-state formats``, and which files
need TensorFlow. The built-in formats are the modules named in :data:`BUILTIN`, each of
which defines ``FORMAT``; layers above the core (the TensorFlow bridge) add theirs with
:func:`add_provider`, so the core never imports them.

:func:`open_with` and :func:`save_with` are the one place a format's reader and writer
are called, and the boundary of their errors: whatever a format's library raises on a
damaged file or a failing system (``MemoryError``, ``struct.error``, ``zlib.error``,
``BadZipFile``, ``OSError``, a ``ValueError`` of NumPy...) leaves as a one-line
:class:`NotAStateError` or :class:`StateWriteError` worded for a user (see
:func:`~csv_state_viewer.core.errors.is_library_failure`); our own errors, cancellation
and bugs in our code pass unchanged. A sniff that fails that way does not match.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from csv_state_viewer.core.errors import (
    NotAStateError,
    UnsupportedFormatError,
    is_library_failure,
    reading_failure,
    writing_failure,
)
from csv_state_viewer.core.format import Format, Opener, Saver, WriteChoice
from csv_state_viewer.core.layouts.folderstate import tensor_stem
from csv_state_viewer.core.messages import Hint, hinted
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.core.state import State

__all__ = [
    "BUILTIN",
    "Format",
    "Opener",
    "Saver",
    "WriteChoice",
    "add_provider",
    "file_stem",
    "format_for_reading",
    "format_for_writing",
    "format_named",
    "formats",
    "formats_for_reading",
    "model_filter",
    "open_filter",
    "open_with",
    "register_format",
    "save_with",
    "unregister_format",
    "write_choices",
]

# Modules of csv_state_viewer.core.formats that define a FORMAT, in lookup order.
BUILTIN = ("csv", "npz", "npy", "safetensors", "folder", "matrix", "long", "rows")

_FORMATS: list[Format] = []
_PROVIDERS: list[Callable[[], None]] = []
COMMON_OPTIONS = frozenset({"metadata", "progress", "overwrite", "skip_bad"})


def add_provider(register: Callable[[], None]) -> None:
    """Run ``register`` (which calls :func:`register_format`) before the registry is used."""
    _PROVIDERS.append(register)
    if _builtin_done:
        register()


def register_format(fmt: Format) -> None:
    """Add a format; a later registration with the same name replaces the earlier one."""
    _ensure_builtin()
    _FORMATS[:] = [f for f in _FORMATS if f.name != fmt.name]
    _FORMATS.append(fmt)


def unregister_format(name: str) -> None:
    _FORMATS[:] = [f for f in _FORMATS if f.name != name]


def formats() -> list[Format]:
    _ensure_builtin()
    return list(_FORMATS)


def format_named(name: str) -> Format:
    for fmt in formats():
        if fmt.name == name:
            return fmt
    raise UnsupportedFormatError(f"no format named {name!r}")


def file_stem(path: str) -> str:
    """A file's name without the extension of its format (``a.csv.gz`` -> ``a``,
    ``m.weights.h5`` -> ``m``): how files name the tensors and states made from them."""
    name = os.path.basename(os.path.normpath(path))
    return tensor_stem(name, [ext for fmt in formats() for ext in fmt.extensions])


def open_filter() -> str:
    """The Open dialog's filter: every readable extension, then each format, then all files."""
    readable = [f for f in formats() if f.open is not None]
    patterns = list(dict.fromkeys(p for f in readable for p in f.file_patterns() if p != "*"))
    entries = [f"Training states ({' '.join(patterns)})"]
    entries += [f.dialog_filter() for f in readable if f.extensions]
    entries.append("All files (*)")
    return ";;".join(entries)


def model_filter() -> str:
    """A file dialog filter of the formats whose files hold a whole model (``.keras``)."""
    patterns = [p for f in formats() if f.holds_model for p in f.file_patterns()]
    return f"Models ({' '.join(dict.fromkeys(patterns))});;All files (*)"


def write_choices(*, with_model: bool = True) -> list[WriteChoice]:
    """Every way to write a state, in registry order; ``with_model=False`` leaves out the
    formats that need a model."""
    return [
        choice
        for fmt in formats()
        for choice in fmt.write_choices()
        if with_model or not choice.needs_model
    ]


def _head(path: str) -> bytes:
    if os.path.isdir(path):
        return b""
    try:
        with open(path, "rb") as handle:
            return handle.read(4096)
    except OSError as err:
        raise NotAStateError(path, err.strerror or str(err)) from None


def _sniffed(path: str) -> Iterator[Format]:
    """The formats whose sniff accepts ``path``, best first (by extension, fallback last);
    lazily, so finding the first never loads the readers of formats tried after it."""
    readable = [f for f in formats() if f.open is not None]
    if not os.path.exists(path):
        # A path that is not a file may still name a state (a checkpoint prefix).
        yield from (fmt for fmt in readable if _sniffs(fmt, path, b""))
        return
    head = _head(path)
    by_extension = sorted(readable, key=lambda f: (not f.matches_extension(path), f.fallback))
    yield from (fmt for fmt in by_extension if _sniffs(fmt, path, head))


def _sniffs(fmt: Format, path: str, head: bytes) -> bool:
    """``fmt.sniff``; a sniff that its library fails on (a damaged file) does not match."""
    try:
        return fmt.sniff(path, head)
    except Exception as err:
        if not is_library_failure(err):
            raise
        return False


def formats_for_reading(path: str) -> list[Format]:
    """Every format that could read ``path``, best first: a viewer offers a choice when
    more than one fits; :func:`format_for_reading` takes the first."""
    return list(_sniffed(path))


def format_for_reading(path: str, layout: str | None = None) -> Format:
    """The format that opens ``path``: ``layout`` when given (a format name, for files that
    several formats could read), else the first whose sniff accepts it, by extension first."""
    if layout is not None:
        chosen = format_named(layout)
        if chosen.open is None:
            raise UnsupportedFormatError(f"the {chosen.name} format cannot be read")
        return chosen
    readable = [f for f in formats() if f.open is not None]
    fmt = next(_sniffed(path), None)
    if fmt is None and not os.path.exists(path):
        raise NotAStateError(path, "no such file or directory")
    if fmt is not None:
        claimed = [f for f in readable if f.matches_extension(path) and f.binary]
        if fmt.fallback and claimed:
            # model.keras holding text: say what it is not, not what CSV misses.
            kinds = " or ".join(f.description for f in claimed)
            raise NotAStateError(path, f"its content is not a {kinds}")
        return fmt
    names = ", ".join(f.name for f in readable)
    raise NotAStateError(path, f"not a training state in any known format ({names})")


def format_for_writing(path: str) -> Format:
    """The format chosen by the destination's extension (a bare prefix: a prefix writer)."""
    writable = [f for f in formats() if f.save is not None]
    matches = [f for f in writable if f.matches_extension(path)]
    if not matches and not os.path.splitext(os.path.basename(path.rstrip("/")))[1]:
        matches = [f for f in writable if f.writes_prefix]
        if matches:
            return matches[0]
    if not matches:
        known = ", ".join(ext for f in writable for ext in f.extensions)
        raise UnsupportedFormatError(f"{path}: no format writes this extension (known: {known})")
    return max(matches, key=lambda f: max(len(e) for e in f.extensions if path.lower().endswith(e)))


def open_with(fmt: Format, path: str, progress: Progress, **options: Any) -> State:
    """Open ``path`` as ``fmt`` with reading options (``scale``...) the format takes; an
    option it does not take is refused, never ignored. A failure of the format's library
    is a one-line :class:`NotAStateError` (see the module docstring)."""
    assert fmt.open is not None
    unknown = set(options) - set(fmt.open_options)
    if unknown:
        raise UnsupportedFormatError(
            f"{path}: the {fmt.name} format has no reading option {', '.join(sorted(unknown))}"
        )
    try:
        return fmt.open(path, progress, **options) if options else fmt.open(path, progress)
    except Exception as err:
        if not is_library_failure(err):
            raise
        raise reading_failure(path, fmt.display_name, err)  # noqa: B904 - cause when debugging


def save_with(fmt: Format, path: str, tensors: Any, **options: Any) -> int:
    """Write ``tensors`` to ``path`` as ``fmt``; returns the number written. A failure of
    the format's library is a one-line :class:`StateWriteError` (see the module
    docstring)."""
    assert fmt.save is not None
    unknown = set(options) - set(fmt.save_options) - COMMON_OPTIONS
    if fmt.needs_model and options.get("model") is None:
        raise hinted(
            UnsupportedFormatError(f"{path}: writing {fmt.name} needs a model"), Hint.MODEL
        )
    if unknown:
        raise UnsupportedFormatError(
            f"{path}: the {fmt.name} format has no option {', '.join(sorted(unknown))}"
        )
    try:
        return fmt.save(path, tensors, **options)
    except Exception as err:
        if not is_library_failure(err):
            raise
        raise writing_failure(path, fmt.display_name, err)  # noqa: B904 - cause when debugging


_builtin_done = False


def _ensure_builtin() -> None:
    global _builtin_done  # noqa: PLW0603 - registered once, on first use
    if not _builtin_done:
        _builtin_done = True
        for module in BUILTIN:
            found = importlib.import_module(f"csv_state_viewer.core.formats.{module}")
            register_format(found.FORMAT)
        for register in _PROVIDERS:
            register()
