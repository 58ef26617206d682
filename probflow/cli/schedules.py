"""``probflow schedules``: plot sigma and log-SNR of named noise schedules and print their end values."""

from __future__ import annotations

import argparse

from probflow.errors import CommandError
from probflow.demo import parse_schedule_spec, plot_schedules
from probflow.demo.schedule_plots import CHEN, schedule_curves, schedule_table
from probflow.files import check_figure_file, save_figure
from probflow.schedules import SCHEDULES

DEFAULT_SCHEDULES = "karras;vp;chen:kind=cosine;chen:kind=sigmoid;chen:kind=linear"

EXAMPLES = f"""examples:
  probflow schedules --out schedules.png
  probflow schedules --schedules "karras:rho=3;karras:rho=7;karras:rho=10" --steps 40 --out rho.png
  probflow schedules --schedules "chen:kind=cosine;chen:kind=cosine,input_scale=0.5" --out b.png

Schedules are separated by ';' (or ',' when none has parameters): a name, then ':key=value,...'.
Names: {', '.join(SCHEDULES)} (n sigmas from --sigma-max down to --sigma-min) and {CHEN} (Chen 2023's
gamma(t) with kind=cosine|sigmoid|linear, start, end, tau, clip_min and input_scale=b, its own range).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "schedules",
        help="plot sigma and log-SNR of noise schedules and print their first and last values",
        description="Plot sigma (log scale) and log-SNR = -2 log sigma against the normalised step i/(n-1) for "
                    "each schedule, and print a table of their first and last values.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--schedules", default=DEFAULT_SCHEDULES, help=f"(default: {DEFAULT_SCHEDULES})")
    parser.add_argument("--steps", type=int, default=50, help="sigmas per schedule (default: 50)")
    parser.add_argument("--sigma-min", type=float, default=0.002, help="range of the registry schedules")
    parser.add_argument("--sigma-max", type=float, default=80.0, help="range of the registry schedules")
    parser.add_argument("--out", metavar="PNG", help="write the plot here, in the format its suffix names (.png, .pdf, "
                                                     ".svg, ...; none: PNG); default: print the table only")
    parser.set_defaults(handler=run)


def split_specs(text: str) -> list[str]:
    """``"a;b:k=1,j=2"`` -> ``["a", "b:k=1,j=2"]``; without ``;`` or ``:``, commas separate names."""
    separator = ";" if ";" in text or ":" in text else ","
    return [part.strip() for part in text.split(separator) if part.strip()]


def run(args: argparse.Namespace) -> int:
    if args.steps < 2:
        raise CommandError(f"--steps must be at least 2, got {args.steps}")
    if args.out:
        check_figure_file(args.out, "--out")
    specs = [parse_schedule_spec(text) for text in split_specs(args.schedules)]
    if not specs:
        raise CommandError("--schedules names no schedule")
    curves = schedule_curves(specs, args.steps, args.sigma_min, args.sigma_max)
    if args.out:
        save_figure(plot_schedules(curves), args.out, dpi=100)
    rows = schedule_table(curves)
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if args.out:
        print(f"wrote {args.out}")
    return 0
