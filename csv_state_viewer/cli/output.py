"""Plain-text rendering shared by the commands.

Names, paths and messages come from files; what the commands print as text goes through
:func:`safe_text`, so a name holding a terminal escape (``\\x1b[31m``), a bidi override
(U+202E) or a zero-width character is printed as that escape, visibly, and cannot recolour
the terminal or reorder the line. ``--json`` output is written as ``json.dumps`` makes it
(it escapes control characters, and with ``ensure_ascii`` every non-ASCII one, itself):
a JSON reader gets the names exactly.
"""

from __future__ import annotations

import sys

from csv_state_viewer.core.formatting import human_bytes, safe_lines, safe_text, shape_text

__all__ = ["human_bytes", "print_error", "print_text", "safe_lines", "shape_text", "table"]


def print_text(text: str) -> None:
    """Write ``text`` and a line break to stdout, escaped (:func:`safe_lines`)."""
    sys.stdout.write(safe_lines(text) + "\n")


def print_error(text: str) -> None:
    """Write ``text`` and a line break to stderr, escaped (:func:`safe_lines`)."""
    sys.stderr.write(safe_lines(text) + "\n")


def table(rows: list[list[str]], right_aligned: set[int]) -> str:
    """Columns padded to their widest cell; the first row is the header. Cells are escaped
    (:func:`safe_text`) before they are measured, so the columns line up."""
    rows = [[safe_text(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right_aligned else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
