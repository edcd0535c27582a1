"""The MLflow record of a training: a parent run with CatBoost's headline metrics, the
ranking metric first, the backtest files, plots and the registered model; a child run per
model with every metric, per category and per backtest window (as steps). Runs start when the
training started (`TrainingFit.started_at`), so their duration is the training's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from previsecours.core.backtest import flat_metrics
from previsecours.core.features import FEATURE_SPEC_VERSION
from previsecours.core.models.bundle import TrainedForecaster
from previsecours.core.training import BacktestFiles, TrainingFit, input_example
from previsecours.settings import Settings


def training_tags(settings: Settings, forecaster: TrainedForecaster) -> dict[str, str]:
    from previsecours.adapters.tracking import SPEC_VERSION_KEY, git_commit

    return {
        "territory": settings.territory.name,
        "frequency": forecaster.spec.frequency,
        "horizon": str(forecaster.spec.horizon),
        "model_level": forecaster.model_level,
        "covariates": ",".join(forecaster.spec.covariates) or "none",
        "data_version": forecaster.data_version,
        "git_commit": git_commit(settings.project.root),
        SPEC_VERSION_KEY: str(FEATURE_SPEC_VERSION),
    }


def _choice_windows(files: BacktestFiles) -> dict[str, float]:
    """How many windows the candidate's choice read (this backtest's and remembered ones)."""
    scores = files.window_scores
    return {"choice_windows": float(scores["origin"].nunique())} if not scores.empty else {}


def log_training(
    settings: Settings,
    fit: TrainingFit,
    *,
    seconds: Mapping[str, float],
    register: bool | None = None,
) -> tuple[str, str, int | None]:
    """Parent run (params, CatBoost's headline metrics, artifacts, model) + a child run per model.

    The parent starts when `fit` started, so its UI duration is the training's; it is named
    `train-<territory>-<start, local time>-<data version>-v<N>` (`-run-<id>` when not
    registered). The ranking metric (`rank_<primary level>_<primary metric>`, params.yaml
    `promote:`) is logged first on the parent and on every child. Children carry every metric,
    per category too, and per backtest window as steps; the parent only the pooled headline
    metrics."""
    from previsecours.adapters import tracking
    from previsecours.adapters import training_plots as train_plots
    from previsecours.core.promotion import KEY_METRICS, ranking_metric

    files, forecaster = fit.files, fit.forecaster
    params = fit.data.params or settings.params.train
    territory = settings.territory.name
    source, rank = ranking_metric(settings.params.promote)
    experiment = tracking.use_tracking(
        settings.paths, territory, description=tracking.experiment_description(territory, rank)
    )
    tags = training_tags(settings, forecaster)
    run_tags = {**tags, "kind": "training", "ranking_metric": rank}
    if files.dropped:  # models that could not fit this data, and why
        run_tags["dropped_models"] = "; ".join(f"{m}: {why}" for m, why in files.dropped.items())
    if files.candidate:  # the CatBoost variant the backtest chose; the others are children
        run_tags["catboost_candidate"] = files.candidate
    shifts = fit.data.level_shifts
    if shifts:
        run_tags["level_shifts"] = "; ".join(s.describe() for s in shifts)
    started = fit.started_at or datetime.now(UTC)
    local = pd.Timestamp(started).tz_convert(settings.territory.timezone)
    name = f"train-{territory}-{local:%Y-%m-%d %H:%M}-{forecaster.data_version[:8]}"
    headline = files.metrics[
        (files.metrics["kind"] == "ALL") & files.metrics["metric"].isin(KEY_METRICS)
    ]
    backtest_start = started + timedelta(seconds=seconds.get("panel", 0.0) if fit.backtested else 0)

    def ranked(metrics: Mapping[str, float]) -> dict[str, float]:
        return {rank: metrics[source]} if source in metrics else {}

    with tracking.training_run(experiment, name, run_tags, started_at=fit.started_at) as run_id:
        catboost = flat_metrics(files.metrics, "catboost")
        tracking.log_metric_groups(
            [
                (ranked(catboost), None),
                (flat_metrics(headline, "catboost"), None),
                ({f"seconds_{k}": v for k, v in seconds.items()}, None),
                (_choice_windows(files), None),
            ]
        )
        tracking.log_params(
            {"train": asdict(settings.params.train), "frequency": tags["frequency"]}
        )
        for model in map(str, files.metrics["model"].unique()):
            with tracking.child_run(
                experiment,
                model,
                {**run_tags, "kind": "model", "model": model},
                started_at=backtest_start,
                seconds=files.fit_seconds.get(model),
            ):
                every = flat_metrics(files.metrics, model)
                tracking.log_params({"model": model, **params.model_params.get(model, {})})
                windows = _per_window(files.metrics, model).items()
                tracking.log_metric_groups(
                    [
                        (ranked(every), None),
                        (every, None),
                        ({"fit_seconds": files.fit_seconds.get(model, 0.0)}, None),
                        *(({f"window/{k}": v for k, v in m.items()}, w) for w, m in windows),
                    ]
                )
        tracking.log_frame(files.predictions, "backtest", "predictions.parquet")
        tracking.log_frame(files.metrics, "backtest", "metrics.parquet")
        if not files.window_scores.empty:  # each candidate's score on the windows it was chosen on
            tracking.log_frame(files.window_scores, "backtest", "choice_windows.parquet")
        tracking.log_json(forecaster.spec.to_dict(), "feature_spec.json")
        tracking.log_json(forecaster.metadata()["dispersion"], "dispersion.json")
        importance = forecaster.model.feature_importance()  # type: ignore[attr-defined]
        tracking.log_frame(
            importance.rename("importance").rename_axis("feature").reset_index(),
            "plots",
            "feature_importance.csv",
        )
        for file_name, figure in train_plots.figures(files, importance):
            tracking.log_figure(figure, f"plots/{file_name}")
        example = input_example(forecaster, fit.data, settings.territory)
        do_register = params.register if register is None else register
        uri, version = tracking.log_forecaster(
            forecaster, example, {**tags, "run_id": run_id}, do_register
        )
        # Two trainings on the same data in the same minute still get different names.
        tracking.rename_run(
            run_id, f"{name}-v{version}" if version is not None else f"{name}-run-{run_id[:6]}"
        )
        tracking.describe_run(
            run_id,
            _run_description(
                settings,
                fit,
                local=local,
                rank=rank,
                value=catboost.get(source),
                version=version,
            ),
        )
    return run_id, uri, version


def _run_description(
    settings: Settings,
    fit: TrainingFit,
    *,
    local: pd.Timestamp,
    rank: str,
    value: float | None,
    version: int | None,
) -> str:
    """The parent run's description (markdown, shown on its page in the MLflow UI)."""
    from previsecours.adapters.registry import model_name

    territory = settings.territory.name
    better = "lower" if settings.params.promote.lower_is_better else "higher"
    score = "not measured" if value is None else f"{value:.4f}"
    registered = (
        f"registered as version {version} of `{model_name(territory)}` (a challenger until"
        " `previsecours promote` decides)"
        if version is not None
        else "not registered"
    )
    return (
        f"Training of **{territory}** on data version `{fit.forecaster.data_version}`, started"
        f" {local:%Y-%m-%d %H:%M} ({settings.territory.timezone}); {registered}.\n\n"
        f"Ranking metric `{rank}` (CatBoost, all backtest windows; {better} is better): {score}."
        " Child runs hold each model's metrics; compare them on the same metric."
    )


def _per_window(metrics: pd.DataFrame, model: str) -> dict[int, dict[str, Any]]:
    sel = metrics[(metrics["model"] == model) & (metrics["window"] != "all")]
    out: dict[int, dict[str, Any]] = {}
    for row in sel.itertuples(index=False):
        kind = "" if row.kind == "ALL" else "_category"
        key = f"{row.level}_{row.grain}{kind}_{row.metric}"
        out.setdefault(int(str(row.window)), {})[key] = float(row.value)  # type: ignore[arg-type]
    return out
