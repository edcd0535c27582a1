"""A counts-only store with a declared covariate: ingest → train → register → forecast.

The store holds SDIS 91's real weekly département counts (built from
../shared/data/sdis91/weekly_totals_by_category_2010_2015.csv, ingested as canonical counts)
and the territory declares the real weekly flu incidence of the same file as a covariate.
"""

from __future__ import annotations

import dataclasses
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

CATEGORIES = ("SUAP", "ACCI", "INCU", "INCN", "AUTR")
WEEKLY_TRAINING = {
    "train": {
        "train_years": 1.5,
        # As many as the promotion's windows: a version is judged on its backtest forecasts
        # of the weeks it was trained on (never on its fit).
        "n_windows": 8,
        # The Poisson GLM is left out: its solver takes ~16 s on these counts (max_iter reached).
        "models": ["catboost", "seasonal_naive"],
        "catboost": {"iterations": 60},
    },
    "forecast": {"horizon": "7d", "grains": ["day", "week"]},
    # Weekly département counts have no station level: the promotion is decided where they are.
    "promote": {
        "primary_level": "departement×week",
        "coverage_levels": ["departement×week"],
        "windows": 8,  # one week a window: coverage needs more than one period
    },
}


def write_weekly_territory(essonne: Territory, folder: Path, source: Path) -> Path:
    """Essonne as a département only (no area tables: the open data has no finer level, and
    ingest accepts other area codes only when the territory lists no communes), declaring the
    weekly flu incidence as covariate `flu`."""
    from previsecours.adapters.territory_files import write_territory
    from previsecours.core.territory import CovariateSource

    raw = pd.read_csv(source)
    (folder / "covariates").mkdir(parents=True, exist_ok=True)
    raw[["yearweek", "inc_grippe"]].to_csv(folder / "covariates" / "flu.csv", index=False)
    flu = CovariateSource(
        name="flu",
        file=str(folder / "covariates" / "flu.csv"),
        date_column="yearweek",
        value_column="inc_grippe",
        frequency="week",
        date_format="%G%V",
    )
    territory = dataclasses.replace(
        essonne,
        name="weeklyland",
        communes=(),
        stations=(),
        coverage_shares=(),
        covariates=(flu,),
    )
    return write_territory(territory, folder)


