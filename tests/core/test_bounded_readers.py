"""Readers check what a file declares before they allocate or inflate (``core/limits.py``).

Every hostile file is built here in milliseconds (``tests/hostile_files.py``): bzip2
members of a couple of kilobytes inflating to gigabytes, damaged, encrypted and unknown
members, ``.npy`` headers declaring terabytes or shapes that are no shapes, gzip streams of
binary data. Each is read by the command line in a child process whose address space is
capped at 1.5 GB: it must end quickly with a one-line message (a bad row, or a refusal
with exit code 2), never an internal error. Legitimate compressed archives (NumPy's own,
bzip2 and LZMA members, megabytes of compressed zeros) still read exactly.
"""

from __future__ import annotations

import io
import os
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import StateWriteError, load_state, open_state, save_state
from csv_state_viewer.core import limits
from csv_state_viewer.core.errors import NotAStateError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import hostile_files as hostile

EXE = os.path.join(os.path.dirname(sys.executable), "csv-state")
ADDRESS_SPACE = 1536 << 20
GOOD = np.arange(1000, dtype=np.float64)


def cli(*args: str | Path) -> tuple[int, list[str], float]:
    """``csv-state ARGS`` under a 1.5 GB address-space limit: exit code, output lines,
    seconds."""
    start = time.monotonic()
    result, _peak = hostile.run_bounded([EXE, *map(str, args)], address_space=ADDRESS_SPACE)
    elapsed = time.monotonic() - start
    text = result.stdout + result.stderr
    assert "Traceback" not in text
    assert "internal error" not in text
    return result.returncode, text.strip().splitlines(), elapsed


def bad_row(path: Path, expected: str) -> str:
    """``validate`` lists exactly one bad row, saying ``expected``, promptly."""
    code, lines, elapsed = cli("validate", path)
    assert code == 1, lines
    assert lines[0].startswith(f"{path}: 'a': "), lines
    assert expected in lines[0], lines
    assert elapsed < 10
    return lines[0]


def bad_member(path: Path, expected: str) -> str:
    """The same as :func:`bad_row` in this process (``open_state`` and ``validate``)."""
    with open_state(path) as state:
        problems = state.validate()
    assert len(problems) == 1 and problems[0].name == "a", problems
    message = str(problems[0])
    assert expected in message and "\n" not in message, message
    return message


def refused(path: Path, expected: str, command: str = "info") -> str:
    """The file is refused: exit code 2 and one line ``FILE: message``."""
    code, lines, elapsed = cli(command, path)
    assert code == 2, lines
    assert len(lines) == 1 and f"{path}: " in lines[0], lines
    assert expected in lines[0], lines
    assert elapsed < 10
    return lines[0]


# ------------------------------------------------------------------ npz: members
def test_npz_bzip2_bomb_declaring_its_size_is_refused_from_the_header(tmp_path: Path) -> None:
    path = hostile.npz_bzip2_bomb(tmp_path / "bomb.npz")
    assert path.stat().st_size < 4096
    assert "decompression bomb" in bad_row(path, "declares 2.04 GiB from")


def test_npz_bzip2_bomb_declaring_little_is_read_within_that(tmp_path: Path) -> None:
    # the zip header says 1000 bytes; the .npy header inside declares 2 GiB
    path = hostile.npz_bzip2_bomb(tmp_path / "lying.npz", declare=1000)
    bad_row(path, "but the member holds 872 bytes")


