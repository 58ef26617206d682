"""Log-log plots of measured convergence orders.

A solver of order ``p`` has error ``C * NFE^-p`` in its asymptotic range, a line of slope ``-p`` on log-log axes
(:func:`probflow.convergence.estimate_order` fits that slope); the plot draws the reference slopes 1 to 4 beside
the measured errors.
"""

from __future__ import annotations

from pathlib import Path

from probflow.convergence.fit import OrderEstimate, measured_text
from probflow.files import save_figure


def plot_estimates(estimates: list[OrderEstimate], path: str | Path, title: str) -> None:
    """Log-log error against NFE to the image ``path`` (PNG, or the format its suffix names), one line per solver
    (hollow markers: levels left out of the fit), with dotted reference slopes -1 to -4."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 6))
    for estimate in estimates:
        line, = axes.loglog(estimate.nfe, estimate.errors, "-", linewidth=1,
                            label=f"{estimate.solver} ({measured_text(estimate)})")
        fitted = list(estimate.fitted)
        axes.loglog([estimate.nfe[i] for i in fitted], [estimate.errors[i] for i in fitted], "o",
                    color=line.get_color())
        dropped = [i for i in range(len(estimate.steps)) if i not in estimate.fitted]
        axes.loglog([estimate.nfe[i] for i in dropped], [estimate.errors[i] for i in dropped], "o",
                    markerfacecolor="none", color=line.get_color())
    all_nfe = [n for e in estimates for n in e.nfe]
    all_errors = [v for e in estimates for v in e.errors if v > 0]
    if all_nfe and all_errors:
        low, high = min(all_nfe), max(all_nfe)
        anchor = max(all_errors)
        for slope in (1, 2, 3, 4):
            axes.loglog([low, high], [anchor, anchor * (low / high) ** slope], ":", color="gray", linewidth=0.8)
            axes.annotate(f"slope -{slope}", (high, anchor * (low / high) ** slope), fontsize=7, color="gray")
    axes.set_xlabel("NFE (denoiser calls)")
    axes.set_ylabel("RMS error at sigma_min")
    axes.set_title(title)
    axes.legend(fontsize=6, ncol=2)
    figure.tight_layout()
    save_figure(figure, path, dpi=120)
    plt.close(figure)