def counts_file(source: Path, target: Path) -> pd.DataFrame:
    """The canonical counts form of the weekly totals: one row per week × category, area 91."""
    raw = pd.read_csv(source)
    monday = [
        dt.date.fromisocalendar(int(yw) // 100, int(yw) % 100, 1).isoformat()
        for yw in raw["yearweek"]
    ]
    frame = raw.assign(period_start=monday).melt(
        id_vars=["period_start"], value_vars=list(CATEGORIES), var_name="category", value_name="n"
    )
    counts = pd.DataFrame(
        {
            "period_start": frame["period_start"],
            "area_code": "91",
            "category": frame["category"],
            "count": frame["n"].astype(int),
        }
    )
    counts.to_csv(target, index=False)
    return counts


@pytest.fixture(scope="module")
def weekly_home(
    tmp_path_factory: pytest.TempPathFactory, essonne: Territory, shared_data: Path
) -> Settings:
    from previsecours.pipelines.ingest import IngestOptions, ingest_file

    root = tmp_path_factory.mktemp("weekly")
    source = shared_data / "sdis91" / "weekly_totals_by_category_2010_2015.csv"
    yaml_path = write_weekly_territory(essonne, root / "territories", source)
    home = root / "home"
    write_small_params(home, WEEKLY_TRAINING)
    settings = load_settings(str(yaml_path), home)
    counts_file(source, root / "weekly.csv")
    report = ingest_file(
        settings, root / "weekly.csv", IngestOptions(format="counts", frequency="week")
    )
    assert report.accepted, report
    return settings


@dataclasses.dataclass(frozen=True)
class Trained:
    version: int
    catboost: dict[str, float]  # backtest metrics over all windows (metrics/backtest-*.json)
    output: str


@pytest.fixture(scope="module")
def trained(weekly_home: Settings) -> Trained:
    """`previsecours train` on the counts-only store, as a user runs it."""
    import json

    from typer.testing import CliRunner

    from previsecours.cli import app

    home = weekly_home.paths.home
    out = CliRunner().invoke(
        app, ["--home", str(home), "train", "-t", str(weekly_home.territory_file)]
    )
    assert out.exit_code == 0, out.output
    record = json.loads((home / "metrics" / "train-weeklyland.json").read_text())
    backtest = json.loads((home / "metrics" / "backtest-weeklyland.json").read_text())
    return Trained(int(record["version"]), backtest["catboost"], out.output)


def test_counts_panel_is_weekly_departement_with_missing_weeks_unknown(
    weekly_home: Settings,
) -> None:
    from previsecours.pipelines.train import panel, read_history

    history = read_history(weekly_home)
    assert history.is_counts and "alert_time" not in history.frame.columns
    data = panel(weekly_home, history)
    assert set(data.panel.series["area_code"]) == {"weeklyland"}
    assert sorted(data.panel.series["category"]) == sorted(CATEGORIES)
    gaps = set(data.panel.starts.to_series().diff().dropna() / pd.Timedelta(hours=1))
    assert gaps <= {167, 168, 169}  # weeks (DST changes inside some)
    missing = data.panel.starts.get_indexer(
        pd.DatetimeIndex([pd.Timestamp("2014-12-29", tz="Europe/Paris")])
    )[0]
    assert missing >= 0 and np.isnan(data.panel.counts[:, missing]).all()  # week 2015-W01
    assert not np.isnan(data.panel.counts[:, missing - 1]).any()
    assert data.covariates is not None and list(data.covariates.columns) == ["flu"]


def test_weekly_covariate_feature_is_last_weeks_incidence(
    weekly_home: Settings, shared_data: Path
) -> None:
    from previsecours.core.features import area_attributes, build_features, make_spec
    from previsecours.pipelines.train import panel, read_history

    data = panel(weekly_home, read_history(weekly_home))
    spec = make_spec("week", 2, ("flu",))
    n = len(data.panel.starts)
    attributes = area_attributes(weekly_home.territory, "departement", ["weeklyland"])
    block = build_features(
        data.panel,
        spec,
        weekly_home.territory,
        attributes,
        first=n - 10,
        last=n,
        covariates=data.covariates,
    )
    raw = pd.read_csv(shared_data / "sdis91" / "weekly_totals_by_category_2010_2015.csv")
    by_monday = {
        pd.Timestamp(dt.date.fromisocalendar(int(yw) // 100, int(yw) % 100, 1)): float(v)
        for yw, v in zip(raw["yearweek"], raw["inc_grippe"], strict=True)
    }
    periods = pd.DatetimeIndex(block.keys["period_start"]).tz_localize(None)
    expected = [by_monday.get(p - pd.Timedelta(weeks=2), np.nan) for p in periods]
    np.testing.assert_allclose(block.matrix["cov_flu"].to_numpy(np.float64), expected)


def test_train_registers_a_weekly_departement_model_with_its_covariate(
    weekly_home: Settings, trained: Trained
) -> None:
    from previsecours.adapters.tracking import load_forecaster

    assert trained.version == 1
    forecaster = load_forecaster("models:/previsecours-weeklyland/1")
    assert forecaster.spec.frequency == "week" and forecaster.spec.horizon == 1
    assert forecaster.spec.covariates == ("flu",)
    assert "cov_flu" in forecaster.spec.columns
    assert forecaster.model_level == "departement"
    assert set(forecaster.hierarchy.levels) == {"departement"}
    import mlflow

    tags = (
        mlflow.MlflowClient(weekly_home.paths.mlflow_tracking_uri)
        .get_model_version("previsecours-weeklyland", "1")
        .tags
    )
    assert tags["covariates"] == "flu" and tags["model_level"] == "departement"
    assert tags["frequency"] == "week"
    assert np.isfinite(trained.catboost["departement_week_rmsse"])
    assert "departement" in trained.output and "(version 1)" in trained.output


def test_forecast_writes_weekly_departement_rows(weekly_home: Settings, trained: Trained) -> None:
    from previsecours.adapters import registry
    from previsecours.pipelines.forecast import run_forecast
    from previsecours.pipelines.promote import run_promote

    now = pd.Timestamp("2016-01-04 06:00", tz="UTC")
    promoted = run_promote(weekly_home, now=now.to_pydatetime())  # re-scored on stored counts
    assert promoted.decision.promoted, promoted.decision.reason
    champion = registry.champion(weekly_home.paths, "weeklyland")
    assert champion is not None and champion.version == trained.version
    result = run_forecast(weekly_home, now=now)
    table = result.forecast
    assert set(table["level"]) == {"departement"} and set(table["frequency"]) == {"week"}
    assert sorted(table["category"]) == sorted([*CATEGORIES, "ALL"])
    assert (table["period_start"] == pd.Timestamp("2015-12-28", tz="Europe/Paris")).all()
    total = table.loc[table["category"] == "ALL", "mean"].iloc[0]
    assert 1000 < total < 3000  # ~1,700 interventions a week in Essonne
    assert result.metadata["covariates"] == ["flu"] and result.metadata["covariates_missing"] == {}
    assert result.files.forecast.is_file() and result.staffing.shifts.empty


def test_forecast_refuses_a_covariate_that_stopped_too_early(
    weekly_home: Settings, trained: Trained
) -> None:
    from previsecours.pipelines.forecast import ForecastError, run_forecast

    with pytest.raises(ForecastError, match=r"covariate\(s\) \['flu'\] have no value"):
        run_forecast(
            weekly_home,
            now=pd.Timestamp("2016-03-01", tz="UTC"),
            start=pd.Timestamp("2016-02-29", tz="Europe/Paris"),
        )


def test_window_fits_of_the_train_flow_use_the_counts_frequency(weekly_home: Settings) -> None:
    from previsecours.core.training import window_fits
    from previsecours.pipelines.train import panel, read_history

    params = weekly_home.params.train  # as the flow reads them: hourly, station
    data = panel(weekly_home, read_history(weekly_home))
    result = window_fits(weekly_home.territory, params, data, (1,))
    assert [w.end - w.origin for w in result.windows] == [1]  # one week
    assert set(result.predictions["area_code"]) == {"weeklyland"}


def test_monitor_says_a_counts_only_store_cannot_be_monitored(weekly_home: Settings) -> None:
    from previsecours.pipelines.monitor import run_monitor

    result = run_monitor(weekly_home)
    assert result.assessment is None
    assert "counts only" in result.summary()
