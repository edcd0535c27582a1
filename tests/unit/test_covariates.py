"""Covariates declared by a territory: the YAML section, the file checks, the alignment, the
features; and the panel of a counts-only store (unknown weeks stay unknown)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from previsecours.adapters.covariates import CovariateError, read_covariate
from previsecours.core.calendar import period_starts
from previsecours.core.covariates import align_covariates, missing_lagged
from previsecours.core.territory import CovariateSource, TerritoryError

if TYPE_CHECKING:
    from previsecours.core.territory import Territory

TZ = "Europe/Paris"


def source(
    path: Path, frequency: str = "day", date_format: str | None = None, name: str = "temp"
) -> CovariateSource:
    return CovariateSource(name, str(path), "date", "value", frequency, date_format)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_territory_declares_covariates_relative_to_its_file(
    tmp_path: Path, essonne: Territory
) -> None:
    from previsecours.adapters.territory_files import load_territory, write_territory

    folder = tmp_path / "t"
    path = write_territory(dataclasses.replace(essonne, name="cov"), folder)
    text = path.read_text(encoding="utf-8")
    declared = (
        "covariates:\n  flu:\n    file: data/flu.csv\n    date_column: week\n"
        "    value_column: incidence\n    frequency: week\n    date_format: '%G%V'\n"
    )
    territory = load_territory(write(path, text + declared))
    (flu,) = territory.covariates
    assert flu.file == str((folder / "data" / "flu.csv").resolve())
    assert (flu.name, flu.frequency, flu.date_format) == ("flu", "week", "%G%V")
    again = load_territory(write_territory(territory, tmp_path / "again"))
    assert again.covariates == territory.covariates
    bad = text + declared.replace("frequency: week", "frequency: month")
    with pytest.raises(TerritoryError, match=r"cov\.yaml: covariates\.flu: frequency 'month'"):
        load_territory(write(path, bad))
    with pytest.raises(
        TerritoryError, match=r"covariates\.flu: missing key\(s\) \['value_column'\]"
    ):
        load_territory(write(path, text + declared.replace("value_column", "valeur")))
    with pytest.raises(TerritoryError, match="'Flu' is not a valid name"):
        load_territory(write(path, text + declared.replace("  flu:", "  Flu:")))


def test_bad_covariate_files_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(CovariateError, match=r"covariate 'temp' \(.*none\.csv\): no such file"):
        read_covariate(source(tmp_path / "none.csv"), TZ)
    f = write(tmp_path / "a.csv", "date,value\n2024-01-01,3.5\n2024-01-02,hot\n")
    with pytest.raises(CovariateError, match=r"a\.csv\), line 3: value='hot' is not a number"):
        read_covariate(source(f), TZ)
    f = write(tmp_path / "b.csv", "date,value\n2024-01-01,3\n2024-13-45,4\n")
    with pytest.raises(CovariateError, match=r"b\.csv\), line 3: date='2024-13-45' is not a date"):
        read_covariate(source(f), TZ)
    f = write(tmp_path / "c.csv", "date,value\n2024-01-01,3\n2024-01-03,4\n")
    with pytest.raises(CovariateError, match=r"c\.csv\), lines 2 and 3: two values for the week"):
        read_covariate(source(f, "week"), TZ)
    f = write(tmp_path / "d.csv", "day;value\n2024-01-01;3\n")
    with pytest.raises(CovariateError, match=r"no column 'date'; found columns \['day', 'value'\]"):
        read_covariate(source(f), TZ)


def test_weekly_and_daily_values_apply_to_their_periods(tmp_path: Path) -> None:
    weekly = read_covariate(
        source(
            write(tmp_path / "w.csv", "date,value\n202413,10\n202414,20\n"),
            "week",
            date_format="%G%V",
            name="flu",
        ),
        TZ,
    )
    daily = read_covariate(
        source(
            write(
                tmp_path / "d.csv",
                "date,value\n2024-03-30,1\n2024-03-31,\n2024-04-01,3\n",
            ),
            "day",
        ),
        TZ,
    )
    assert np.isnan(daily.values.iloc[1])  # an empty cell is unknown, not zero
    # Hours across the spring DST change (31 March 2024 has 23 hours).
    hours = period_starts(
        pd.Timestamp("2024-03-30", tz=TZ), pd.Timestamp("2024-04-02", tz=TZ), "hour", TZ
    )
    aligned = align_covariates([weekly, daily], hours, "hour", TZ)
    assert len(hours) == 24 + 23 + 24
    assert (aligned["temp"].iloc[:24] == 1).all() and aligned["temp"].iloc[24:47].isna().all()
    assert (aligned["temp"].iloc[47:] == 3).all()
    weekly_values = aligned["flu"]
    assert (weekly_values.iloc[:47] == 10).all() and (
        weekly_values.iloc[47:] == 20
    ).all()  # W14 from 1 April
    # Finer than the panel: a daily covariate on weeks is the mean of its known days.
    weeks = period_starts(
        pd.Timestamp("2024-03-25", tz=TZ), pd.Timestamp("2024-04-08", tz=TZ), "week", TZ
    )
    assert align_covariates([daily], weeks, "week", TZ)["temp"].tolist() == [1.0, 3.0]
    gaps = missing_lagged(aligned, origin=48, periods=24, horizon=24)  # reads hours 24..47
    assert gaps == {"temp": 23}  # Sunday 31 March is unknown; the weekly value is there


def test_features_read_covariates_lagged_by_the_horizon(tmp_path: Path, essonne: Territory) -> None:
    from previsecours.adapters.covariates import with_covariates
    from previsecours.config import TrainParams
    from previsecours.core.features import area_attributes, build_features, make_spec
    from previsecours.core.generator import generate_events
    from previsecours.core.history import History
    from previsecours.core.training import modelled_panel

    days = pd.date_range("2024-01-01", "2024-02-29", freq="D")
    text = "date,value\n" + "".join(f"{d:%Y-%m-%d},{i}\n" for i, d in enumerate(days))
    temp = source(write(tmp_path / "t.csv", text), "day")
    territory = dataclasses.replace(essonne, covariates=(temp,))
    events = generate_events(essonne, dt.date(2024, 1, 1), dt.date(2024, 2, 20), seed=3)
    panel = modelled_panel(History.of_events(events), territory, TrainParams(history_years=1.0))
    data = with_covariates(panel, territory)
    assert data.covariates is not None
    spec = make_spec("hour", 48, ("temp",))
    n = len(data.panel.starts)
    areas = list(dict.fromkeys(data.panel.series["area_code"]))
    block = build_features(
        data.panel,
        spec,
        territory,
        area_attributes(territory, "station", areas),
        first=n - 72,
        last=n,
        covariates=data.covariates,
    )
    starts = pd.DatetimeIndex(block.keys["period_start"]).tz_convert(TZ)
    day_index = {d.date(): i for i, d in enumerate(days)}
    lagged = (starts.tz_convert("UTC") - pd.Timedelta(hours=48)).tz_convert(TZ)
    expected = [day_index[t.date()] for t in lagged]
    np.testing.assert_array_equal(block.matrix["cov_temp"].to_numpy(np.float64), expected)
    late = dataclasses.replace(
        essonne,
        covariates=(
            dataclasses.replace(
                temp, file=str(write(tmp_path / "old.csv", "date,value\n2020-01-01,1\n"))
            ),
        ),
    )
    with pytest.raises(CovariateError, match=r"\['temp'\] have no value between"):
        with_covariates(panel, late)


def test_counts_panel_keeps_missing_weeks_unknown(essonne: Territory) -> None:
    from previsecours.core.stored_counts import counts_level, known_counts_panel

    mondays = pd.DatetimeIndex(["2024-01-01", "2024-01-08", "2024-01-22"]).tz_localize(TZ)
    counts = pd.DataFrame(
        {
            "period_start": mondays.repeat(2),
            "area_code": "91",
            "category": ["SUAP", "ACCI"] * 3,
            "count": [10, 2, 11, 3, 12, 4],
        }
    )
    assert counts_level(essonne, ["91"]) == "departement"
    assert counts_level(essonne, ["91001", "91021"]) == "commune"
    assert counts_level(essonne, ["ANGER", "MASSY"]) == "station"
    with pytest.raises(ValueError, match=r"\['X1', 'X2'\] are neither communes"):
        counts_level(essonne, ["X1", "X2"])
    panel = known_counts_panel(
        counts, essonne, "week", start=mondays[0], end=pd.Timestamp("2024-01-29", tz=TZ)
    )
    assert set(panel.series["area_code"]) == {"essonne"}
    suap = panel.counts[panel.series["category"].tolist().index("SUAP")]
    incn = panel.counts[panel.series["category"].tolist().index("INCN")]
    np.testing.assert_array_equal(suap, [10, 11, np.nan, 12])  # week 3 missing: unknown
    np.testing.assert_array_equal(incn, [0, 0, np.nan, 0])  # no row in a known week: zero


def test_known_ahead_is_declared_checked_and_read_at_the_forecast_periods(
    tmp_path: Path, essonne: Territory
) -> None:
    from types import SimpleNamespace

    from previsecours.adapters.territory_files import load_territory, write_territory
    from previsecours.core.features import make_spec
    from previsecours.pipelines.forecast import ForecastError, ahead_notes, check_covariates

    path = write_territory(dataclasses.replace(essonne, name="cov"), tmp_path / "t")
    text = path.read_text(encoding="utf-8")
    (tmp_path / "t" / "games.csv").write_text(
        "date,value\n2024-01-01,0\n2024-01-02,1\n2024-01-03,\n2024-01-04,0\n", encoding="utf-8"
    )
    declared = (
        "covariates:\n  game:\n    file: games.csv\n    date_column: date\n"
        "    value_column: value\n    frequency: day\n    known_ahead: true\n"
    )
    territory = load_territory(write(path, text + declared))
    assert territory.covariates[0].known_ahead
    again = load_territory(write_territory(territory, tmp_path / "again"))
    assert again.covariates == territory.covariates
    with pytest.raises(TerritoryError, match=r"known_ahead 'soon' is not true or false"):
        load_territory(write(path, text + declared.replace("true", "soon")))
    # A forecast of 4 days from 2 January reads 2..5 January itself, not a horizon earlier:
    # the 3rd (empty cell) and the 5th (not in the file yet) are unknown, not an error.
    model = SimpleNamespace(spec=make_spec("day", 7, ("game",), known_ahead=("game",)))
    start = pd.Timestamp("2024-01-02", tz=TZ)
    assert check_covariates(model, territory, start, 4) == {"game": 2}  # type: ignore[arg-type]
    assert ahead_notes(model, territory, start, 4) == [  # type: ignore[arg-type]
        "covariate game: no value for 2024-01-03 … 2024-01-05 (2 of 4 period(s), known_ahead): "
        "unknown to the model"
    ]
    lagged = SimpleNamespace(spec=make_spec("day", 7, ("game",)))
    with pytest.raises(ForecastError, match=r"\[.game.\] have no value"):
        check_covariates(lagged, territory, start, 4)  # type: ignore[arg-type]
