"""Every registered solver, and ``probflow.sample``, still returns the samples recorded before the core redesign.

``tests/data/recorded_solutions.safetensors`` holds float64 endpoints of fixed seeds, grids and budgets, recorded
on the code as it stood before the redesign (issue "One clean core"). A refactor that changes any of them by more
than 1e-12 relative (max-norm) changes results, which the redesign promised not to do. Rerun
``python -m tests.test_recorded_solutions`` only when a change of results is intended, and say so in the commit.

Intended changes since: the ``sample/nfe=*`` and ``sample/rho=*`` cases were re-recorded when
``probflow.recommended`` became the leave-one-problem-out choice (issue "Calibrated schedules"); every ``solve/*``
case is still the pre-redesign recording.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import probflow
from probflow.comparison.lesson_ddim import LessonDDIM
from probflow.denoisers import GaussianMixture
from probflow.schedules import karras
from probflow.solvers import (
    DDIM, LMS, EDMStochastic, EulerAncestral, EulerMaruyama, ExponentialAdams, TorchDiffEq, TorchSDE, get_solver,
    solver_names,
)

RECORDED = Path(__file__).parent / "data" / "recorded_solutions.safetensors"
RELATIVE_TOLERANCE = 1e-12
BATCH = 5
SEEDS = list(range(BATCH))


def problem() -> GaussianMixture:
    generator = torch.Generator().manual_seed(7)
    means = 1.5 * torch.randn(3, 3, generator=generator, dtype=torch.float64)
    return GaussianMixture(means, 0.3, weights=torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64))


def start_noise() -> torch.Tensor:
    return probflow.per_sample_noise((3,), SEEDS, dtype=torch.float64)


class PredictedAlphaBar(torch.nn.Module):
    """A smooth, deterministic stand-in for a noise-level regressor: ``abar_hat = 1 / (1 + 1.1 |x_vp|^2 / d)``."""

    def forward(self, x_vp: torch.Tensor) -> torch.Tensor:
        return 1.0 / (1.0 + 1.1 * x_vp.pow(2).mean(dim=1))


def lesson_ddim(**options) -> Callable[[], probflow.solvers.Solver]:
    return lambda: LessonDDIM(alpha_bar_predictor=PredictedAlphaBar(), **options)


#: Configurations beyond the registry's parameter-free names.
CONFIGURED: dict[str, Callable[[], probflow.solvers.Solver]] = {
    "ddim(eta=1)": lambda: DDIM(1.0),
    "ddim(eta=0.5)": lambda: DDIM(0.5),
    "euler_ancestral(eta=0.5,s_noise=0.8)": lambda: EulerAncestral(0.5, 0.8),
    "edm_stochastic(churn)": lambda: EDMStochastic(s_churn=10.0, s_tmin=0.05, s_tmax=50.0, s_noise=1.003),
    "edm_stochastic(churn everywhere)": lambda: EDMStochastic(s_churn=3.0),
    "lms3(adams startup)": lambda: LMS(3, startup="adams"),
    "lms4(adams startup)": lambda: LMS(4, startup="adams"),
    "exp_adams(noise,3,pc0)": lambda: ExponentialAdams(3, form="noise", corrector_order=0),
    "exp_adams(data,4,pc5)": lambda: ExponentialAdams(4, form="data", corrector_order=5),
    "exp_adams(data,2,pc3,final1)": lambda: ExponentialAdams(2, form="data", corrector_order=3, final_nodes=1),
    "exp_adams(noise,1,pc2,final3)": lambda: ExponentialAdams(1, form="noise", corrector_order=2, final_nodes=3),
    "torchdiffeq:dopri5(log_sigma)": lambda: TorchDiffEq("dopri5", time_variable="log_sigma"),
    "torchdiffeq:rk4(log_sigma)": lambda: TorchDiffEq("rk4", time_variable="log_sigma"),
    "torchsde:euler(substeps=2)": lambda: TorchSDE("euler", substeps=2),
    "lesson ddim(eta=1,clip=2,cutoff=0.01)": lesson_ddim(eta=1.0, clip=2.0, noise_cutoff=0.01),
    "lesson ddim(eta=0,clip=1)": lesson_ddim(eta=0.0, clip=1.0),
    "lesson ddim(median, eta=1)": lesson_ddim(eta=1.0, median_sigma=True, noise_cutoff=0.01),
    "lesson ddim(median, eta=0.5)": lesson_ddim(eta=0.5, median_sigma=True, clip=2.0),
    "lesson ddim(noise_scale=0.5)": lesson_ddim(eta=1.0, noise_scale=0.5),
}

#: The registry's names as recorded; ``lesson_ddim`` (registered by probflow.comparison since the redesign moved the
#: lesson's DDIM options there) is covered by the five configured "lesson ddim" cases.
SOLVERS: dict[str, Callable[[], probflow.solvers.Solver]] = {
    **{name: (lambda name=name: get_solver(name)) for name in solver_names() if name != "lesson_ddim"}, **CONFIGURED,
}

#: (grid label, sigmas): one grid into 0 and one that stops at sigma_min.
GRIDS = {
    "to0": lambda: karras(7, 0.002, 80.0),
    "stop": lambda: karras(6, 0.01, 80.0, rho=5.0, append_zero=False),
}

SAMPLE_BUDGETS = (1, 2, 3, 5, 7, 8, 10, 14, 15, 20, 34, 35, 50)


def solve_recorded(name: str, grid_label: str) -> torch.Tensor:
    solver = SOLVERS[name]()
    denoiser = problem()
    sigmas = GRIDS[grid_label]()
    x = start_noise() * float(sigmas[0])
    if name == "euler_maruyama":
        term = probflow.ReverseSDE(denoiser, beta=0.5)
    elif solver.term_kind == "sde":
        term = probflow.ReverseSDE(denoiser)
    else:
        term = denoiser
    return probflow.solve(term, solver, x, sigmas, generator=probflow.seed_generators(SEEDS)).x


def sample_recorded(nfe: int) -> torch.Tensor:
    return probflow.sample(problem(), start_noise(), nfe=nfe)


def cases() -> dict[str, Callable[[], torch.Tensor]]:
    found = {f"solve/{name}/{grid}": (lambda name=name, grid=grid: solve_recorded(name, grid))
             for name in SOLVERS for grid in GRIDS}
    found.update({f"sample/nfe={nfe}": (lambda nfe=nfe: sample_recorded(nfe)) for nfe in SAMPLE_BUDGETS})
    found["sample/heun/nfe=10"] = lambda: probflow.sample(problem(), start_noise(), nfe=10, solver=get_solver("heun"))
    found["sample/ddim(eta=1)/nfe=9"] = lambda: probflow.sample(
        problem(), start_noise(), nfe=9, solver=DDIM(1.0), generator=probflow.seed_generators(SEEDS))
    found["sample/euler_maruyama/nfe=12"] = lambda: probflow.sample(
        problem(), start_noise(), nfe=12, solver=EulerMaruyama(), generator=probflow.seed_generators(SEEDS))
    found["sample/rho=3/nfe=10"] = lambda: probflow.sample(problem(), start_noise(), nfe=10, rho=3.0)
    return found


CASES = cases()
_recorded: dict[str, torch.Tensor] | None = None


def recorded() -> dict[str, torch.Tensor]:
    global _recorded
    if _recorded is None:
        _recorded = load_file(RECORDED)
    return _recorded


def test_every_recorded_case_is_still_produced():
    assert set(recorded()) == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_result_equals_the_recording(case):
    expected = recorded()[case]
    actual = CASES[case]()
    assert actual.dtype == torch.float64 and actual.shape == expected.shape
    scale = float(expected.abs().max())
    difference = float((actual - expected).abs().max())
    assert math.isfinite(difference) and difference <= RELATIVE_TOLERANCE * max(scale, 1.0), (
        f"{case}: max difference {difference:.3e} against scale {scale:.3e}")


def record() -> None:
    RECORDED.parent.mkdir(exist_ok=True)
    save_file({case: make().contiguous() for case, make in CASES.items()}, RECORDED)
    print(f"recorded {len(CASES)} cases in {RECORDED}")


if __name__ == "__main__" and "--record" in sys.argv:
    record()
