"""The training loop: the loss goes down, and a resumed run continues bit for bit."""

import pytest
import torch
from safetensors.torch import load_file

from probflow.training import TrainConfig, checkpoint_path, train

TINY_UNET = dict(channels=(8, 16), num_groups=4, batch_size=32)


def test_edm_training_loss_decreases_on_a_tiny_run(tmp_path):
    config = TrainConfig(objective="edm", sigma_data=0.75, steps=40, max_lr=1e-2, **TINY_UNET)
    losses = load_file(train(config, tmp_path, progress=False))["history.loss"]
    assert losses.shape == (40,)
    assert losses[-10:].mean() < 0.8 * losses[:10].mean()


@pytest.mark.parametrize("objective", ["edm", "noise-level"])
def test_resumed_run_equals_uninterrupted_run_bitwise(tmp_path, objective):
    config = TrainConfig(objective=objective, steps=8, max_lr=1e-2, **TINY_UNET)
    uninterrupted = load_file(train(config, tmp_path / "a", checkpoint_every=4, progress=False))
    halfway = checkpoint_path(tmp_path / "a", 4)
    resumed = load_file(train(config, tmp_path / "b", resume_from=halfway, progress=False))
    assert uninterrupted.keys() == resumed.keys()
    for key, value in uninterrupted.items():
        assert torch.equal(value, resumed[key]), key
    # The halfway weights differ from the final ones: the resumed run really trained.
    first_weight = next(key for key in uninterrupted if key.startswith("model."))
    assert not torch.equal(load_file(halfway)[first_weight], uninterrupted[first_weight])


def test_training_leaves_the_global_rng_untouched(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(TrainConfig(objective="edm", steps=2, **TINY_UNET), tmp_path, progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_resume_with_a_different_config_raises(tmp_path):
    config = TrainConfig(objective="edm", steps=4, **TINY_UNET)
    final = train(config, tmp_path, progress=False)
    with pytest.raises(ValueError, match="differs from"):
        other_seed = TrainConfig(objective="edm", steps=4, seed=1, **TINY_UNET)
        train(other_seed, tmp_path / "other", resume_from=final, progress=False)


def test_batch_larger_than_dataset_raises(tmp_path):
    with pytest.raises(ValueError, match="exceeds the 1438 training images"):
        config = TrainConfig(objective="edm", steps=1, channels=(8, 16), num_groups=4, batch_size=5000)
        train(config, tmp_path, progress=False)


def test_training_reads_fashion_mnist_from_idx_files(tmp_path):
    from tests.test_data_fashion_mnist import write_idx

    images = torch.randint(0, 256, (8, 28, 28), generator=torch.Generator().manual_seed(0)).numpy()
    write_idx(tmp_path / "train-images-idx3-ubyte", images, compress=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", images[:, 0, 0] % 10, compress=True)
    config = TrainConfig(objective="edm", dataset="fashion-mnist", data_root=str(tmp_path), data_scale=(-0.5, 0.5),
                         steps=2, channels=(8, 16), num_groups=4, batch_size=4)
    losses = load_file(train(config, tmp_path / "checkpoints", progress=False))["history.loss"]
    assert losses.shape == (2,) and bool(torch.isfinite(losses).all())
