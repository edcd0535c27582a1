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


def _calibration(plt: Any, metrics: pd.DataFrame) -> Any:
    fig, ax = plt.subplots(figsize=(9, 4))
    for nominal, metric in ((0.8, "coverage_80"), (0.95, "coverage_95")):
        table = metric_table(metrics, metric)
        if "catboost" not in table:
            continue
        labels = [f"{lv}×{g}" for lv, g in table.index]
        ax.plot(labels, table["catboost"].to_numpy(), marker="o", label=f"{metric} (CatBoost)")
        ax.axhline(nominal, ls="--", lw=0.8, color="grey")
    ax.set_ylim(0.5, 1.0)
    ax.set_ylabel("observed coverage (cross-fitted)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _rmsse(plt: Any, metrics: pd.DataFrame) -> Any:
    table = metric_table(metrics, "rmsse")
    table.index = [f"{lv}×{g}" for lv, g in table.index]
    fig, ax = plt.subplots(figsize=(10, 4))
    table.plot.bar(ax=ax, rot=0)
    ax.set_ylabel("RMSSE (lower is better)")
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
