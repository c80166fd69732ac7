"""Entry script of the frozen viewer (PyInstaller runs this file, not the console script)."""

from __future__ import annotations

import multiprocessing
import os
import sys

if __name__ == "__main__":
    # First thing: a frozen child process started by multiprocessing must not run the app.
    multiprocessing.freeze_support()
    # A windowed build (Windows, macOS) has no console: sys.stdout and sys.stderr are None,
    # and the viewer's messages (and Qt's, which it forwards) would raise on writing.
    for stream in ("stdout", "stderr"):
        if getattr(sys, stream) is None:
            setattr(sys, stream, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    from csv_state_viewer.gui.app import main

    sys.exit(main())
