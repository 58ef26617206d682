"""KID: the unbiased MMD^2 estimator, the subset rule, and its behaviour on equal and shifted distributions."""

import itertools

import numpy as np
import pytest

from probflow.metrics import kid, unbiased_mmd2


def test_unbiased_mmd2_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)) + 0.5

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    within_x = np.mean([k(x[i], x[j]) for i, j in itertools.permutations(range(5), 2)])
    within_y = np.mean([k(y[i], y[j]) for i, j in itertools.permutations(range(4), 2)])
    across = np.mean([k(a, b) for a in x for b in y])
    assert unbiased_mmd2(x, y) == pytest.approx(within_x + within_y - 2 * across, rel=1e-12)


def test_kid_default_subset_count_follows_lesson_rule():
    rng = np.random.default_rng(1)
    assert kid(rng.standard_normal((120, 4)), rng.standard_normal((500, 4))).num_subsets == 4
    assert kid(rng.standard_normal((501, 4)), rng.standard_normal((600, 4))).num_subsets == 11


def test_kid_mean_is_average_of_contiguous_chunks():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((40, 3)), rng.standard_normal((40, 3))
    result = kid(x, y, num_subsets=4)
    chunks = [unbiased_mmd2(x[i : i + 10], y[i : i + 10]) for i in range(0, 40, 10)]
    assert result.mean == pytest.approx(np.mean(chunks), rel=1e-12)
    assert result.std == pytest.approx(np.std(chunks, ddof=1), rel=1e-12)


def test_kid_is_near_zero_for_same_distribution_and_positive_for_shifted():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((1000, 8)), rng.standard_normal((1000, 8))
    same = kid(x, y)
    assert abs(same.mean) < 3 * same.std
    shifted = kid(x, y + 0.5)
    assert shifted.mean > 3 * shifted.std > 0


def test_kid_rejects_too_many_subsets_and_mismatched_dimensions():
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="subsets of at least 2"):
        kid(rng.standard_normal((6, 2)), rng.standard_normal((6, 2)), num_subsets=4)
    with pytest.raises(ValueError, match="feature dimensions differ"):
        kid(rng.standard_normal((10, 2)), rng.standard_normal((10, 3)))
