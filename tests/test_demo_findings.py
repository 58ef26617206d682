"""The demo's findings paragraph and FID plot, from made-up sweep rows: winners per budget, overlapping intervals
read as a tie, the default sampler's losses, and solvers with identical samples grouped."""

from __future__ import annotations

from probflow.comparison import ComparisonRow
from probflow.demo.sampling import SweepPoint, findings, plot_fid_vs_nfe, solver_groups
from tests.figure_checks import assert_nothing_clipped, built_without_backend_change


def point(solver: str, budget: int, fid: float, low: float, high: float, same_as: str | None = None) -> SweepPoint:
    row = ComparisonRow(label=f"{solver} @ NFE {budget}", model="m", solver=solver, steps=budget, nfe=budget,
                        fid=fid, fid_low=low, fid_high=high, kid=0.0, kid_low=0.0, kid_high=0.0, samples=64,
                        wall_s=1.0, same_samples_as=same_as)
    return SweepPoint(solver, budget, row, f"{solver}-{budget}.png")


SWEEP = [
    point("dpmpp_2m", 6, 4.0, 3.5, 4.6), point("dpmpp_2m", 12, 2.2, 1.9, 2.5),
    point("recommended", 6, 8.4, 7.5, 9.3), point("recommended", 12, 2.4, 2.0, 2.8),
    point("ddim eta=1.0", 6, 6.5, 5.9, 7.2), point("ddim eta=1.0", 12, 2.3, 2.0, 2.6),
    point("euler_ancestral", 6, 6.5, 5.9, 7.2, "ddim eta=1.0 @ NFE 6"),
    point("euler_ancestral", 12, 2.3, 2.0, 2.6, "ddim eta=1.0 @ NFE 12"),
]


def test_solvers_identical_at_every_budget_form_one_group():
    assert solver_groups(SWEEP) == [["dpmpp_2m"], ["recommended"], ["ddim eta=1.0", "euler_ancestral"]]
    half_twin = SWEEP[:7] + [point("euler_ancestral", 12, 2.9, 2.5, 3.3)]
    assert ["euler_ancestral"] in solver_groups(half_twin)


def test_findings_name_the_winner_the_ties_the_default_sampler_loss_and_the_identical_solvers():
    text = findings(SWEEP)
    assert text.startswith("At NFE 6, `dpmpp_2m` scores the lowest FID, 4.00 [3.50, 4.60], and its 95% interval "
                           "overlaps no other solver's.")
    assert ("At NFE 12, `dpmpp_2m` scores the lowest FID, 2.20 [1.90, 2.50]; `recommended`, `ddim eta=1.0` and "
            "`euler_ancestral` are indistinguishable from it at n = 64") in text
    assert ("The default sampler `recommended` (what `probflow.sample` runs) loses at NFE 6 (8.40 [7.50, 9.30] "
            "against 4.00 [3.50, 4.60] for `dpmpp_2m`), and is not told apart from the best at NFE 12.") in text
    assert text.endswith("`ddim eta=1.0` and `euler_ancestral` drew the same samples, up to float32 round-off, at "
                         "every budget: on this grid they are one sampler.")


def test_fid_plot_draws_one_line_per_group_with_plain_budget_ticks(monkeypatch):
    figure = built_without_backend_change(lambda: plot_fid_vs_nfe(SWEEP), monkeypatch)
    axes, = figure.axes
    assert [text.get_text() for text in axes.get_legend().get_texts()] == [
        "dpmpp_2m", "recommended", "ddim eta=1.0 = euler_ancestral"]
    assert_nothing_clipped(figure)
    assert [label.get_text() for label in axes.get_xticklabels()] == ["6", "12"]
