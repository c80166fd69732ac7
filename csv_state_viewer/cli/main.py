"""Entry point of ``csv-state``: parse arguments, run a command, turn errors into exit codes.

Exit codes: 0 success; 1 bad rows (validate, convert), a refused mapping (apply) or states
that differ (diff); 2 usage errors, files that are not states, refused or failed writes;
130 interrupted. No input ever prints a traceback: unexpected failures print one line (set
CSV_STATE_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from csv_state_viewer import __version__
from csv_state_viewer.cli import apply, convert, diff, formats, info, validate
from csv_state_viewer.core.errors import BadRowsError, CsvStateError
from csv_state_viewer.core.messages import COMMAND_LINE, Hint, advice
from csv_state_viewer.ops.imports import use_model_imports

EXIT_OK, EXIT_BAD_ROWS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csv-state",
        description="Inspect, validate and convert neural-network training states.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (info, validate, diff, convert, apply, formats):
        module.add_parser(commands)
    return parser


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"csv-state: {message}\n")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        use_model_imports(getattr(args, "imports", None) or [])
        code: int = args.run(args)
    except BadRowsError as err:
        for problem in err.problems:
            sys.stderr.write(f"{problem}\n")
        return _fail(
            f"nothing written: the source has bad rows ({COMMAND_LINE[Hint.SKIP_BAD]})",
            EXIT_BAD_ROWS,
        )
    except CsvStateError as err:  # the TensorFlow worker's death too: one line, exit 2
        return _fail(advice(err, COMMAND_LINE), EXIT_USAGE)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:
        # The reader of our output went away (``| head``): not an error worth a message.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as err:
        return _fail(f"{getattr(err, 'filename', '') or ''}: {err.strerror or err}", EXIT_USAGE)
    except Exception as err:
        if os.environ.get("CSV_STATE_DEBUG"):
            raise
        return _fail(
            f"internal error: {type(err).__name__}: {err} (please report; set "
            "CSV_STATE_DEBUG=1 for details)",
            EXIT_INTERNAL,
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
