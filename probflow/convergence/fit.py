"""Fitting a convergence order to errors measured on a sequence of refined grids.

If the error of a method behaves like ``e(N) = C N^-p`` for ``N`` steps (global order ``p``; Hairer, Norsett &
Wanner I, sec. II.3), then ``log e = log C - p log N``, and ``p`` is minus the slope of the least-squares
line through the points ``(log N_l, log e_l)``:

    p = -S_xy / S_xx,   se(p) = sqrt(SSR / ((n - 2) S_xx)),   R^2 = 1 - SSR / S_yy   (numpy.polyfit)

with ``S_xx = sum (x - x_bar)^2``, ``S_xy = sum (x - x_bar)(y - y_bar)`` and ``SSR`` the sum of squared residuals
(the ordinary least-squares slope and its standard error; e.g. Seber & Lee, "Linear Regression Analysis", ch. 3).

The power law only holds in the asymptotic range, so two kinds of levels are left out of the fit:

* levels the caller flags as below a floor: rounding error, the reference's own error, or Monte Carlo noise
  (see :func:`probflow.convergence.estimate_order` and :mod:`probflow.convergence.stochastic`);
* levels outside the asymptotic range: with the local slopes ``p_l = -log(e_{l+1}/e_l) / log(N_{l+1}/N_l)``, the
  fit keeps the longest run of consecutive levels whose local slopes all lie within ``slope_tolerance`` of their
  mean (the finest such run if several are as long). Coarse levels before it are pre-asymptotic; fine levels after
  it flatten on a floor the caller did not flag. Fewer than three such levels means the asymptotic range was not
  reached, which the estimate says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from probflow.errors import InvalidArgumentError
from probflow.validation import check_int


@dataclass(frozen=True)
class OrderEstimate:
    """A fitted convergence order and everything it was fitted from.

    * ``order``: minus the least-squares slope of log(error) against log(steps) over the ``fitted`` levels;
      ``standard_error`` its standard error (NaN with two levels) and ``r_squared`` the fit's R^2;
    * ``steps``, ``nfe``, ``errors``: one entry per level, coarsest first (NFE = denoiser calls of the level);
    * ``local_slopes``: the order between consecutive levels (``local_slopes[l]`` spans levels l and l+1);
    * ``fitted``: indices of the levels in the fit; ``dropped``: index -> why a level was left out;
    * ``asymptotic``: whether at least three levels with agreeing local slopes were found;
    * ``kind``: ``"ode"`` (deterministic), ``"strong"`` or ``"weak"``; ``declared_order`` what the solver
      declares for that kind; ``reference_error``: an estimate of the reference's own error (0 for an exact
      reference, None when unknown).
    """

    solver: str
    kind: str
    declared_order: float | None
    order: float
    standard_error: float
    r_squared: float
    steps: tuple[int, ...]
    nfe: tuple[int, ...]
    errors: tuple[float, ...]
    local_slopes: tuple[float, ...]
    fitted: tuple[int, ...]
    dropped: Mapping[int, str] = field(default_factory=dict)
    asymptotic: bool = True
    reference_error: float | None = None

    def within(self, tolerance: float, expected: float | None = None) -> bool:
        """Whether the fitted order is within ``tolerance`` of ``expected`` (default: the declared order)."""
        target = self.declared_order if expected is None else expected
        return target is not None and abs(self.order - target) <= tolerance

    def summary(self) -> str:
        """One line: solver, declared and measured order, fit quality and what was left out."""
        note = "" if self.asymptotic else ", asymptotic range not reached"
        return (f"{self.solver} ({self.kind}): declared {declared_text(self)}, measured {measured_text(self)} "
                f"(R^2 {self.r_squared:.4f}, {len(self.fitted)} of {len(self.steps)} levels{note})")


def measured_text(estimate: OrderEstimate, plus_minus: str = "+-") -> str:
    """``"1.98 +- 0.03"``: the fitted order and its standard error (the order alone when there is none)."""
    if math.isnan(estimate.standard_error):
        return f"{estimate.order:.2f}"
    return f"{estimate.order:.2f} {plus_minus} {estimate.standard_error:.2f}"


def declared_text(estimate: OrderEstimate) -> str:
    """The solver's declared order, or ``"-"`` when it declares none."""
    return "-" if estimate.declared_order is None else f"{estimate.declared_order:g}"


def local_slopes(steps: Sequence[int], errors: Sequence[float]) -> list[float]:
    """``-log(e_{l+1}/e_l) / log(N_{l+1}/N_l)`` between consecutive levels (NaN where an error is not positive)."""
    slopes = []
    for (n0, e0), (n1, e1) in zip(zip(steps, errors), zip(steps[1:], errors[1:])):
        positive = e0 > 0 and e1 > 0 and math.isfinite(e0) and math.isfinite(e1)
        slopes.append(-math.log(e1 / e0) / math.log(n1 / n0) if positive else math.nan)
    return slopes