def test_npz_bzip2_bomb_behind_an_honest_header_stops_at_the_declared_size(
    tmp_path: Path,
) -> None:
    # header and zip agree on 100 values; the stream goes on for 2 GiB
    head = len(hostile.npy_declaring((100,)))
    path = hostile.npz_bzip2_bomb(tmp_path / "long.npz", declare=head + 800, shape=(100,))
    code, lines, _ = cli("info", path)
    assert code == 0 and "[100]" in "\n".join(lines)
    bad_row(path, "inflates to more than the 928 bytes the member declares")


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"flag_bits": 1}, "encrypted (a password is needed"),
        ({"flag_bits": 0x41}, "encrypted"),
        ({"method": 99}, "compressed with method 99 (AES encryption), which is not read"),
        ({"method": 9}, "compressed with method 9 (deflate64), which is not read"),
        ({"method": 77}, "compressed with method 77 (unknown), which is not read"),
        ({"file_size": 0xFFFFFFF0}, "declares 4 GiB from"),
    ],
)
def test_npz_members_refused_before_reading(
    tmp_path: Path, patch: dict[str, int], expected: str
) -> None:
    path = hostile.write_zip(tmp_path / "m.npz", {"a.npy": hostile.npy_of(GOOD)}, 8)
    bad_member(hostile.patch_member(path, "a.npy", **patch), expected)


def test_npz_damaged_deflate_data_is_a_bad_row(tmp_path: Path) -> None:
    path = hostile.write_zip(tmp_path / "d.npz", {"a.npy": hostile.npy_of(GOOD)}, 8)
    bad_row(hostile.damage_member(path, "a.npy"), "damaged")
    noise = np.random.default_rng(5).normal(size=1000)
    path = hostile.write_zip(tmp_path / "e.npz", {"a.npy": hostile.npy_of(noise)}, 8)
    bad_member(hostile.damage_member(path, "a.npy"), "damaged")


def test_npz_damaged_stored_data_fails_its_crc(tmp_path: Path) -> None:
    data = bytearray(hostile.npy_of(GOOD))
    data[-100:] = bytes(100)
    path = hostile.write_zip(tmp_path / "s.npz", {"a.npy": hostile.npy_of(GOOD)})
    path.write_bytes(path.read_bytes().replace(hostile.npy_of(GOOD), bytes(data)))
    bad_member(path, "does not match its CRC-32")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (hostile.npy_declaring((1 << 40,)), "declares [1099511627776] float64 (8 TiB)"),
        (hostile.npy_declaring((1 << 63, 1 << 63)), "float64 (590,295,810,358,705,651,712 EiB)"),
        (hostile.npy_declaring((-1,)), "declares shape (-1,), which is not a shape"),
        (hostile.npy_declaring((True, 2)), "which is not a shape"),
        (hostile.npy_declaring((1,) * 100), "declares 100 dimensions; at most 64 are read"),
        (hostile.npy_declaring((2,), descr="|O"), "dtype object is refused"),
        (hostile.npy_declaring((2,), descr="[('x', '<f8', (99999, 99999))]"), "not readable"),
        (hostile.npy_declaring((2,), descr="<V8"), "dtype |V8 is refused"),
        (hostile.npy_header("{" * 3000, version=2), "its .npy header is not readable"),
        (hostile.npy_header("(" * 3000 + ")" * 3000), "its .npy header is not readable"),
        (hostile.npy_header("{'descr': '<f8'}"), "its .npy header is not readable"),
        (hostile.npy_header("x" * 20000, version=2), "header declares 19.5 KiB"),
        (hostile.NPY_MAGIC + b"\x02\x00\xff\xff\xff\xff", "header declares 4 GiB"),
        (hostile.NPY_MAGIC + b"\x07\x00", "an .npy file of version 7.0, not read"),
        (b"PK\x03\x04 not an npy", "not an .npy array"),
        (hostile.NPY_MAGIC + b"\x01\x00\x40", "the member ends inside its .npy header"),
    ],
)
def test_npz_headers_that_declare_nonsense_are_bad_rows(
    tmp_path: Path, header: bytes, expected: str
) -> None:
    path = hostile.write_zip(tmp_path / "h.npz", {"a.npy": header + bytes(64)})
    bad_member(path, expected)


