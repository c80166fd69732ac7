"""A TensorFlow checkpoint (tensor bundle) read without TensorFlow.

``PREFIX.index`` is a table (:mod:`.table`) mapping each tensor's name to a
``BundleEntryProto`` (:mod:`.protos`), with a ``BundleHeaderProto`` under the empty key;
``PREFIX.data-NNNNN-of-MMMMM`` files hold the bytes. :func:`open_bundle` reads and checks
the index (a problem with the file as a whole is a :class:`NotAStateError`), checks every
entry against its data file (a problem with one tensor makes it a bad row: its
:attr:`Entry.error`), links partitioned variables to their slices (:mod:`.slices`; the
slices themselves are not listed, as TensorFlow does not list them), and reads nothing
else. :meth:`Bundle.read` then reads one tensor:
only the bytes its entry names, verified against the entry's CRC-32C.

The data files are read with ``readinto`` at an offset rather than memory-mapped: a file
truncated while mapped would kill the process with SIGBUS on the next access, where a
short read is an error like any other.
"""

from __future__ import annotations

import io
import os
import struct
import threading
from collections import OrderedDict

import numpy as np

from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.tfbundle.crc32c import crc32c, mask, unmask
from csv_state_viewer.core.tfbundle.entries import Entry, check_location, describe, link_slices
from csv_state_viewer.core.tfbundle.protos import (
    BIG_ENDIAN,
    LITTLE_ENDIAN,
    parse_entry,
    parse_header,
)
from csv_state_viewer.core.tfbundle.slices import Extents, decode_slice_key
from csv_state_viewer.core.tfbundle.table import FOOTER_SIZE, TableError, check_footer, read_table
from csv_state_viewer.core.tfbundle.wire import WireError, read_varint

BUNDLE_VERSION = 1  # TensorFlow's kTensorBundleVersion
MAX_OPEN_SHARDS = 32
MAX_INDEX_BYTES = 1 << 30  # a real index holds about 100 bytes per tensor


class TensorReadError(ValueError):
    """One tensor could not be read (one line): the state shows it as a bad row."""


