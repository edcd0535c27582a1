"""Prefect flow `train`: the CLI's `previsecours train`, with its results shown in the UI.

Thin by design: the tasks call `previsecours.pipelines.train` (`fit`, then `record`: MLflow
logging and registration); the flow publishes the RMSSE table (`train-rmsse-<territory>`) and
the registered version with the RMSSE headline (`train-summary-<territory>`) as artifacts. The
backtest and the final fit run in this process, one after the other: both use every core. With
`fan_out_windows`, each backtest window is a `backtest-window` task on the flow's task runner —
Dask workers with `run(..., cluster)` — and the evaluation, the final fit and the registration
stay in this process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.artifacts import key, records
from flows.retry import IO_RETRIES
from flows.runners import DaskCluster, task_runner
from previsecours.config import is_candidate
from previsecours.core.backtest import BacktestResult, merge_results
from previsecours.core.history import History
from previsecours.core.training import PanelData, TrainingFit, backtest_config, window_fits
from previsecours.pipelines import train as pipeline
from previsecours.settings import Settings, load_settings


@task(name="fit", cache_policy=NO_CACHE)
def fit(settings: Settings) -> TrainingFit:
    """Panel, backtest and final fit in this process (both use every core)."""
    logger = get_run_logger()

    def progress(step: str, done: int, total: int) -> None:
        logger.info("backtest %d/%d — %s", done, total, step)

    return pipeline.fit(settings, progress=progress)


@task(name="backtest-window", task_run_name="backtest-window-{window}", cache_policy=NO_CACHE)
def backtest_window(settings: Settings, data: PanelData, window: int) -> BacktestResult:
    return window_fits(settings.territory, settings.params.train, data, (window,))


@task(name="fit-after-windows", cache_policy=NO_CACHE)
def fit_after_windows(
    settings: Settings,
    snapshot: tuple[str, History],
    data: PanelData,
    windows: list[BacktestResult],
) -> TrainingFit:
    version, history = snapshot
    fitted = merge_results(windows)
    return pipeline.fit(settings, history=history, data_version=version, data=data, fitted=fitted)


def fanned_out_fit(settings: Settings) -> TrainingFit:
    """The panel here, one task per backtest window, then the evaluation and final fit here."""
    snapshot = pipeline.snapshot(settings)
    data = pipeline.panel(settings, snapshot[1])
    params = data.params or settings.params.train  # a counts store fixes the frequency
    windows = range(backtest_config(params, settings.territory).n_windows)
    futures = [backtest_window.submit(settings, data, k) for k in windows]
    return fit_after_windows(settings, snapshot, data, [f.result() for f in futures])


@task(name="record-register", cache_policy=NO_CACHE, **IO_RETRIES)
def record(settings: Settings, fitted: TrainingFit) -> pipeline.TrainResult:
    return pipeline.record(settings, fitted)


# The headline's rows: the ranking grain, then the département's day (what the monitor watches).
HEADLINE_ROWS = (("station", "hour"), ("departement", "day"))


def rmsse_headline(rmsse: pd.DataFrame) -> str:
    """One line, e.g. `RMSSE station×hour catboost 0.810 (best baseline poisson_glm 0.900)`,
    from the table of level × grain rows and model columns."""
    parts = []
    for row in HEADLINE_ROWS:
        if row not in rmsse.index:
            continue
        scores = pd.Series(rmsse.loc[row]).dropna()
        if "catboost" not in scores:
            continue
        # The other CatBoost candidates (`catboost:<name>`) are not baselines.
        baselines = scores.drop("catboost")[lambda s: ~s.index.map(is_candidate)]
        best = (
            f" (best baseline {baselines.idxmin()} {baselines.min():.3f})"
            if not baselines.empty
            else ""
        )
        parts.append(f"{row[0]}×{row[1]} catboost {scores['catboost']:.3f}{best}")
    return "RMSSE " + "; ".join(parts) if parts else "RMSSE: no headline row"


@task(name="publish-training", cache_policy=NO_CACHE)
def publish(territory: str, result: pipeline.TrainResult) -> None:
    table = result.rmsse.round(3).reset_index()
    create_table_artifact(
        records(table),
        key=key("train-rmsse", territory),
        description="RMSSE per level × grain and model, over all backtest windows",
    )
    lines = [
        f"# Training: model version {result.version}",
        f"MLflow run `{result.run_id}`, model `{result.model_uri}`.",
        "",
        rmsse_headline(result.rmsse) + " (lower is better).",
        "",
        "| step | seconds |",
        "|---|---|",
        *(f"| {k} | {v:.1f} |" for k, v in result.seconds.items()),
    ]
    create_markdown_artifact(
        "\n".join(lines), key=key("train-summary", territory), description="Training run"
    )


@flow(name="train", log_prints=True)
def train(
    territory: str | None = None, home: str | None = None, fan_out_windows: bool = False
) -> dict[str, Any]:
    """Backtest, fit, log and register a new model version of the territory."""
    settings = load_settings(territory, Path(home) if home else None)
    fitted = fanned_out_fit(settings) if fan_out_windows else fit(settings)
    result = record(settings, fitted)
    publish(settings.territory.name, result)
    headline = rmsse_headline(result.rmsse)
    logger = get_run_logger()
    logger.info("registered %s version %s; %s", result.model_uri, result.version, headline)
    return {
        "run_id": result.run_id,
        "version": result.version,
        "model_uri": result.model_uri,
        "rmsse": headline,
    }


def run(territory: str | None, home: str | None, cluster: DaskCluster | None) -> dict[str, Any]:
    """`train` with its backtest windows fanned out on the task runner `cluster` asks for."""
    flow_with_runner: Any = train.with_options(task_runner=task_runner(cluster))
    result: dict[str, Any] = flow_with_runner(territory=territory, home=home, fan_out_windows=True)
    return result
