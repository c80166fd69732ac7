"""What a text file is, in one line, for a reader that has to refuse it.

:func:`describe_text` looks only at the first bytes of a file (about 64 KB) and says what
they hold — a numeric matrix, ragged numeric rows, a long-format table, a text table with
a header, JSON, HTML, empty, binary — followed, where there is one, by what to do. It never
calls a numeric file unreadable: it says what the numbers are and how to open them.
"""

from __future__ import annotations

import csv
import json
import re

HEAD_BYTES = 64 << 10
_MAX_LINES = 2000
_NUMBER = re.compile(
    r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|nan|inf|infinity)",
    re.IGNORECASE,
)
_INTEGER = re.compile(r"[+-]?\d+")
_BINARY_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (binary), not CSV text"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (binary), not CSV text"),
    (b"\x93NUMPY", "a NumPy .npy array (binary), not CSV text"),
    (b"\x1f\x8b", "gzip-compressed data, not CSV text"),
    (b"\x89PNG", "a PNG image (binary), not CSV text"),
    (b"%PDF", "a PDF document, not CSV text"),
)
_DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_RECIPE_COLUMNS = {"tensor_name", "tensor_data", "tensor_metadata", "name", "data", "metadata"}
_SHAPE_HINT = "give a model's shapes with --like"
_TIMES = "\u00d7"  # the multiplication sign of "an 8x16 matrix"


def describe_text(path: str, head: bytes) -> str:
    """One line saying what the file that starts with ``head`` holds, and what to do.

    ``path`` is only looked at for its name (never opened); ``head`` is the file's first
    bytes, of which the first :data:`HEAD_BYTES` are read. Examples: ``"an 8\u00d716
    numeric matrix with no names (comma-separated): open its folder, or give a model's shapes with
    --like"``, ``"JSON, not CSV (an object with keys a, b)"``, ``"empty file"``.
    """
    del path  # the content decides; the name is the caller's to print
    truncated = len(head) >= HEAD_BYTES  # the file may go on
    head = head[:HEAD_BYTES].removeprefix(b"\xef\xbb\xbf")
    if not head.strip():
        return "empty file"
    binary = _binary(head)
    if binary:
        return binary
    text = head.decode("utf-8", "replace")
    stripped = text.lstrip()
    lower = stripped[:200].lower()
    if lower.startswith(("<!doctype html", "<html")) or "<html" in lower:
        return "HTML (a web page, perhaps saved instead of the raw file), not CSV"
    if lower.startswith("<?xml"):
        return "XML, not CSV"
    if stripped[:1] in "{[":
        described = _json(stripped, truncated)
        if described:
            return described
    lines = [line for line in text.splitlines() if line.strip()]
    if truncated and not text.endswith("\n") and len(lines) > 1:
        lines.pop()  # cut by the head's end
    return _table(lines[:_MAX_LINES], truncated or len(lines) > _MAX_LINES)


def _binary(head: bytes) -> str | None:
    for magic, description in _BINARY_MAGIC:
        if head.startswith(magic):
            return description
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "UTF-16 text (a spreadsheet's 'Unicode text'), not CSV: save it as UTF-8 CSV"
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return "a Python pickle (binary, never loaded: it can run code), not CSV text"
    if b"\x00" in head:
        return "binary file, not CSV text"
    sample = head[:4096]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(sample) - 4:  # not just a character cut by the sample's end
            bad = sum(1 for byte in sample if byte >= 0x80)
            if bad * 10 > len(sample):
                return "binary file, not CSV text"
    return None


