"""Exponential Adams predictor-corrector multistep in lambda = -log sigma, with an extrapolated step into 0."""

from __future__ import annotations

import math
from collections import deque
from functools import partial

import numpy as np
import torch
from numpy.typing import ArrayLike

from probflow.errors import SolverConfigError
from probflow.model_call import ModelCall
from probflow.noise import NoiseSource
from probflow.solvers.base import Solver
from probflow.solvers.combination import add_weighted
from probflow.solvers.quadrature import lagrange_integral_weights, multistep_weights

FORMS = ("data", "noise")


def exponential_adams_weights(form: str, nodes: ArrayLike, start: ArrayLike, end: ArrayLike,
                              counts: ArrayLike | None = None) -> np.ndarray:
    """Weights ``c_j`` of a step from ``lambda = start`` to ``end`` for values given at the lambda ``nodes``.

    * ``"data"``: ``x' = (sigma'/sigma) x + sum_j c_j D_j``, ``c_j = integral exp(l - end) l_j(l) dl``;
    * ``"noise"``: ``x' = x + sum_j c_j eps_j``, ``c_j = -integral exp(-l) l_j(l) dl``;

    integrals over ``[start, end]`` of the Lagrange basis ``l_j`` of the nodes (see ``solvers.quadrature``).
    Batched like :func:`~probflow.solvers.quadrature.lagrange_integral_weights`: ``nodes [..., k]`` with
    ``start``, ``end`` ``[...]`` give ``[..., k]``, and ``counts`` limits each interval to its first nodes.
    """
    kernel = _data_kernel if form == "data" else _noise_kernel
    return lagrange_integral_weights(nodes, start, end, counts=counts, weight=kernel)


