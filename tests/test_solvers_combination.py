"""The stepper's linear combinations equal the explicit sums and never touch their inputs."""

from __future__ import annotations

import torch

from probflow.solvers.combination import accumulate_, add_weighted


def _tensors(count: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(count)
    return [torch.randn(2, 3, generator=generator, dtype=torch.float64) for _ in range(count)]


def test_add_weighted_equals_the_explicit_sum_and_leaves_its_inputs_alone():
    base, *terms = _tensors(4)
    weights = [0.5, -2.0, 1e-3]
    before = [t.clone() for t in (base, *terms)]
    result = add_weighted(base, weights, terms)
    expected = base + sum(w * t for w, t in zip(weights, terms))
    torch.testing.assert_close(result, expected, rtol=1e-15, atol=1e-15)
    assert all(torch.equal(t, saved) for t, saved in zip((base, *terms), before))
    assert result is not base


def test_add_weighted_stops_at_the_shorter_input_and_returns_the_base_without_terms():
    base, first, second = _tensors(3)
    torch.testing.assert_close(add_weighted(base, [2.0, 3.0, 4.0], [first]), base + 2.0 * first)
    torch.testing.assert_close(add_weighted(base, [2.0], [first, second]), base + 2.0 * first)
    assert add_weighted(base, [], [first]) is base


def test_accumulate_adds_into_the_given_tensor():
    result, first, second = _tensors(3)
    expected = result + 0.25 * first - second
    assert accumulate_(result, [0.25, -1.0], [first, second]) is result
    torch.testing.assert_close(result, expected, rtol=1e-15, atol=1e-15)
