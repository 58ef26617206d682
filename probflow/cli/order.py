"""``probflow order``: measure each solver's convergence order on a problem and print it beside the declared one.

Errors are measured at ``sigma_min`` against the exact flow or a dopri8 reference, on nested Karras grids, and the
order is the least-squares slope of log(error) against log(steps) over the asymptotic levels
(:func:`probflow.convergence.estimate_order`). Stochastic solvers, when named, get their strong order on one
Brownian path per sample.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable

import torch

from probflow.cli.denoiser_options import import_object
from probflow.cli.thread_option import add_threads_option
from probflow.errors import CommandError
from probflow.convergence import (
    PROBLEMS, OrderEstimate, estimate_order, get_problem, resolve_reference, suggested_steps,
)
from probflow.convergence.fit import check_steps, declared_text, measured_text
from probflow.convergence.plotting import plot_estimates
from probflow.files import check_figure_file, save_figure
from probflow.solvers import get_solver, solver_names
from probflow.threads import threads_for

DEFAULT_PROBLEM = "mixture2d"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "order",
        help="measure solvers' convergence orders on a problem with an exact denoiser",
        description="Solve the probability-flow ODE from sigma_max to sigma_min on nested Karras grids and fit\n"
                    "log(error) against log(steps). Errors are measured at sigma_min (the final jump to 0 is one\n"
                    "Euler step and would cap every order at 1), against the exact flow or a dopri8 reference.",
        epilog="examples:\n"
               "  probflow order\n"
               "  probflow order --problem gaussian --solvers heun,lms4,rk:rk4 --plot order.png\n"
               "  probflow order --denoiser mypackage.models:denoiser --shape 2 --solvers euler,heun\n"
               f"problems: {', '.join(f'{p.name} ({p.description})' for p in PROBLEMS.values())}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--problem", default=DEFAULT_PROBLEM, help=f"a built-in problem (default: {DEFAULT_PROBLEM})")
    source.add_argument("--denoiser", metavar="MODULE:ATTR",
                        help="your own denoiser D(x, sigma), as module:attr; trajectories start at sigma_max * N(0, I)")
    parser.add_argument("--shape", help="one sample's shape for --denoiser, e.g. 2 or 1,8,8 (default: its .shape)")
    parser.add_argument("--solvers", help="comma-separated solver names (default: every deterministic fixed-grid "
                                          "solver; see 'probflow solvers')")
    parser.add_argument("--steps", help="comma-separated increasing step counts (default: chosen per solver to reach "
                                        "its asymptotic range)")
    parser.add_argument("--sigma-max", type=float, default=80.0, help="start of the grids (default: 80)")
    parser.add_argument("--sigma-min", type=float, default=0.002, help="where errors are measured (default: 0.002)")
    parser.add_argument("--rho", type=float, default=7.0, help="Karras grid exponent (default: 7)")
    parser.add_argument("--batch", type=int, default=None, help="number of trajectories (default: the problem's)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the trajectories and Brownian paths (default: 0)")
    parser.add_argument("--plot", metavar="PNG", help="write the log-log error-vs-NFE plot here (the suffix picks the "
                                                      "format: .png, .pdf, .svg, ...; none: PNG)")
    add_threads_option(parser)
    parser.set_defaults(handler=run)


def _int_list(text: str, label: str) -> tuple[int, ...]:
    try:
        return tuple(int(item) for item in text.split(",") if item.strip())
    except ValueError as exc:
        raise CommandError(f"--{label} must be comma-separated integers, got {text!r}") from exc


def _problem_and_state(args: argparse.Namespace):
    if args.denoiser is None:
        problem = get_problem(args.problem)
        if args.batch is not None:
            problem = dataclasses.replace(problem, batch=args.batch)
        denoiser = problem.build()
        return problem.name, denoiser, problem.initial_state(denoiser, args.sigma_max, args.seed)
    denoiser = import_object(args.denoiser)
    shape = _int_list(args.shape, "shape") if args.shape else getattr(denoiser, "shape", None)
    if shape is None:
        raise CommandError(f"{args.denoiser} has no .shape: pass --shape")
    generator = torch.Generator().manual_seed(args.seed)
    noise = torch.randn((args.batch or 8, *shape), generator=generator, dtype=torch.float64)
    return args.denoiser, denoiser, args.sigma_max * noise


def _solvers(args: argparse.Namespace) -> list:
    if not args.solvers:
        candidates = [get_solver(name) for name in solver_names()]
        return [solver for solver in candidates if not solver.stochastic and not solver.adaptive]
    solvers = [get_solver(name.strip()) for name in args.solvers.split(",") if name.strip()]
    if not solvers:
        raise CommandError("--solvers names no solver")
    for solver in solvers:
        if solver.adaptive:
            raise CommandError(f"{solver.name} is adaptive: its error follows its tolerance, not a grid of steps")
    return solvers


def _format_level_table(estimate: OrderEstimate) -> list[str]:
    fitted = set(estimate.fitted)
    rows = [
        ["steps", *map(str, estimate.steps)],
        ["NFE", *map(str, estimate.nfe)],
        ["error", *(f"{e:.2e}" for e in estimate.errors)],
        ["local slope", "", *(f"{s:.2f}" for s in estimate.local_slopes)],
        ["in fit", *("yes" if i in fitted else "no" for i in range(len(estimate.steps)))],
    ]
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["  " + "  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows]
    lines += [f"  dropped {estimate.steps[index]} steps: {reason}" for index, reason in estimate.dropped.items()]
    return lines


def _summary_table(estimates: list[OrderEstimate]) -> list[str]:
    rows = [("solver", "kind", "declared", "measured", "R^2", "levels fitted")]
    for estimate in estimates:
        fitted = f"{len(estimate.fitted)}/{len(estimate.steps)}" + ("" if estimate.asymptotic else " (not asymptotic)")
        rows.append((estimate.solver, estimate.kind, declared_text(estimate), measured_text(estimate),
                     f"{estimate.r_squared:.4f}", fitted))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def run(args: argparse.Namespace) -> int:
    if args.plot:
        check_figure_file(args.plot, "--plot")
    if args.shape and args.denoiser is None:
        raise CommandError("--shape applies only with --denoiser")
    if args.batch is not None and args.batch < 1:
        raise CommandError(f"--batch must be >= 1, got {args.batch}")
    steps = check_steps(_int_list(args.steps, "steps")) if args.steps else None
    solvers = _solvers(args)
    name, denoiser, state = _problem_and_state(args)
    with threads_for(state.numel(), args.threads):
        estimates = _measure(args, solvers, steps, name, denoiser, state)
    print()
    print("\n".join(_summary_table(estimates)))
    if args.plot:
        save_figure(plot_estimates(estimates, f"probflow order: {name}"), args.plot, dpi=120)
        print(f"\nwrote {args.plot}")
    return 0


def _measure(args: argparse.Namespace, solvers: list, steps: tuple[int, ...] | None, name: str, denoiser: Callable,
             state: torch.Tensor) -> list[OrderEstimate]:
    generator = torch.Generator().manual_seed(args.seed)
    # One reference serves every deterministic solver (the dopri8 one costs more than most of their solves).
    reference, reference_error = resolve_reference(None, denoiser, state, args.sigma_max, args.sigma_min)
    print(f"problem {name}: sigma {args.sigma_max:g} -> {args.sigma_min:g} (rho {args.rho:g}), "
          f"{state.shape[0]} trajectories, errors at sigma_min (float64)")
    estimates = []
    for solver in solvers:
        estimate = estimate_order(solver, denoiser, state, steps=steps or suggested_steps(solver),
                                  sigma_max=args.sigma_max, sigma_min=args.sigma_min, rho=args.rho,
                                  reference=reference, reference_error=reference_error, generator=generator)
        estimates.append(estimate)
        print(f"\n{solver.name} ({estimate.kind} order): declared {declared_text(estimate)}, "
              f"measured {measured_text(estimate)} (R^2 {estimate.r_squared:.4f})")
        print("\n".join(_format_level_table(estimate)))
    return estimates
