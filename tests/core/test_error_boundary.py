"""The registry is the one boundary of every reader's and writer's exceptions.

Whatever a format's library raises on a damaged file (MemoryError, struct.error,
zlib.error, BadZipFile, OSError, a KeyError deep in h5py...) leaves ``open_with`` as a
one-line NotAStateError, ``save_with`` as a StateWriteError, and ``State.read`` as a bad
row; our own errors, cancellation and bugs in our own code pass unchanged, so the command
line's exit 3 ("internal error") stays for bugs.
"""

from __future__ import annotations

import json
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csv_state_viewer import load_state, open_state, save_state
from csv_state_viewer.cli.main import main as cli_main
from csv_state_viewer.core.errors import (
    CsvStateError,
    NotAStateError,
    RowError,
    StateWriteError,
    is_library_failure,
)
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.lazystate import LazyState, LazyTensor
from csv_state_viewer.core.progress import Cancelled, Progress
from csv_state_viewer.core.registry import register_format, unregister_format
from csv_state_viewer.core.state import State

CliRunner = Callable[..., subprocess.CompletedProcess[str]]  # the csv_state fixture

MAGIC = b"BOUNDARY-TEST\n"
SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def raiser_in(module: str) -> Callable[[BaseException], Any]:
    """A function that raises what it is given, as code of ``module`` would: a frame of a
    library (``fakelib``) or of our own package (``csv_state_viewer...``)."""
    namespace: dict[str, Any] = {"__name__": module}
    exec(compile("def fail(error):\n    raise error\n", f"<{module}>", "exec"), namespace)
    return namespace["fail"]


LIBRARY = raiser_in("fakelib.reader")
OURS = raiser_in("csv_state_viewer.core.formats.fakebug")


class Failing:
    """What the boundary format's reader, writer and sniff raise (None: they work)."""

    open_error: BaseException | None = None
    save_error: BaseException | None = None
    sniff_error: BaseException | None = None
    load_error: BaseException | None = None
    raise_with: Callable[[BaseException], Any] = LIBRARY


def _sniff(path: str, head: bytes) -> bool:
    if Failing.sniff_error is not None:
        Failing.raise_with(Failing.sniff_error)
    return head.startswith(MAGIC)


def _load() -> np.ndarray:
    if Failing.load_error is not None:
        Failing.raise_with(Failing.load_error)
    return np.arange(3, dtype=np.float32)


def _open(path: str, progress: Progress) -> State:
    if Failing.open_error is not None:
        Failing.raise_with(Failing.open_error)
    tensors = [
        LazyTensor("w", (3,), np.dtype(np.float32), _load),
        LazyTensor("b", (2,), np.dtype(np.float64), lambda: np.zeros(2)),
    ]
    return LazyState(path, "boundary", tensors)


def _save(path: str, tensors: Any, **options: Any) -> int:
    if Failing.save_error is not None:
        Failing.raise_with(Failing.save_error)
    Path(path).write_bytes(MAGIC)
    return 1


BOUNDARY = Format(
    name="boundary",
    description="a format whose library fails",
    label="Boundary test state",
    extensions=(".boundary",),
    sniff=_sniff,
    open=_open,
    save=_save,
)


