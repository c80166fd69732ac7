"""The plot canvas renders its idle draws off the UI thread and shows the latest figure."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from matplotlib.artist import Artist
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from csv_state_viewer.gui.plotcanvas import PlotCanvas

UI_THREAD = threading.get_ident()


class SlowArtist(Artist):
    """Draws nothing but takes ``seconds`` (off the GIL, as Agg's C code mostly is) and
    records which thread drew it and the label it had at the time."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.label = "first"
        self.drawn: list[tuple[int, str]] = []

    def draw(self, renderer: Any) -> None:
        label = self.label
        time.sleep(self.seconds)
        self.drawn.append((threading.get_ident(), label))


def canvas_with(qtbot: QtBot, artist: Artist) -> tuple[PlotCanvas, list[tuple[int, Any]]]:
    plot = PlotCanvas()
    qtbot.addWidget(plot)
    plot.resize(400, 300)
    plot.show()
    qtbot.waitExposed(plot)
    plot.figure.add_artist(artist)
    shown: list[tuple[int, Any]] = []  # (thread, label of the artist) at each draw_event
    plot.canvas.mpl_connect(
        "draw_event", lambda _e: shown.append((threading.get_ident(), artist.get_label()))
    )
    return plot, shown


def test_idle_draws_render_off_the_ui_thread_and_report_on_it(qtbot: QtBot) -> None:
    artist = SlowArtist(0.3)
    plot, shown = canvas_with(qtbot, artist)
    artist.set_label("a")
    beats: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start(10)
    start = time.perf_counter()
    plot.request_draw()
    qtbot.waitUntil(lambda: (UI_THREAD, "a") in shown, timeout=5000)
    timer.stop()
    assert artist.drawn and all(thread != UI_THREAD for thread, _ in artist.drawn)
    # the event loop kept running through a 300 ms draw
    gaps = [b - a for a, b in itertools.pairwise(beats) if a >= start]
    assert len(gaps) > 10 and max(gaps) < 0.15


def test_a_figure_changed_mid_render_is_rendered_again_before_it_is_shown(
    qtbot: QtBot,
) -> None:
    artist = SlowArtist(0.1)  # less than rendering.STALE_FRAME_S
    plot, shown = canvas_with(qtbot, artist)
    qtbot.waitUntil(lambda: bool(artist.drawn), timeout=5000)  # the first exposure's draw
    qtbot.waitUntil(lambda: not plot.canvas._rendering, timeout=5000)
    artist.drawn.clear()
    shown.clear()
    artist.label = "old"
    plot.request_draw()
    qtbot.waitUntil(lambda: plot.canvas._rendering, timeout=5000)
    artist.label = "new"  # while "old" renders
    plot.request_draw()
    qtbot.waitUntil(lambda: [label for _, label in artist.drawn] == ["old", "new"], timeout=5000)
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=5000)
    qtbot.wait(100)
    assert len(shown) == 1  # the stale "old" frame was never shown


def test_a_synchronous_draw_waits_for_the_render_thread(qtbot: QtBot) -> None:
    artist = SlowArtist(0.2)
    plot, _shown = canvas_with(qtbot, artist)
    qtbot.waitUntil(lambda: not plot.canvas._rendering, timeout=5000)
    artist.drawn.clear()
    plot.request_draw()
    qtbot.waitUntil(lambda: plot.canvas._rendering, timeout=5000)
    plot.canvas.draw()  # screenshots and saves draw now, on the UI thread
    assert [thread == UI_THREAD for thread, _ in artist.drawn] == [False, True]
