"""Checkpoints: model, Adam state, one-cycle schedule and history survive a save/load round trip."""

import dataclasses

import pytest
import torch
from safetensors.torch import load_file

from probflow.errors import CheckpointError, CheckpointMismatchError
from probflow.models import UNet, save_weights
from probflow.training import (
    TrainConfig,
    TrainingState,
    build_model,
    build_optimisation,
    checkpoint_path,
    load_checkpoint,
    model_from_checkpoint,
    read_checkpoint_metadata,
    recipes,
    save_checkpoint,
    train,
)

CONFIG = TrainConfig(objective="edm", channels=(8, 16), num_groups=4, steps=10, max_lr=1e-2)


def trained_three_steps():
    torch.manual_seed(0)
    model = build_model(CONFIG)
    optimizer, scheduler = build_optimisation(model, CONFIG)
    for _ in range(3):
        x = torch.randn(4, 1, 8, 8)
        loss = (model(x, torch.rand(4)) - x).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    return model, optimizer, scheduler


def test_checkpoint_round_trip_restores_model_optimizer_and_schedule(tmp_path):
    model, optimizer, scheduler = trained_three_steps()
    state = TrainingState(config=CONFIG, step=3, losses=torch.tensor([3.0, 2.0, 1.0]))
    path = save_checkpoint(
        tmp_path / "c.safetensors", model=model, optimizer=optimizer, scheduler=scheduler, state=state
    )

    fresh = build_model(CONFIG)
    fresh_optimizer, fresh_scheduler = build_optimisation(fresh, CONFIG)
    restored = load_checkpoint(path, model=fresh, optimizer=fresh_optimizer, scheduler=fresh_scheduler)
    assert restored.config == CONFIG and restored.step == 3
    assert torch.equal(restored.losses, state.losses)
    for (name, value), fresh_value in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(value, fresh_value), name
    for parameter, fresh_parameter in zip(model.parameters(), fresh.parameters()):
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(optimizer.state[parameter][key], fresh_optimizer.state[fresh_parameter][key])
    assert fresh_scheduler.get_last_lr() == scheduler.get_last_lr()
    assert fresh_optimizer.param_groups[0]["betas"][0] == optimizer.param_groups[0]["betas"][0]
    scheduler.step()
    fresh_scheduler.step()
    assert fresh_scheduler.get_last_lr() == scheduler.get_last_lr()


def test_model_from_checkpoint_rebuilds_the_trained_model(tmp_path):
    model, optimizer, scheduler = trained_three_steps()
    state = TrainingState(config=CONFIG, step=3, losses=torch.zeros(3))
    path = save_checkpoint(
        tmp_path / "c.safetensors", model=model, optimizer=optimizer, scheduler=scheduler, state=state
    )
    rebuilt, config = model_from_checkpoint(path)
    assert config == CONFIG and isinstance(rebuilt, UNet) and not rebuilt.training
    x, cond = torch.randn(2, 1, 8, 8), torch.rand(2)
    assert torch.equal(rebuilt(x, cond), model.eval()(x, cond))


def test_reading_a_weights_file_as_checkpoint_raises(tmp_path):
    path = save_weights(tmp_path / "w.safetensors", {"model": build_model(CONFIG)})
    with pytest.raises(CheckpointError, match="not a probflow training checkpoint"):
        read_checkpoint_metadata(path)


def test_a_truncated_newest_checkpoint_is_passed_over_and_the_rerun_replaces_it(tmp_path, monkeypatch):
    # What a kill during save_file left when checkpoints were written in place: resuming used to fail on it.
    tiny = TrainConfig(objective="edm", steps=2, channels=(8, 16), num_groups=4, batch_size=8)
    monkeypatch.setitem(recipes.RECIPES, "digits-edm", {"model": tiny})
    clean = load_file(recipes.build_recipe("digits-edm", tmp_path / "clean.safetensors", work_dir=tmp_path / "clean",
                                           checkpoint_every=1, progress=False))
    work = tmp_path / "work"
    train(tiny, work / "digits-edm" / "model", checkpoint_every=1, progress=False)
    newest = checkpoint_path(work / "digits-edm" / "model", 2)
    newest.write_bytes(newest.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"step-0000002\.safetensors: not a readable safetensors file"):
        load_checkpoint(newest, model=build_model(tiny))
    with pytest.warns(UserWarning, match=r"skipping an unreadable checkpoint: .*step-0000002\.safetensors"):
        out = recipes.build_recipe("digits-edm", tmp_path / "w.safetensors", work_dir=work, checkpoint_every=1,
                                   progress=False)
    resumed = load_file(out)
    assert resumed.keys() == clean.keys() and all(torch.equal(resumed[key], clean[key]) for key in clean)
    assert read_checkpoint_metadata(newest)["step"] == "2"


def test_resuming_from_a_checkpoint_of_another_run_is_a_checkpoint_error(tmp_path):
    model, optimizer, scheduler = trained_three_steps()
    state = TrainingState(config=CONFIG, step=3, losses=torch.zeros(3))
    path = save_checkpoint(tmp_path / "c.safetensors", model=model, optimizer=optimizer, scheduler=scheduler,
                           state=state)
    other_seed = dataclasses.replace(CONFIG, seed=1)
    with pytest.raises(CheckpointMismatchError, match=r"c\.safetensors was trained with .*seed=0\), which differs"):
        train(other_seed, tmp_path / "run", resume_from=path, progress=False)