def _data_kernel(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    return np.exp(points - end)


def _noise_kernel(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    return -np.exp(-points)


def half_log_snr(sigmas: ArrayLike) -> np.ndarray:
    """``lambda = -log sigma`` (the half log-SNR of the VE process; Lu et al. 2022), ``inf`` at ``sigma = 0``."""
    with np.errstate(divide="ignore"):
        return -np.log(np.asarray(sigmas, dtype=np.float64))


def extrapolation_to_zero_weights(sigmas: list[float]) -> list[float]:
    """``w_j = l_j(0)``: the Lagrange basis over the nodes ``u_j = sigma_j^2`` evaluated at ``u = 0``."""
    nodes = [s * s for s in sigmas]
    return [math.prod(-other / (node - other) for m, other in enumerate(nodes) if m != j)
            for j, node in enumerate(nodes)]


def _is_int_in(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


class _ExponentialAdamsStepper:
    """Weights for every step are computed once and kept as float64 arrays (a few bytes per step, so a long grid
    costs little memory); row ``i`` holds the predictor (and corrector) weights of step ``i``, zero-padded.

    The weights are stored in the form the step applies them, so that a step is one tensor operation per weight:

    * noise form: the history keeps ``x - D = sigma eps``, so each weight carries its node's ``1/sigma``;
    * data form: both stages start from the first-order step ``lerp(D_i, x, r) = r x + (1 - r) D_i``
      (``r = sigma'/sigma``), so the weight of ``D_i`` (the predictor's first node, the corrector's second)
      gives back ``1 - r``.
    """

    def __init__(self, config: "ExponentialAdams", model: ModelCall, sigmas: list[float]):
        self.model = model
        self.sigmas = sigmas
        self.noise_form = config.form == "noise"
        self.final_nodes = config.final_nodes
        steps = np.arange(len(sigmas) - 1)
        grid = np.asarray(sigmas)
        sigma, sigma_next = grid[:-1], grid[1:]
        weighted = sigma_next > 0.0  # the step into 0 extrapolates instead
        # The first step is always corrected, with 2 nodes: the method starts itself (see ExponentialAdams).
        corrector_nodes = np.where(steps == 0, 2, config.corrector_order)
        self.predictor_counts = np.where(weighted, np.minimum(config.predictor_order, steps + 1), 0)
        self.corrector_counts = np.where(weighted, np.minimum(corrector_nodes, steps + 2), 0)
        lambdas = half_log_snr(grid)
        step_weights = partial(exponential_adams_weights, config.form)
        node_scales = grid if self.noise_form else None
        self.predictor = multistep_weights(lambdas, self.predictor_counts, step_weights, node_scales=node_scales)
        self.corrector = multistep_weights(lambdas, self.corrector_counts, step_weights, lead=1,
                                           node_scales=node_scales)
        if not self.noise_form:
            first_order = np.where(weighted, 1.0 - sigma_next / sigma, 0.0)
            self.predictor[:, 0] -= first_order
            corrected = self.corrector_counts > 0
            self.corrector = np.pad(self.corrector, ((0, 0), (0, max(0, 2 - self.corrector.shape[1]))))
            self.corrector[:, 1] -= np.where(corrected, first_order, 0.0)
            self.corrector_counts = np.where(corrected, np.maximum(self.corrector_counts, 2), 0)
        self.values: deque[torch.Tensor] = deque(maxlen=max(config.predictor_order, config.corrector_order, 2))
        self.denoised: deque[torch.Tensor] = deque(maxlen=self.final_nodes)
        self.evaluated = -1

    def _evaluate(self, x: torch.Tensor, index: int) -> None:
        """Call the model at ``sigmas[index]`` and push ``D`` (in noise form, ``x - D``) onto the history."""
        denoised = self.model(x, self.sigmas[index])
        self.denoised.appendleft(denoised)
        self.values.appendleft(x - denoised if self.noise_form else denoised)
        self.evaluated = index

    def _extrapolate_to_zero(self, i: int) -> torch.Tensor:
        nodes = [self.sigmas[i - j] for j in range(min(self.final_nodes, i + 1))]
        x_zero = None
        for weight, denoised in zip(extrapolation_to_zero_weights(nodes), self.denoised):
            x_zero = denoised * weight if x_zero is None else torch.add(x_zero, denoised, alpha=weight)
        return x_zero

    def step(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.evaluated < i:
            self._evaluate(x, i)
        denoised = self.denoised[0]
        sigma_next = self.sigmas[i + 1]
        if sigma_next == 0.0:
            return self._extrapolate_to_zero(i), denoised
        base = x if self.noise_form else torch.lerp(denoised, x, sigma_next / self.sigmas[i])
        predicted = add_weighted(base, self.predictor[i, :self.predictor_counts[i]].tolist(), self.values)
        corrector_count = self.corrector_counts[i]
        if corrector_count == 0:
            return predicted, denoised
        self._evaluate(predicted, i + 1)
        return add_weighted(base, self.corrector[i, :corrector_count].tolist(), self.values), denoised


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

    name = "exp_adams"

    def __init__(self, order: int = 3, *, form: str = "data", corrector_order: int = 4, final_nodes: int = 2):
        if not _is_int_in(order, 1, 4):
            raise SolverConfigError(f"ExponentialAdams order must be an integer in 1..4, got {order!r}")
        if not _is_int_in(corrector_order, 0, 5):
            raise SolverConfigError(f"corrector_order must be an integer in 0..5 (0: no corrector), got "
                                    f"{corrector_order!r}")
        if form not in FORMS:
            raise SolverConfigError(f"ExponentialAdams form must be one of {FORMS}, got {form!r}")
        if not _is_int_in(final_nodes, 1, 3):
            raise SolverConfigError(f"final_nodes must be an integer in 1..3, got {final_nodes!r}")
        self.predictor_order = order
        self.form = form
        self.corrector_order = corrector_order
        self.final_nodes = final_nodes
        self.order = min(min(corrector_order, order + 1) if corrector_order else order, 3)
        self.name = f"exp_adams_{form}{order}" + (f"_pc{corrector_order}" if corrector_order else "")

    def nfe(self, num_steps: int, ends_at_zero: bool = True) -> int:
        if ends_at_zero:
            return num_steps
        last_corrected = self.corrector_order > 0 or num_steps == 1
        return num_steps + int(last_corrected)

    def start(self, term: object, model: ModelCall, sigmas: list[float], noise: NoiseSource
              ) -> _ExponentialAdamsStepper:
        return _ExponentialAdamsStepper(self, model, sigmas)

    def __repr__(self) -> str:
        return (f"ExponentialAdams(order={self.predictor_order}, form={self.form!r}, "
                f"corrector_order={self.corrector_order}, final_nodes={self.final_nodes})")
