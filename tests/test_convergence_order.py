"""estimate_order: errors against closed forms, the reference options, start-up and floors, and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from probflow.convergence import estimate_order, karras_schedule, suggested_steps
from probflow.denoisers import Gaussian, GaussianMixture
from probflow.errors import SigmaGridError, SolverConfigError
from probflow.solvers import LMS, DPMSolverPP, Euler, EulerAncestral, Heun, TorchDiffEq

MEAN = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
STD = torch.tensor([0.05, 0.3, 1.0], dtype=torch.float64)
GAUSSIAN = Gaussian(MEAN, STD)
MIXTURE = GaussianMixture([[-1.0, 0.5], [1.0, 2.0]], std=[0.1, 0.4])


def _start(denoiser, sigma_max: float = 80.0, seed: int = 0) -> torch.Tensor:
    return denoiser.sample_noisy(3, sigma_max, generator=torch.Generator().manual_seed(seed))


def _euler_on_gaussian(x: torch.Tensor, sigmas: list[float]) -> torch.Tensor:
    """Euler on the Gaussian ODE in closed form: each step multiplies x - mu by r + (s'/s)(1 - r), r = S^2/(S^2 + s^2)
    (S the data std, s the noise level)."""
    variance = STD**2
    deviation = x - MEAN
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        shrink = variance / (variance + sigma**2)
        deviation = deviation * (shrink + sigma_next / sigma * (1.0 - shrink))
    return MEAN + deviation


def test_errors_are_the_rms_distance_of_euler_to_the_exact_gaussian_flow() -> None:
    x = _start(GAUSSIAN)
    steps = (8, 16, 32)
    estimate = estimate_order(Euler(), GAUSSIAN, x, steps=steps)
    exact = GAUSSIAN.exact_flow(x, 80.0, 0.002)
    for num_steps, error in zip(steps, estimate.errors):
        sigmas = karras_schedule(80.0, 0.002, 7.0)(num_steps).tolist()
        expected = float((_euler_on_gaussian(x, sigmas) - exact).square().mean().sqrt())
        assert error == pytest.approx(expected, rel=1e-9)
    assert estimate.nfe == steps
    assert estimate.reference_error == 0.0


def test_heun_measured_at_sigma_min_is_second_order() -> None:
    # With the final Euler step to 0 the error would be first order; measured at sigma_min it is the method's own.
    estimate = estimate_order(Heun(), GAUSSIAN, _start(GAUSSIAN), steps=(16, 32, 64, 128))
    assert estimate.order == pytest.approx(2.0, abs=0.1)
    assert estimate.nfe == (32, 64, 128, 256)


def test_a_schedule_ending_in_zero_is_refused() -> None:
    with_zero = lambda n: torch.cat([karras_schedule(80.0, 0.002, 7.0)(n - 1), torch.zeros(1, dtype=torch.float64)])
    with pytest.raises(SigmaGridError, match="no final 0"):
        estimate_order(Euler(), GAUSSIAN, _start(GAUSSIAN), steps=(4, 8), schedule=with_zero)


def test_a_custom_schedule_family_is_used() -> None:
    log_uniform = lambda n: torch.logspace(math.log10(80.0), math.log10(0.002), n + 1, dtype=torch.float64)
    estimate = estimate_order(Heun(), GAUSSIAN, _start(GAUSSIAN), steps=(32, 64, 128), schedule=log_uniform)
    assert estimate.order == pytest.approx(2.0, abs=0.1)


def test_multistep_start_up_reaches_the_declared_order_and_adams_start_up_caps_it_at_two() -> None:
    # From sigma_max = 1 the first steps are curved (from sigma_max = 80 they are nearly straight lines, and the
    # cap of an Euler start-up step shows only past ~1000 steps).
    x = _start(GAUSSIAN, sigma_max=1.0)
    grid = {"sigma_max": 1.0, "sigma_min": 0.01}
    runge_kutta_start = estimate_order(LMS(4), GAUSSIAN, x, steps=suggested_steps(LMS(4)), **grid)
    adams_start = estimate_order(LMS(4, startup="adams"), GAUSSIAN, x, steps=(32, 64, 128, 256), **grid)
    assert runge_kutta_start.order == pytest.approx(4.0, abs=0.2)
    assert adams_start.order == pytest.approx(2.0, abs=0.2) and adams_start.declared_order == 2
    dpm = estimate_order(DPMSolverPP(3), GAUSSIAN, x, steps=(32, 64, 128, 256), **grid)
    assert dpm.order == pytest.approx(3.0, abs=0.2)


def test_a_reference_tensor_or_callable_replaces_the_exact_flow() -> None:
    x = _start(GAUSSIAN)
    exact = GAUSSIAN.exact_flow(x, 80.0, 0.002)
    by_tensor = estimate_order(Euler(), GAUSSIAN, x, steps=(8, 16), reference=exact)
    by_callable = estimate_order(Euler(), GAUSSIAN, x, steps=(8, 16), reference=GAUSSIAN.exact_flow)
    by_default = estimate_order(Euler(), GAUSSIAN, x, steps=(8, 16))
    assert by_tensor.errors == pytest.approx(by_default.errors, rel=1e-12)
    assert by_callable.errors == pytest.approx(by_default.errors, rel=1e-12)
    assert by_tensor.reference_error is None and by_default.reference_error == 0.0


def test_without_an_exact_flow_the_dopri8_reference_is_used_and_its_error_reported() -> None:
    estimate = estimate_order(Heun(), MIXTURE, _start(MIXTURE, 10.0), steps=(32, 64, 128), sigma_max=10.0,
                              sigma_min=0.05)
    assert 0.0 < estimate.reference_error < 1e-10
    assert estimate.order == pytest.approx(2.0, abs=0.2)


def test_a_loose_reference_drops_the_levels_it_cannot_resolve_and_warns() -> None:
    with pytest.warns(RuntimeWarning, match="reference"):
        estimate = estimate_order(Heun(), MIXTURE, _start(MIXTURE, 10.0), steps=(16, 32, 64, 128, 256, 512),
                                  sigma_max=10.0, sigma_min=0.05, reference_tolerance=1e-6)
    assert any(reason.startswith("reference") for reason in estimate.dropped.values())
    assert 5 in estimate.dropped


def test_levels_on_the_round_off_floor_of_a_float32_denoiser_are_dropped() -> None:
    single = Gaussian(MEAN, STD).float()
    single.dtype = torch.float32
    estimate = estimate_order(TorchDiffEq("rk4"), single, _start(GAUSSIAN), steps=(8, 16, 32, 64, 128, 256),
                              reference=GAUSSIAN.exact_flow)
    floors = [index for index, reason in estimate.dropped.items() if reason.startswith("round-off")]
    assert max(floors) == 5 and max(estimate.fitted) < min(floors)
    assert estimate.order == pytest.approx(4.0, abs=0.2)


def test_a_stochastic_solver_gets_its_strong_order() -> None:
    estimate = estimate_order(EulerAncestral(), GAUSSIAN, _start(GAUSSIAN, 20.0), steps=(16, 32), sigma_max=20.0,
                              generator=torch.Generator().manual_seed(0))
    assert estimate.kind == "strong"


def test_adaptive_solvers_are_refused() -> None:
    with pytest.raises(SolverConfigError, match="adaptive"):
        estimate_order(TorchDiffEq("dopri5"), GAUSSIAN, _start(GAUSSIAN), steps=(8, 16))


@pytest.mark.parametrize(("reference", "error", "message"), [
    (torch.zeros(2, 3, dtype=torch.float64), ValueError, "reference has shape"),
    ("exact", TypeError, "reference must be"),
])
def test_bad_references_are_refused(reference, error, message) -> None:
    with pytest.raises(error, match=message):
        estimate_order(Euler(), GAUSSIAN, _start(GAUSSIAN), steps=(8, 16), reference=reference)


def test_bad_solver_and_steps_are_refused() -> None:
    with pytest.raises(SolverConfigError, match="a probflow Solver or a spec"):
        estimate_order(3, GAUSSIAN, _start(GAUSSIAN))
    with pytest.raises(ValueError, match="strictly increasing"):
        estimate_order(Euler(), GAUSSIAN, _start(GAUSSIAN), steps=(16, 8))
