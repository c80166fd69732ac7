"""Fixtures of the operations' tests: the hostile-file helpers, importable by a worker too."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

TESTS = str(Path(__file__).resolve().parents[1])


@pytest.fixture(scope="session")
def hostile() -> Iterator[ModuleType]:
    """``tests/hostile.py`` as the module ``hostile``. Its folder stays on ``sys.path``
    while the tests run, so worker processes started meanwhile (which copy the parent's
    path) can import its functions as ``hostile:NAME``."""
    sys.path.append(TESTS)
    try:
        yield importlib.import_module("hostile")
    finally:
        sys.path.remove(TESTS)
