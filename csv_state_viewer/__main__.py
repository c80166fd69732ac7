"""``python -m csv_state_viewer``: the desktop viewer (the CLI is ``csv-state``)."""

from __future__ import annotations

import sys

from csv_state_viewer.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
