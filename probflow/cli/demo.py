"""``probflow demo``: measure, sample, score and plot, and write a self-contained report folder."""

from __future__ import annotations

import argparse

from probflow.cli.thread_option import add_threads_option
from probflow.demo import FULL, QUICK, run_demo
from probflow.extras import APPS, require_all
from probflow.files import check_output_dir

EXAMPLES = """examples:
  probflow demo                      # about three minutes on one core; writes ./report/report.md
  probflow demo --quick --out /tmp/r # the sub-minute version CI runs
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole library once and write a report (orders, FID vs NFE, grids, schedules)",
        description="Measure every solver's convergence order on an analytic problem, sample the shipped digits "
                    "model with each solver family at a few NFE budgets, score FID and KID (also for the lesson's "
                    "configurations) and plot the noise schedules; everything goes to one folder with report.md.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="report", metavar="DIR", help="the report folder (default: ./report)")
    parser.add_argument("--quick", action="store_true", help="a sub-minute smoke version with fewer samples")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_threads_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    require_all(APPS, feature="probflow demo")
    check_output_dir(args.out, "--out")
    report = run_demo(args.out, QUICK if args.quick else FULL, progress=not args.no_progress, threads=args.threads)
    print(f"report written to {report.report.resolve()} ({len(report.files)} images, {report.wall_s:.0f} s)")
    return 0
