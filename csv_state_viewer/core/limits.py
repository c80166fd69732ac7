"""What a file may declare before a reader believes it: the limits every reader checks.

A state file *declares* sizes long before it delivers them: a zip header says how many
bytes a member inflates to, an ``.npy`` header gives a shape and a dtype, an HDF5 dataset a
shape, a Keras config the width of every layer. A reader compares each declaration with
what the file can back (its compressed bytes, its stored bytes) against the limits below
*before* it allocates or inflates anything, and refuses what does not fit with one line
(a bad row, or a :class:`~csv_state_viewer.core.errors.NotAStateError`). The README's
"Safety" section lists them for users.
"""

from __future__ import annotations

import zipfile

MAX_COMPRESSION_RATIO = 1100
"""Most bytes one compressed byte may inflate to. Deflate (zip, gzip, HDF5's gzip filter)
cannot exceed about 1032:1 (a 258-byte match costs at least two bits), so a member or
stream declaring more than this many times its compressed size is a decompression bomb.
bzip2 and LZMA can squeeze runs of zeros further: :data:`ALWAYS_INFLATABLE` lets small
ones through."""

ALWAYS_INFLATABLE = 64 << 20
"""Bytes any compressed member or stream may inflate to whatever its ratio: a bzip2 or
LZMA tensor of a few megabytes of zeros compresses far beyond
:data:`MAX_COMPRESSION_RATIO` and still reads; above this size the ratio applies."""

READ_PIECE = 1 << 20
"""Bytes inflated per step when a reader streams compressed data: never more is produced
before the running total is checked against the declared size."""

SNIFF_BYTES = 64 << 10
"""Bytes of decompressed text looked at before a compressed text file is inflated in full
(a ``.csv.gz`` holding binary data is refused after this much, not after gigabytes)."""

MAX_NPY_HEADER_BYTES = 16 << 10
"""Largest ``.npy`` header read (NumPy itself refuses more than 10,000 characters; a real
header is under 200 bytes even with 64 dimensions). Version 2 headers may declare up to
4 GiB: they are refused from their length field, unread."""

MAX_SAFETENSORS_HEADER_BYTES = 100_000_000
"""Largest safetensors JSON header read: the safetensors package's own limit
(``MAX_HEADER_SIZE``, 100 MB), so a header it would refuse is refused here, from its
length field, before anything is allocated or read."""

MAX_DIMS = 64
"""Most dimensions a tensor may declare (NumPy's own maximum, ``numpy.MAXDIMS`` in 2.x)."""

MAX_SIDECAR_BYTES = 16 << 20
"""Largest JSON member of our own ``.npz`` writer (dtype names and metadata) that is read;
a larger one is ignored as if absent."""

MAX_CONFIG_BYTES = 64 << 20
"""Largest Keras ``config.json`` (or legacy ``training_config`` attribute) that is parsed;
a real one is kilobytes, a large model's a few megabytes."""

MAX_ZIP_NAME_BYTES = 0xFFFF
"""Longest member name, in bytes of UTF-8, a zip archive can hold (a 16-bit field)."""

ZIP_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "LZMA",
}
"""Compression methods of zip members that are read (by number); any other member is
refused by name, never handed to a decompressor."""

CONFIG_BYTES_PER_PARAMETER = 4
"""Bytes one parameter implied by a Keras config is counted as (float32, the variables
Keras creates when it rebuilds a model from its config, before any value is loaded)."""

CONFIG_STORAGE_MARGIN = 8
"""How many times the bytes a ``.keras`` archive's weights file stores its config may imply
(estimated by :mod:`csv_state_viewer.bridge.kerasfiles.configsize`) before the model is
not rebuilt. Eight covers weights stored as int4 (half a byte per float32 parameter)."""

CONFIG_SLACK_BYTES = 64 << 20
"""Bytes a Keras config may imply beyond :data:`CONFIG_STORAGE_MARGIN` times the stored
bytes (an archive whose weights file holds little may still name a normal model)."""


_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def size_text(count: int) -> str:
    """A declared size for a message: ``1,788 bytes``, ``4 GiB``, ``128 TiB``, ``1.5 KiB``
    (three significant digits; sizes beyond exbibytes in EiB)."""
    if count < 1024:
        return f"{count:,} byte{'' if count == 1 else 's'}"
    value, step = count / 1024, 0
    while value >= 1024 and step < len(_UNITS) - 1:
        value, step = value / 1024, step + 1
    unit = _UNITS[step]
    return f"{value:.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"


def inflation_ceiling(compressed: int) -> int:
    """Most bytes ``compressed`` bytes of compressed data may inflate to."""
    return max(ALWAYS_INFLATABLE, MAX_COMPRESSION_RATIO * max(0, compressed))


def over_ratio(declared: int, compressed: int) -> str | None:
    """Why ``declared`` inflated bytes cannot come from ``compressed`` bytes, or None."""
    if declared <= inflation_ceiling(compressed):
        return None
    return (
        f"declares {size_text(declared)} from {size_text(compressed)} of compressed "
        f"data, more than {MAX_COMPRESSION_RATIO} times as much (a decompression bomb?)"
    )