def least_squares_order(steps: Sequence[int], errors: Sequence[float]) -> tuple[float, float, float]:
    """``(p, se(p), R^2)`` of the least-squares line ``log e = log C - p log N`` (module docstring), by
    ``numpy.polyfit``; its unscaled covariance times ``SSR / (n - 2)`` is the slope's variance."""
    x = np.log(np.asarray(steps, dtype=np.float64))
    y = np.log(np.asarray(errors, dtype=np.float64))
    (slope, intercept), covariance = np.polyfit(x, y, 1, cov="unscaled")
    residual = float(((y - (slope * x + intercept)) ** 2).sum())
    standard_error = math.sqrt(covariance[0, 0] * residual / (len(x) - 2)) if len(x) > 2 else math.nan
    spread = float(((y - y.mean()) ** 2).sum())
    r_squared = 1.0 - residual / spread if spread > 0 else math.nan
    return -float(slope), standard_error, r_squared


def check_steps(steps: Sequence[int]) -> tuple[int, ...]:
    """Step counts must be at least two distinct positive integers in increasing order."""
    levels = tuple(check_int("each of steps", n, minimum=1, error=InvalidArgumentError) for n in steps)
    if len(levels) < 2:
        raise InvalidArgumentError(f"steps must be at least two positive integers, got {steps!r}")
    if any(b <= a for a, b in zip(levels, levels[1:])):
        raise InvalidArgumentError(f"steps must be strictly increasing, got {steps!r}")
    return levels


def _longest_agreeing_run(slopes: Sequence[float], tolerance: float) -> tuple[int, int]:
    """``(first, last)`` indices of the longest run of consecutive slopes all within ``tolerance`` of the run's
    mean; among equally long runs the finest (last) one."""
    best = (len(slopes) - 1, len(slopes) - 1)
    for first in range(len(slopes)):
        for last in range(first, len(slopes)):
            run = slopes[first: last + 1]
            if any(math.isnan(v) for v in run) or max(abs(v - float(np.mean(run))) for v in run) > tolerance:
                break
            if last - first >= best[1] - best[0]:
                best = (first, last)
    return best


def fit_order(
    solver: str,
    kind: str,
    declared_order: float | None,
    steps: Sequence[int],
    nfe: Sequence[int],
    errors: Sequence[float],
    *,
    floors: Mapping[int, str] | None = None,
    slope_tolerance: float = 0.15,
    reference_error: float | None = None,
) -> OrderEstimate:
    """Fit the order to the asymptotic range of ``errors`` (see the module docstring).

    ``floors`` maps the index of each level the caller found below a floor to the reason; levels whose error is
    zero or not finite are dropped here. The remaining levels are trimmed to the asymptotic tail.
    """
    steps = check_steps(steps)
    errors = [float(e) for e in errors]
    dropped: dict[int, str] = dict(floors or {})
    for index, error in enumerate(errors):
        if index not in dropped and not (error > 0 and math.isfinite(error)):
            dropped[index] = f"error {error:g} is not a positive finite number"
    kept = [i for i in range(len(steps)) if i not in dropped]
    slopes = local_slopes(steps, errors)
    if len(kept) < 2:
        return OrderEstimate(solver, kind, declared_order, math.nan, math.nan, math.nan, steps, tuple(nfe),
                             tuple(errors), tuple(slopes), tuple(kept), dropped, False, reference_error)
    kept_slopes = local_slopes([steps[i] for i in kept], [errors[i] for i in kept])
    first, last = _longest_agreeing_run(kept_slopes, slope_tolerance)
    fitted = kept[first: last + 2]
    run_mean = float(np.mean(kept_slopes[first: last + 1]))
    for position, index in enumerate(kept):
        if index in fitted:
            continue
        if position < first:
            dropped[index] = f"pre-asymptotic: local slope {kept_slopes[position]:.2f}, fitted levels {run_mean:.2f}"
        else:
            dropped[index] = (f"past the asymptotic range: local slope {kept_slopes[position - 1]:.2f}, "
                              f"fitted levels {run_mean:.2f}")
    order, standard_error, r_squared = least_squares_order([steps[i] for i in fitted], [errors[i] for i in fitted])
    return OrderEstimate(solver, kind, declared_order, order, standard_error, r_squared, steps, tuple(nfe),
                         tuple(errors), tuple(slopes), tuple(fitted), dict(sorted(dropped.items())),
                         len(fitted) >= 3, reference_error)