def data_file(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


class Bundle:
    """An open checkpoint: its :attr:`entries` (key order) and what reads them."""

    def __init__(self, prefix: str, entries: list[Entry], num_shards: int) -> None:
        self.prefix = prefix
        self.entries = entries
        self.num_shards = num_shards
        self._lock = threading.Lock()
        self._files: OrderedDict[int, io.BufferedReader] = OrderedDict()
        self._closed = False

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _raw(self, entry: Entry) -> np.ndarray:
        """The entry's bytes (checked against its CRC-32C)."""
        if entry.fault is not None:
            raise TensorReadError(entry.fault)
        buffer = np.empty(entry.size, dtype=np.uint8)
        with self._lock:
            if self._closed:
                raise TensorReadError("the checkpoint is closed")
            try:
                handle = self._handle(entry.shard)
                handle.seek(entry.offset)
                got = handle.readinto(buffer.data) if entry.size else 0
            except OSError as err:
                name = data_file(self.prefix, entry.shard, self.num_shards)
                raise TensorReadError(f"cannot read {name} ({err.strerror or err})") from None
        if got != entry.size:
            raise TensorReadError(
                f"its data file ended after {got} of its {entry.size} bytes (truncated?)"
            )
        return buffer

    def _handle(self, shard: int) -> io.BufferedReader:
        handle = self._files.get(shard)
        if handle is None:
            handle = open(data_file(self.prefix, shard, self.num_shards), "rb")  # noqa: SIM115
            self._files[shard] = handle
            if len(self._files) > MAX_OPEN_SHARDS:
                self._files.popitem(last=False)[1].close()
        self._files.move_to_end(shard)
        return handle

    def read(self, entry: Entry) -> np.ndarray:
        """The tensor of a numeric entry, as a native-order array of its shape."""
        if entry.error is not None or entry.dtype is None or entry.shape is None:
            raise TensorReadError(entry.error or "this tensor cannot be read")
        if entry.parts is not None:
            whole = np.empty(entry.shape, dtype=entry.dtype)
            for box, part in entry.parts:
                whole[tuple(slice(start, start + length) for start, length in box)] = self.read(
                    part
                )
            return whole
        raw = self._raw(entry)
        if crc32c(raw) != unmask(entry.crc32c):
            raise TensorReadError("its bytes fail their checksum (a damaged data file)")
        array = raw.view(entry.dtype.newbyteorder("<")).reshape(entry.shape)
        if entry.dtype.kind == "b" and raw.size and int(raw.max()) > 1:
            array = raw.reshape(entry.shape) != 0  # TensorFlow's bools are 0 or 1
        if not array.dtype.isnative:
            array = array.astype(entry.dtype.newbyteorder("="))
        return array

    def read_strings(self, entry: Entry) -> list[bytes]:
        """The elements of a string entry: varint64 lengths, a masked CRC of the lengths
        (each as uint32, or uint64 past 4 GiB), then the bytes; the entry's CRC covers
        those lengths, that checksum and the bytes."""
        if entry.type_name != "string" or entry.shape is None or entry.fault is not None:
            raise TensorReadError(entry.fault or f"a {entry.type_name} tensor, not strings")
        count = 1
        for size in entry.shape:
            count *= size
        if count > entry.size:  # each element needs at least one length byte
            raise TensorReadError(f"{count} strings cannot fit in {entry.size} bytes")
        raw = self._raw(entry).tobytes()
        pos, lengths, packed = 0, [], bytearray()
        try:
            for _ in range(count):
                length, pos = read_varint(raw, pos, len(raw))
                lengths.append(length)
                packed += struct.pack("<I" if length <= 0xFFFFFFFF else "<Q", length)
        except WireError:
            raise TensorReadError("its string lengths are damaged") from None
        if pos + 4 > len(raw) or sum(lengths) != len(raw) - pos - 4:
            raise TensorReadError("its string lengths do not add up to its size")
        (stored,) = struct.unpack_from("<I", raw, pos)
        if stored != mask(crc32c(packed)):
            raise TensorReadError("its string lengths fail their checksum (a damaged data file)")
        checked = bytes(packed) + raw[pos:]
        if crc32c(checked) != unmask(entry.crc32c):
            raise TensorReadError("its bytes fail their checksum (a damaged data file)")
        out, pos = [], pos + 4
        for length in lengths:
            out.append(raw[pos : pos + length])
            pos += length
        return out

    def close(self) -> None:
        with self._lock:
            self._closed = True
            files, self._files = list(self._files.values()), OrderedDict()
        for handle in files:
            handle.close()


def _header(path: str, value: bytes) -> int:
    """The number of data files the header declares (refusing what cannot be read)."""
    try:
        header = parse_header(value)
    except WireError as err:
        raise NotAStateError(path, f"its .index header is damaged: {err}") from None
    if header.endianness == BIG_ENDIAN:
        raise NotAStateError(
            path, "a checkpoint written on a big-endian machine, which this reader does not read"
        )
    if header.endianness != LITTLE_ENDIAN:
        raise NotAStateError(path, f"its .index header declares byte order {header.endianness}")
    version = header.version
    if version.min_consumer > BUNDLE_VERSION or BUNDLE_VERSION in version.bad_consumers:
        raise NotAStateError(
            path, f"a checkpoint of a newer format (version {version.producer}) than this reader's"
        )
    return header.num_shards


def open_bundle(prefix: str, path: str | None = None) -> Bundle:
    """Open the checkpoint ``prefix``; ``path`` is what error messages name."""
    shown = prefix if path is None else path
    index = prefix + ".index"
    try:
        with open(index, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size >= FOOTER_SIZE:  # a large file that is no table is refused unread
                handle.seek(size - FOOTER_SIZE)
                check_footer(handle.read(FOOTER_SIZE))
            if size > MAX_INDEX_BYTES:
                raise TableError(f"its .index file has {size} bytes (at most {MAX_INDEX_BYTES})")
            handle.seek(0)
            data = handle.read()
    except OSError as err:
        raise NotAStateError(shown, f"cannot read {index} ({err.strerror or err})") from None
    except TableError as err:
        raise NotAStateError(shown, f"not a readable TensorFlow checkpoint: {err}") from None
    try:
        items = read_table(data)
    except TableError as err:
        raise NotAStateError(shown, f"not a readable TensorFlow checkpoint: {err}") from None
    if not items or items[0][0] != b"":
        raise NotAStateError(shown, "not a TensorFlow checkpoint (its .index has no header)")
    num_shards = _header(shown, items[0][1])
    entries: list[Entry] = []
    sliced: list[tuple[Entry, bytes, list[bytes]]] = []
    slices: dict[bytes, dict[Extents, Entry]] = {}
    for raw_key, value in items[1:]:
        key = raw_key.decode("utf-8", errors="backslashreplace")
        try:
            proto = parse_entry(value)
        except WireError as err:
            entries.append(
                Entry(key, None, None, "unknown", fault=f"its index entry is damaged: {err}")
            )
            continue
        entry = describe(key, proto, num_shards)
        if raw_key.startswith(b"\x00"):  # a slice of a partitioned variable: not listed
            try:
                name, extents = decode_slice_key(raw_key)
            except ValueError as err:
                entry.fault = f"a key that names neither a tensor nor a slice ({err})"
            else:
                slices.setdefault(name, {})[extents] = entry
                continue
        entries.append(entry)
        if entry.parts is not None:
            sliced.append((entry, raw_key, proto.slices))
    every_slice = [part for found in slices.values() for part in found.values()]
    _check_data_files(shown, prefix, entries + every_slice, num_shards)
    for entry, raw_key, protos in sliced:
        link_slices(entry, protos, slices.get(raw_key, {}))
    return Bundle(prefix, entries, num_shards)


def _check_data_files(path: str, prefix: str, entries: list[Entry], num_shards: int) -> None:
    sizes: dict[int, int | None] = {}
    for entry in entries:
        if entry.fault is None and entry.parts is None and entry.shard not in sizes:
            try:
                sizes[entry.shard] = os.stat(data_file(prefix, entry.shard, num_shards)).st_size
            except OSError:
                sizes[entry.shard] = None
    if sizes and all(size is None for size in sizes.values()):
        raise NotAStateError(path, "the checkpoint's .data- files are missing")
    for entry in entries:
        name = os.path.basename(data_file(prefix, entry.shard, num_shards))
        check_location(entry, name, sizes.get(entry.shard))
