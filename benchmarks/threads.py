"""Where a second intra-op thread starts to pay: the digits UNet's denoiser call and training step timed with one
thread and with torch's default, as a ratio, over batches of growing size (the ``work size`` of
:mod:`probflow.threads`: scalar values per batch, ``batch * C * H * W``).

Each size is timed with both thread counts interleaved (:func:`benchmarks.timing.time_interleaved`), so that load
from other processes falls on both; the table gives the best and the median time per call and the ratio
``default / one thread`` of each (below 1: more threads are faster). The UNet is the shipped ``digits-edm``
architecture (channels 32, 48, 48) on ``1 x S x S`` images; sizes above 8x8 stand for larger images.
:data:`probflow.threads.SMALL_WORK` is set from this table: above every work size at which one thread won or
tied (benchmarks/RESULTS.md, section 6).

Run: ``python -m benchmarks.threads`` (``--smoke`` for a seconds-long check).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch

from benchmarks.timing import machine_description, time_interleaved
from probflow.models import UNet

#: (batch, side) pairs: 8x8 digits at growing batches, then larger images.
SIZES = ((8, 8), (64, 8), (512, 8), (2048, 8), (64, 32), (256, 32))


def _with_threads(count: int, run: Callable[[], object]) -> Callable[[], object]:
    def timed() -> object:
        previous = torch.get_num_threads()
        torch.set_num_threads(count)
        try:
            return run()
        finally:
            torch.set_num_threads(previous)
    return timed


def _denoiser_call(net: UNet, x: torch.Tensor) -> Callable[[], object]:
    sigma = torch.full((x.shape[0],), 0.5)

    def call() -> object:
        with torch.no_grad():
            return net(x, sigma)
    return call


def _training_step(net: UNet, x: torch.Tensor) -> Callable[[], object]:
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    sigma = torch.full((x.shape[0],), 0.5)

    def step() -> object:
        loss = (net(x, sigma) - x).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss
    return step


def measure(sizes: tuple[tuple[int, int], ...], repeats: int, default_threads: int) -> list[str]:
    """One markdown row per (size, kind): work size, times with 1 and ``default_threads`` threads, ratios."""
    rows = []
    for batch, side in sizes:
        torch.manual_seed(0)
        net = UNet(channels=(32, 48, 48), num_groups=8)
        x = torch.randn(batch, 1, side, side)
        for kind, build in (("denoiser call", _denoiser_call), ("training step", _training_step)):
            run = build(net, x)
            runs = [_with_threads(1, run), _with_threads(default_threads, run)]
            for timed in runs:
                timed()  # warm-up
            one, many = time_interleaved(runs, repeats)
            rows.append(f"| {batch} x 1 x {side} x {side} | {x.numel()} | {kind} | {one.best * 1e3:.1f} / "
                        f"{one.median * 1e3:.1f} | {many.best * 1e3:.1f} / {many.median * 1e3:.1f} | "
                        f"{many.best / one.best:.2f} | {many.median / one.median:.2f} |")
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script runs, times nothing")
    args = parser.parse_args(argv)
    sizes, repeats = (((2, 8),), 1) if args.smoke else (SIZES, args.repeats)
    default_threads = torch.get_num_threads()
    header = (f"| batch | work size | kind | 1 thread ms (best / median) | {default_threads} threads ms (best / "
              f"median) | ratio best | ratio median |\n|---|---:|---|---:|---:|---:|---:|")
    rows = measure(sizes, repeats, default_threads)
    report = (f"Machine: {machine_description()}\ntorch default threads: {default_threads}, {repeats} repeats\n\n"
              + "\n".join([header, *rows]))
    print(report)
    return report


if __name__ == "__main__":
    main()
