"""End to end: `train` on small generated data with a real MLflow (temporary home)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from previsecours.settings import Settings, load_settings
from previsecours.testing.small import write_small_params

if TYPE_CHECKING:
    from previsecours.core.territory import Territory
    from previsecours.pipelines.train import TrainResult

PROGRESS: list[tuple[str, int, int]] = []


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory: pytest.TempPathFactory, essonne: Territory) -> Settings:
    from previsecours.adapters.store import write_events
    from previsecours.core.generator import generate_events

    home = tmp_path_factory.mktemp("train-home")
    write_small_params(home)
    settings = load_settings("essonne", home)
    events = generate_events(essonne, dt.date(2024, 1, 1), dt.date(2024, 4, 14), seed=21)
    write_events(settings.paths, settings.territory, events)
    return settings


@pytest.fixture(scope="module")
def result(trained_home: Settings) -> TrainResult:
    from previsecours.pipelines.train import train

    return train(trained_home, progress=lambda *step: PROGRESS.append(step))


def test_train_logs_runs_metrics_artifacts_and_registers(
    trained_home: Settings, result: TrainResult
) -> None:
    import mlflow

    assert result.version == 1
    client = mlflow.MlflowClient(trained_home.paths.mlflow_tracking_uri)
    parent = client.get_run(result.run_id)
    for tag in ("data_version", "git_commit", "territory", "frequency", "feature_spec_version"):
        assert parent.data.tags[tag]
    assert parent.data.tags["territory"] == "essonne"
    assert parent.data.params["train.n_windows"] == "2"
    for key in (
        "station_hour_rmsse",
        "departement_day_bias_pct",
        "station_day_coverage_80",
        "commune_hour_pinball",
    ):
        assert np.isfinite(parent.data.metrics[key])
    experiment = parent.info.experiment_id
    children = client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    # The candidate the backtest chose is trained as `catboost`; the runner-up is logged beside.
    # The combinations (means of the candidates' and the GLM's forecasts) are judged too.
    chosen = parent.data.tags["catboost_candidate"]
    train = trained_home.params.train
    # params.yaml's all_four needs reference_3y_pm2_trend, which the small training does not
    # backtest: only all_three is judged (a combination of models not backtested cannot be).
    assert set(train.judged_combinations) == {"catboost:all_three"}
    judged = [*(f"catboost:{c}" for c in train.candidates or {}), *train.judged_combinations]
    assert f"catboost:{chosen}" in train.choosable  # params.yaml's choose_from
    runner_up = [name for name in judged if name != f"catboost:{chosen}"]
    assert sorted(r.data.tags["model"] for r in children) == sorted(
        ["catboost", *runner_up, "poisson_glm", "seasonal_naive"]
    )
    catboost = next(r for r in children if r.data.tags["model"] == "catboost")
    history = client.get_metric_history(catboost.info.run_id, "window/station_hour_rmsse")
    assert sorted(h.step for h in history) == [0, 1]  # one value per window
    artifacts = {a.path for a in client.list_artifacts(result.run_id)} | {
        a.path for d in ("backtest", "plots") for a in client.list_artifacts(result.run_id, d)
    }
    assert {
        "backtest/predictions.parquet",
        "plots/calibration.png",
        "feature_spec.json",
    } <= artifacts
    assert "plots/feature_importance.png" in artifacts
    version = client.get_model_version("previsecours-essonne", "1")
    assert version.tags["feature_spec_version"] == "1"
    assert version.tags["frequency"] == "hour" and version.tags["horizon"] == "168"
    assert Path(trained_home.paths.mlflow_artifacts).is_dir()
    assert (trained_home.paths.home / "metrics" / "backtest-essonne.json").is_file()


def test_the_next_training_chooses_on_the_windows_this_one_scored(
    trained_home: Settings, result: TrainResult
) -> None:
    import mlflow

    from previsecours.adapters.training_files import read_choice_memory
    from previsecours.pipelines.train import fit, with_origins

    client = mlflow.MlflowClient(trained_home.paths.mlflow_tracking_uri)
    assert client.get_run(result.run_id).data.metrics["choice_windows"] == 2
    logged = {a.path for a in client.list_artifacts(result.run_id, "backtest")}
    assert "backtest/choice_windows.parquet" in logged
    memory = read_choice_memory(trained_home.paths, "essonne")
    first = sorted(memory["origin"].unique())
    assert len(first) == 2 and memory["model"].str.startswith("catboost:").all()
    # A training on the same models at other origins reads the window it did not score.
    earlier = first[0] - pd.Timedelta(days=7)
    local = [f"{t.tz_convert('Europe/Paris'):%Y-%m-%dT%H:%M}" for t in (earlier, first[1])]
    later = fit(with_origins(trained_home, local))
    scores = later.files.window_scores
    assert sorted(scores["origin"].unique()) == [earlier, *first]
    assert not scores.duplicated(["origin", "model"]).any()  # a window both scored: once


def test_registered_model_forecasts_every_level_consistently(
    trained_home: Settings, result: TrainResult
) -> None:
    from previsecours.adapters.store import read_history
    from previsecours.adapters.tracking import load_forecaster
    from previsecours.pipelines.predict import predict_levels
    from previsecours.pipelines.scoring import score_on_window

    forecaster = load_forecaster("models:/previsecours-essonne/1")
    assert forecaster.data_version == "unversioned"
    history = read_history(trained_home.paths, trained_home.territory)
    start = pd.Timestamp("2024-04-15", tz="Europe/Paris")
    out = predict_levels(
        forecaster, history, trained_home.territory, start, 168, "hour", grains=("day",)
    )
    hourly = out[out["frequency"] == "hour"]
    assert hourly["period_start"].nunique() == 168
    sums = hourly.groupby(["level", "category"])["mean"].sum().unstack("level")
    np.testing.assert_allclose(sums["commune"], sums["departement"], rtol=1e-9)
    np.testing.assert_allclose(sums["station"], sums["departement"], rtol=1e-9)
    q = out[["p02_5", "p10", "p50", "p90", "p97_5"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and np.isfinite(q).all()
    assert set(out[out["frequency"] == "day"]["level"]) == {"commune", "station", "departement"}
    scores = score_on_window(forecaster, history, trained_home.territory)
    rmsse = scores[
        (scores["window"] == "all") & (scores["metric"] == "rmsse") & (scores["kind"] == "ALL")
    ]
    assert set(rmsse["level"]) == {"commune", "station", "departement"}
    assert np.isfinite(rmsse["value"]).all() and (rmsse["value"] > 0).all()


def test_panel_stage_command_writes_the_panel(trained_home: Settings, result: TrainResult) -> None:
    from typer.testing import CliRunner

    from previsecours.cli import app

    out = CliRunner().invoke(
        app, ["--home", str(trained_home.paths.home), "panel", "-t", "essonne"]
    )
    assert out.exit_code == 0, out.output
    panel = pd.read_parquet(trained_home.paths.data / "panel" / "essonne.parquet")
    assert list(panel.columns) == ["area_code", "category", "period_start", "count"]
    assert panel["count"].sum() > 0


def test_train_flow_registers_the_next_version(
    trained_home: Settings, result: TrainResult, prefect_api: None
) -> None:
    from flows.train import train

    state = train(territory="essonne", home=str(trained_home.paths.home), return_state=True)
    assert state.is_completed()
    assert state.result()["version"] == 2


def test_training_reports_its_progress(result: TrainResult) -> None:
    """Every window × model of the backtest is reported, in order, up to the total."""
    assert [done for _, done, _ in PROGRESS] == list(range(1, len(PROGRESS) + 1))
    # 2 windows × (2 CatBoost candidates, seasonal naive, Poisson GLM)
    assert {total for _, _, total in PROGRESS} == {len(PROGRESS)} == {2 * 4}
    assert PROGRESS[-1][0] == "window 2/2: poisson_glm"


def test_mlflow_ui_experiment_runs_and_ranking_metric(
    trained_home: Settings, result: TrainResult
) -> None:
    """What an analyst meets in the UI: a described classic-ML experiment, parent runs that last
    the training and are named apart, the ranking metric on the parent and every child."""
    import mlflow

    from previsecours.adapters.tracking import CLASSIC_ML, DESCRIPTION_TAG, EXPERIMENT_KIND_TAG
    from previsecours.pipelines.train import train

    client = mlflow.MlflowClient(trained_home.paths.mlflow_tracking_uri)
    parent = client.get_run(result.run_id)
    experiment = client.get_experiment(parent.info.experiment_id)
    assert experiment.tags[EXPERIMENT_KIND_TAG] == CLASSIC_ML == "custom_model_development"
    description = experiment.tags[DESCRIPTION_TAG]
    assert "rank_departement_hour_rmsse" in description and "parent run" in description

    # The run starts when the fit starts: its duration is the whole training's, not logging's.
    duration = (parent.info.end_time - parent.info.start_time) / 1000
    total, logging = result.seconds["total"], result.seconds["logging"]
    assert total - 1.5 <= duration <= total + 0.5, (duration, result.seconds)
    assert duration > logging + 1.0
    assert parent.info.run_name.startswith("train-essonne-20")
    assert parent.info.run_name.endswith("-unversio-v1")

    # The ranking metric, first of the parent's, and on every child; the parent is not noisy.
    metrics = parent.data.metrics
    assert metrics["rank_departement_hour_rmsse"] == metrics["departement_hour_rmsse"]
    assert not [k for k in metrics if "_category_" in k or k.startswith("window/")]
    assert len(metrics) < 80
    children = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    for child in children:
        assert child.info.run_name == child.data.tags["model"]
        assert np.isfinite(child.data.metrics["rank_departement_hour_rmsse"])
        assert child.info.start_time >= parent.info.start_time
        assert child.info.end_time <= parent.info.end_time

    # Two trainings on the same data: two names.
    trainings = client.search_runs(
        [experiment.experiment_id], filter_string="tags.kind = 'training'"
    )
    if len(trainings) < 2:  # run alone, without the flow's training
        train(trained_home)
        trainings = client.search_runs(
            [experiment.experiment_id], filter_string="tags.kind = 'training'"
        )
    names = [run.info.run_name for run in trainings]
    assert len(names) == len(set(names)) >= 2, names
