"""The one registry of state formats, shared by the API, the CLI and the viewer.

A format is registered once with how to recognise it (extensions and a sniff of the
first bytes) and what it can do (open and/or save). Adding a format touches one module.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from csv_state_viewer.core.errors import NotAStateError, UnsupportedFormatError
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.core.state import State

Opener = Callable[[str, Progress], State]
Saver = Callable[..., int]  # returns the number of tensors written


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    extensions: tuple[str, ...]
    sniff: Callable[[str, bytes], bool]
    open: Opener | None = None
    save: Saver | None = None
    save_options: tuple[str, ...] = ()
    fallback: bool = False  # unless its extension matches, tried last (CSV reads any text)
    needs_model: bool = False  # writing needs a model (passed as the ``model`` option)
    writes_prefix: bool = False  # writes to a path prefix without extension (checkpoints)

    def matches_extension(self, path: str) -> bool:
        lower = path.lower().rstrip("/")
        return any(lower.endswith(ext) for ext in self.extensions)


_FORMATS: list[Format] = []
_PROVIDERS: list[Callable[[], None]] = []


def add_provider(register: Callable[[], None]) -> None:
    """Run ``register`` (which calls :func:`register_format`) before the registry is used.

    Layers above the core (the TensorFlow bridge) add their formats this way, so the
    core never imports them.
    """
    _PROVIDERS.append(register)
    if _builtin_done:
        register()


def register_format(fmt: Format) -> None:
    """Add a format; a later registration with the same name replaces the earlier one."""
    _FORMATS[:] = [f for f in _FORMATS if f.name != fmt.name]
    _FORMATS.append(fmt)


def formats() -> list[Format]:
    _ensure_builtin()
    return list(_FORMATS)


def _head(path: str) -> bytes:
    if os.path.isdir(path):
        return b""
    try:
        with open(path, "rb") as handle:
            return handle.read(4096)
    except OSError as err:
        raise NotAStateError(path, err.strerror or str(err)) from None


def format_for_reading(path: str) -> Format:
    """The format that opens ``path``: the first whose sniff accepts it, by extension first."""
    _ensure_builtin()
    readable = [f for f in _FORMATS if f.open is not None]
    if not os.path.exists(path):
        # A path that is not a file may still name a state (a checkpoint prefix).
        for fmt in readable:
            if fmt.sniff(path, b""):
                return fmt
        raise NotAStateError(path, "no such file or directory")
    head = _head(path)
    by_extension = sorted(readable, key=lambda f: (not f.matches_extension(path), f.fallback))
    claimed = [f for f in readable if f.matches_extension(path) and not f.fallback]
    for fmt in by_extension:
        if fmt.sniff(path, head):
            if fmt.fallback and claimed:
                # model.keras holding text: say what it is not, not what CSV misses.
                kinds = " or ".join(f.description for f in claimed)
                raise NotAStateError(path, f"its content is not a {kinds}")
            return fmt
    names = ", ".join(f.name for f in readable)
    raise NotAStateError(path, f"not a training state in any known format ({names})")


def format_for_writing(path: str) -> Format:
    """The format chosen by the destination's extension."""
    _ensure_builtin()
    writable = [f for f in _FORMATS if f.save is not None]
    matches = [f for f in writable if f.matches_extension(path)]
    if not matches and not os.path.splitext(os.path.basename(path.rstrip("/")))[1]:
        matches = [f for f in writable if f.writes_prefix]
        if matches:
            return matches[0]
    if not matches:
        known = ", ".join(ext for f in writable for ext in f.extensions)
        raise UnsupportedFormatError(f"{path}: no format writes this extension (known: {known})")
    return max(matches, key=lambda f: max(len(e) for e in f.extensions if path.lower().endswith(e)))


def save_with(fmt: Format, path: str, tensors: Any, **options: Any) -> int:
    assert fmt.save is not None
    unknown = (
        set(options) - set(fmt.save_options) - {"metadata", "progress", "overwrite", "skip_bad"}
    )
    if fmt.needs_model and options.get("model") is None:
        raise UnsupportedFormatError(f"{path}: writing {fmt.name} needs a model (--model)")
    if unknown:
        raise UnsupportedFormatError(
            f"{path}: the {fmt.name} format has no option {', '.join(sorted(unknown))}"
        )
    return fmt.save(path, tensors, **options)


_builtin_done = False


def _ensure_builtin() -> None:
    global _builtin_done  # noqa: PLW0603 - registered once, on first use
    if not _builtin_done:
        _builtin_done = True
        from csv_state_viewer.core import builtin_formats

        builtin_formats.register_all()
        for register in _PROVIDERS:
            register()
