"""Options several commands share."""

from __future__ import annotations

import argparse
from typing import Any

from csv_state_viewer.cli.output import print_error
from csv_state_viewer.cli.progressbar import TerminalProgress
from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.registry import formats
from csv_state_viewer.core.state import State
from csv_state_viewer.ops.opening import open_like, open_state


def add_layout(
    parser: argparse.ArgumentParser, flag: str = "--layout", dest: str = "layout"
) -> None:
    """``--layout NAME``: read the input(s) with this format instead of recognising it
    (``convert`` names it ``--from``: its ``--layout`` is the destination's)."""
    names = [fmt.name for fmt in formats() if fmt.open is not None]
    parser.add_argument(
        flag,
        dest=dest,
        metavar="NAME",
        choices=names,
        help="read the input as this format when its content fits several "
        f"({', '.join(names)}; see csv-state formats)",
    )


def add_like(parser: argparse.ArgumentParser) -> None:
    """``--like MODEL_OR_STATE``: take tensor shapes (and, for unnamed rows, names) from it."""
    parser.add_argument(
        "--like",
        metavar="MODEL_OR_STATE",
        help="give the input the weight shapes of this model or state, by order, where the "
        "element counts agree (a folder of np.savetxt matrices, unnamed rows)",
    )


def add_scale(parser: argparse.ArgumentParser) -> None:
    """``--scale S``: fixed-point integers times S (``0.0625``, ``2^-4``, ``1/16``)."""
    parser.add_argument(
        "--scale",
        metavar="S",
        help="read integer (fixed-point) matrices as real values: each times S "
        "(0.0625, 2^-4 or 1/16)",
    )


def add_imports(parser: argparse.ArgumentParser) -> None:
    """``--import MODULE_OR_FILE`` (repeatable): modules that register custom Keras classes."""
    parser.add_argument(
        "--import",
        dest="imports",
        metavar="MODULE_OR_FILE",
        action="append",
        default=[],
        help="import this module (a dotted name or a .py file) before loading a Keras model, "
        "so the custom layers and models it registers load (repeatable; safe mode still "
        "applies)",
    )


def add_input_options(
    parser: argparse.ArgumentParser, flag: str = "--layout", dest: str = "layout"
) -> None:
    """The options of a command that reads states: layout, ``--like``, ``--scale`` and
    ``--import``."""
    add_layout(parser, flag, dest)
    add_like(parser)
    add_scale(parser)
    add_imports(parser)


def read_options(args: argparse.Namespace) -> dict[str, Any]:
    """The input's reading options given on the command line."""
    scale = getattr(args, "scale", None)
    return {"scale": scale} if scale is not None else {}


def progress_for(args: argparse.Namespace, description: str) -> TerminalProgress:
    """The progress of one operation of a command, to use as a context manager (``with
    progress_for(args, f"converting {args.src}") as progress:``): a bar on stderr when it
    is a terminal and ``--quiet`` was not given (see :mod:`csv_state_viewer.cli.progressbar`);
    Ctrl-C inside the block cancels the operation."""
    return TerminalProgress(description, quiet=bool(getattr(args, "quiet", False)))


def open_input(path: str, args: argparse.Namespace, progress: Progress = NO_PROGRESS) -> State:
    """Open a command's input as ``--layout``, ``--like`` and ``--scale`` say; notes go to
    stderr."""
    like = getattr(args, "like", None)
    layout = getattr(args, "layout", None)
    options = read_options(args)
    state = (
        open_like(path, like, progress, layout, **options)
        if like
        else open_state(path, progress, layout, **options)
    )
    for note in state.notes:
        print_error(f"{path}: {note}")
    return state
