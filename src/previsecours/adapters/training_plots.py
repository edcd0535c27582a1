"""Plots of a training run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from previsecours.core.backtest import metric_table
from previsecours.core.training import BacktestFiles


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figures(files: BacktestFiles, importance: pd.Series) -> Iterator[tuple[str, Any]]:
    """(file name, figure) pairs; each figure is closed by the caller's logger."""
    plt = _pyplot()
    yield "forecast_vs_actual.png", _forecast_vs_actual(plt, files.predictions)
    yield "calibration.png", _calibration(plt, files.metrics)
    yield "rmsse_by_level.png", _rmsse(plt, files.metrics)
    yield "feature_importance.png", _importance(plt, importance)


def _forecast_vs_actual(plt: Any, predictions: pd.DataFrame) -> Any:
    """Last window: the whole territory and the busiest modelled area, by period."""
    last = predictions[predictions["window"] == predictions["window"].max()]
    busiest = last.groupby("area_code")["actual"].sum().idxmax()
    fig, axes = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    for ax, frame, title in (
        (axes[0], last, "territory (sum of modelled areas)"),
        (axes[1], last[last["area_code"] == busiest], f"area {busiest}"),
    ):
        actual = frame[frame["model"] == "catboost"].groupby("period_start")["actual"].sum()
        ax.plot(actual.index, actual.to_numpy(), color="black", lw=1, label="actual")
        for model in ("catboost", "seasonal_naive"):
            mean = frame[frame["model"] == model].groupby("period_start")["mean"].sum()
            ax.plot(mean.index, mean.to_numpy(), lw=1, label=model)
        ax.set_title(title)
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _rows(table: pd.DataFrame) -> list[str]:
    return [f"{level} × {grain}" for level, grain in table.index]


def _calibration(plt: Any, metrics: pd.DataFrame) -> Any:
    """Observed coverage of CatBoost's 80 % and 95 % intervals, one row per level × grain."""
    tables = {
        nominal: metric_table(metrics, metric)
        for nominal, metric in ((0.8, "coverage_80"), (0.95, "coverage_95"))
    }
    tables = {n: t for n, t in tables.items() if "catboost" in t}
    first = next(iter(tables.values()), None)
    labels = [] if first is None else _rows(first)
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.4 * max(len(labels), 1)))
    low = 0.5
    for (nominal, table), color in zip(tables.items(), ("C0", "C1"), strict=False):
        assert first is not None
        values = table["catboost"].reindex(first.index).to_numpy(dtype=float)
        ax.scatter(
            values, range(len(labels)), color=color, zorder=3, label=f"{nominal:.0%} interval"
        )
        ax.axvline(nominal, ls="--", lw=1, color=color)
        finite = values[pd.notna(values)]
        if finite.size:
            low = min(low, float(finite.min()) - 0.05)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()  # the finest level on top, as in the tables
    ax.set_xlim(max(low, 0.0), 1.0)
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.grid(axis="x", lw=0.5, alpha=0.5)
    ax.set_xlabel("observed coverage, CatBoost (cross-fitted); dashed line: nominal")
    ax.set_title("Calibration of the intervals by level × grain")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _rmsse(plt: Any, metrics: pd.DataFrame) -> Any:
    """RMSSE of every model by level × grain: horizontal bars, the legend beside the plot."""
    table = metric_table(metrics, "rmsse")
    models = [m for m in ("catboost", *sorted(table.columns)) if m in table.columns]
    table = table[list(dict.fromkeys(models))]
    labels = _rows(table)
    n_rows, n_models = len(table), max(len(table.columns), 1)
    fig, ax = plt.subplots(figsize=(10, 1.4 + n_rows * (0.13 * n_models + 0.2)))
    height = 0.8 / n_models
    for i, model in enumerate(table.columns):
        # Within a level × grain, the first model (CatBoost) on top (the y axis is inverted).
        positions = [row - 0.4 + height * (i + 0.5) for row in range(n_rows)]
        bars = ax.barh(positions, table[model].to_numpy(dtype=float), height=height, label=model)
        if model == "catboost":
            ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
    ax.set_yticks(range(n_rows), labels)
    ax.invert_yaxis()
    ax.grid(axis="x", lw=0.5, alpha=0.5)
    ax.set_xlabel("RMSSE, all backtest windows (lower is better)")
    ax.set_title("RMSSE by level × grain and model")
    handles, names = ax.get_legend_handles_labels()
    ax.legend(handles, names, title="model", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    plt.close(fig)
    return fig


def _importance(plt: Any, importance: pd.Series) -> Any:
    top = importance.head(20)[::-1]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh(top.index, top.to_numpy())
    ax.set_xlabel("CatBoost feature importance")
    fig.tight_layout()
    plt.close(fig)
    return fig