@pytest.fixture
def boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The boundary format registered, and a file it reads."""
    monkeypatch.delenv("CSV_STATE_DEBUG", raising=False)
    for name in ("open_error", "save_error", "sniff_error", "load_error"):
        monkeypatch.setattr(Failing, name, None)
    monkeypatch.setattr(Failing, "raise_with", staticmethod(LIBRARY))
    register_format(BOUNDARY)
    path = tmp_path / "state.boundary"
    path.write_bytes(MAGIC)
    yield path
    unregister_format(BOUNDARY.name)


LONG_TEXT = "first line\nsecond line\t" + "x" * 1000


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MemoryError(), "declares more data than this machine's memory can hold"),
        (struct.error("unpack requires a buffer of 8 bytes"), "truncated or malformed binary"),
        (zlib.error("Error -3 while decompressing data"), "damaged compressed data"),
        (zipfile.BadZipFile("File is not a zip file"), "not a valid zip archive"),
        (EOFError("Compressed file ended"), "truncated: the data ends too early"),
        (OverflowError("cannot fit 'int' into an index-sized integer"), "out of range"),
        (OSError(5, "Input/output error"), "cannot be read (Input/output error)"),
        (ValueError("cannot reshape array"), "not readable as Boundary test state"),
        (TypeError("unhashable type"), "not readable as Boundary test state"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
        (KeyError("model_weights"), "KeyError: 'model_weights'"),
        (RuntimeError("Unable to open object"), "RuntimeError: Unable to open object"),
    ],
)
def test_a_library_failure_opening_is_one_line(
    boundary: Path, error: BaseException, expected: str
) -> None:
    Failing.open_error = error
    with pytest.raises(NotAStateError) as refused:
        open_state(boundary)
    message = str(refused.value)
    assert message.startswith(f"{boundary}: ")
    assert expected in message
    assert "\n" not in message
    assert refused.value.__cause__ is None  # not kept unless debugging
    assert refused.value.__suppress_context__


def test_library_text_is_cleaned_to_one_clipped_escaped_line(boundary: Path) -> None:
    Failing.open_error = ValueError(LONG_TEXT + "\x1b[31m\u202e")
    with pytest.raises(NotAStateError) as refused:
        open_state(boundary)
    message = str(refused.value)
    assert "\n" not in message and "\t" not in message
    assert "first line second line" in message
    assert len(message) < len(str(boundary)) + 300
    assert message.endswith("…)")
    Failing.open_error = ValueError("bad \x1b[31mred\u202e")
    with pytest.raises(NotAStateError, match=r"bad \\x1b\[31mred\\u202e"):
        open_state(boundary)


def test_with_csv_state_debug_the_original_is_the_cause(
    boundary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSV_STATE_DEBUG", "1")
    original = zlib.error("Error -3")
    Failing.open_error = original
    with pytest.raises(NotAStateError) as refused:
        open_state(boundary)
    assert refused.value.__cause__ is original


@pytest.mark.parametrize(
    "error",
    [Cancelled(), KeyboardInterrupt(), CsvStateError("ours, already worded")],
)
def test_our_errors_and_interruptions_pass_unchanged(boundary: Path, error: BaseException) -> None:
    Failing.open_error = error
    with pytest.raises(type(error)) as raised:
        open_state(boundary)
    assert raised.value is error


@pytest.mark.parametrize("error", [AttributeError("no attribute"), KeyError("k"), NameError("x")])
def test_a_bug_in_our_own_code_is_not_reworded(boundary: Path, error: BaseException) -> None:
    Failing.raise_with = OURS
    Failing.open_error = error
    with pytest.raises(type(error)):
        open_state(boundary)
    fresh = type(error)(*error.args)  # a raised one keeps its traceback
    assert not is_library_failure(_raised(OURS, fresh))
    assert is_library_failure(_raised(LIBRARY, type(error)(*error.args)))


def _raised(raiser: Callable[[BaseException], Any], error: BaseException) -> BaseException:
    try:
        raiser(error)
    except BaseException as err:  # the test inspects it
        return err
    raise AssertionError("not raised")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MemoryError(), "writing it needs more memory than this machine can give"),
        (OSError(28, "No space left on device"), "write failed (No space left on device)"),
        (ValueError("Out of range float values"), "cannot be written as Boundary test state"),
        (RuntimeError("Unable to create file"), "RuntimeError: Unable to create file"),
    ],
)
def test_a_library_failure_writing_is_a_write_error(
    boundary: Path, error: BaseException, expected: str
) -> None:
    Failing.save_error = error
    out = boundary.with_name("out.boundary")
    with pytest.raises(StateWriteError) as refused:
        save_state(out, {"x": np.zeros(1)})
    assert str(refused.value).startswith(f"{out}: ")
    assert expected in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_sniff_that_fails_does_not_match(boundary: Path) -> None:
    Failing.sniff_error = zipfile.BadZipFile("truncated")
    with pytest.raises(NotAStateError):  # nothing else reads it: not a state
        open_state(boundary)
    assert load_state(SAMPLES / "mlp_recipe.csv")  # other files still find their format


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MemoryError(), "declares more data (12 B decoded) than this machine's memory can hold"),
        (zlib.error("Error -3 while decompressing data"), "damaged compressed data"),
        (OSError(5, "Input/output error"), "cannot be read (Input/output error)"),
        (KeyError("vars"), "unreadable data (KeyError: 'vars')"),
        (EOFError(), "truncated: the data ends too early (EOFError)"),
    ],
)
def test_a_lazily_read_tensor_that_its_library_fails_on_is_a_bad_row(
    boundary: Path, error: BaseException, expected: str
) -> None:
    Failing.load_error = error
    with open_state(boundary) as state:
        with pytest.raises(RowError) as bad:
            state.read("w")
        assert expected in bad.value.problem.message
        assert bad.value.problem.name == "w"
        assert state.problem_of(state.entry("w")) == bad.value.problem
        assert list(state.read_all(skip_bad=True)) == ["b"]  # the others stay readable
        assert [p.name for p in state.validate()] == ["w"]


def test_a_bug_in_our_loader_is_not_a_bad_row(boundary: Path) -> None:
    Failing.raise_with = OURS
    Failing.load_error = AttributeError("'NoneType' object has no attribute 'shape'")
    with open_state(boundary) as state, pytest.raises(AttributeError):
        state.read("w")


def test_the_command_line_says_one_line_and_exits_2(
    boundary: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Failing.open_error = struct.error("unpack requires a buffer of 16 bytes")
    assert cli_main(["info", str(boundary)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "truncated or malformed binary data" in err
    Failing.open_error = None
    Failing.load_error = MemoryError()
    assert cli_main(["validate", str(boundary)]) == 1
    out = capsys.readouterr().out
    assert "'w': declares more data" in out


def test_a_bug_is_still_an_internal_error(
    boundary: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Failing.raise_with = OURS
    Failing.open_error = AttributeError("a bug")
    assert cli_main(["info", str(boundary)]) == 3
    assert "internal error: AttributeError: a bug" in capsys.readouterr().err


def test_debug_prints_what_the_library_raised(
    boundary: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSV_STATE_DEBUG", "1")
    Failing.open_error = zlib.error("Error -3 while decompressing data")
    assert cli_main(["info", str(boundary)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "zlib.error: Error -3" in err
    assert err.rstrip().splitlines()[-1].startswith("csv-state: ")


# ------------------------------------------------------------- the reported cases
METADATA_WITH_NAN = (
    "tensor_name,tensor_data,tensor_metadata\n"
    'w,1.5,"{""shape"": [1], ""dtype"": ""float32"", ""lr"": NaN, '
    '""big"": Infinity, ""small"": -Infinity}"\n'
)


def test_metadata_holding_nan_and_infinity_converts_to_csv_reversibly(
    csv_state: CliRunner, tmp_path: Path
) -> None:
    source = tmp_path / "nan.csv"
    source.write_text(METADATA_WITH_NAN)
    out = tmp_path / "out.csv"
    result = csv_state("convert", source, out)
    assert result.returncode == 0, result.stderr
    assert "NaN" in out.read_text() and "-Infinity" in out.read_text()
    with open_state(out) as state:
        meta = state.entries[0].metadata
    assert np.isnan(meta["lr"]) and meta["big"] == np.inf and meta["small"] == -np.inf
    field = out.read_text().splitlines()[1].split(",", 2)[2]
    recipe = json.loads(field[1:-1].replace('""', '"'))  # the recipe's own json.loads
    assert np.isnan(recipe["lr"])


def test_apply_on_a_truncated_keras_file_says_so(csv_state: CliRunner, tmp_path: Path) -> None:
    model = tmp_path / "model.keras"
    model.write_bytes((SAMPLES / "mlp_adam.keras").read_bytes()[:20_000])
    result = csv_state("apply", SAMPLES / "mlp_adam.csv", model, "--dry-run")
    assert result.returncode == 2
    assert "truncated or damaged" in result.stderr
    assert "File not found" not in result.stderr
    assert result.stderr.count("\n") == 1
