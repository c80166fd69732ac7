"""Plain-text rendering shared by the commands."""

from __future__ import annotations

from csv_state_viewer.core.formatting import human_bytes, shape_text

__all__ = ["human_bytes", "shape_text", "table"]


def table(rows: list[list[str]], right_aligned: set[int]) -> str:
    """Columns padded to their widest cell; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right_aligned else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
