"""How sizes, shapes and names are written for people, the same in the CLI and the viewer.

Tensor names (and paths, and the text of library errors) come from files and may hold
anything: terminal escape sequences, bidirectional overrides that make ``kernel`` read as
something else, invisible zero-width characters, megabytes of text. :func:`safe_text`
makes such text visible as what it is before it is shown; :func:`elide_middle` shortens
it for a display. Both are for showing only: data (exports, the clipboard, ``--json``)
keeps the real name.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

# Shown as escapes: controls (C0, DEL, C1), format characters (bidi embeddings,
# overrides and isolates U+202A-U+202E and U+2066-U+2069, marks, zero-width spaces and
# joiners, the BOM, soft hyphens...), surrogates left by undecodable bytes, and line and
# paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
DISPLAY_NAME_LIMIT = 200  # characters a name is elided to for display
ELLIPSIS = "…"


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover - loop always returns


def shape_text(shape: Sequence[int] | None) -> str:
    return "?" if shape is None else "[" + ",".join(str(d) for d in shape) + "]"


def _escape(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def needs_escape(char: str) -> bool:
    """True for a character :func:`safe_text` shows as an escape."""
    return unicodedata.category(char) in _ESCAPED_CATEGORIES


def safe_text(text: str) -> str:
    """``text`` with every control, format (bidi, zero-width), surrogate and line/paragraph
    separator character shown as a visible escape: ``\\x1b``, ``\\u202e``, ``\\n``.

    Printable text, spaces and backslashes are kept as they are, so ordinary names look
    the same; the result holds no character that moves a cursor, recolours a terminal or
    reorders what follows it. For display only: never use it to name data.
    """
    if text.isprintable():  # the common case, decided in C
        return text
    return "".join(_escape(c) if needs_escape(c) else c for c in text)


def safe_lines(text: str) -> str:
    """``text`` with each of its lines escaped by :func:`safe_text`, line breaks kept (a
    message of several lines)."""
    return "\n".join(safe_text(line) for line in text.split("\n"))


def elide_middle(text: str, limit: int = DISPLAY_NAME_LIMIT) -> str:
    """``text`` cut to at most ``limit`` characters by replacing its middle with ``…``:
    both ends of a long name stay readable (its scope and its last part)."""
    if len(text) <= limit:
        return text
    keep = max(limit - len(ELLIPSIS), 2)
    head = (keep + 1) // 2
    return text[:head] + ELLIPSIS + text[len(text) - (keep - head) :]


def display_name(name: str, limit: int = DISPLAY_NAME_LIMIT) -> str:
    """A name as a display shows it: escaped (:func:`safe_text`), then elided in the
    middle beyond ``limit`` characters. Show the full :func:`safe_text` in a tooltip."""
    return elide_middle(safe_text(name), limit)


def one_line(text: str, limit: int = 240) -> str:
    """Text of someone else's making (a library's error message) as one escaped line of at
    most ``limit`` characters, clipped at the end (its beginning says the most)."""
    line = safe_text(" ".join(text.split()))
    return line if len(line) <= limit else line[: limit - len(ELLIPSIS)] + ELLIPSIS
