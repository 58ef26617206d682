"""The bundled digits: scaling, shape, a deterministic stratified split."""

import numpy as np
import pytest
import torch

from probflow.data import load_digits


def test_digits_scaling_matches_sklearn_pixels():
    from sklearn.datasets import load_digits as sklearn_load_digits

    images, labels = load_digits("all", dtype=torch.float64)
    reference = sklearn_load_digits()
    assert images.shape == (1797, 1, 8, 8)
    np.testing.assert_allclose(images[:, 0].numpy(), reference.images / 16 * 2 - 1)
    np.testing.assert_array_equal(labels.numpy(), reference.target)
    assert images.min() == -1 and images.max() == 1


def test_digits_split_is_disjoint_complete_and_stratified():
    all_images, all_labels = load_digits("all", dtype=torch.float64)
    train_images, train_labels = load_digits("train", dtype=torch.float64)
    test_images, test_labels = load_digits("test", dtype=torch.float64)
    assert train_images.shape == (1438, 1, 8, 8) and test_images.shape == (359, 1, 8, 8)
    assert train_images.dtype == torch.float64
    # Every image of "all" lands in exactly one split: compare the multisets of (image, label) rows.
    def rows(images, labels):
        return sorted(map(tuple, torch.cat([images.flatten(1), labels[:, None].double()], 1).tolist()))
    assert rows(all_images, all_labels) == sorted(rows(train_images, train_labels) + rows(test_images, test_labels))
    class_fraction = test_labels.bincount(minlength=10).double() / all_labels.bincount(minlength=10).double()
    assert bool(((class_fraction - 0.2).abs() < 0.01).all())


def test_digits_split_is_deterministic():
    first, second = load_digits("test"), load_digits("test")
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_digits_returns_independent_tensors():
    images, _ = load_digits("test")
    images.zero_()
    assert load_digits("test")[0].abs().sum() > 0


def test_digits_unknown_split_raises():
    with pytest.raises(ValueError, match="split must be 'train', 'test' or 'all'"):
        load_digits("validation")
