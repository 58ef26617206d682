"""The grid Brownian path: additivity of increments and Levy areas, its law, and one path for every solver."""

from __future__ import annotations

import pytest
import torch

from probflow import ReverseSDE, solve
from probflow.convergence import GridBrownian, GridBrownianNoise, karras_schedule
from probflow.denoisers import Gaussian
from probflow.solvers import EulerMaruyama, TorchSDE

TAUS = torch.tensor([-5.0, -3.5, -2.0, -1.2, -0.4, -0.1], dtype=torch.float64)


def _path(batch: int = 3, seed: int = 0) -> GridBrownian:
    return GridBrownian(TAUS, torch.Size([batch, 2]), torch.Generator().manual_seed(seed))


def test_increments_over_a_union_of_intervals_add_up() -> None:
    path = _path()
    whole = path(TAUS[0], TAUS[5])
    parts = sum(path(a, b) for a, b in zip(TAUS[:-1], TAUS[1:]))
    torch.testing.assert_close(whole, parts, rtol=1e-12, atol=1e-12)


def test_space_time_levy_areas_compose_as_integrals_of_the_path() -> None:
    # U_ac = integral_a^c (W_s - W_a) ds = U_ab + U_bc + (W_b - W_a)(c - b).
    path = _path()
    a, b, c = TAUS[0], TAUS[2], TAUS[5]
    w_ab, u_ab = path(a, b, return_U=True)
    _, u_bc = path(b, c, return_U=True)
    _, u_ac = path(a, c, return_U=True)
    torch.testing.assert_close(u_ac, u_ab + u_bc + w_ab * float(c - b), rtol=1e-12, atol=1e-12)


def test_increments_and_areas_have_the_brownian_law() -> None:
    # W(tb) - W(ta) ~ N(0, h) and, given it, U - h W / 2 ~ N(0, h^3 / 12), independent of W.
    path = GridBrownian(TAUS, torch.Size([200_000]), torch.Generator().manual_seed(1))
    h = float(TAUS[4] - TAUS[1])
    increment, area = path(TAUS[1], TAUS[4], return_U=True)
    bridge_area = area - 0.5 * h * increment
    assert float(increment.mean()) == pytest.approx(0.0, abs=4 * (h / 200_000) ** 0.5)
    assert float(increment.var()) == pytest.approx(h, rel=0.02)
    assert float(bridge_area.var()) == pytest.approx(h**3 / 12, rel=0.02)
    assert float((bridge_area * increment).mean()) == pytest.approx(0.0, abs=0.02 * h**2)


def test_queries_off_the_grid_are_refused() -> None:
    with pytest.raises(ValueError, match="not a point of the grid"):
        _path()(TAUS[0], -2.5)
    with pytest.raises(ValueError, match="increments"):
        _path()(TAUS[0])


def test_taus_must_increase() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        GridBrownian(TAUS.flip(0), torch.Size([1]))


def test_a_path_too_large_for_memory_is_refused_before_sampling() -> None:
    with pytest.raises(ValueError, match="GiB: use fewer samples"):
        GridBrownian(torch.linspace(-80.0, -0.002, 4097, dtype=torch.float64), torch.Size([65536, 64]))


def test_noise_increment_is_the_standardised_path_increment() -> None:
    sigmas = -TAUS
    noise = GridBrownianNoise(sigmas, torch.Size([3, 2]), torch.Generator().manual_seed(0))
    expected = noise.brownian(-sigmas[1], -sigmas[3]) / float(sigmas[1] - sigmas[3]) ** 0.5
    torch.testing.assert_close(noise.increment(float(sigmas[1]), float(sigmas[3])), expected)


def test_torchsde_euler_and_the_hand_written_euler_maruyama_read_one_path() -> None:
    # Both are Euler-Maruyama on the same SDE; on one path they must agree to round-off, on sub-grids too.
    gaussian = Gaussian([0.5, -1.0], [0.3, 0.8])
    fine = karras_schedule(20.0, 0.05, 7.0)(64)
    x = 20.0 * torch.randn(4, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    noise = GridBrownianNoise(fine, x.shape, torch.Generator().manual_seed(3))
    for grid in (fine, fine[::4]):
        hand = solve(ReverseSDE(gaussian), EulerMaruyama(), x, grid, generator=noise).x
        backend = solve(ReverseSDE(gaussian), TorchSDE("euler"), x, grid, generator=noise).x
        torch.testing.assert_close(hand, backend, rtol=1e-10, atol=1e-10)
