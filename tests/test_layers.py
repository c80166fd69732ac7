"""The core stays free of Qt, TensorFlow and Matplotlib, and opening a CSV imports none of them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

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
