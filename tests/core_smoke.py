"""The core install's smoke test: run in a fresh venv with only ``pip install torch==2.13.0 && pip install -e .``
(no extras), as ``.ci/run`` does. The library solves, samples and measures orders; the application says in one line
which extra it needs. Not collected by pytest (its name does not start with ``test_``): the full suite needs the
``dev`` extra."""

from __future__ import annotations

import importlib
import subprocess
import sys

import torch

import probflow
from probflow.denoisers import Gaussian
from probflow.schedules import karras

OPTIONAL = ("matplotlib", "sklearn", "diffusers", "PIL")


def main() -> None:
    leaked = sorted(name for name in sys.modules if name.split(".")[0] in OPTIONAL)
    assert not leaked, f"import probflow imported optional packages: {leaked}"

    gaussian = Gaussian(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), 0.3)
    x = 80.0 * torch.randn(16, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    solution = probflow.solve(gaussian, "heun", x, karras(30, 0.002, 80.0))
    exact = gaussian.exact_flow(x, 80.0, 0.0)
    assert solution.nfe == 59 and float((solution.x - exact).abs().max()) < 0.05, float((solution.x - exact).abs().max())

    samples = probflow.sample(gaussian, torch.randn(32, 3, dtype=torch.float64), nfe=10)
    assert samples.shape == (32, 3) and torch.isfinite(samples).all()

    estimate = probflow.convergence.estimate_order(probflow.solvers.Heun(), gaussian, x, steps=(32, 64, 128))
    assert estimate.within(0.1), estimate.summary()

    from probflow.integrations.k_diffusion import sampler

    k_style = sampler("heun")(gaussian, x, karras(30, 0.002, 80.0), disable=True)
    assert torch.allclose(k_style, solution.x, rtol=0, atol=1e-12), "the k-diffusion-style sampler is not solve"
    try:
        importlib.import_module("probflow.integrations.diffusers")
    except probflow.errors.MissingDependencyError as error:
        assert "pip install 'probflow[diffusers]'" in str(error), str(error)
    else:
        raise AssertionError("probflow.integrations.diffusers imported without diffusers installed")

    listing = subprocess.run([sys.executable, "-m", "probflow", "solvers"], capture_output=True, text=True)
    assert listing.returncode == 0 and "exp_adams" in listing.stdout, listing.stderr
    demo = subprocess.run([sys.executable, "-m", "probflow", "demo", "--quick", "--out", "core-smoke-report"],
                          capture_output=True, text=True)
    lines = demo.stderr.strip().splitlines()
    assert demo.returncode == 2 and len(lines) == 1 and "pip install 'probflow[apps]'" in lines[0], demo.stderr
    print(f"core smoke test passed: solve (NFE {solution.nfe}), sample, order {estimate.order:.2f}, "
          f"k-diffusion-style sampler, CLI without extras: {lines[0]}")


if __name__ == "__main__":
    main()
