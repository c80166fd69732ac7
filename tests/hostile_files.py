"""Small writers of hostile files: archives, HDF5 files and gzip streams that lie about
what they hold. Each builds its file in a few milliseconds from a few kilobytes, however
much the file declares; the tests open them and expect a prompt one-line refusal.

Zip members are written by :mod:`zipfile` and then patched in place (both the local
header and the central directory), so everything else about the archive is genuine.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

LOCAL_MAGIC = b"PK\x03\x04"
CENTRAL_MAGIC = b"PK\x01\x02"
NPY_MAGIC = b"\x93NUMPY"
GIB = 1 << 30


# ----------------------------------------------------------------------------- .npy
def npy_header(header: str, *, version: int = 1) -> bytes:
    """An ``.npy`` preamble carrying ``header`` (a dict literal, or anything) verbatim."""
    text = header.encode("latin1")
    if version == 1:
        return NPY_MAGIC + b"\x01\x00" + struct.pack("<H", len(text)) + text
    return NPY_MAGIC + bytes([version, 0]) + struct.pack("<I", len(text)) + text


def npy_declaring(shape: Any, descr: str = "<f8", *, fortran: bool = False) -> bytes:
    """An ``.npy`` preamble for ``shape`` (written as given: it may be absurd)."""
    header = f"{{'descr': {descr!r}, 'fortran_order': {fortran}, 'shape': {shape!r}, }}"
    padding = 64 - (10 + len(header) + 1) % 64
    return npy_header(header + " " * padding + "\n")


def npy_of(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, array, allow_pickle=False)
    return out.getvalue()


# ----------------------------------------------------------------------------- zips
def write_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _headers(data: bytearray, name: str) -> tuple[int, int]:
    """Offsets of ``name``'s local header and central directory record."""
    raw = name.encode()
    central = -1
    at = data.find(CENTRAL_MAGIC)
    while at >= 0:
        length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46 : at + 46 + length]) == raw:
            central = at
            break
        at = data.find(CENTRAL_MAGIC, at + 4)
    if central < 0:
        raise KeyError(name)
    local = struct.unpack_from("<I", data, central + 42)[0]
    return local, central


def patch_member(
    path: Path,
    name: str,
    *,
    flag_bits: int | None = None,
    method: int | None = None,
    file_size: int | None = None,
) -> Path:
    """Rewrite fields of a member's headers (local and central): its general-purpose flags,
    compression method or declared uncompressed size."""
    data = bytearray(path.read_bytes())
    local, central = _headers(data, name)
    for offset, flags_at, method_at, size_at in ((local, 6, 8, 22), (central, 8, 10, 24)):
        if flag_bits is not None:
            struct.pack_into("<H", data, offset + flags_at, flag_bits)
        if method is not None:
            struct.pack_into("<H", data, offset + method_at, method)
        if file_size is not None:
            struct.pack_into("<I", data, offset + size_at, file_size)
    path.write_bytes(bytes(data))
    return path


