"""Conditioning in generation: each seed's model_kwargs rows follow it through batches, shards and resumes, and a
resume with other conditioning is refused."""

from __future__ import annotations

import json

import pytest
import torch

from probflow.errors import InvalidArgumentError, OutputDirError
from probflow.generation import SamplingPlan, generate, load_samples, sample_in_memory
from probflow.generation import shards as shard_store
from probflow.solvers import EulerAncestral
from tests.test_generation_toys import SHIFTED

SEEDS = [3, 11, 4, 0, 25, 7, 9]
SHIFTS = torch.tensor([0.5, -1.0, 2.0, 0.0, 1.5, -0.5, 3.0])


def shifts_for(seeds):
    """The shifts of ``seeds``, aligned with them: seed ``SEEDS[i]`` always has ``SHIFTS[i]``."""
    by_seed = dict(zip(SEEDS, SHIFTS.tolist()))
    return {"shift": torch.tensor([by_seed[seed] for seed in seeds])}


@pytest.mark.parametrize("solver", [None, EulerAncestral()], ids=repr)
def test_each_seed_keeps_its_conditioning_through_batches_and_seed_order(tmp_path, solver):
    plan = SamplingPlan.build(SHIFTED, nfe=6, solver=solver)
    one_by_one = torch.stack([plan.sample([seed], shifts_for([seed]))[0] for seed in SEEDS])
    seeds, in_memory = sample_in_memory(plan, SEEDS, batch_size=3, model_kwargs=shifts_for(SEEDS))
    order = sorted(range(len(SEEDS)), key=SEEDS.__getitem__)
    assert seeds.tolist() == sorted(SEEDS) and torch.equal(in_memory, one_by_one[order])
    reversed_seeds = SEEDS[::-1]
    generate(SHIFTED, reversed_seeds, tmp_path, nfe=6, solver=solver, batch_size=2,
             model_kwargs=shifts_for(reversed_seeds))
    assert torch.equal(load_samples(tmp_path)[1], in_memory)
    unconditioned = plan.sample(SEEDS, {"shift": torch.zeros(len(SEEDS))})
    assert not torch.allclose(unconditioned, one_by_one)


def test_a_resume_with_other_conditioning_is_refused(tmp_path):
    first = generate(SHIFTED, SEEDS[:4], tmp_path, nfe=5, batch_size=2, model_kwargs=shifts_for(SEEDS[:4]))
    again = generate(SHIFTED, SEEDS[:4], tmp_path, nfe=5, batch_size=2, model_kwargs=shifts_for(SEEDS[:4]))
    extended = generate(SHIFTED, SEEDS, tmp_path, nfe=5, batch_size=2, model_kwargs=shifts_for(SEEDS))
    assert (first.generated, again.skipped, extended.generated) == (4, 4, 3)
    config = json.loads((tmp_path / "run.json").read_text())["config"]
    assert config["conditioning"] == ["shift"]
    records = [record for records in shard_store.read_all_manifests(tmp_path).values() for record in records]
    assert all(record.conditioning is not None and len(record.conditioning) == len(record.seeds) for record in records)
    other = shifts_for(SEEDS)
    other["shift"][1] += 1.0  # seed 11, already done
    with pytest.raises(OutputDirError, match="seed 11 is already in the output directory, sampled with other"):
        generate(SHIFTED, SEEDS, tmp_path, nfe=5, batch_size=2, model_kwargs=other)
    with pytest.raises(OutputDirError, match="conditioning"):
        generate(SHIFTED, SEEDS, tmp_path, nfe=5, batch_size=2)
    with pytest.raises(OutputDirError, match=r"conditioning: \['shift'\] there, \['scale', 'shift'\] now"):
        generate(SHIFTED, SEEDS, tmp_path, nfe=5, batch_size=2, model_kwargs={**shifts_for(SEEDS), "scale": 2.0})


def test_a_shared_entry_is_part_of_every_seeds_conditioning(tmp_path):
    shared = {"shift": torch.tensor(0.5)}  # not per sample: every seed's
    generate(SHIFTED, [1, 2], tmp_path, nfe=5, model_kwargs=shared)
    generate(SHIFTED, [1, 2, 3], tmp_path, nfe=5, model_kwargs=shared)
    with pytest.raises(OutputDirError, match="seed 1 is already"):
        generate(SHIFTED, [1, 2, 3, 4], tmp_path, nfe=5, model_kwargs={"shift": torch.tensor(0.25)})


def test_a_concurrent_commit_with_other_conditioning_is_refused(tmp_path):
    generate(SHIFTED, [1, 2], tmp_path, nfe=5, model_kwargs={"shift": torch.tensor([0.0, 1.0])})
    writer = shard_store.ShardWriter(tmp_path, shard_store.Ranks(), json.loads((tmp_path / "run.json").read_text())["config"])
    with pytest.raises(OutputDirError, match="committed meanwhile"):
        writer.write([2, 3], torch.zeros(2, 1, 4, 4), ["another digest", "x"])


def test_conditioning_that_cannot_be_recorded_is_refused(tmp_path):
    with pytest.raises(InvalidArgumentError, match="model_kwargs\\['labels'\\] is a list"):
        generate(SHIFTED, [1, 2], tmp_path, nfe=5, model_kwargs={"labels": [1, 2]})
    with pytest.raises(InvalidArgumentError, match="mapping"):
        sample_in_memory(SamplingPlan.build(SHIFTED, nfe=5), [1, 2], model_kwargs=[("shift", 1.0)])


def test_a_one_row_entry_resumes_whether_one_seed_or_several_were_asked_for(tmp_path):
    # With one seed a [1] tensor is per sample, with two it is shared: the network sees the same row either way.
    shift = {"shift": torch.tensor([0.5])}
    first = generate(SHIFTED, [1], tmp_path, nfe=5, model_kwargs=shift)
    extended = generate(SHIFTED, [1, 2], tmp_path, nfe=5, model_kwargs=shift)
    assert (first.generated, extended.skipped, extended.generated) == (1, 1, 1)
    with pytest.raises(OutputDirError, match="seed 1 is already in the output directory, sampled with other"):
        generate(SHIFTED, [1, 2, 3], tmp_path, nfe=5, model_kwargs={"shift": torch.tensor([1.0])})


@pytest.mark.parametrize("conditioning", [["abc"], "abcdef", [1, 2]])
def test_a_manifest_whose_digests_do_not_match_its_seeds_is_refused(tmp_path, conditioning):
    # Truncated or mistyped digests would drop seeds from the done set, and they would be sampled twice.
    generate(SHIFTED, SEEDS[:2], tmp_path, nfe=5, batch_size=2, model_kwargs=shifts_for(SEEDS[:2]))
    manifest = shard_store.manifest_path(tmp_path, 0)
    content = json.loads(manifest.read_text())
    content["shards"][0]["conditioning"] = conditioning
    manifest.write_text(json.dumps(content))
    with pytest.raises(OutputDirError, match="conditioning must list one digest per seed"):
        generate(SHIFTED, SEEDS[:3], tmp_path, nfe=5, batch_size=2, model_kwargs=shifts_for(SEEDS[:3]))
