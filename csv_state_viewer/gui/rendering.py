"""A Matplotlib Qt canvas whose automatic redraws are rendered off the UI thread.

A figure with a colour bar and a two-line title takes 30 to 45 ms to draw with Agg here,
most of it laying out and rasterising text; on the UI thread that was the longest stall
of the viewer. :class:`BackgroundCanvas` renders each ``draw_idle`` into a new Agg
renderer on one shared render thread, keeps painting the last finished frame meanwhile,
and swaps the new frame in on the UI thread, where the ``draw_event`` is then processed.

Matplotlib provides for this: ``Figure.draw`` holds a lock shared by all figures and its
fonts are cached per thread. The UI thread may still change the figure while a frame is
rendered (a new tensor selected); such a frame is rendered again before it is shown, and
an error raised by a change mid-render only costs that frame. A synchronous
:meth:`BackgroundCanvas.draw` (screenshots, tests, saving) waits for the render thread.
"""

from __future__ import annotations

import atexit
import queue
import sys
import threading
import time
import traceback
from typing import Any, cast

import shiboken6
from matplotlib.backend_bases import DrawEvent
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QPoint, Signal
from PySide6.QtGui import QImage, QPainter, QPaintEvent

STALE_FRAME_S = 0.25  # while the figure keeps changing, still show a frame this often
STOP_TIMEOUT_S = 10.0


class _Silent:
    """The callback registry seen from the render thread: events wait for the UI thread."""

    def process(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_SILENT = _Silent()


_Size = tuple[int, int, float]  # a frame's width and height in pixels, and its dpi


class _RenderThread:
    """One daemon thread that renders the frames of every canvas, one after another."""

    def __init__(self) -> None:
        self.jobs: queue.Queue[tuple[BackgroundCanvas, _Size, int] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._serve, name="plot render", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            canvas, (width, height, dpi), generation = job
            try:
                # made here: a new renderer's buffer and set-up took 15-19 ms of the UI thread
                renderer = canvas._frame = RendererAgg(width, height, dpi)
                done: RendererAgg | str = renderer
                canvas.figure.draw(renderer)
            except Exception:  # a change mid-render, or a bug: the UI thread decides
                done = traceback.format_exc()
            try:
                canvas.rendered.emit(done, generation)
            except RuntimeError:  # the canvas was deleted meanwhile
                pass
            finally:
                canvas.job_done.set()

    def stop(self) -> None:
        """Finish the frames asked for, then end the thread."""
        self.jobs.put(None)
        self.thread.join(timeout=STOP_TIMEOUT_S)


_thread_lock = threading.Lock()
_thread: _RenderThread | None = None


def _renderer_thread() -> _RenderThread:
    """The render thread, started by the first caller (the pane preloader, or the UI
    thread's first draw) and shared from then on; a thread still drawing while the
    interpreter (and Qt) shut down could crash the process, so it is stopped at exit."""
    global _thread  # noqa: PLW0603 - one render thread per process
    with _thread_lock:
        if _thread is None:
            atexit.register(stop_rendering)
            _thread = _RenderThread()
        return _thread


def start_rendering() -> None:
    """Start the render thread now (from any thread), not at the first draw."""
    _renderer_thread()


def stop_rendering() -> None:
    """End the render thread, if it runs; a later draw starts a new one."""
    global _thread
    with _thread_lock:
        running, _thread = _thread, None
    if running is not None:
        running.stop()


class BackgroundCanvas(FigureCanvasQTAgg):
    """``FigureCanvasQTAgg`` rendering its idle draws on the render thread."""

    rendered = Signal(object, int)  # (renderer or traceback, generation), from the render thread

    def __init__(self, figure: Figure) -> None:
        super().__init__(figure)
        self._ui_thread = threading.get_ident()
        self._requests = 0  # draw requests so far; a frame records the count it started at
        self._rendering = False
        self._again = False
        self._frame: RendererAgg | None = None  # the renderer of the frame being rendered
        self._failed = False  # the last frame raised
        self._asked_at: float | None = None  # the first request since the last frame shown
        self.job_done = threading.Event()
        self.job_done.set()
        self.rendered.connect(self._finished)

    # Events the figure processes on the render thread (its draw_event) are processed
    # again on the UI thread when the frame is shown.
    @property
    def callbacks(self) -> Any:
        if threading.get_ident() != getattr(self, "_ui_thread", threading.get_ident()):
            return _SILENT
        return cast(Any, self.figure)._canvas_callbacks

    def get_renderer(self) -> RendererAgg:
        """On the render thread, the frame being rendered (an artist may ask for it)."""
        if threading.get_ident() != self._ui_thread and self._frame is not None:
            return self._frame
        return super().get_renderer()

    def changed_since(self, generation: int) -> bool:
        return self._requests != generation

    def draw_idle(self) -> None:
        self._requests += 1
        if self._asked_at is None:
            self._asked_at = time.perf_counter()
        super().draw_idle()

    def _draw_idle(self) -> None:
        # Matplotlib's version draws here, on the UI thread
        if not getattr(self, "_draw_pending", False):
            return
        self._draw_pending = False
        if not shiboken6.isValid(self) or self.height() <= 0 or self.width() <= 0:
            return
        if self._rendering:
            self._again = True
        else:
            self._start()

    def _start(self) -> None:
        width, height = self.get_width_height(physical=True)
        self._rendering = True
        self._again = False
        self.job_done.clear()
        _renderer_thread().jobs.put((self, (width, height, self.figure.dpi), self._requests))

    def _finished(self, result: RendererAgg | str, generation: int) -> None:
        """A frame is rendered (or failed with the traceback ``result``)."""
        self._rendering = False
        self._frame = None
        changed = self._again or self.changed_since(generation)
        if isinstance(result, str):
            # The UI thread may have changed the figure without asking for a draw yet
            # (a text removed before the pane's next request): render again, once.
            if changed or not self._failed:
                self._failed = True
                self._start()
            else:
                sys.stderr.write(result)
            return
        self._failed = False
        waited = time.perf_counter() - (self._asked_at or time.perf_counter())
        overdue = waited > STALE_FRAME_S
        if (not changed or overdue) and self._fits(result):
            self._show(result)
        if changed:
            self._start()

    def _fits(self, renderer: RendererAgg) -> bool:
        return (renderer.width, renderer.height) == self.get_width_height(physical=True)

    def _show(self, renderer: RendererAgg) -> None:
        self.renderer = renderer
        self._lastKey = (renderer.width, renderer.height, self.figure.dpi)  # type: ignore[assignment]
        self._asked_at = None
        self.callbacks.process("draw_event", DrawEvent("draw_event", self, renderer))
        self.update()

    def wait_for_render(self) -> None:
        """Return once no frame of this canvas is being rendered."""
        self.job_done.wait()

    def draw(self) -> None:
        """Draw now, on this thread (after any frame being rendered)."""
        self.wait_for_render()
        self._asked_at = None
        super().draw()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        """Paint the last finished frame; never draws (Matplotlib's version does)."""
        self._draw_idle()  # starts a render if one is pending
        painter = QPainter(self)
        try:
            painter.eraseRect(event.rect())
            renderer = getattr(self, "renderer", None)
            if renderer is not None:
                buffer = memoryview(renderer.buffer_rgba())
                width, height = int(renderer.width), int(renderer.height)
                image = QImage(buffer, width, height, QImage.Format.Format_RGBA8888)
                image.setDevicePixelRatio(self.device_pixel_ratio)
                painter.drawImage(QPoint(0, 0), image)
            self._draw_rect_callback(painter)
        finally:
            painter.end()