def damage_member(path: Path, name: str) -> Path:
    """Overwrite the middle of a member's compressed bytes with garbage."""
    data = bytearray(path.read_bytes())
    local, central = _headers(data, name)
    size = struct.unpack_from("<I", data, central + 20)[0]
    name_length, extra_length = struct.unpack_from("<HH", data, local + 26)
    start = local + 30 + name_length + extra_length
    middle = start + size // 3
    data[middle : middle + max(4, size // 3)] = b"\xff\xee" * max(2, size // 6)
    path.write_bytes(bytes(data))
    return path


# ----------------------------------------------------------------------- bzip2 bombs
_BZ_BLOCK_MAGIC = 0x314159265359
_BZ_END_MAGIC = 0x177245385090
_BZ_RUNS_PER_BLOCK = 179_000  # runs of 255 equal bytes: one bzip2 block holds 179,996
ZEROS_PER_BLOCK = _BZ_RUNS_PER_BLOCK * 255


def _bits(data: bytes) -> str:
    return "".join(f"{byte:08b}" for byte in data)


@functools.cache
def _one_block(data: bytes) -> tuple[str, int]:
    """The bits of the single block bzip2 makes of ``data``, and its CRC."""
    bits = _bits(bz2.compress(data, 9))
    end = bits.rfind(f"{_BZ_END_MAGIC:048b}")
    block = bits[32:end]
    if (
        not block.startswith(f"{_BZ_BLOCK_MAGIC:048b}")
        or block.count(f"{_BZ_BLOCK_MAGIC:048b}") != 1
    ):
        raise AssertionError("not a single bzip2 block")
    return block, int(block[48:80], 2)


def bzip2_bomb(head: bytes, total: int) -> bytes:
    """A bzip2 stream inflating to ``head`` and zeros, ``total`` bytes in all (rounded up
    to whole blocks of zeros): its blocks are copies of one, so it costs no compression."""
    first_zeros = ZEROS_PER_BLOCK - len(head)
    first, first_crc = _one_block(head + bytes(first_zeros))
    zeros, zeros_crc = _one_block(bytes(ZEROS_PER_BLOCK))
    copies = max(0, -(-(total - ZEROS_PER_BLOCK) // ZEROS_PER_BLOCK))
    combined = 0
    for crc in [first_crc] + [zeros_crc] * copies:
        combined = (((combined << 1) | (combined >> 31)) & 0xFFFFFFFF) ^ crc
    bits = _bits(b"BZh9") + first + zeros * copies + f"{_BZ_END_MAGIC:048b}{combined:032b}"
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def bzip2_bomb_length(total: int) -> int:
    """How many bytes :func:`bzip2_bomb` inflates to for ``total``."""
    return ZEROS_PER_BLOCK * max(1, -(-total // ZEROS_PER_BLOCK))


def write_bzip2_member(
    path: Path,
    name: str,
    stream: bytes,
    inflated: bytes | int,
    *,
    before: dict[str, bytes] | None = None,
) -> Path:
    """A zip whose last member ``name`` is the raw bzip2 ``stream``, declaring ``inflated``
    bytes (a size, or the data whose size and CRC to declare); ``before`` are stored
    members written first."""
    if isinstance(inflated, bytes):
        size, crc = len(inflated), zlib.crc32(inflated)
    else:
        size, crc = inflated, 0
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_BZIP2
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for other, content in (before or {}).items():
            archive.writestr(other, content)
        archive.writestr(info, b"")  # placeholder: replaced below
    if size >= 0xFFFFFFFF:
        raise ValueError("declare less than 4 GiB")
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    directory = struct.unpack_from("<I", data, end + 16)[0]
    local, central = _headers(data, name)
    name_length, extra_length = struct.unpack_from("<HH", data, local + 26)
    start = local + 30 + name_length + extra_length
    old_size = struct.unpack_from("<I", data, central + 20)[0]
    tail = data[start + old_size :]
    data[start:] = stream + tail
    local, central = _headers(data, name)
    for offset, crc_at in ((local, 14), (central, 16)):
        struct.pack_into("<III", data, offset + crc_at, crc, len(stream), size)
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<I", data, end + 16, directory + len(stream) - old_size)
    path.write_bytes(bytes(data))
    return path


def npz_bzip2_bomb(
    path: Path, total: int = 2 * GIB, *, declare: int | None = None, shape: Any = None
) -> Path:
    """An ``.npz`` whose member ``a.npy`` is a bzip2 stream of a couple of kilobytes
    inflating to ``total`` bytes (an ``.npy`` header, then zeros). The header declares
    ``shape`` (float64) or all of the zeros; the zip header declares the true size, or
    ``declare`` bytes."""
    length = bzip2_bomb_length(total)
    if shape is None:
        head = npy_declaring(((length - 128) // 8,))
        head = npy_declaring(((length - len(head)) // 8,))
    else:
        head = npy_declaring(shape)
    stream = bzip2_bomb(head, total)
    return write_bzip2_member(path, "a.npy", stream, declare if declare is not None else length)


# ------------------------------------------------------------------------------ HDF5
def h5_unallocated(path: Path, shape: tuple[int, ...], *, chunks: Any = None) -> Path:
    """A Keras 3 ``.weights.h5`` layout with a small good kernel and one huge dataset
    declared but never written (HDF5 allocates nothing for it)."""
    import h5py

    with h5py.File(path, "w") as file:
        dense = file.create_group("layers/dense/vars")
        dense.attrs["name"] = "dense"
        dense.create_dataset("0", data=np.arange(6, dtype=np.float32).reshape(2, 3))
        huge = file.create_group("layers/huge/vars")
        huge.attrs["name"] = "huge"
        huge.create_dataset("0", shape=shape, dtype="f4", chunks=chunks)
        file.create_group("optimizer/vars")
    return path


def h5_compressed_bomb(path: Path, shape: tuple[int, ...]) -> Path:
    """A Keras 3 weights layout whose one dataset is chunked and gzip-filtered, with only
    its first chunk written: a few kilobytes stored for ``shape`` float32 values."""
    import h5py

    with h5py.File(path, "w") as file:
        group = file.create_group("layers/dense/vars")
        group.attrs["name"] = "dense"
        chunk = (min(shape[0], 1 << 16), *shape[1:])
        data = group.create_dataset("0", shape=shape, dtype="f4", chunks=chunk, compression="gzip")
        data[: chunk[0]] = np.zeros(chunk, np.float32)
        file.create_group("optimizer/vars")
    return path


def h5_legacy_unallocated(path: Path, shape: tuple[int, ...]) -> Path:
    """A legacy Keras 2 weights-only ``.h5`` (``layer_names``, ``weight_names``) whose
    second weight is declared with ``shape`` and never written."""
    import h5py

    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = np.array([b"dense"])
        group = file.create_group("dense")
        group.attrs["weight_names"] = np.array([b"dense/kernel:0", b"dense/bias:0"])
        group.create_dataset("dense/kernel:0", data=np.ones((2, 3), np.float32))
        group.create_dataset("dense/bias:0", shape=shape, dtype="f4")
    return path


# ---------------------------------------------------------------------------- .keras
def edit_keras_config(path: Path, edit: Any) -> Path:
    """Rewrite a ``.keras`` archive with ``edit(config)`` applied to its config.json."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    return write_zip(path, members)


def add_member(path: Path, name: str, data: bytes, method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "a", compression=method) as archive:
        archive.writestr(name, data)
    return path


def set_layer_option(config: dict[str, Any], layer: str, key: str, value: Any) -> None:
    """Set ``key`` in the config of the layer named ``layer``, wherever it is nested."""
    stack: list[Any] = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            inner = node.get("config")
            if isinstance(inner, dict) and inner.get("name") == layer and "class_name" in node:
                inner[key] = value
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


# ------------------------------------------------------------------------------ gzip
def write_gzip(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data, compresslevel=6, mtime=0))
    return path


def gzip_of_zeros(path: Path, size: int, *, head: bytes = b"") -> Path:
    """A gzip of ``head`` then ``size`` zero bytes, written in blocks (no big buffer)."""
    block = bytes(min(size, 8 << 20))
    with gzip.GzipFile(path, "wb", compresslevel=1, mtime=0) as out:
        out.write(head)
        left = size
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= len(block)
    return path


# --------------------------------------------------------------------------- running
def run_bounded(
    args: list[str], *, address_space: int | None = None
) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run a command in a fresh Python process that runs it as its child (optionally under
    ``RLIMIT_AS``); returns the result and the peak RSS in bytes of the command and every
    process it waited for (``getrusage(RUSAGE_CHILDREN)`` of that fresh process, so no
    earlier child of the test counts)."""
    script = (
        "import json, resource, subprocess, sys\n"
        "limit = json.loads(sys.argv[1])\n"
        "def cap():\n"
        "    if limit:\n"
        "        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
        "r = subprocess.run(sys.argv[2:], capture_output=True, text=True, preexec_fn=cap)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
        "print(json.dumps([r.returncode, r.stdout, r.stderr, peak]))\n"
    )
    outer = subprocess.run(
        [sys.executable, "-c", script, json.dumps(address_space), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    code, stdout, stderr, peak = json.loads(outer.stdout)
    return subprocess.CompletedProcess(args, code, stdout, stderr), peak
