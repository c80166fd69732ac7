"""Build hook: compile the optional text-parsing accelerator when a C compiler is present.

The accelerator (``csv_state_viewer/core/csv/_native/textparse.c``) is a plain shared library
loaded with ctypes, so it needs no Python headers. Without a compiler, or with
``CSV_STATE_PURE_PYTHON=1``, the build succeeds without it and the package parses text
with its pure-Python path (same results, slower). For an editable install the library is
written next to its source; for a wheel it is added to the wheel, which is then tagged
for this platform.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("csv_state_viewer/core/csv/_native/textparse.c")
TARGET = SOURCE.with_name("_textparse.so")


def _compiler() -> list[str] | None:
    configured = os.environ.get("CC") or sysconfig.get_config_var("CC") or ""
    for candidate in (shlex.split(configured), ["cc"], ["gcc"], ["clang"]):
        if candidate and shutil.which(candidate[0]):
            return candidate
    return None


class AcceleratorHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("CSV_STATE_PURE_PYTHON"):
            return
        compiler = _compiler()
        if compiler is None:
            self.app.display_warning("no C compiler: the text accelerator is not built")
            return
        if version == "editable":
            output = Path(self.root) / TARGET
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="csv-state-build-")
            output = Path(self._tmp.name) / TARGET.name
        command = [
            *compiler,
            "-O3",
            "-std=c11",
            "-shared",
            "-fPIC",
            "-o",
            str(output),
            str(Path(self.root) / SOURCE),
            "-lm",
            "-lpthread",
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as err:
            stderr = getattr(err, "stderr", b"") or b""
            self.app.display_warning(
                f"the text accelerator did not compile ({err}); the pure-Python path will be "
                f"used. {stderr.decode(errors='replace')[:2000]}"
            )
            return
        if version != "editable":
            build_data["force_include"][str(output)] = TARGET.as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            tmp.cleanup()
