"""``csv-state health FILE`` and ``csv-state health --run FILES...``: is a state sane to
resume from, and where in a run did it stop being so?

One line per finding (``SEVERITY  CHECK  TENSOR  MESSAGE``, most severe first), then a
count. With ``--run`` each finding is the first state it appears in, and whether the
last state still has it. The checks are
:func:`~csv_state_viewer.core.analysis.health.check_state`'s. Exit 1 when a finding is an
error (or a row is bad: its problem goes to stderr, the other tensors are checked), 2 for
a file that is not a state.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from csv_state_viewer.cli.options import add_input_options, progress_for, read_options
from csv_state_viewer.cli.output import print_error, print_text, table
from csv_state_viewer.core.analysis.health import CHECKS, SEVERITIES, Finding
from csv_state_viewer.core.analysis.summary import plural
from csv_state_viewer.ops.health import HealthReport, RunHealth, health_of, health_of_run


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "health",
        help="check a state (or a run of states) for NaN, dead units, bad batch-norm "
        "variances, inconsistent optimizer state, outlier norms and spectra",
        description=(
            "Check a training state before resuming from it: "
            f"{', '.join(CHECKS)}. One line per finding, most severe first. With --run, "
            "check the states of a run in training order and give for each finding the "
            "first state it appears in. Exit 1 when a finding is an error."
        ),
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="state file; with --run: files, folders or glob patterns of a run",
    )
    parser.add_argument(
        "--run",
        dest="as_run",  # not "run": that is the command's function
        action="store_true",
        help="the files are the states of one run: report where each problem first appears",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_input_options(parser)
    parser.set_defaults(run=run)


def counts_text(findings: Sequence[Finding]) -> str:
    """``2 errors, 1 warning, 3 info`` (the severities that occur)."""
    parts = []
    for severity in SEVERITIES:
        count = sum(1 for f in findings if f.severity == severity)
        if count:
            parts.append(f"{count:,} info" if severity == "info" else plural(count, severity))
    return ", ".join(parts)


def _lines(findings: Sequence[Finding], extra: Sequence[str] = ()) -> list[str]:
    if not findings:
        return []
    rows = [[f.severity, f.check, f.tensor, f.message] for f in findings]
    text = table(rows, right_aligned=set()).splitlines()
    return [line + tail for line, tail in zip(text, list(extra) or [""] * len(text), strict=True)]


def _single(args: argparse.Namespace) -> int:
    if len(args.files) != 1:
        print_error("csv-state health: give one FILE, or use --run for several")
        return 2
    with progress_for(args, f"checking {args.files[0]}") as progress:
        report = health_of(
            args.files[0],
            layout=args.layout,
            like=args.like,
            progress=progress,
            **read_options(args),
        )
    for note in report.notes:
        print_error(f"{args.files[0]}: {note}")
    for problem in report.problems:
        print_error(str(problem))
    if args.json:
        record = {"path": report.path, "findings": [f.to_json() for f in report.findings]}
        sys.stdout.write(json.dumps(record, indent=2) + "\n")
    else:
        print_text("\n".join([*_lines(report.findings), _summary(report)]))
    return 1 if _errors(report.findings) or report.problems else 0


def _summary(report: HealthReport) -> str:
    counts = counts_text(report.findings)
    return f"{counts or 'no findings'} in {os.path.basename(report.path) or report.path}"


def _errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def _run(args: argparse.Namespace) -> int:
    if args.layout or args.like or read_options(args):
        print_error("csv-state health: --layout, --like and --scale apply to one FILE, not --run")
        return 2
    with progress_for(args, f"checking a run of {len(args.files)} inputs") as progress:
        result: RunHealth = health_of_run(args.files, progress)
    for note in result.notes:
        print_error(note)
    findings = [f.finding for f in result.findings]
    if args.json:
        record = {
            "states": [{"path": m.path, "step": m.step} for m in result.states],
            "findings": [f.to_json() for f in result.findings],
        }
        sys.stdout.write(json.dumps(record, indent=2) + "\n")
    else:
        tails = []
        for f in result.findings:
            step = f" (step {f.first_step:,})" if f.first_step is not None else ""
            still = "still in the last state" if f.in_last_state else "gone by the last state"
            tails.append(
                f"  [first in state {f.first_state + 1} of {len(result.states)}: "
                f"{os.path.basename(f.first_path)}{step}; {still}]"
            )
        counts = counts_text(findings) or "no findings"
        summary = f"{counts} in a run of {plural(len(result.states), 'state')}"
        print_text("\n".join([*_lines(findings, tails), summary]))
    return 1 if _errors(findings) else 0


def run(args: argparse.Namespace) -> int:
    return _run(args) if args.as_run else _single(args)
