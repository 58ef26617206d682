"""Fashion-MNIST loading from tiny IDX files written by the test: scaling, padding and missing-file errors."""

import gzip
import struct

import numpy as np
import pytest
import torch

from probflow.data import load_fashion_mnist


def write_idx(path, array: np.ndarray, *, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", size) for size in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)


@pytest.fixture
def tiny_images():
    rng = np.random.RandomState(0)
    return rng.randint(0, 256, size=(5, 28, 28)).astype(np.uint8), np.array([3, 1, 4, 1, 5], dtype=np.uint8)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("split, prefix", [("train", "train"), ("test", "t10k")])
def test_load_fashion_mnist_scales_and_zero_pads_to_32(tmp_path, tiny_images, compress, split, prefix):
    images, labels = tiny_images
    write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", images, compress=compress)
    write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels, compress=compress)
    x, y = load_fashion_mnist(tmp_path, split)
    assert x.shape == (5, 1, 32, 32) and x.dtype == torch.float32
    expected = torch.tensor(images, dtype=torch.float64) / 255 * 2 - 1
    torch.testing.assert_close(x[:, 0, 2:30, 2:30].double(), expected, rtol=0, atol=1e-6)
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert bool((x[:, 0][:, border] == -1).all())
    assert y.tolist() == labels.tolist() and y.dtype == torch.int64


def test_load_fashion_mnist_honours_scale_and_pad_to(tmp_path, tiny_images):
    images, labels = tiny_images
    write_idx(tmp_path / "train-images-idx3-ubyte", images, compress=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, compress=False)
    x, _ = load_fashion_mnist(tmp_path, pad_to=28, scale=(-0.5, 0.5))
    assert x.shape == (5, 1, 28, 28)
    expected = torch.tensor(images, dtype=torch.float64) / 255 - 0.5
    torch.testing.assert_close(x[:, 0].double(), expected, rtol=0, atol=1e-6)


def test_missing_file_error_names_expected_files_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_fashion_mnist(tmp_path, "test")
    message = str(error.value)
    assert "'t10k-images-idx3-ubyte'" in message and "'t10k-images-idx3-ubyte.gz'" in message
    assert str(tmp_path) in message


def test_mismatched_label_count_raises(tmp_path, tiny_images):
    images, labels = tiny_images
    write_idx(tmp_path / "train-images-idx3-ubyte", images, compress=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:4], compress=True)
    with pytest.raises(ValueError, match=r"expected shape \[5\]"):
        load_fashion_mnist(tmp_path)


def test_unknown_split_raises(tmp_path):
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_fashion_mnist(tmp_path, "validation")
