"""Peak memory of ``probflow.solve``: a 1000-step solve should peak within 10% of a 10-step solve (no trajectory).

Two allocators are measured, because tracemalloc cannot see tensor storage and torch's profiler cannot see
Python objects:

* tensor storage: ``torch.profiler`` with ``profile_memory=True`` records each operator's net allocation and
  each free; their running sum in time order is the live tensor memory, and its maximum the peak;
* Python objects: ``tracemalloc``'s peak (lists, floats, tensor wrappers kept by the loop).

The trivial denoiser ``D(x, sigma) = x / 2`` runs on a ``16 x 3 x 64 x 64`` float32 state (768 KiB, a realistic
batch of small images), so the peak is dominated by the solver's working tensors. The solve's own bookkeeping
does not grow with the number of steps (``ModelCall`` keeps one block of per-call sums, the steppers keep no
per-step Python objects); what does is the grid and its per-step coefficients: the caller's sigmas, their float64
copy, the list of floats the steppers index and up to nine float64 coefficients per step, ~40-110 bytes per step
in all (``tests/test_solvers_memory.py``). On a state of a few KiB those ~100 KiB per 1000 steps would decide
the ratio; on a realistic state they are under 1% of the peak. Also reported: whether the denoiser ran under
``torch.no_grad`` (no autograd graph is kept), and the 1000-step peak with ``trajectory=True``.

Run: ``python -m benchmarks.memory`` (``--smoke`` for a seconds-long check).
"""

from __future__ import annotations

import argparse
import math
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.overhead import hand_written_solvers, trivial_denoiser
from benchmarks.peers import SIGMA_MIN
from benchmarks.problems import SIGMA_MAX
from benchmarks.timing import machine_description
from probflow.cli.thread_option import add_threads_option
from probflow.schedules import karras
from probflow.solve import solve
from probflow.solvers.base import Solver
from probflow.terms import ProbabilityFlowODE, ReverseSDE
from probflow.threads import threads_for

STATE_SHAPE = (16, 3, 64, 64)


@dataclass(frozen=True)
class Peak:
    """Peak live bytes during a run: tensor storage (profiler) and Python objects (tracemalloc)."""

    tensor_bytes: int
    python_bytes: int

    @property
    def total(self) -> int:
        return self.tensor_bytes + self.python_bytes


def peak_tensor_bytes(run: Callable[[], object]) -> int:
    """The maximum of the running sum of tensor allocations and frees while ``run`` executes."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        run()
    live = peak = 0
    for event in sorted(profiler.events(), key=lambda e: e.time_range.start):
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def peak_python_bytes(run: Callable[[], object]) -> int:
    """tracemalloc's peak of Python allocations while ``run`` executes."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _solve_run(solver: Solver, steps: int, trajectory: bool) -> Callable[[], None]:
    x = SIGMA_MAX * torch.randn(STATE_SHAPE, generator=torch.Generator().manual_seed(0))
    sigmas = karras(steps, SIGMA_MIN, SIGMA_MAX)
    term = ReverseSDE(trivial_denoiser) if solver.term_kind == "sde" else ProbabilityFlowODE(trivial_denoiser)

    def run() -> None:
        solve(term, solver, x, sigmas, generator=torch.Generator().manual_seed(0), trajectory=trajectory)

    return run


def measure_peak(solver: Solver, steps: int, trajectory: bool = False) -> Peak:
    """Peak memory of one solve of ``steps`` steps (each allocator measured in its own run)."""
    run = _solve_run(solver, steps, trajectory)
    run()
    return Peak(peak_tensor_bytes(run), peak_python_bytes(run))


def runs_without_autograd() -> bool:
    """Whether ``probflow.solve`` calls the denoiser with autograd off (``torch.no_grad``: no graph is kept)."""
    seen = []

    def recording_denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        seen.append(not torch.is_grad_enabled())
        return x * 0.5

    solve(recording_denoiser, hand_written_solvers()["euler"], torch.ones(2, 3), karras(3, SIGMA_MIN, SIGMA_MAX))
    return bool(seen) and all(seen)


def format_table(rows: list[tuple[str, Peak, Peak, Peak]], few: int, many: int) -> str:
    """A markdown table of peaks in KiB: few steps, many steps, their ratio, and many steps with a trajectory."""
    lines = [f"| solver | peak, {few} steps (KiB) | peak, {many} steps (KiB) | ratio | within 10% | "
             f"{many} steps + trajectory (KiB) |", "|---|---:|---:|---:|:---:|---:|"]
    for name, few, many, with_path in rows:
        ratio = many.total / few.total
        lines.append(f"| {name} | {few.total / 1024:.0f} ({few.python_bytes / 1024:.0f} Python) | "
                     f"{many.total / 1024:.0f} ({many.python_bytes / 1024:.0f} Python) | {ratio:.3f} | "
                     f"{'yes' if ratio <= 1.1 else '**no**'} | {with_path.total / 1024:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script runs")
    add_threads_option(parser)
    args = parser.parse_args(argv)
    few, many = (2, 5) if args.smoke else (10, 1000)
    solvers = hand_written_solvers()
    if args.smoke:
        solvers = dict(list(solvers.items())[:2])
    with threads_for(math.prod(STATE_SHAPE), args.threads):
        rows = [(name, measure_peak(solver, few), measure_peak(solver, many),
                 measure_peak(solver, many, trajectory=True)) for name, solver in solvers.items()]
    report = (f"Machine: {machine_description()}\nState {STATE_SHAPE} float32; {few} vs {many} steps; denoiser "
              f"called without autograd: {runs_without_autograd()}\n\n{format_table(rows, few, many)}")
    print(report)
    return report


if __name__ == "__main__":
    main()
