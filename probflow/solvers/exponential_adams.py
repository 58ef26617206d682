"""Exponential Adams predictor-corrector multistep in lambda = -log sigma, with an extrapolated step into 0."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

import torch

from probflow.errors import SolverConfigError
from probflow.solvers.base import Solver, StepGenerator
from probflow.solvers.combination import add_weighted
from probflow.solvers.grid import Grid
from probflow.solvers.quadrature import TensorLike, lagrange_integral_weights, multistep_weights
from probflow.validation import check_choice, check_int

FORMS = ("data", "noise")


def exponential_adams_weights(form: str, nodes: TensorLike, start: TensorLike, end: TensorLike,
                              counts: TensorLike | None = None) -> torch.Tensor:
    """Weights ``c_j`` of a step from ``lambda = start`` to ``end`` for values given at the lambda ``nodes``.

    * ``"data"``: ``x' = (sigma'/sigma) x + sum_j c_j D_j``, ``c_j = integral exp(l - end) l_j(l) dl``;
    * ``"noise"``: ``x' = x + sum_j c_j eps_j``, ``c_j = -integral exp(-l) l_j(l) dl``;

    integrals over ``[start, end]`` of the Lagrange basis ``l_j`` of the nodes (see ``solvers.quadrature``).
    Batched like :func:`~probflow.solvers.quadrature.lagrange_integral_weights`: ``nodes [..., k]`` with
    ``start``, ``end`` ``[...]`` give ``[..., k]``, and ``counts`` limits each interval to its first nodes.
    """
    kernel = _data_kernel if form == "data" else _noise_kernel
    return lagrange_integral_weights(nodes, start, end, counts=counts, weight=kernel)


def _data_kernel(points: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    return torch.exp(points - end)


def _noise_kernel(points: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    return -torch.exp(-points)


def half_log_snr(sigmas: TensorLike) -> torch.Tensor:
    """``lambda = -log sigma`` (the half log-SNR of the VE process; Lu et al. 2022), ``inf`` at ``sigma = 0``."""
    return -torch.log(torch.as_tensor(sigmas, dtype=torch.float64))


def extrapolation_to_zero_weights(sigmas: torch.Tensor) -> list[torch.Tensor]:
    """``w_j = l_j(0)``: the Lagrange basis over the nodes ``u_j = sigma_j^2`` evaluated at ``u = 0``."""
    nodes = [sigma * sigma for sigma in sigmas]
    weights = []
    for j, node in enumerate(nodes):
        weight = torch.ones((), dtype=torch.float64)
        for m, other in enumerate(nodes):
            if m != j:
                weight = weight * (-other / (node - other))
        weights.append(weight)
    return weights


class _ExponentialAdamsStepper:
    """Weights for every step are computed once (a few numbers per step); row ``i`` holds the predictor (and
    corrector) weights of step ``i``, zero-padded, in the form the step applies them, so that a step is one tensor
    operation per weight:

    * noise form: the history keeps ``x - D = sigma eps``, so each weight carries its node's ``1/sigma``;
    * data form: both stages start from the first-order step ``lerp(D_i, x, r) = r x + (1 - r) D_i``
      (``r = sigma'/sigma``), so the weight of ``D_i`` (the predictor's first node, the corrector's second)
      gives back ``1 - r``.
    """

    def __init__(self, config: ExponentialAdams, grid: Grid):
        self.grid = grid
        self.noise_form = config.form == "noise"
        # Interior steps only: the step into 0 extrapolates instead.
        steps = torch.arange(grid.interior_steps)
        sigmas = grid.sigmas[:grid.interior_steps + 1]
        # The first step is always corrected, with 2 nodes: the method starts itself (see ExponentialAdams).
        corrector_nodes = torch.where(steps == 0, 2, config.corrector_order)
        predictor_counts = torch.clamp(steps + 1, max=config.predictor_order)
        corrector_counts = torch.minimum(corrector_nodes, steps + 2)
        lambdas = half_log_snr(sigmas)
        step_weights = partial(exponential_adams_weights, config.form)
        node_scales = sigmas if self.noise_form else None
        predictor = multistep_weights(lambdas, predictor_counts, step_weights, node_scales=node_scales)
        corrector = multistep_weights(lambdas, corrector_counts, step_weights, lead=1, node_scales=node_scales)
        ratio = grid.sigma_to / grid.sigma_from
        if not self.noise_form:
            first_order = (1.0 - ratio)[:, None]
            predictor = torch.cat([predictor[:, :1] - first_order, predictor[:, 1:]], dim=1)
            corrected = (corrector_counts > 0)[:, None]
            corrector = torch.nn.functional.pad(corrector, (0, max(0, 2 - corrector.shape[1])))
            corrector = torch.cat([corrector[:, :1], corrector[:, 1:2] - torch.where(corrected, first_order, 0.0),
                                   corrector[:, 2:]], dim=1)
            corrector_counts = torch.where(corrected[:, 0], torch.clamp(corrector_counts, min=2), 0)
        self.predictor_counts = predictor_counts.numpy()
        self.corrector_counts = corrector_counts.numpy()
        self.predictor = grid.constants(predictor)
        self.corrector = grid.constants(corrector)
        self.ratios = grid.constants(ratio)
        last = grid.num_steps - 1
        nodes = sigmas[max(0, last - config.final_nodes + 1):last + 1].flip(0)
        self.final_weights = grid.constants(torch.stack(extrapolation_to_zero_weights(nodes)))
        self.values: deque[torch.Tensor] = deque(maxlen=max(config.predictor_order, config.corrector_order, 2))
        self.denoised: deque[torch.Tensor] = deque(maxlen=config.final_nodes)
        self.evaluated = -1

    def _evaluate(self, x: torch.Tensor, index: int) -> StepGenerator:
        """Request ``D`` at ``sigmas[index]`` and push it (in noise form, ``x - D``) onto the history."""
        denoised = yield x, self.grid.sigma(index)
        self.denoised.appendleft(denoised)
        self.values.appendleft(x - denoised if self.noise_form else denoised)
        self.evaluated = index

    def _extrapolate_to_zero(self) -> torch.Tensor:
        weights, denoised = iter(self.final_weights), iter(self.denoised)
        first = next(denoised) * next(weights)
        return add_weighted(first, weights, denoised)

    def step(self, i: int, x: torch.Tensor) -> StepGenerator:
        if self.evaluated < i:
            yield from self._evaluate(x, i)
        denoised = self.denoised[0]
        if self.grid.values[i + 1] == 0.0:
            return self._extrapolate_to_zero(), denoised
        base = x if self.noise_form else torch.lerp(denoised, x, self.ratios[i])
        predicted = add_weighted(base, self.predictor[i][:self.predictor_counts[i]], self.values)
        corrector_count = self.corrector_counts[i]
        if corrector_count == 0:
            return predicted, denoised
        yield from self._evaluate(predicted, i + 1)
        return add_weighted(base, self.corrector[i][:corrector_count], self.values), denoised


@dataclass(frozen=True, repr=False, init=False)
class ExponentialAdams(Solver):
    """Exponential Adams multistep in ``lambda = -log sigma``: predictor, optional corrector, extrapolated last step.

    The probability-flow ODE is integrated exactly except for the denoiser term, which is replaced by the
    polynomial in lambda through the latest values (exponential integrators; Hochbruck & Ostermann 2010):

    * ``form="data"`` (DPM-Solver++ multistep, Lu et al. 2022, eq. 9 and Alg. 2, with exact weights):
      ``x_{i+1} = (sigma_{i+1}/sigma_i) x_i + sum_j c_j D_{i-j}``, ``c_j = integral_{lambda_i}^{lambda_{i+1}}
      exp(l - lambda_{i+1}) l_j(l) dl``;
    * ``form="noise"`` (DEIS with interpolation in log rho, Zhang & Chen 2023, eq. 15; for the VE ODE
      ``dx/dsigma = eps``): ``x_{i+1} = x_i - sum_j c_j eps_{i-j}``, ``eps = (x - D)/sigma``,
      ``c_j = integral exp(-l) l_j(l) dl``.

    The predictor uses the last ``min(order, i + 1)`` values (Adams-Bashforth of order ``order``). With
    ``corrector_order = q > 0`` each step is a PEC predictor-corrector (UniPC's UniC, Zhao et al. 2023, eq. 8,
    here with exact weights): the model is called at the predicted state ``x~_{i+1}`` and the step is redone
    with the ``q`` nodes ``lambda_{i+1}, lambda_i, ...`` (Adams-Moulton of order ``q``; UniC is ``q = order +
    1``); that call is the history value of node ``i+1``, so a step still costs one call. Its local error is
    ``O(h^(min(q, order + 1) + 1))``. The first step is always corrected with ``q = 2`` at least (Euler
    predictor, trapezoidal corrector in exponential form): the method is self-starting with local error
    ``O(h^3)`` at no extra call.

    The step into sigma = 0 costs no call. Near sigma = 0 the denoised value along the exact solution,
    ``D(x(sigma), sigma)``, is a smooth even function of sigma (for a Gaussian component of std ``s``:
    ``mu + a s/sqrt(s^2 + sigma^2)``), and ``x(0)`` is its limit; the step returns the Lagrange extrapolation
    to ``u = 0`` in ``u = sigma^2`` of the last ``final_nodes`` denoised values (``final_nodes = 1`` is the
    plain final denoise of EDM Alg. 1, error ``O(sigma_min^2)``; ``m`` nodes give ``O(prod sigma_j^2)``).

    Order at ``sigma_min``: ``min(order, 3)`` without corrector, ``min(q, order + 1, 3)`` with one -- the
    self-starting first step caps it at 3 (interior steps have the higher order).
    One call per step; NFE = number of positive sigmas, plus one when the grid does not end in 0 and the
    last step is corrected.
    """

    family: ClassVar[str] = "exp_adams"
    steps_into_zero: ClassVar[bool] = True
    predictor_order: int = field(default=3, metadata={"parameter": "order"})
    form: str = "data"
    corrector_order: int = 4
    final_nodes: int = 2

    def __init__(self, order: int = 3, *, form: str = "data", corrector_order: int = 4, final_nodes: int = 2):
        error = SolverConfigError
        object.__setattr__(self, "predictor_order", check_int("ExponentialAdams order", order, minimum=1, maximum=4,
                                                              error=error))
        object.__setattr__(self, "form", check_choice("ExponentialAdams form", form, FORMS, error=error))
        object.__setattr__(self, "corrector_order", check_int("corrector_order (0: no corrector)", corrector_order,
                                                              minimum=0, maximum=5, error=error))
        object.__setattr__(self, "final_nodes", check_int("final_nodes", final_nodes, minimum=1, maximum=3,
                                                          error=error))

    @property
    def order(self) -> int:
        corrected = min(self.corrector_order, self.predictor_order + 1) if self.corrector_order else self.predictor_order
        return min(corrected, 3)

    @property
    def name(self) -> str:
        corrector = f"_pc{self.corrector_order}" if self.corrector_order else ""
        return f"exp_adams_{self.form}{self.predictor_order}{corrector}"

    def nfe(self, num_steps: int, ends_at_zero: bool = True) -> int:
        if ends_at_zero:
            return num_steps
        last_corrected = self.corrector_order > 0 or num_steps == 1
        return num_steps + int(last_corrected)

    def start(self, grid: Grid) -> _ExponentialAdamsStepper:
        return _ExponentialAdamsStepper(self, grid)