def test_npz_good_members_stay_readable_beside_bad_ones(tmp_path: Path) -> None:
    members = {
        "good.npy": hostile.npy_of(GOOD),
        "a.npy": hostile.npy_declaring((1 << 40,)) + bytes(64),
    }
    path = hostile.write_zip(tmp_path / "mixed.npz", members)
    with open_state(path) as state:
        assert state.names() == ["good"]
        assert np.array_equal(state.read("good"), GOOD)
        assert "8 TiB" in str(state.errors[0])


def test_npz_sidecar_bomb_is_ignored_with_a_note(tmp_path: Path) -> None:
    stream = hostile.bzip2_bomb(b"{", 200 << 20)
    path = hostile.write_bzip2_member(
        tmp_path / "side.npz",
        "__csv_state__.json",
        stream,
        1 << 20,
        before={"a.npy": hostile.npy_of(GOOD)},
    )
    with open_state(path) as state:
        assert np.array_equal(state.read("a"), GOOD)
        assert any("__csv_state__.json was ignored" in note for note in state.notes)


@pytest.mark.parametrize(
    "data",
    [b"PK\x03\x04" + bytes(100), b"PK\x03\x04garbage" * 30],
)
def test_npz_that_is_not_a_zip_is_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "broken.npz"
    path.write_bytes(data)
    refused(path, "not a readable .npz archive")


# ------------------------------------------------------- npz: legitimate archives
def _members(tensors: dict[str, np.ndarray]) -> dict[str, bytes]:
    return {f"{name}.npy": hostile.npy_of(array) for name, array in tensors.items()}


TENSORS: dict[str, np.ndarray] = {
    "f32": np.random.default_rng(3).normal(size=(30, 40)).astype(np.float32),
    "fortran": np.asfortranarray(np.arange(35.0).reshape(5, 7)),
    "be": np.array([1.5, -0.0, np.inf], dtype=">f4"),
    "bool": np.array([[True, False]]),
    "c64": np.array([1 + 2j], dtype=np.complex64),
    "scalar": np.array(2.5),
    "empty": np.zeros((3, 0), dtype=np.int16),
    "zeros": np.zeros(1 << 18, dtype=np.float32),
}


@pytest.mark.parametrize(
    "method",
    [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA],
)
def test_npz_written_by_zipfile_reads_exactly(tmp_path: Path, method: int) -> None:
    path = hostile.write_zip(tmp_path / "z.npz", _members(TENSORS), method)
    loaded = load_state(path)
    for name, array in TENSORS.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        assert loaded[name].tobytes() == np.ascontiguousarray(array).tobytes()


def test_npz_lzma_member_declaring_a_4_gib_dictionary_reads_without_one(tmp_path: Path) -> None:
    path = hostile.write_zip(tmp_path / "dict.npz", {"a.npy": hostile.npy_of(GOOD)}, 14)
    data = bytearray(path.read_bytes())
    start = 30 + len("a.npy")  # the one member's data: version, properties size, properties
    assert data[start + 2 : start + 4] == b"\x05\x00"
    data[start + 5 : start + 9] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    code, lines, _ = cli("validate", path)
    assert code == 0, lines


def test_npz_from_savez_compressed_reads_exactly(tmp_path: Path) -> None:
    path = tmp_path / "numpy.npz"
    np.savez_compressed(path, allow_pickle=False, **TENSORS)
    loaded = load_state(path)
    for name, array in TENSORS.items():
        assert loaded[name].tobytes() == np.ascontiguousarray(array).tobytes()


def test_megabytes_of_compressed_zeros_still_read(tmp_path: Path) -> None:
    deflated = tmp_path / "deflated.npz"
    np.savez_compressed(deflated, z=np.zeros(4 << 20, np.float64))  # ratio about 1000:1
    assert deflated.stat().st_size < 64 << 10
    # bzip2 squeezes zeros far beyond the ratio ceiling: allowed below ALWAYS_INFLATABLE
    bzipped = hostile.write_zip(
        tmp_path / "bzip2.npz", {"z.npy": hostile.npy_of(np.zeros(4 << 20))}, 12
    )
    assert bzipped.stat().st_size * limits.MAX_COMPRESSION_RATIO < 32 << 20
    for path in (deflated, bzipped):
        value = load_state(path)["z"]
        assert value.shape == (4 << 20,) and not value.any()


