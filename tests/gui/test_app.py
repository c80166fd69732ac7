"""Starting the viewer as a user does: the entry point, --screenshot, no display."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from .conftest import SAMPLES

VIEWER = shutil.which("csv-state-viewer", path=os.path.dirname(sys.executable))


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def test_screenshot_renders_the_selected_tensor_and_never_imports_tensorflow(
    tmp_path: Path,
) -> None:
    out = tmp_path / "shot.png"
    code = (
        "import sys; from csv_state_viewer.gui.app import main; "
        f"rc = main([{str(SAMPLES / 'mlp_adam.csv')!r}, '--screenshot', {str(out)!r}, "
        "'--select', 'sequential/dense_1/kernel', '--tab', 'histogram', '--size', '1000x700']); "
        "print('tf' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'no-tf'); "
        "sys.exit(rc)"
    )
    result = run([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(out), "no-tf"]
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1000, 700)
    # a histogram was painted: the image is not a flat colour
    colours = {image.pixel(x, y) for x in range(0, 1000, 25) for y in range(0, 700, 25)}
    assert len(colours) > 5


def test_console_entry_point_and_bad_selection(tmp_path: Path) -> None:
    assert VIEWER is not None, "csv-state-viewer is not installed"
    out = tmp_path / "shot.png"
    result = run([VIEWER, str(SAMPLES / "damaged.csv"), "--screenshot", str(out)])
    assert result.returncode == 0 and out.stat().st_size > 0
    result = run(
        [VIEWER, str(SAMPLES / "mlp_adam.csv"), "--screenshot", str(out), "--select", "nope"]
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "csv-state-viewer: no tensor, scope or file named 'nope'"
    missing = tmp_path / "missing.csv"
    result = run([VIEWER, str(missing), "--screenshot", str(out)])
    assert result.returncode == 2 and str(missing) in result.stderr


def test_without_a_display_prints_a_one_line_hint() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    result = run([sys.executable, "-m", "csv_state_viewer", str(SAMPLES / "mlp_adam.csv")], env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "offscreen" in lines[0] and "--screenshot" in lines[0]
    assert "csv-state" in lines[0]


def test_tensorflow_formats_open_in_the_viewer(tmp_path: Path) -> None:
    """TensorFlow imported in a worker corrupted the heap (abort on the first read)."""
    assert VIEWER is not None
    prefix = tmp_path / "ckpt"
    cli = shutil.which("csv-state", path=os.path.dirname(sys.executable))
    assert cli is not None
    converted = run([cli, "convert", str(SAMPLES / "mlp_adam.csv"), str(prefix)])
    assert converted.returncode == 0, converted.stderr
    for source in (f"{prefix}.index", str(SAMPLES / "cnn_sgd.keras")):
        out = tmp_path / "shot.png"
        result = run([VIEWER, source, "--screenshot", str(out), "--tab", "histogram"])
        assert result.returncode == 0, result.stderr
        assert QImage(str(out)).width() > 0
        out.unlink()


def test_screenshot_leaves_the_users_home_untouched(tmp_path: Path) -> None:
    """--screenshot once added its files to the user's recent list."""
    assert VIEWER is not None
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        # what Matplotlib and fontconfig cache is theirs, not the viewer's
        "MPLCONFIGDIR": str(tmp_path / "matplotlib"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    out = tmp_path / "shot.png"
    result = run([VIEWER, str(SAMPLES / "mlp_adam.csv"), "--screenshot", str(out)], env)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0
    assert sorted(home.rglob("*")) == []


def test_tests_use_their_own_settings(tmp_path: Path) -> None:
    """A window built without settings (as the app builds it) writes under tmp_path."""
    from csv_state_viewer.gui.settings import Settings

    settings = Settings()
    assert Path(settings.store.fileName()).is_relative_to(tmp_path)
    settings.add_recent(str(SAMPLES / "mlp_adam.csv"))
    settings.sync()
    assert Path(settings.store.fileName()).is_file()
