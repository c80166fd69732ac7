"""Zip members read within what they declare: checked first, then streamed in pieces.

:mod:`zipfile` believes a member: it inflates a bzip2 or LZMA member in one call however
large the result (reading the ten-byte ``.npy`` magic of a 1 KB bzip2 member inflated
2 GB), and raises ``RuntimeError``, ``NotImplementedError``, ``zlib.error``... on
encrypted, unknown or damaged members. Here :mod:`zipfile` only lists the archive;
:func:`member_problem` says why a member is refused before anything is read (encrypted,
an unknown method, a declared size beyond :func:`~csv_state_viewer.core.limits.inflation_ceiling`
of its compressed size, data past the end of the file), and :class:`MemberReader`
streams a member's bytes with :mod:`zlib`, :mod:`bz2` and :mod:`lzma` directly, never
inflating more than :data:`~csv_state_viewer.core.limits.READ_PIECE` at a time nor more
than the member declares. Every failure is a :class:`MemberError` (a ``ValueError``)
worded for a user.
"""

from __future__ import annotations

import bz2
import lzma
import os
import struct
import zipfile
import zlib
from typing import Protocol

from csv_state_viewer.core.limits import READ_PIECE, ZIP_METHODS, over_ratio, size_text

LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
LOCAL_MAGIC = b"PK\x03\x04"
_ENCRYPTED = 0x0001 | 0x0040  # traditional PKWARE encryption; strong encryption
_RAW_PIECE = 64 << 10  # compressed bytes read at a time
_OTHER_METHODS = {  # names of methods that are not read, for the message
    1: "shrink",
    6: "implode",
    9: "deflate64",
    18: "IBM TERSE",
    19: "IBM LZ77",
    20: "zstandard",
    93: "zstandard",
    95: "xz",
    96: "JPEG",
    97: "WavPack",
    98: "PPMd",
    99: "AES encryption",
}


class MemberError(ValueError):
    """A zip member that cannot be read as it declares (damaged, too large, refused)."""


def member_problem(info: zipfile.ZipInfo, archive_size: int) -> str | None:
    """Why ``info``'s member is not read, before a byte of it is, or None."""
    if info.flag_bits & _ENCRYPTED:
        return "encrypted (a password is needed; encrypted members are not read)"
    method = info.compress_type
    if method not in ZIP_METHODS:
        name = _OTHER_METHODS.get(method, "unknown")
        return f"compressed with method {method} ({name}), which is not read"
    if info.header_offset + LOCAL_HEADER.size + info.compress_size > archive_size:
        return "its data runs past the end of the archive (a truncated or damaged zip)"
    if method == zipfile.ZIP_STORED:
        if info.file_size != info.compress_size:
            return (
                f"stored uncompressed but declares {size_text(info.file_size)} "
                f"in {size_text(info.compress_size)}"
            )
        return None
    return over_ratio(info.file_size, info.compress_size)


def data_offset(fd: int, info: zipfile.ZipInfo) -> int:
    """Where a member's bytes start: after its local header, whose name and extra field may
    differ in length from the central directory's."""
    try:
        header = os.pread(fd, LOCAL_HEADER.size, info.header_offset)
    except OSError as err:
        raise MemberError(f"the archive cannot be read ({err.strerror or err})") from None
    if len(header) != LOCAL_HEADER.size or not header.startswith(LOCAL_MAGIC):
        raise MemberError("its local header is missing (a damaged zip)")
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    return info.header_offset + LOCAL_HEADER.size + name_length + extra_length


class _Inflater(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...


class _Deflate:
    """zlib's raw inflater with the interface of bz2's (unconsumed input kept inside)."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self._tail = b""

    @property
    def eof(self) -> bool:
        return self._inflater.eof

    @property
    def needs_input(self) -> bool:
        return not self._tail

    def decompress(self, data: bytes, max_length: int = 1) -> bytes:
        out = self._inflater.decompress(self._tail + data, max(1, max_length))  # 0: no limit
        self._tail = self._inflater.unconsumed_tail
        return out


def _lzma_inflater(head: bytes, size: int) -> lzma.LZMADecompressor:
    """The raw LZMA1 decoder of a zip member of ``size`` inflated bytes whose data starts
    with ``head``: two version bytes, the properties' length (5) and the properties (lc/lp/pb,
    dictionary size). The dictionary is allocated up front, so it is never made larger than
    the member (no match reaches further back than its start; liblzma's least is 4 KiB)."""
    if len(head) < 9 or struct.unpack_from("<H", head, 2)[0] != 5:
        raise MemberError("damaged LZMA data (bad properties header)")
    packed, dict_size = head[4], struct.unpack_from("<I", head, 5)[0]
    dict_size = max(4096, min(dict_size, size))
    if packed >= 9 * 5 * 5:
        raise MemberError("damaged LZMA data (bad properties)")
    lc, rest = packed % 9, packed // 9
    lp, pb = rest % 5, rest // 5
    filters = [{"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": lp, "pb": pb}]
    try:
        return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)
    except (lzma.LZMAError, ValueError, MemoryError) as err:
        raise MemberError(f"damaged LZMA data ({err or type(err).__name__})") from None


