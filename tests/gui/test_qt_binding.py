"""The Qt binding the viewer runs on must not corrupt the interpreter.

PySide6 6.12.0 on Python 3.11 drops a reference to ``None`` on every call of a method
that returns nothing (``setText``, ``setEnabled``...); after a few thousand widget
updates the interpreter aborts with "deallocating None". pyproject excludes that
release; this test fails on any binding with the same fault.
"""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel()
before = sys.getrefcount(None)
for _ in range(5000):
    label.setText("x")
print(sys.getrefcount(None) - before)
"""


def test_void_qt_calls_keep_the_reference_count_of_none() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert abs(int(result.stdout.strip())) < 100, result.stdout
