"""Entry point of ``csv-state``: parse arguments, run a command, turn errors into exit codes.

Exit codes: 0 success; 1 bad rows (validate, convert), a refused mapping (apply) or states
that differ (diff); 2 usage errors, files that are not states, refused or failed writes;
130 interrupted (Ctrl-C: one line, nothing half-written left behind); 3 only for a bug in
our own code ("internal error"). No input ever prints a traceback: a damaged file is one
line (exit 2) whatever its library raised (the registry rewords it, see
:mod:`csv_state_viewer.core.registry`). With CSV_STATE_DEBUG=1 a reworded error is followed
by the traceback of what the library raised, and an internal error is raised with its
traceback.

Operations that take a while show a progress bar on stderr when it is a terminal (see
:mod:`csv_state_viewer.cli.progressbar`); ``--quiet`` (``-q``), given before or after the
command name, turns it off.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from csv_state_viewer import __version__
from csv_state_viewer.cli import (
    apply,
    convert,
    diff,
    formats,
    health,
    hist,
    info,
    stats,
    timeline,
    validate,
)
from csv_state_viewer.cli.output import print_error
from csv_state_viewer.core.errors import BadRowsError, CsvStateError, debugging
from csv_state_viewer.core.messages import COMMAND_LINE, Hint, advice
from csv_state_viewer.core.progress import Cancelled
from csv_state_viewer.ops.imports import use_model_imports

EXIT_OK, EXIT_BAD_ROWS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C

QUIET_HELP = "show no progress bar (one appears on stderr, when it is a terminal)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csv-state",
        description="Inspect, validate and convert neural-network training states.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (info, validate, stats, hist, health, timeline, diff, convert, apply, formats):
        module.add_parser(commands)
    for command in dict.fromkeys(commands.choices.values()):
        # after the command name too; SUPPRESS keeps a --quiet given before it
        command.add_argument(
            "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP
        )
    return parser


def _fail(message: str, code: int) -> int:
    print_error(f"csv-state: {message}")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        use_model_imports(getattr(args, "imports", None) or [])
        code: int = args.run(args)
    except BadRowsError as err:
        for problem in err.problems:
            print_error(str(problem))
        return _fail(
            f"nothing written: the source has bad rows ({COMMAND_LINE[Hint.SKIP_BAD]})",
            EXIT_BAD_ROWS,
        )
    except CsvStateError as err:  # the TensorFlow worker's death too: one line, exit 2
        if debugging() and err.__cause__ is not None:  # what a library raised, reworded
            traceback.print_exception(err.__cause__)
        return _fail(advice(err, COMMAND_LINE), EXIT_USAGE)
    except (KeyboardInterrupt, Cancelled):
        return _fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader of our output went away (``| head``): not an error worth a message.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as err:
        return _fail(f"{getattr(err, 'filename', '') or ''}: {err.strerror or err}", EXIT_USAGE)
    except Exception as err:  # a bug in our own code: data failures are reworded above
        if debugging():
            raise
        return _fail(
            f"internal error: {type(err).__name__}: {err} (please report; set "
            "CSV_STATE_DEBUG=1 for details)",
            EXIT_INTERNAL,
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
