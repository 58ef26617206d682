"""Property tests: every bad input to the public API gets a specific exception whose message names the problem.

Hypothesis draws bad sigma grids, NFEs, per-sample generator lists, denoiser outputs (wrong shape, dtype,
device, NaN/Inf or not a tensor, at a random call of a random registered solver), non-tensor noise, unknown
solver names and bad seed lists. A case counts as *clear* when it raises the expected probflow (or
``TypeError``) exception with the expected message, and, for denoiser faults, the right step and sigma.
The tally is printed at the end of the module (``pytest -s``).
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import probflow
from probflow.errors import DenoiserOutputError, GeneratorError, SigmaGridError, SolverConfigError, UnknownSolverError
from probflow.generation import SamplingPlan, SeedSpecError, generate, parse_seeds
from probflow.solvers import ALIASES, SOLVERS, get_solver, solver_names
from tests.helpers import gaussian_problem, grid, start_state

FEW = settings(derandomize=True, max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROBLEM = gaussian_problem()
TALLY: dict[str, Counter] = {}


def count(kind: str, clear: bool) -> None:
    TALLY.setdefault(kind, Counter()).update(tried=1, clear=int(clear))


@pytest.fixture(scope="module", autouse=True)
def report_tally():
    yield
    tried = sum(c["tried"] for c in TALLY.values())
    clear = sum(c["clear"] for c in TALLY.values())
    rows = ", ".join(f"{kind} {c['clear']}/{c['tried']}" for kind, c in sorted(TALLY.items()))
    print(f"\nbad inputs: {clear} of {tried} got a clear error ({rows})")


def expect(kind: str, exception: type[BaseException], pattern: str, call) -> str:
    """Run ``call``; it must raise ``exception`` with a message matching ``pattern``. Tallies the outcome."""
    try:
        call()
    except exception as error:
        message = str(error)
        clear = re.search(pattern, message) is not None
        count(kind, clear)
        assert clear, f"{kind}: message {message!r} does not match {pattern!r}"
        return message
    count(kind, False)
    raise AssertionError(f"{kind}: no {exception.__name__} raised")


# --- sigma grids --------------------------------------------------------------------------------------------

@st.composite
def bad_grids(draw):
    """A valid descending grid with one defect; returns ``(grid, pattern of the expected message)``."""
    values = sorted(draw(st.lists(st.floats(1e-3, 1e3), min_size=2, max_size=8, unique=True)), reverse=True)
    if draw(st.booleans()):
        values.append(0.0)
    defect = draw(st.sampled_from(["unsorted", "non-finite", "negative", "zero inside", "too short"]))
    if defect == "too short":
        return values[: draw(st.integers(0, 1))], r"at least 2 values"
    if defect == "unsorted":
        i = draw(st.integers(0, len(values) - 2))
        values[i + 1] = values[i] * draw(st.floats(1.0, 2.0))
        return values, rf"strictly decreasing: sigmas\[{i}\] = .* is followed by sigmas\[{i + 1}\]"
    j = draw(st.integers(0, len(values) - (2 if defect == "zero inside" else 1)))
    if defect == "non-finite":
        values[j] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        return values, rf"sigmas\[{j}\] = \S+ is not finite"
    if defect == "negative":
        values[j] = -draw(st.floats(1e-6, 1e3))
        return values, rf"sigmas\[{j}\] = -\S+ is negative"
    values[j] = 0.0
    return values, rf"sigmas\[{j}\] = 0 before the end of the grid"


@FEW
@given(case=bad_grids(), as_tensor=st.booleans(), name=st.sampled_from(solver_names()))
def test_bad_sigma_grids_are_named_with_their_index(case, as_tensor, name):
    values, pattern = case
    sigmas = torch.tensor(values, dtype=torch.float64) if as_tensor else values
    solver = get_solver(name)
    term = probflow.ReverseSDE(PROBLEM) if solver.term_kind == "sde" else PROBLEM
    expect("sigma grid", SigmaGridError, pattern, lambda: probflow.solve(term, solver, start_state(2, 3), sigmas))


# --- NFE, generators, noise ------------------------------------------------------------------------------------

@FEW
@given(nfe=st.one_of(st.integers(-10**6, 0), st.floats(allow_nan=True), st.text(max_size=3), st.none(),
                     st.just(True)))
def test_a_non_positive_or_non_integer_nfe_is_refused(nfe):
    pattern = r"nfe must be a positive integer, got "
    expect("nfe", SolverConfigError, pattern, lambda: probflow.sample(PROBLEM, torch.randn(2, 3), nfe=nfe))
    expect("nfe", SolverConfigError, pattern, lambda: SamplingPlan.build(PROBLEM, nfe=nfe))


@FEW
@given(batch=st.integers(1, 5), generators=st.integers(0, 8), name=st.sampled_from(solver_names()))
def test_a_generator_list_of_the_wrong_length_is_refused(batch, generators, name):
    generators += generators >= batch  # never the right length
    solver = get_solver(name)
    term = probflow.ReverseSDE(PROBLEM) if solver.term_kind == "sde" else PROBLEM
    expect("generator list", GeneratorError, rf"got {generators} per-sample generators for a batch of {batch}",
           lambda: probflow.solve(term, solver, start_state(batch, 3), grid(4),
                                  generator=probflow.seed_generators(range(generators))))


NON_TENSORS = st.one_of(st.lists(st.floats(-3, 3), min_size=1, max_size=4), st.none(), st.floats(),
                        st.builds(lambda n: np.zeros((n, 3)), st.integers(1, 3)), st.text(max_size=4))


@FEW
@given(noise=NON_TENSORS)
def test_non_tensor_noise_or_state_is_a_type_error(noise):
    expect("non-tensor noise", TypeError, r"noise must be a torch\.Tensor of shape \[batch, \.\.\.\], got ",
           lambda: probflow.sample(PROBLEM, noise, nfe=5))
    expect("non-tensor state", TypeError, r"x must be a torch\.Tensor of shape \[batch, \.\.\.\], got ",
           lambda: probflow.solve(PROBLEM, get_solver("heun"), noise, grid(4)))


# --- denoiser outputs ----------------------------------------------------------------------------------------

FAULTS = {
    "wrong shape": (lambda out: out[..., :-1], r"denoiser returned shape \(\d+, 2\) for input shape \(\d+, 3\)"),
    "wrong batch": (lambda out: torch.cat([out, out]), r"denoiser returned shape \(\d+, 3\) for input shape"),
    "integer dtype": (lambda out: out.long(), r"denoiser returned dtype torch\.int64 for an input of dtype"),
    "complex dtype": (lambda out: out.to(torch.complex64), r"returned dtype torch\.complex64 for an input of dtype"),
    "wrong device": (lambda out: out.to("meta"), r"denoiser returned a tensor on meta, expected cpu"),
    "NaN": (lambda out: out.index_fill(1, torch.tensor([1]), math.nan), r"denoiser returned NaN/Inf"),
    "Inf": (lambda out: out.index_fill(1, torch.tensor([2]), -math.inf), r"denoiser returned NaN/Inf"),
    "not a tensor": (lambda out: out.tolist(), r"denoiser must return a torch\.Tensor, got list"),
}


@settings(FEW, max_examples=64)
@given(name=st.sampled_from(solver_names()), fault=st.sampled_from(sorted(FAULTS)), data=st.data())
def test_a_faulty_denoiser_output_names_the_problem_the_step_and_the_sigma(name, fault, data):
    solver = get_solver(name)
    sigmas = grid(5)
    calls = 1 + 4 if solver.adaptive else solver.nfe(5)
    bad_call = data.draw(st.integers(1, calls), label="bad call")
    corrupt, problem_pattern = FAULTS[fault]
    steps_done: list[int] = []
    seen: dict[str, float | int] = {}

    def faulty(x, sigma):
        out = PROBLEM(x, sigma)
        seen["calls"] = seen.get("calls", 0) + 1
        if seen["calls"] != bad_call:
            return out
        seen.update(sigma=sigma.reshape(-1)[0].item(), step=len(steps_done))
        return corrupt(out)

    term = probflow.ReverseSDE(faulty) if solver.term_kind == "sde" else faulty
    with warnings.catch_warnings():
        # torchdiffeq's implicit Adams may warn that its corrector did not converge once the output is corrupt.
        warnings.filterwarnings("ignore", "Functional iteration did not converge")
        message = expect(f"denoiser {fault}", DenoiserOutputError, problem_pattern,
                         lambda: probflow.solve(term, solver, start_state(3, 3), sigmas, callback=steps_done.append,
                                                generator=probflow.seed_generators(range(3))))
    where = re.search(r"at step (\d+), sigma=(\S+?)(?: \(|$)", message)
    assert where is not None, message
    step, sigma = int(where.group(1)), float(where.group(2))
    assert sigma == float(f"{seen['sigma']:.6g}"), message
    if name.startswith("torchdiffeq:"):  # the integration runs inside step 0; the error names sigma's interval
        assert sigmas[step + 1] * (1 - 1e-9) <= seen["sigma"] <= sigmas[step], message  # to a stage's rounding
    else:
        assert step == seen["step"], message


# --- names and seeds ------------------------------------------------------------------------------------------

KNOWN_FAMILIES = set(SOLVERS) | set(ALIASES)


@FEW
@given(name=st.one_of(
    st.text(max_size=12).filter(lambda n: n.partition(":")[0] not in KNOWN_FAMILIES),
    st.builds(lambda family, argument: f"{family}:{argument}", st.sampled_from(["rk", "torchdiffeq", "torchsde"]),
              st.text("abcxyz_9", min_size=1, max_size=6)),
    st.builds(lambda family, argument: f"{family}:{argument}",
              st.sampled_from(sorted(KNOWN_FAMILIES - {"rk", "torchdiffeq", "torchsde"})),
              st.text(min_size=1, max_size=4)),
))
def test_unknown_solver_names_are_refused_naming_the_name(name):
    family, _, argument = name.partition(":")
    bad_part = argument if family in ("rk", "torchdiffeq", "torchsde") else name
    expect("solver name", (UnknownSolverError, SolverConfigError), re.escape(repr(bad_part)),
           lambda: get_solver(name))


@FEW
@given(name=st.one_of(st.none(), st.integers(), st.floats(), st.lists(st.text(max_size=2), max_size=2)))
def test_a_non_string_solver_name_is_refused(name):
    expect("solver name", UnknownSolverError, r"a solver spec must be a non-empty string, got ", lambda: get_solver(name))


@st.composite
def bad_seed_specs(draw):
    start = draw(st.integers(0, 1000))
    return draw(st.sampled_from([
        (f"{start + 1 + draw(st.integers(0, 50))}-{start}", r"is reversed"),
        (f"{start},{start}", rf"seed {start} appears twice"),
        (f"0-{start + 2},{start + 1}", rf"seed {start + 1} appears twice"),
        (f"-{start}", r"bad seed"),
        (f"{start}-", r"bad seed"),
        (f"{start},,{start + 1}", r"bad seed ''"),
        (f"{start}x", rf"bad seed '{start}x'"),
        ("", r"bad seed ''"),
        (f"{2**63 + start}", r"is above the largest seed"),
    ]))


@FEW
@given(case=bad_seed_specs())
def test_bad_seed_specifications_are_refused_naming_the_seed(case):
    spec, pattern = case
    expect("seed list", SeedSpecError, pattern, lambda: parse_seeds(spec))


@FEW
@given(batch_size=st.one_of(st.integers(-5, 0), st.floats(0.5, 4.5), st.just("8")))
def test_a_bad_batch_size_is_refused(batch_size, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("batch")
    expect("batch size", SolverConfigError, r"batch_size must be a positive integer",
           lambda: generate(PROBLEM, [0, 1], out_dir, nfe=3, batch_size=batch_size))
    assert not list(out_dir.iterdir())  # refused before touching the directory
