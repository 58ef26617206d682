"""Two gloo processes under torchrun give the same bits as one process: sampling, shards and features.

One launch of ``python -m torch.distributed.run --standalone --nproc_per_node=2`` (two fresh interpreters,
one intra-op thread per rank; 10 to 25 s on 2 cores, most of it importing torch) runs ``RANK_SCRIPT``: first
the ``probflow sample`` command line exactly as ``torchrun -m probflow sample ...`` would (it initialises and
destroys its own gloo group from torchrun's environment), then, in a second group, in-memory sampling with
every stochastic solver, conditioned sampling (model_kwargs aligned with the seeds) and feature extraction. The second group meets through a fresh file store: re-creating the default group on torchrun's store would
reuse the first group's keys (torch resets its group counter on destroy) and race with stale peer addresses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from probflow.generation import SamplingPlan, generate, load_samples, sample_in_memory, shard_features
from probflow.generation import shards as shard_store
from probflow.solvers import EulerAncestral, get_solver
from probflow.solvers.torchsde_backend import METHODS as TORCHSDE_METHODS
from tests.test_generation_toys import MIXTURE, SHIFTED

REPO = Path(__file__).resolve().parents[1]
SEEDS = list(range(13))
BATCH_SIZE = 3
NFE = 6
WORLD_SIZE = 2
#: Each seed's conditioning for SHIFTED: seed i has shift SHIFTS[i].
SHIFTS = torch.linspace(-1.0, 1.0, len(SEEDS))

#: Every stochastic family with its noise switched on, and every torchsde method: registry name -> parameters.
STOCHASTIC = {"euler_ancestral": {}, "edm_stochastic": {"s_churn": 10.0}, "ddim": {"eta": 0.7}, "euler_maruyama": {},
              **{f"torchsde:{method}": {} for method in TORCHSDE_METHODS}}

RANK_SCRIPT = """
import os
import sys
import numpy as np
import torch
import torch.distributed as dist
torch.set_num_threads(1)
from probflow.cli import main
from probflow.generation import current_ranks, sample_in_memory, shard_features
from tests.test_distributed import BATCH_SIZE, NFE, SEEDS, SHIFTS, STOCHASTIC, conditioned_plan, linear_features, plan_for

out_dir, result = sys.argv[1], sys.argv[2]
exit_code = main(["sample", "--denoiser", "tests.test_generation_toys:MIXTURE", "--seeds", f"0-{SEEDS[-1]}",
                  "--batch-size", str(BATCH_SIZE), "--nfe", str(NFE), "--solver", "euler_ancestral",
                  "--out", out_dir + "/shards", "--npz", out_dir + "/all.npz"])
assert exit_code == 0
dist.init_process_group("gloo", init_method="file://" + out_dir + "/store", rank=int(os.environ["RANK"]),
                        world_size=int(os.environ["WORLD_SIZE"]))
ranks = current_ranks()
in_memory = {name: sample_in_memory(plan_for(name), SEEDS, batch_size=BATCH_SIZE) for name in STOCHASTIC}
in_memory["conditioned"] = sample_in_memory(conditioned_plan(), SEEDS, batch_size=BATCH_SIZE,
                                            model_kwargs={"shift": SHIFTS})
feature_seeds, features = shard_features(out_dir + "/shards", linear_features)
if ranks.is_main:
    np.savez(result, world_size=ranks.world_size, feature_seeds=feature_seeds.numpy(), features=features.numpy(),
             **{"seeds " + name: seeds.numpy() for name, (seeds, _) in in_memory.items()},
             **{"samples " + name: samples.numpy() for name, (_, samples) in in_memory.items()})
dist.destroy_process_group()
"""


def plan_for(name: str) -> SamplingPlan:
    """The registry's solver ``name`` with its noise on, over four steps (the last into sigma = 0)."""
    solver = get_solver(name, **STOCHASTIC[name])
    return SamplingPlan.build(MIXTURE, nfe=3 * solver.calls_per_step + 1, solver=solver)


def conditioned_plan() -> SamplingPlan:
    """Euler-ancestral on SHIFTED, conditioned per seed."""
    return SamplingPlan.build(SHIFTED, nfe=NFE, solver=EulerAncestral())


def linear_features(images: torch.Tensor) -> torch.Tensor:
    """A fixed linear feature map, standing in for the classifier."""
    weights = torch.linspace(-1.0, 1.0, images[0].numel() * 5, dtype=images.dtype).reshape(-1, 5)
    return images.flatten(1) @ weights


def torchrun(script: Path, *arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={WORLD_SIZE}",
               str(script), *arguments]
    completed = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=180)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("two_ranks")
    script = out_dir / "ranks.py"
    script.write_text(RANK_SCRIPT)
    completed = torchrun(script, str(out_dir), str(out_dir / "result.npz"))
    return out_dir, completed.stdout


def test_two_ranks_write_the_same_samples_as_one_process(two_rank_run, tmp_path):
    out_dir, stdout = two_rank_run
    assert "13 generated on 2 process(es)" in stdout
    generate(MIXTURE, SEEDS, tmp_path, nfe=NFE, solver=EulerAncestral(), batch_size=BATCH_SIZE)
    seeds, samples = load_samples(out_dir / "shards")
    single_seeds, single = load_samples(tmp_path)
    assert seeds.tolist() == single_seeds.tolist() == SEEDS
    assert torch.equal(samples, single)
    # Batches {0,1,2}, {3,4,5}, ... alternate between the ranks, and each rank wrote only its own manifest.
    manifests = shard_store.read_all_manifests(out_dir / "shards")
    per_rank = [[record.seeds for record in records] for records in manifests.values()]
    assert per_rank == [[(0, 1, 2), (6, 7, 8), (12,)], [(3, 4, 5), (9, 10, 11)]]
    written = np.load(out_dir / "all.npz")
    assert written["seeds"].tolist() == SEEDS and np.array_equal(written["samples"], single.numpy())


def test_conditioning_follows_its_seeds_on_two_ranks(two_rank_run):
    result = np.load(two_rank_run[0] / "result.npz")
    seeds, samples = sample_in_memory(conditioned_plan(), SEEDS, batch_size=BATCH_SIZE, model_kwargs={"shift": SHIFTS})
    assert result["seeds conditioned"].tolist() == seeds.tolist() == SEEDS
    assert np.array_equal(result["samples conditioned"], samples.numpy())
    alone = conditioned_plan().sample([SEEDS[-1]], {"shift": SHIFTS[-1:]})
    assert torch.equal(samples[-1:], alone)


def test_two_ranks_extract_the_same_features_as_one_process(two_rank_run):
    out_dir, _ = two_rank_run
    result = np.load(out_dir / "result.npz")
    assert int(result["world_size"]) == WORLD_SIZE
    feature_seeds, features = shard_features(out_dir / "shards", linear_features)
    assert result["feature_seeds"].tolist() == feature_seeds.tolist() == SEEDS
    assert np.array_equal(result["features"], features.numpy())
    # Features are per shard; one call on all samples differs from the per-shard calls by rounding at most.
    assert torch.allclose(features, linear_features(load_samples(out_dir / "shards")[1]), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", list(STOCHASTIC))
def test_every_stochastic_solver_samples_the_same_bits_on_two_ranks_as_on_one(two_rank_run, name):
    result = np.load(two_rank_run[0] / "result.npz")
    seeds, samples = sample_in_memory(plan_for(name), SEEDS, batch_size=BATCH_SIZE)
    assert result[f"seeds {name}"].tolist() == seeds.tolist() == SEEDS
    assert np.array_equal(result[f"samples {name}"], samples.numpy())
