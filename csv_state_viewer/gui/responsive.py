"""Process-wide settings that keep the UI thread's event loop running while workers work.

Two things stretched the window's frames beyond the UI thread's own work:

* **Full garbage collections.** A generation-2 collection walks every tracked object: with
  PySide6, Matplotlib and NumPy imported that took ~45 ms, paid by whichever thread
  allocated at the wrong moment, often the UI thread in the middle of drawing a plot (a
  75 ms stall of the event loop). The objects alive once the window is built (modules,
  classes, widgets) live as long as the process, so they are moved out of the collector's
  reach once; later full collections only walk what was made since.
* **Waiting for the GIL.** While decode workers run, the UI thread asks for the GIL each
  time it comes back from Qt; Python hands it over only after the switch interval (5 ms
  by default), and another worker may take it first. With 1 ms the event loop's longest
  wait while a 16 M-element tensor decodes fell from ~50 ms to under 30 ms, the decode
  itself no slower (measured with ``tests/benchmarks/bench_gui.py --only plots``).
"""

from __future__ import annotations

import gc
import sys

SWITCH_INTERVAL_S = 0.001

_TUNED: list[bool] = []  # one entry once tuned


def tune_for_responsiveness() -> None:
    """Collect once and freeze what survives; shorten the GIL's switch interval.

    Idempotent: only the first call in a process does anything.
    """
    if _TUNED:
        return
    _TUNED.append(True)
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
