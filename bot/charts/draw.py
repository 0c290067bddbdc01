"""The charts as PNG bytes, drawn with matplotlib's Agg backend (no display, no pyplot state).

Each call builds its own `Figure`, so two charts can be drawn at once in different threads. Every
word on a chart comes from the caller (`labels`, rendered from templates/chart_labels.j2).
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from bot.charts.data import AccuracyChart, DriftChart

REFERENCE_COLOR = "#8c8c8c"
CURRENT_COLOR = "#1264a3"
DRIFT_COLOR = "#e01e5a"
DPI = 80
BINS = 20


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def drift_png(chart: DriftChart, labels: dict[str, str]) -> bytes:
    """Per feature, reference and current histograms (densities) on shared bins; drift marked."""
    columns = max(len(chart.features), 1)
    figure = Figure(figsize=(2.6 * columns, 3.0), layout="constrained")
    figure.suptitle(labels["title"], fontsize=11)
    axes = figure.subplots(1, columns, squeeze=False)[0]
    for ax, feature in zip(axes, chart.features, strict=False):
        both = np.concatenate([feature.reference, feature.current])
        both = both[np.isfinite(both)]
        edges = np.histogram_bin_edges(both if both.size else [0.0, 1.0], bins=BINS)
        ax.hist(
            feature.reference,
            bins=edges,
            density=True,
            color=REFERENCE_COLOR,
            alpha=0.55,
            label=labels["reference"],
        )
        if feature.current.size:
            ax.hist(
                feature.current,
                bins=edges,
                density=True,
                histtype="step",
                linewidth=2,
                color=DRIFT_COLOR if feature.drifted else CURRENT_COLOR,
                label=labels["current"],
            )
        verdict = labels["drifted"] if feature.drifted else labels["stable"]
        ax.set_title(
            f"{feature.name}\n{verdict}",
            fontsize=10,
            color=DRIFT_COLOR if feature.drifted else "black",
            fontweight="bold" if feature.drifted else "normal",
        )
        if feature.drifted:
            for spine in ax.spines.values():
                spine.set_edgecolor(DRIFT_COLOR)
                spine.set_linewidth(2)
        ax.set_yticks([])
        ax.tick_params(labelsize=8)
    if not chart.window:
        figure.text(0.5, 0.02, labels["empty"], ha="center", fontsize=9, color=DRIFT_COLOR)
    axes[0].legend(fontsize=7, loc="upper left")
    return _png(figure)


def accuracy_png(chart: AccuracyChart, labels: dict[str, str]) -> bytes:
    """Accuracy over time, one line per version, a dashed vertical line at each deploy."""
    figure = Figure(figsize=(8.0, 3.4), layout="constrained")
    ax = figure.subplots()
    ax.set_title(labels["title"], fontsize=11)
    for version, points in chart.series.items():
        ax.plot(
            [p.at for p in points],
            [p.accuracy for p in points],
            marker="o",
            markersize=4,
            label=labels["version"].format(version=version),
        )
    for mark in chart.deploys:
        ax.axvline(
            mark.at,
            color=DRIFT_COLOR if mark.kind == "rollback" else "#2eb67d",
            linestyle="--",
            linewidth=1,
        )
        ax.annotate(
            labels[mark.kind if mark.kind in labels else "deploy"].format(version=mark.version),
            (mark.at, 1.0),
            xytext=(3, -12),
            textcoords="offset points",
            fontsize=8,
        )
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel(labels["ylabel"])
    ax.grid(alpha=0.3)
    if chart.series:
        ax.legend(fontsize=8, loc="lower left")
    return _png(figure)
