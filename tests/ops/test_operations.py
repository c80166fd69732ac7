"""The operations the CLI and the viewer share: convert, destination checks, hints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from csv_state_viewer.core.api import load_state, save_state
from csv_state_viewer.core.errors import BadRowsError, StateWriteError, UnsupportedFormatError
from csv_state_viewer.core.messages import COMMAND_LINE, VIEWER, Hint, advice, hint_of
from csv_state_viewer.core.progress import Cancelled
from csv_state_viewer.core.registry import format_named
from csv_state_viewer.ops.convert import ConvertOptions, convert
from csv_state_viewer.ops.destinations import check_destination
from csv_state_viewer.ops.opening import open_for_viewing, open_state
from csv_state_viewer.ops.writing import model_destination

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"

if TYPE_CHECKING:
    from tests.conftest import ProgressRecorder


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "s.csv"
    rng = np.random.default_rng(3)
    save_state(path, {f"layer{i}/kernel": rng.standard_normal((64, 64)) for i in range(8)})
    return path


def test_convert_writes_every_tensor_bit_exact_and_reports_progress(
    state: Path, tmp_path: Path, recorder: type[ProgressRecorder]
) -> None:
    progress = recorder()
    out = tmp_path / "s.npz"
    converted = convert(str(state), str(out), progress=progress)
    assert (converted.format_name, converted.written, converted.skipped) == ("npz", 8, ())
    source, back = load_state(state), load_state(out)
    assert list(back) == list(source)
    for name in source:
        assert source[name].tobytes() == back[name].tobytes()
    fractions = [done / total for done, total in progress.reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_convert_honours_the_chosen_write_choice(state: Path, tmp_path: Path) -> None:
    text, base64 = tmp_path / "t.csv", tmp_path / "b.csv"
    convert(str(state), str(text))
    convert(str(state), str(base64), ConvertOptions(save_options={"encoding": "base64"}))
    with open_state(str(base64)) as written:
        assert {entry.encoding for entry in written} == {"base64"}
    with open_state(str(text)) as written:
        assert {entry.encoding for entry in written} == {"text"}
    assert (
        load_state(base64)["layer0/kernel"].tobytes()
        == load_state(state)["layer0/kernel"].tobytes()
    )


def test_a_cancelled_convert_leaves_nothing(
    state: Path, tmp_path: Path, recorder: type[ProgressRecorder]
) -> None:
    out = tmp_path / "c.csv"
    with pytest.raises(Cancelled):
        convert(str(state), str(out), progress=recorder(cancel_after=3))
    assert sorted(os.listdir(tmp_path)) == ["s.csv"]


def test_bad_rows_refuse_the_convert_with_the_problems_as_data(tmp_path: Path) -> None:
    out = tmp_path / "d.npz"
    with pytest.raises(BadRowsError) as refused:
        convert(str(SAMPLES / "damaged.csv"), str(out))
    assert refused.value.problems and all(p.line for p in refused.value.problems)
    assert hint_of(refused.value) is Hint.SKIP_BAD
    assert not out.exists()
    converted = convert(str(SAMPLES / "damaged.csv"), str(out), ConvertOptions(skip_bad=True))
    assert converted.skipped and converted.written == len(load_state(out))


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("same", "the destination is the source file"),
        ("exists", "already exists"),
        ("keep", "refusing to overwrite a source (keep.csv)"),
        ("produced", "was just written from another file"),
        ("folder", "keep.csv: is a file, not a folder"),
        ("directory", "is a directory"),
    ],
)
def test_one_destination_check_for_every_writer(
    state: Path, tmp_path: Path, setup: str, message: str
) -> None:
    keep = tmp_path / "keep.csv"
    keep.write_text("x")
    destination = {
        "same": state,
        "exists": keep,
        "keep": keep,
        "produced": tmp_path / "p.csv",
        "folder": keep / "missing" / "x.csv",
        "directory": tmp_path,
    }[setup]
    with pytest.raises(StateWriteError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_destination(
            str(destination) + ("/" if setup == "directory" else ""),
            format_named("csv"),
            overwrite=setup != "exists",
            sources=(str(state), *([str(keep)] if setup == "keep" else [])),
            produced=(str(tmp_path / "p.csv"),) if setup == "produced" else (),
        )
    before = keep.read_text()
    assert before == "x"


@pytest.mark.parametrize("name", ["csv", "npz", "tf-checkpoint", "matrix"])
def test_a_missing_folder_is_accepted_and_the_check_creates_nothing(
    state: Path, tmp_path: Path, name: str
) -> None:
    destination = str(tmp_path / "new" / "a" / ("b/" if name == "matrix" else "x"))
    check_destination(destination, format_named(name), overwrite=False, sources=(str(state),))
    assert sorted(os.listdir(tmp_path)) == ["s.csv"]


def test_a_missing_folder_in_a_folder_without_write_permission_is_refused_by_name(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, m: os.fspath(p) != str(locked) and real_access(p, m)
    )
    with pytest.raises(StateWriteError, match=f"^{locked}: no permission") as refused:
        check_destination(str(locked / "new" / "x.csv"), format_named("csv"), overwrite=True)
    assert "\n" not in str(refused.value)
    check_destination(str(tmp_path / "new" / "x.csv"), format_named("csv"), overwrite=True)


@pytest.mark.parametrize("name", ["csv", "npz"])
def test_convert_creates_missing_folders(state: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "new" / "a" / f"x.{name}"
    converted = convert(str(state), str(out), ConvertOptions(format_name=name))
    assert converted.written == 8
    assert (
        load_state(out)["layer3/kernel"].tobytes() == load_state(state)["layer3/kernel"].tobytes()
    )


def test_convert_to_a_matrix_folder_creates_missing_folders(state: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "a" / "b"
    convert(str(state), f"{out}/", ConvertOptions(format_name="matrix"))
    assert sorted(os.listdir(out / "layer0")) == ["kernel.csv"]
    assert np.loadtxt(out / "layer5" / "kernel.csv", delimiter=",").tobytes() == (
        load_state(state)["layer5/kernel"].tobytes()
    )


@pytest.mark.parametrize("name", ["csv", "npz"])
def test_a_cancelled_convert_removes_the_folders_it_created(
    state: Path,
    tmp_path: Path,
    recorder: type[ProgressRecorder],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    made: list[str] = []
    real_mkdir = os.mkdir

    def mkdir(path: str, *args: int) -> None:
        real_mkdir(path, *args)
        made.append(path)

    monkeypatch.setattr(os, "mkdir", mkdir)
    out = tmp_path / "new" / "a" / f"x.{name}"

    class CancelWhileWriting(recorder):  # type: ignore[misc, valid-type]
        def cancelled(self) -> bool:  # once the write has made its folders
            return (tmp_path / "new" / "a").exists()

    with pytest.raises(Cancelled):
        convert(str(state), str(out), ConvertOptions(format_name=name), CancelWhileWriting())
    assert made == [str(tmp_path / "new"), str(tmp_path / "new" / "a")]  # then removed
    assert sorted(os.listdir(tmp_path)) == ["s.csv"]


def test_a_prefix_format_exists_by_its_marker(tmp_path: Path) -> None:
    checkpoint = format_named("tf-checkpoint")
    prefix = tmp_path / "ckpt"
    check_destination(str(prefix), checkpoint, overwrite=False)  # nothing there yet
    (tmp_path / "ckpt.index").write_bytes(b"")
    with pytest.raises(StateWriteError, match="already exists"):
        check_destination(str(prefix), checkpoint, overwrite=False)


def test_hints_are_worded_for_each_front_end(state: Path) -> None:
    with pytest.raises(StateWriteError) as refused:
        check_destination(str(state), format_named("csv"), overwrite=False)
    cli, viewer = advice(refused.value, COMMAND_LINE), advice(refused.value, VIEWER)
    assert cli.endswith("(use --force to replace it)")
    assert "Overwrite existing" in viewer and "--" not in viewer
    assert all("--" not in text for text in VIEWER.values())
    assert set(COMMAND_LINE) == set(VIEWER) == set(Hint)


def test_a_model_is_written_only_where_a_format_takes_one(tmp_path: Path) -> None:
    assert model_destination(str(tmp_path / "m.keras")).name == "keras"
    assert model_destination(str(tmp_path / "m.weights.h5")).name == "keras-weights"
    assert model_destination(str(tmp_path / "ckpt")).name == "tf-checkpoint"
    with pytest.raises(StateWriteError, match="a model is written as one of"):
        model_destination(str(tmp_path / "m.npz"))
    with pytest.raises(UnsupportedFormatError):
        model_destination(str(tmp_path / "m.h5"))


def test_open_for_viewing_gives_the_state_and_its_tree(state: Path) -> None:
    opened = open_for_viewing(str(state))
    with opened.state:
        assert opened.root.label == "s.csv"
        assert [leaf.entry.name for leaf in opened.root.tensors() if leaf.entry] == (
            opened.state.names()
        )
    with open_state(str(state)) as again:
        assert again.format_name == "csv"