class MemberReader:
    """The inflated bytes of one zip member, read through ``fd`` with ``os.pread`` (so
    readers of several members may share it across threads).

    Never produces more than the member's declared ``file_size``; raises
    :class:`MemberError` when the compressed data is damaged, ends before the declared
    size, goes on after it, or (once read to the end, :meth:`finish`) fails its CRC.
    """

    def __init__(self, fd: int, info: zipfile.ZipInfo) -> None:
        try:
            archive_size = os.fstat(fd).st_size
        except OSError as err:
            raise MemberError(f"the archive cannot be read ({err.strerror or err})") from None
        problem = member_problem(info, archive_size)
        if problem is not None:
            raise MemberError(problem)
        self._fd = fd
        self._info = info
        self._pos = data_offset(fd, info)
        self._end = self._pos + info.compress_size
        self._left = info.file_size
        self._crc = 0
        self._inflater: _Inflater | None = None
        if info.compress_type == zipfile.ZIP_DEFLATED:
            self._inflater = _Deflate()
        elif info.compress_type == zipfile.ZIP_BZIP2:
            self._inflater = bz2.BZ2Decompressor()
        elif info.compress_type == zipfile.ZIP_LZMA:
            self._inflater = _lzma_inflater(self._raw(9), info.file_size)

    @property
    def left(self) -> int:
        """Bytes the member still declares."""
        return self._left

    def _raw(self, count: int) -> bytes:
        count = min(count, self._end - self._pos)
        if count <= 0:
            return b""
        try:
            data = os.pread(self._fd, count, self._pos)
        except OSError as err:
            raise MemberError(f"the archive cannot be read ({err.strerror or err})") from None
        if len(data) != count:
            raise MemberError("the archive ends inside the member (a truncated zip)")
        self._pos += count
        return data

    def _inflate(self, count: int) -> bytes:
        """Up to ``count`` more inflated bytes; empty once the compressed data is over."""
        inflater = self._inflater
        if inflater is None:
            return self._raw(count)
        try:
            while not inflater.eof:
                data = self._raw(_RAW_PIECE) if inflater.needs_input else b""
                out = inflater.decompress(data, count)
                if out:
                    return out
                if not data:
                    break  # no input left and nothing buffered
        except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError, MemoryError) as err:
            if isinstance(err, MemberError):
                raise
            raise MemberError(f"damaged compressed data ({err or type(err).__name__})") from None
        return b""

    def _short(self, missing: int) -> MemberError:
        declared = size_text(self._info.file_size)
        return MemberError(
            f"the data ends {size_text(missing)} short of the {declared} the member declares "
            "(damaged or truncated compressed data)"
        )

    def read(self, count: int) -> bytes:
        """Up to ``count`` bytes (fewer only at the end of the member)."""
        pieces, wanted = [], min(count, self._left)
        got = 0
        while got < wanted:
            piece = self._inflate(min(wanted - got, READ_PIECE))
            if not piece:
                raise self._short(self._left - got)
            pieces.append(piece)
            got += len(piece)
        data = b"".join(pieces)
        self._crc = zlib.crc32(data, self._crc)
        self._left -= len(data)
        return data

    def read_exact(self, count: int, what: str) -> bytes:
        """Exactly ``count`` bytes, or MemberError naming ``what`` was cut short."""
        if count > self._left:
            raise MemberError(f"the member ends inside {what}")
        return self.read(count)

    def readinto(self, buffer: memoryview) -> None:
        """Fill ``buffer`` (bytes) from the member, a piece at a time."""
        view = buffer.cast("B") if buffer.format != "B" else buffer
        if view.nbytes > self._left:
            raise MemberError(
                f"the data needs {size_text(view.nbytes)} but the member holds "
                f"{size_text(self._left)}"
            )
        filled = 0
        while filled < view.nbytes:
            piece = self._inflate(min(view.nbytes - filled, READ_PIECE))
            if not piece:
                raise self._short(self._left)
            view[filled : filled + len(piece)] = piece
            self._crc = zlib.crc32(piece, self._crc)
            filled += len(piece)
            self._left -= len(piece)

    def finish(self) -> None:
        """Read what is left (bounded by the declared size) and check that the compressed
        data ends where the member does and that the CRC matches."""
        while self._left:
            self.read(min(self._left, READ_PIECE))
        if self._inflater is not None and self._inflate(1):
            declared = size_text(self._info.file_size)
            raise MemberError(
                f"the compressed data inflates to more than the {declared} the member declares"
            )
        if self._crc & 0xFFFFFFFF != self._info.CRC:
            raise MemberError("the data does not match its CRC-32 (a damaged archive)")
