"""The core stays free of Qt, TensorFlow and Matplotlib, and opening a CSV imports none of them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import csv_state_viewer

PACKAGE = Path(csv_state_viewer.__file__).parent
HEAVY = ("PySide6", "tensorflow", "keras", "matplotlib")


def test_core_modules_import_no_gui_or_tensorflow() -> None:
    offenders = []
    for module in sorted((PACKAGE / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{module.name}: {name}"
                for name in names
                if name.split(".")[0] in HEAVY or name.startswith("csv_state_viewer.cli")
            ]
    assert offenders == []


def test_reading_a_csv_imports_no_heavy_package(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    script = f"""
import json, sys
import numpy as np
from csv_state_viewer import open_state, save_state
save_state({str(path)!r}, {{"w": np.arange(6, dtype=np.float32).reshape(2, 3)}})
with open_state({str(path)!r}) as state:
    state.read_all()
    state.validate()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
ROOT = Path(__file__).resolve().parents[1]  # the checkout: the package may be installed


def _lint_copy(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess[str]:
    """Run the project's import contracts over a copy of the package with ``line`` added
    to ``module``; the copy comes first on the path, so the real package is not read."""
    import shutil

    shutil.copytree(PACKAGE, tmp_path / "csv_state_viewer", ignore=shutil.ignore_patterns("*.so"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "csv_state_viewer" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_contracts_pass_on_the_package(tmp_path: Path) -> None:
    result = _lint_copy(tmp_path, "core/progress.py", "# nothing added")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("bridge/mapping.py", "import PySide6.QtCore", "never import Qt"),
        ("core/state.py", "import csv_state_viewer.bridge.mapping", "Layers"),
        ("ops/opening.py", "import csv_state_viewer.gui.errors", "Layers"),
        ("cli/output.py", "import csv_state_viewer.gui.errors", "Layers"),
        ("ops/convert.py", "import tensorflow", "never import TensorFlow"),
        ("core/tfbundle/wire.py", "import google.protobuf", "protobuf"),
    ],
)
def test_the_contracts_catch_a_wrong_import(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    result = _lint_copy(tmp_path, module, line)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(contract in row for row in broken), result.stdout
