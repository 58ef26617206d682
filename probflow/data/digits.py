"""scikit-learn's bundled 8x8 handwritten digits (UCI optdigits test set), scaled to [-1, 1].

The 1797 images ship inside scikit-learn, so loading them never touches the network. Pixels hold
integers 0..16 and are mapped to ``pixel / 16 * 2 - 1``. The split is stratified by label and fixed:
for each class, a ``numpy.random.RandomState(DIGITS_SPLIT_SEED)`` permutation (whose stream numpy
keeps stable across releases) puts ``round(DIGITS_TEST_FRACTION * class_size)`` images in the test
split. Python's ``round`` (half to even) gives 1438 training and 359 test images.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import numpy as np
import torch

from probflow.errors import InvalidArgumentError
from probflow.extras import require

DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.2

Split = Literal["train", "test", "all"]


def _stratified_test_mask(labels: np.ndarray) -> np.ndarray:
    rng = np.random.RandomState(DIGITS_SPLIT_SEED)
    is_test = np.zeros(labels.shape[0], dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        chosen = rng.permutation(members)[: round(DIGITS_TEST_FRACTION * members.size)]
        is_test[chosen] = True
    return is_test


@cache
def _bundled_digits() -> tuple[np.ndarray, np.ndarray]:
    # Importing scikit-learn takes seconds, so the arrays are read once per process.
    datasets = require("sklearn.datasets", feature="the bundled digits data set (scikit-learn's)")
    bunch = datasets.load_digits()
    return bunch.images.astype(np.float64) / 16.0 * 2.0 - 1.0, bunch.target.astype(np.int64)


def load_digits(split: Split = "train", *, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(images, labels)``: images ``[N, 1, 8, 8]`` in [-1, 1], labels ``[N]`` (int64, 0..9).

    ``split`` is ``"train"`` (1438 images), ``"test"`` (359) or ``"all"`` (1797); see the module
    docstring for how the split is drawn.
    """
    if split not in ("train", "test", "all"):
        raise InvalidArgumentError(f"split must be 'train', 'test' or 'all', got {split!r}")
    images, labels = _bundled_digits()
    if split != "all":
        is_test = _stratified_test_mask(labels)
        keep = is_test if split == "test" else ~is_test
        images, labels = images[keep], labels[keep]
    return torch.tensor(images, dtype=dtype).unsqueeze(1), torch.tensor(labels)
