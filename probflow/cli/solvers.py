"""``probflow solvers``: list every solver with its order, calls per step and stochasticity."""

from __future__ import annotations

import argparse

from probflow.solvers import get_solver, solver_names


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "solvers",
        help="list every solver with its order, calls per step and stochasticity",
        description="List every solver name accepted by --solver, with its declared order (weak order for "
                    "stochastic solvers), strong order, denoiser calls per step and whether it injects noise.",
        epilog="example:\n  probflow solvers",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    rows = [("name", "order", "strong", "calls/step", "kind", "term")]
    for name in solver_names():
        solver = get_solver(name)
        rows.append((
            name,
            f"{solver.order:g}",
            "-" if solver.strong_order is None else f"{solver.strong_order:g}",
            "adaptive" if solver.adaptive else str(solver.calls_per_step),
            "stochastic" if solver.stochastic else "deterministic",
            solver.term_kind,
        ))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0
