"""Batched Lagrange-basis integrals against exact polynomial integration, and the per-grid weight tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probflow.solvers.exponential_adams import exponential_adams_weights
from probflow.solvers.quadrature import lagrange_integral_weights, multistep_weights


def _lagrange_basis(nodes: np.ndarray, j: int) -> np.polynomial.Polynomial:
    others = np.delete(nodes, j)
    numerator = np.polynomial.Polynomial.fromroots(others) if len(others) else np.polynomial.Polynomial([1.0])
    return numerator / np.prod(nodes[j] - others)


def exact_weights(nodes: np.ndarray, a: float, b: float) -> np.ndarray:
    """``integral_a^b l_j(t) dt`` by exact antiderivatives of the basis polynomials."""
    antiderivatives = [_lagrange_basis(nodes, j).integ() for j in range(len(nodes))]
    return np.array([p(b) - p(a) for p in antiderivatives])


def exact_exponential_weights(nodes: np.ndarray, a: float, b: float) -> np.ndarray:
    """``integral_a^b exp(t - b) l_j(t) dt`` from ``integral exp(t) p(t) dt = exp(t) sum_r (-1)^r p^(r)(t)``."""

    def antiderivative(p: np.polynomial.Polynomial, t: float) -> float:
        return math.exp(t - b) * sum((-1) ** r * p.deriv(r)(t) for r in range(p.degree() + 1))

    return np.array([antiderivative(p, b) - antiderivative(p, a)
                     for p in (_lagrange_basis(nodes, j) for j in range(len(nodes)))])


def _random_steps(seed: int, rows: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rows`` intervals ``[a, b]`` with ``count`` distinct nodes at or before ``a`` (multistep layout)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-3.0, 3.0, rows)
    b = a + rng.uniform(0.05, 2.0, rows)
    gaps = rng.uniform(0.1, 1.5, (rows, count - 1))
    nodes = a[:, None] - np.concatenate([np.zeros((rows, 1)), np.cumsum(gaps, axis=1)], axis=1)
    return nodes, a, b


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_batched_weights_equal_the_exact_integral_of_the_lagrange_basis(count):
    nodes, a, b = _random_steps(count, 20, count)
    weights = lagrange_integral_weights(nodes, a, b, num_points=count)
    expected = np.stack([exact_weights(n, lo, hi) for n, lo, hi in zip(nodes, a, b)])
    np.testing.assert_allclose(weights, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_exponential_weights_equal_the_exact_integral(count):
    nodes, a, b = _random_steps(10 + count, 20, count)
    weights = exponential_adams_weights("data", nodes, a, b)
    expected = np.stack([exact_exponential_weights(n, lo, hi) for n, lo, hi in zip(nodes, a, b)])
    np.testing.assert_allclose(weights, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_one_interval_is_the_unbatched_special_case():
    nodes, a, b = _random_steps(0, 3, 3)
    batched = lagrange_integral_weights(nodes, a, b)
    for row, (n, lo, hi) in enumerate(zip(nodes, a, b)):
        single = lagrange_integral_weights(n, lo, hi)
        assert single.shape == (3,)
        np.testing.assert_array_equal(single, batched[row])


def test_counts_use_only_the_first_nodes_and_give_the_others_zero_weight():
    nodes, a, b = _random_steps(1, 6, 4)
    counts = np.array([1, 2, 3, 4, 2, 1])
    weights = lagrange_integral_weights(nodes, a, b, counts)
    for row, count in enumerate(counts):
        np.testing.assert_allclose(weights[row, :count], exact_weights(nodes[row, :count], a[row], b[row]),
                                   rtol=1e-12, atol=1e-13)
        assert bool((weights[row, count:] == 0.0).all())


@settings(derandomize=True, max_examples=25, deadline=None)
@given(count=st.integers(1, 5), seed=st.integers(0, 2**16), degree_shift=st.integers(1, 5))
def test_weights_integrate_every_polynomial_of_degree_below_the_node_count(count, seed, degree_shift):
    nodes, a, b = _random_steps(seed, 1, count)
    polynomial = np.polynomial.Polynomial(np.random.default_rng(seed).normal(size=max(count - degree_shift, 0) + 1))
    weights = lagrange_integral_weights(nodes[0], a[0], b[0])
    exact = polynomial.integ()(b[0]) - polynomial.integ()(a[0])
    assert float(weights.numpy() @ polynomial(nodes[0])) == pytest.approx(exact, rel=1e-11, abs=1e-11)


@pytest.mark.parametrize("lead", [0, 1])
def test_multistep_weights_rows_equal_the_weights_of_each_step(lead):
    times = np.cumsum(np.random.default_rng(lead).uniform(0.1, 1.0, 12))
    counts = np.minimum(3, np.arange(11) + 1 + lead)
    counts[[4, 10]] = 0  # steps without weights (e.g. a Runge-Kutta step, the step into sigma = 0)
    scales = np.linspace(1.0, 2.0, 12)
    table = multistep_weights(times, counts, lagrange_integral_weights, lead=lead, node_scales=scales)
    assert table.shape == (11, 3)
    for i, count in enumerate(counts):
        nodes = [i + lead - j for j in range(count)]
        expected = lagrange_integral_weights(times[nodes], times[i], times[i + 1]).numpy() / scales[nodes]
        np.testing.assert_allclose(table[i, :count], expected, rtol=1e-13, atol=0)
        assert bool((table[i, count:] == 0.0).all())


def test_multistep_weights_of_a_grid_without_weighted_steps_are_zero():
    table = multistep_weights(np.array([2.0, 1.0, 0.5]), np.array([0, 0]), lagrange_integral_weights)
    np.testing.assert_array_equal(table, np.zeros((2, 1)))
