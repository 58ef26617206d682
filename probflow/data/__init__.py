"""Datasets for training and evaluating denoisers, read from local files only (nothing downloads)."""

from probflow.data.digits import DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED, load_digits
from probflow.data.fashion_mnist import load_fashion_mnist
from probflow.data.idx import read_idx

__all__ = ["DIGITS_SPLIT_SEED", "DIGITS_TEST_FRACTION", "load_digits", "load_fashion_mnist", "read_idx"]