def _json(text: str, truncated: bool) -> str | None:
    if truncated:
        first = text.splitlines()[0] if text.splitlines() else ""
        kind = "an object" if text.startswith("{") else "an array"
        if first.rstrip().endswith("}") and first.startswith("{"):
            return "JSON Lines (one JSON object per line), not CSV"
        return f"JSON, not CSV ({kind})"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        lines = text.splitlines()
        if len(lines) > 1 and all(_is_json_object(line) for line in lines if line.strip()):
            return "JSON Lines (one JSON object per line), not CSV"
        return None  # '[1, 2]'-like text that is not JSON: describe it as a table
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:6]) + (", …" if len(value) > 6 else "")
        return f"JSON, not CSV (an object with keys {keys})" if value else "JSON, not CSV"
    if isinstance(value, list):
        shape = _nested_shape(value)
        if shape:
            dims = _TIMES.join(map(str, shape))
            return (
                f"JSON, not CSV: a {dims} array of numbers with no name, dtype or shape "
                f"to go with it: {_SHAPE_HINT}"
            )
        return f"JSON, not CSV (an array of {len(value)} items)"
    return "JSON, not CSV"


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def _nested_shape(value: object) -> list[int] | None:
    """The shape of a regular nested list of numbers, or None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return []
    if not isinstance(value, list) or not value:
        return None
    shapes = [_nested_shape(item) for item in value[:1000]]
    first = shapes[0]
    if first is None or any(s != first for s in shapes):
        return None
    return [len(value), *first]


# ------------------------------------------------------------------------------ tables


def _delimiter(lines: list[str]) -> str | None:
    """The separator most lines split on into the same number (>1) of fields."""
    best, best_score = None, 0
    for delimiter in _DELIMITERS:
        counts = [line.count(delimiter) for line in lines[:200]]
        splitting = sum(1 for c in counts if c > 0)
        if not splitting:
            continue
        common = max(set(counts), key=counts.count)
        score = splitting + counts.count(common)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _rows(lines: list[str], delimiter: str | None) -> list[list[str]]:
    if delimiter is None:
        return [line.split() for line in lines]
    return [[cell.strip() for cell in row] for row in csv.reader(lines, delimiter=delimiter)]


def _is_number(cell: str) -> bool:
    return bool(_NUMBER.fullmatch(cell))


def _lengths(rows: list[list[str]]) -> str:
    lengths = [str(len(row)) for row in rows]
    if len(lengths) <= 4:
        return ", ".join(lengths)
    return f"{lengths[0]}, {lengths[1]}, …, {lengths[-1]}"


def _table(lines: list[str], truncated: bool) -> str:
    delimiter = _delimiter(lines)
    rows = [row for row in _rows(lines, delimiter) if row]
    if not rows:
        return "empty file"
    how = f"{_DELIMITERS[delimiter]}-separated" if delimiter is not None else "space-separated"
    if len(rows) == 1 and len(rows[0]) == 1:
        return f"plain text, not CSV (one line: {_quote(lines[0])})"
    numeric = [all(_is_number(c) for c in row) for row in rows]
    if all(numeric):
        return _numbers(rows, how, truncated, header=None)
    header, body = rows[0], rows[1:]
    if body and all(numeric[1:]) and not any(_is_number(c) for c in header if c):
        return _numbers(body, how, truncated, header=header)
    if body and not header[0] and all(numeric[1:]) and all(_is_number(c) for c in header[1:]):
        # pandas' DataFrame.to_csv: a header of column numbers after an empty cell, then
        # the index in the first column of every row
        return _numbers([r[1:] for r in body], how, truncated, header=header, index=True)
    if body and len(header) == 3 and _is_long(header, body):
        return _long(header, body, truncated)
    named_rows = rows if all(_is_number(c) for c in header[1:]) else body
    if named_rows and all(len(r) > 1 and all(_is_number(c) for c in r[1:]) for r in named_rows):
        counts = _lengths([r[1:] for r in named_rows])
        return (
            f"rows of a name and numbers ({how}; {counts} numbers) with no shapes or "
            f"dtypes: {_SHAPE_HINT}"
        )
    columns = ", ".join(_short(c) for c in header[:8]) + (", …" if len(header) > 8 else "")
    described = f"{how} text with header {columns} ({len(header)} columns)"
    if delimiter not in (",", None) and {c.lower() for c in header} & _RECIPE_COLUMNS:
        return f"{described}: the recipe's columns must be separated by commas"
    if len(header) == 1:
        return f"plain text, not CSV (first line: {_quote(lines[0])})"
    return described


def _numbers(
    rows: list[list[str]],
    how: str,
    truncated: bool,
    header: list[str] | None,
    *,
    index: bool = False,
) -> str:
    named = "with no names" if header is None else "with a header and no tensor names"
    if index:
        named = "with a header row and an index column (pandas) and no tensor names"
    seen = " in the first 64 KB" if truncated else ""
    widths = {len(row) for row in rows}
    if len(widths) > 1:
        return f"ragged numeric rows (lengths {_lengths(rows)}) {named}: {_SHAPE_HINT}"
    width = widths.pop()
    if width == 1:
        return (
            f"{len(rows)} numbers{seen}, one per line, {named}: open its folder, or {_SHAPE_HINT}"
        )
    size = f"{len(rows)}{_TIMES}{width}" if not truncated else f"{width}-column"
    rows_seen = f" ({len(rows)} rows in the first 64 KB)" if truncated else ""
    return (
        f"{_article(size)} {size} numeric matrix{rows_seen} {named} ({how}): open its "
        f"folder, or {_SHAPE_HINT}"
    )


def _article(number: str) -> str:
    """'an' before numbers said with a vowel sound: 8, 11, 18, 80..., 800..."""
    return "an" if re.match(r"8|1[18](?!\d)", number) else "a"


_INDEX_WORDS = {"index", "idx", "i", "pos", "position", "flat_index", "element", "offset"}


def _is_long(header: list[str], body: list[list[str]]) -> bool:
    if header[1].strip().lower() not in _INDEX_WORDS and body[0][1:2] != ["0"]:
        return False
    return all(
        len(r) == 3 and not _is_number(r[0]) and _INTEGER.fullmatch(r[1]) and _is_number(r[2])
        for r in body
    )


def _long(header: list[str], body: list[list[str]], truncated: bool) -> str:
    columns = ", ".join(header)
    expected: dict[str, int] = {}
    for line, (name, index, _) in enumerate(body, start=2):
        want = expected.get(name, 0)
        if int(index) != want:
            return (
                f"a long-format table ({columns}) whose index column does not count 0, 1, 2, … "
                f"within each name (line {line}: {name!r} has index {index}, expected {want})"
            )
        expected[name] = want + 1
    names = f"{len(expected)} name{'s' if len(expected) != 1 else ''}"
    seen = " in the first 64 KB" if truncated else ""
    return f"a long-format table ({columns}), {names}{seen}: open it with --layout long"


def _short(text: str, limit: int = 24) -> str:
    short = text.strip()
    return short if len(short) <= limit else short[: limit - 1] + "…"


def _quote(text: str, limit: int = 40) -> str:
    return repr(_short(text, limit))
