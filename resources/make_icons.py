"""Render the application icon's PNG sizes (and a Windows .ico) from its SVG.

Run ``python resources/make_icons.py`` after editing ``icons/csv-state-viewer.svg``;
``--check`` only reports whether the committed renders are up to date (exit status 1 if
not). The PNGs are drawn by Qt's own SVG renderer (PySide6's QtSvg), so they look as the
window icon does; the .ico packs the 16-256 px renders with Pillow (a Matplotlib
dependency).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent / "icons"
SOURCE = ICONS / "csv-state-viewer.svg"
SIZES = (16, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 32, 48, 64, 128, 256)  # 256 is the largest size an .ico entry can have


def render_png(size: int) -> bytes:
    """The SVG drawn on a transparent ``size`` x ``size`` canvas, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"{SOURCE}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise SystemExit(f"cannot encode the {size} px PNG")
    buffer.close()
    return bytes(data.data())


def pack_ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows icon holding each render at its own size (not one image rescaled)."""
    from PIL import Image

    images = [Image.open(io.BytesIO(pngs[size])) for size in ICO_SIZES]
    out = io.BytesIO()
    largest = images[-1]
    largest.save(
        out,
        format="ICO",
        sizes=[(size, size) for size in ICO_SIZES],
        append_images=images[:-1],
    )
    return out.getvalue()


def expected_files() -> dict[Path, bytes]:
    """Every generated file and its content."""
    pngs = {size: render_png(size) for size in SIZES}
    files = {ICONS / f"csv-state-viewer-{size}.png": data for size, data in pngs.items()}
    files[ICONS / "csv-state-viewer.ico"] = pack_ico(pngs)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the files")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    stale = []
    for path, data in expected_files().items():
        if path.is_file() and path.read_bytes() == data:
            continue
        stale.append(path)
        if not args.check:
            path.write_bytes(data)
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path.relative_to(ICONS.parents[1])}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