# -------------------------------------------------------------------- npz writer
def test_npz_writer_refuses_a_name_with_nul_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nul.npz"
    tensors = {"a\x00x": GOOD, "a\x00y": GOOD, "b": GOOD}
    with pytest.raises(StateWriteError) as caught:
        save_state(path, tensors)
    message = str(caught.value)
    assert message.startswith(f"{path}: tensor 'a\\x00x' cannot be written to .npz")
    assert "NUL" in message and "\n" not in message
    assert not path.exists()


def test_npz_writer_name_length_limit(tmp_path: Path) -> None:
    longest = "n" * (limits.MAX_ZIP_NAME_BYTES - len(".npy"))
    path = tmp_path / "long.npz"
    save_state(path, {longest: GOOD})
    assert list(load_state(path)) == [longest]
    with pytest.raises(StateWriteError) as caught:
        save_state(tmp_path / "longer.npz", {longest + "é": GOOD})
    assert "65,533 bytes of UTF-8" in str(caught.value)
    assert len(str(caught.value)) < 300
    with pytest.raises(StateWriteError, match="lone surrogate"):
        save_state(tmp_path / "surrogate.npz", {"x\udcff": GOOD})


def test_npz_writer_refusal_through_the_cli(tmp_path: Path) -> None:
    source = tmp_path / "source.csv"
    # a name a CSV state holds (at most 64 KiB) but a zip member cannot, with ".npy"
    save_state(source, {"n" * 65533: GOOD})
    code, lines, _ = cli("convert", source, tmp_path / "out.npz")
    assert code == 2, lines
    assert "a zip member name holds at most 65,535" in lines[-1]
    assert not (tmp_path / "out.npz").exists()


# -------------------------------------------------------------------------- gzip
def test_gzip_of_binary_is_refused_before_inflating(tmp_path: Path) -> None:
    path = hostile.gzip_of_zeros(tmp_path / "zeros.csv.gz", 256 << 20)
    assert path.stat().st_size < 2 << 20
    refused(path, "binary file, not CSV text")


def test_gzip_of_an_archive_is_refused_by_what_it_holds(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("x.npy", hostile.npy_of(GOOD))
    path = hostile.write_gzip(tmp_path / "zip.csv.gz", archive.getvalue())
    refused(path, "ZIP archive")


def test_gzip_inflating_beyond_the_ratio_ceiling_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # deflate cannot go beyond about 1032:1, so the ceiling is lowered to reach it
    text = b"tensor_name,tensor_data,tensor_metadata\n" + b"w,0,{}\n" * 400_000
    path = hostile.write_gzip(tmp_path / "text.csv.gz", text)
    monkeypatch.setattr(limits, "MAX_COMPRESSION_RATIO", 10)
    monkeypatch.setattr(limits, "ALWAYS_INFLATABLE", 1 << 20)
    fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(NotAStateError, match=r"inflates to more than .* decompression bomb"):
        open_state(path)
    assert len(os.listdir("/proc/self/fd")) == fds  # the temporary file is closed: gone


def test_gzip_csv_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "state.csv.gz"
    save_state(path, {"w": GOOD, "z": np.zeros(1 << 16, np.float32)})
    loaded = load_state(path)
    assert np.array_equal(loaded["w"], GOOD) and not loaded["z"].any()


def test_damaged_gzip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.csv.gz"
    save_state(path, {"w": np.random.default_rng(1).normal(size=5000)})
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    refused(path, "corrupt gzip data")
