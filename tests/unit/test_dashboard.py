"""The dashboard's reader, payloads and JSON API, checked against the forecast files themselves."""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from previsecours.adapters.store import read_events
from previsecours.core.history import History
from previsecours.core.territory import Geometry, Territory
from previsecours.dashboard.app import STATIC, create_app
from previsecours.dashboard.forecast_reader import (
    ForecastFileError,
    latest_issue,
    read_forecast_set,
)
from previsecours.dashboard.geometry import MAX_BUBBLE, MapProjection, layer_shapes
from previsecours.paths import Paths
from previsecours.testing.forecast_fixture import prepared_home, write_forecast_files

ISSUED_AT = pd.Timestamp("2026-12-28T05:00:00Z")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, essonne: Territory) -> Path:
    return prepared_home(tmp_path_factory.getbasetemp(), essonne, ISSUED_AT).home


@pytest.fixture(scope="module")
def forecast(home: Path) -> pd.DataFrame:
    return pd.read_parquet(next((home / "forecasts" / "essonne").glob("*Z.parquet")))


@pytest.fixture(scope="module")
def client(home: Path, essonne: Territory) -> TestClient:
    return TestClient(create_app(Paths(home), essonne))


def rows(forecast: pd.DataFrame, level: str, frequency: str, category: str) -> pd.DataFrame:
    return forecast[
        (forecast["level"] == level)
        & (forecast["frequency"] == frequency)
        & (forecast["category"] == category)
    ]


def period_rows(
    forecast: pd.DataFrame, level: str, index: int, frequency: str = "hour"
) -> pd.DataFrame:
    frame = rows(forecast, level, frequency, "ALL")
    start = sorted(frame["period_start"].unique())[index]
    one_period: pd.DataFrame = frame[frame["period_start"] == start].set_index("area_code")
    return one_period


# ---- reader ---------------------------------------------------------------------------------


def test_latest_issue_is_the_newest_complete_one(tmp_path: Path) -> None:
    folder = tmp_path / "forecasts" / "essonne"
    assert latest_issue(Paths(tmp_path), "essonne") is None
    folder.mkdir(parents=True)
    for name in (
        "20261227T050000Z.parquet",
        "20261227T050000Z.json",
        "20261228T050000Z.parquet",
        "20261228T050000Z.json",
        "20261229T050000Z.parquet",  # being written: its .json comes last
        "20261230T050000Z.staffing.parquet",
        "20261230T050000Z.json",
        "notes.parquet",
    ):
        (folder / name).touch()
    assert latest_issue(Paths(tmp_path), "essonne") == folder / "20261228T050000Z.parquet"


def test_a_file_breaking_the_contract_is_refused_by_name(
    tmp_path: Path, forecast: pd.DataFrame
) -> None:
    path = tmp_path / "20261228T050000Z.parquet"
    forecast.head(10).drop(columns=["p90"]).to_parquet(path)
    with pytest.raises(ForecastFileError, match=r"20261228T050000Z\.parquet.*p90"):
        read_forecast_set(path, "Europe/Paris")


def test_missing_side_files_leave_the_forecast_readable(tmp_path: Path, home: Path) -> None:
    source = next((home / "forecasts" / "essonne").glob("*Z.parquet"))
    shutil.copy(source, tmp_path / source.name)
    alone = read_forecast_set(tmp_path / source.name, "Europe/Paris")
    assert alone.staffing.empty
    assert alone.drivers.empty
    assert alone.metadata.model_version == "3"  # from the forecast's own columns
    assert alone.metadata.data_version == "md5:4f2a9c0e"
    assert alone.metadata.issued_at == ISSUED_AT  # from the file name
    assert str(alone.forecast["period_start"].dt.tz) == "Europe/Paris"


# ---- API ------------------------------------------------------------------------------------


def test_without_a_forecast_the_api_says_to_run_the_demo(
    tmp_path: Path, essonne: Territory
) -> None:
    empty = TestClient(create_app(Paths(tmp_path), essonne))
    response = empty.get("/api/meta")
    assert response.status_code == 503
    assert "make demo" in response.json()["detail"]
    assert empty.get("/").status_code == 200  # the page itself still loads, to show it


def test_meta_carries_the_provenance_always_shown(client: TestClient) -> None:
    meta = client.get("/api/meta").json()
    assert meta["model"] == {"name": "previsecours-essonne", "version": "3"}
    assert meta["data_version"] == "md5:4f2a9c0e"
    assert meta["data_label"] == "données du 28/12/2026 · 4f2a9c0e"  # date of the data + hash
    # The forecast starts right after the data: nothing to warn about.
    assert meta["window"]["label"] == "du lun. 28/12/2026 06:00 au lun. 04/01/2027 06:00"
    assert meta["window"]["note"] == ""
    assert meta["issued_label"] == "28/12/2026 06:00"  # issue time in the territory's zone
    inputs = {i["name"]: i for i in meta["inputs"]}
    assert inputs["interventions"]["age"] == "50 min avant l'émission"
    assert inputs["calendrier"]["age"] == "2 j avant l'émission"
    lengths = {f["key"]: len(f["periods"]) for f in meta["frequencies"]}
    assert lengths == {"hour": 168, "day": 8, "week": 2}
    assert meta["frequencies"][0]["periods"][0]["label"] == "lun. 28/12 06:00–07:00"
    assert meta["history"]["available"] is True


def test_map_slice_is_the_forecast_for_one_period_in_five_fixed_classes(
    client: TestClient, forecast: pd.DataFrame
) -> None:
    answer = client.get("/api/map", params={"period": 14}).json()
    expected = period_rows(forecast, "commune", 14)
    shown = pd.DataFrame(answer["areas"]).set_index("code")
    assert len(shown) == 196
    np.testing.assert_array_equal(shown["mean"], expected.loc[shown.index, "mean"])
    np.testing.assert_array_equal(shown["p10"], expected.loc[shown.index, "p10"])
    np.testing.assert_array_equal(shown["p90"], expected.loc[shown.index, "p90"])
    all_hours = rows(forecast, "commune", "hour", "ALL")["mean"]
    breaks = np.quantile(all_hours, [0.2, 0.4, 0.6, 0.8])
    assert answer["breaks"] == pytest.approx(breaks.tolist())
    for area in answer["areas"]:
        assert area["class"] == int(np.searchsorted(breaks, area["mean"], side="right"))
    night = client.get("/api/map", params={"period": 20}).json()  # 02:00
    assert night["breaks"] == answer["breaks"]
    assert np.mean([a["class"] for a in night["areas"]]) < np.mean(shown["class"])


def test_coverage_zone_layer_matches_the_zone_shapes(
    client: TestClient, essonne: Territory
) -> None:
    answer = client.get("/api/map", params={"level": "station", "frequency": "day"}).json()
    shapes = client.get("/api/geometry/station").json()
    assert {a["code"] for a in answer["areas"]} == {s["code"] for s in shapes["shapes"]}
    assert {s["code"] for s in shapes["shapes"]} == set(essonne.coverage_zones)


def test_commune_polygons_one_per_commune(client: TestClient, essonne: Territory) -> None:
    geometry = client.get("/api/geometry/commune").json()
    assert geometry["kind"] == "polygons"
    assert sorted(s["code"] for s in geometry["shapes"]) == sorted(essonne.commune_codes)
    assert all(re.fullmatch(r"(M[-\d.,L]+Z)+", s["d"]) for s in geometry["shapes"])
    assert next(s["name"] for s in geometry["shapes"] if s["code"] == "91228") == "Évry"


def test_without_geojson_communes_are_bubbles_sized_by_population(essonne: Territory) -> None:
    bare = dataclasses.replace(essonne, geometry=Geometry())
    geometry = layer_shapes(bare, "commune", MapProjection.for_territory(bare))
    assert geometry["kind"] == "bubbles"
    assert len(geometry["shapes"]) == 196
    biggest = max(essonne.communes, key=lambda c: c.population).code
    radius = {s["code"]: s["r"] for s in geometry["shapes"]}
    assert radius[biggest] == MAX_BUBBLE
    assert min(radius.values()) >= 3


def test_area_detail_gives_interval_references_and_plain_drivers(
    client: TestClient, forecast: pd.DataFrame
) -> None:
    detail = client.get("/api/area/commune/91228", params={"period": 3}).json()
    row = period_rows(forecast, "commune", 3).loc["91228"]
    assert (detail["mean"], detail["p10"], detail["p90"]) == (row["mean"], row["p10"], row["p90"])
    assert detail["ref_3y_mean"] == row["ref_3y_mean"]
    assert detail["ref_same_weeks"]["years"] == [2025, 2024, 2023]
    assert detail["drivers"]["scope"] == ""
    assert detail["drivers"]["items"][0]["driver"] == "heure de la journée"
    assert re.fullmatch(r"heure de la journée : \+\d+ %", detail["drivers"]["items"][0]["text"])
    assert detail["zones"][0] == {"zone": "EVRY", "share_pct": 98.1}
    # Commune drivers exist for all categories together only: the panel says so.
    suap = client.get("/api/area/commune/91228", params={"category": "SUAP"}).json()
    assert suap["drivers"]["scope"] == "toutes catégories"


def test_drivers_fall_back_to_the_zone_then_the_territory(home: Path, essonne: Territory) -> None:
    from previsecours.dashboard.views import Dashboard, Selection

    full = read_forecast_set(
        next((home / "forecasts" / "essonne").glob("*Z.parquet")), essonne.timezone
    )
    drivers = full.drivers
    station_only = dataclasses.replace(full, drivers=drivers[drivers["level"] == "station"])
    board = Dashboard(essonne, station_only, None)
    start = board.period_start("day", 3)  # 31/12: the day holds New Year's Eve's evening
    commune = board.drivers(Selection("commune", "ALL", "day", 3), "91228", start)
    assert commune["scope"] == "zone de couverture EVRY"
    evry = drivers[
        (drivers["area_code"] == "EVRY")
        & (drivers["category"] == "ALL")
        & (drivers["period_start"] >= start)
        & (drivers["period_start"] < start + pd.Timedelta(days=1))
    ]
    new_year = evry.loc[evry["driver"] == "nuit du Nouvel An", "effect"].sum() / 24
    shown = {d["driver"]: d["effect"] for d in commune["items"]}
    assert shown["nuit du Nouvel An"] == pytest.approx(new_year)
    whole = board.drivers(Selection("departement", "INCU", "hour", 3), "essonne", start)
    assert whole["scope"] == "moyenne du territoire"


def test_same_weeks_reference_reads_the_history_at_its_rate(client: TestClient) -> None:
    # The history written around the forecast holds ~10 interventions an hour.
    hour = client.get("/api/area/departement/essonne", params={"period": 14}).json()
    day = client.get(
        "/api/area/departement/essonne", params={"frequency": "day", "period": 2}
    ).json()
    week = client.get(
        "/api/area/departement/essonne", params={"frequency": "week", "period": 0}
    ).json()
    assert hour["ref_same_weeks"]["mean"] == pytest.approx(10, rel=0.1)
    assert day["ref_same_weeks"]["mean"] == pytest.approx(240, rel=0.03)
    assert week["ref_same_weeks"]["mean"] == pytest.approx(1680, rel=0.03)


def test_station_view_has_seven_days_hourly_actuals_and_crews(
    client: TestClient, forecast: pd.DataFrame, home: Path, essonne: Territory
) -> None:
    view = client.get("/api/station/EVRY").json()
    expected = rows(forecast, "station", "hour", "ALL")
    expected = expected[expected["area_code"] == "EVRY"]
    assert view["forecast"]["mean"] == expected["mean"].tolist()
    assert len(view["forecast"]["times"]) == 168
    actuals = view["actuals"]
    assert len(actuals["times"]) == 168
    assert actuals["times"][-1] == "2026-12-28T05:00:00+01:00"  # the hour before the horizon
    events = read_events(Paths(home), essonne)
    start = pd.Timestamp("2026-12-21T06:00", tz="Europe/Paris")
    window = events[
        (events["alert_time"] >= start) & (events["alert_time"] < start + pd.Timedelta(days=7))
    ]
    assert sum(actuals["counts"]) == int((window["station_code"] == "EVRY").sum())
    shifts = [s["shift"] for s in view["staffing"]]
    assert {"jour ouvré", "jour non ouvré", "nuit"} <= set(shifts)
    assert all(0 <= s["saturation_risk"] <= 1 for s in view["staffing"])


def test_a_station_without_its_own_zone_shows_the_zone_around_it(client: TestClient) -> None:
    view = client.get("/api/station/CS-RISORANG").json()
    assert view["station"]["zone"] == "EVRY"
    assert "zone EVRY" in view["note"]


def test_departement_view_totals_peaks_and_new_year_alert(
    client: TestClient, forecast: pd.DataFrame
) -> None:
    view = client.get("/api/departement").json()
    daily = rows(forecast, "departement", "day", "ALL")
    assert [d["values"]["ALL"]["mean"] for d in view["days"]] == daily["mean"].tolist()
    assert [c["key"] for c in view["categories"]] == ["ALL", "SUAP", "ACCI", "INCU", "INCN", "AUTR"]
    assert view["peaks"][0]["label"] == "jeu. 31/12 20:00–21:00"
    incu = [a for a in view["alerts"] if a["category"] == "INCU" and a["frequency"] == "hour"]
    assert incu[0]["label"] == "jeu. 31/12 20:00 → ven. 01/01 06:00"
    assert incu[0]["ratio"] >= 4
    assert not [a for a in view["alerts"] if a["start"] < "2026-12-31"]  # quiet days: no alert


def french_csv(text: str) -> pd.DataFrame:
    """A CSV as a French spreadsheet reads it: BOM, `;`, decimal comma."""
    assert text.startswith("\ufeff")
    return pd.read_csv(io.StringIO(text[1:]), sep=";", decimal=",", dtype={"Code zone": str})


def test_map_export_is_the_displayed_table(client: TestClient, forecast: pd.DataFrame) -> None:
    params = {"level": "station", "period": 5}
    response = client.get("/api/export/map.csv", params=params)
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    table = french_csv(response.text)
    assert list(table.columns) == [
        "Niveau",
        "Code zone",
        "Zone",
        "Catégorie",
        "Pas de temps",
        "Début de période",
        "Décalage UTC",
        "Fin de période",
        "Prévision moyenne",
        "Intervalle 80 % bas",
        "Intervalle 80 % haut",
        "Même période, moyenne sur 3 ans",
        "Classe",
    ]
    shown = client.get("/api/map", params=params).json()["areas"]
    by_mean = sorted(shown, key=lambda a: (-a["mean"], a["code"]))
    assert table["Code zone"].tolist() == [a["code"] for a in by_mean]
    assert table["Prévision moyenne"].tolist() == pytest.approx(
        [a["mean"] for a in by_mean], abs=5e-5
    )
    labels = ["très faible", "faible", "moyenne", "forte", "très forte"]
    assert table["Classe"].tolist() == [labels[a["class"]] for a in by_mean]
    expected = period_rows(forecast, "station", 5).loc[table["Code zone"]]
    assert table["Même période, moyenne sur 3 ans"].tolist() == pytest.approx(
        expected["ref_3y_mean"].tolist(), abs=5e-5
    )
    assert set(table["Niveau"]) == {"zone de couverture"}
    assert set(table["Catégorie"]) == {"toutes catégories"}
    assert set(table["Début de période"]) == {"28/12/2026 11:00"}
    assert set(table["Décalage UTC"]) == {"UTC+01:00"}


def test_station_and_departement_exports(client: TestClient) -> None:
    station = french_csv(client.get("/api/export/station/EVRY.csv").text)
    assert len(station) == 168
    assert set(station["Code zone"]) == {"EVRY"}
    departement = french_csv(client.get("/api/export/departement.csv").text)
    assert len(departement) == 8 * 6  # days × (5 categories + ALL)
    assert set(departement["Pas de temps"]) == {"jour"}
    assert set(departement["Zone"]) == {"SDIS 91 — Essonne"}


@pytest.mark.parametrize(
    "url",
    [
        "/api/map?period=999",
        "/api/map?level=region",
        "/api/station/NOPE",
        "/api/export/station/NOPE.csv",
        "/api/area/commune/99999",
        "/api/geometry/rivers",
    ],
)
def test_unknown_selections_are_404_with_a_reason(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.json()["detail"]


def test_an_unreadable_history_leaves_the_forecast_on_screen(
    home: Path, essonne: Territory
) -> None:
    def broken(paths: Paths, territory: Territory) -> History:
        raise OSError("disque indisponible")

    degraded = TestClient(create_app(Paths(home), essonne, history_reader=broken))
    meta = degraded.get("/api/meta").json()
    assert meta["history"]["available"] is False
    assert "disque indisponible" in meta["history"]["note"]
    station = degraded.get("/api/station/EVRY").json()
    assert station["actuals"] is None
    assert len(station["forecast"]["mean"]) == 168
    assert degraded.get("/api/area/commune/91228").json()["ref_same_weeks"] is None


def test_every_asset_is_local(client: TestClient) -> None:
    bundle = client.get("/vendor/plotly.min.js")
    assert bundle.status_code == 200
    assert "javascript" in bundle.headers["content-type"]
    assert bundle.text.lstrip().startswith("/**\n* plotly.js")
    remote = re.compile(
        r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|fetch\(\s*["']https?:"""
    )
    for asset in STATIC.iterdir():
        assert not remote.search(asset.read_text(encoding="utf-8")), asset.name
        assert client.get(f"/static/{asset.name}").status_code == 200


def test_cli_serves_on_localhost_and_says_when_there_is_no_forecast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from previsecours.cli import app

    calls = []
    monkeypatch.setattr(
        "previsecours.dashboard.app.serve",
        lambda paths, territory, host, port: calls.append((paths.home, host, port)),
    )
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "dashboard"])
    assert result.exit_code == 0, result.output
    assert "lancez « make demo »" in result.output
    assert calls == [(tmp_path.resolve(), "127.0.0.1", 8050)]


def weekly_counts(events: pd.DataFrame) -> pd.DataFrame:
    """The events as a counts-only service would publish them: per commune, category, week."""
    local = events["alert_time"]
    week = local.dt.normalize() - pd.to_timedelta(local.dt.day_of_week, unit="D")
    return (
        events.assign(period_start=week)
        .groupby(["period_start", "commune_code", "category"], as_index=False)
        .size()
        .rename(columns={"commune_code": "area_code", "size": "count"})
    )


def test_weekly_counts_give_the_same_weekly_reference_as_the_events(
    home: Path, essonne: Territory, tmp_path: Path
) -> None:
    from previsecours.adapters.store import write_counts

    shutil.copytree(home / "forecasts", tmp_path / "forecasts")
    events = read_events(Paths(home), essonne)
    write_counts(Paths(tmp_path), essonne, "week", weekly_counts(events))
    from_events = TestClient(create_app(Paths(home), essonne))
    from_counts = TestClient(create_app(Paths(tmp_path), essonne))

    assert from_counts.get("/api/meta").json()["history"]["resolution"] == "week"
    week = {"frequency": "week", "period": 0}
    for code in ("91228", "91001"):
        expected = from_events.get(f"/api/area/commune/{code}", params=week).json()
        shown = from_counts.get(f"/api/area/commune/{code}", params=week).json()
        assert shown["ref_same_weeks"]["mean"] == pytest.approx(expected["ref_same_weeks"]["mean"])
    # Weekly counts say nothing of an hour: no hourly reference, no recent hourly actuals.
    assert from_counts.get("/api/area/commune/91228").json()["ref_same_weeks"] is None
    station = from_counts.get("/api/station/EVRY").json()
    assert station["actuals"] is None
    assert "hebdomadaires" in station["actuals_note"]


def test_alerts_need_to_beat_both_past_years_and_the_horizon(
    home: Path, essonne: Territory
) -> None:
    from previsecours.dashboard.views import Dashboard

    issue = read_forecast_set(
        next((home / "forecasts" / "essonne").glob("*Z.parquet")), essonne.timezone
    )
    alerts = Dashboard(essonne, issue, None).alerts()
    assert {a["start"][:13] for a in alerts} == {"2026-12-31T00", "2026-12-31T20"}
    # A forecast whose references already hold the peak (a habitual one) raises no alert.
    habitual = issue.forecast.assign(ref_3y_mean=issue.forecast["mean"])
    assert Dashboard(essonne, dataclasses.replace(issue, forecast=habitual), None).alerts() == []
    # Without references, the horizon's usual level for the hour still finds New Year's night.
    unknown = issue.forecast.assign(ref_3y_mean=np.nan)
    without = Dashboard(essonne, dataclasses.replace(issue, forecast=unknown), None).alerts()
    night = [a for a in without if a["category"] == "ALL" and a["frequency"] == "hour"]
    assert night[0]["label"] == "jeu. 31/12 20:00 → ven. 01/01 06:00"
    assert night[0]["ratio"] >= 1.5


def test_without_populations_bubbles_are_all_alike(essonne: Territory) -> None:
    communes = tuple(dataclasses.replace(c, population=0) for c in essonne.communes)
    bare = dataclasses.replace(essonne, geometry=Geometry(), communes=communes)
    geometry = layer_shapes(bare, "commune", MapProjection.for_territory(bare))
    assert {s["r"] for s in geometry["shapes"]} == {MAX_BUBBLE / 2}


def test_a_newer_issue_is_served_without_a_restart(
    tmp_path: Path, home: Path, essonne: Territory
) -> None:
    shutil.copytree(home / "forecasts", tmp_path / "forecasts")
    client = TestClient(create_app(Paths(tmp_path), essonne))
    assert client.get("/api/meta").json()["issued_label"] == "28/12/2026 06:00"
    later = pd.Timestamp("2026-12-29T05:00:00Z")
    write_forecast_files(essonne, tmp_path, later, hours=24)
    meta = client.get("/api/meta").json()
    assert meta["issued_label"] == "29/12/2026 06:00"
    assert len(meta["frequencies"][0]["periods"]) == 24


# ---- readable versions, the forecast's start, crews --------------------------------------------


def test_data_label_is_the_date_of_the_data_and_a_short_hash() -> None:
    from previsecours.dashboard.views import data_label

    until = pd.Timestamp("2026-12-05T23:39", tz="Europe/Paris")
    assert data_label("599b742f0c1d2e3f4a5b6c7d8e9f0a1b.dir", until) == (
        "données du 05/12/2026 · 599b742f"
    )
    assert data_label("unversioned", until) == "données du 05/12/2026 · non versionnées"
    assert data_label("md5:4f2a9c0e", None) == "4f2a9c0e"


def test_a_forecast_starting_before_the_end_of_the_data_is_flagged(
    home: Path, essonne: Territory
) -> None:
    from previsecours.dashboard.views import Dashboard

    issue = read_forecast_set(
        next((home / "forecasts" / "essonne").glob("*Z.parquet")), essonne.timezone
    )
    # Data until 05:10 the next day: the forecast's first hours are already past.
    later: dict[str, pd.Timestamp | None] = {"interventions": pd.Timestamp("2026-12-29T04:10Z")}
    ahead = dataclasses.replace(issue.metadata, inputs=later)
    window = Dashboard(essonne, dataclasses.replace(issue, metadata=ahead), None).meta()["window"]
    assert "avant la fin des données (29/12/2026 05:10)" in window["note"]
    # Data stopping 3 days early: the gap is said.
    earlier: dict[str, pd.Timestamp | None] = {"interventions": pd.Timestamp("2026-12-25T05:00Z")}
    behind = dataclasses.replace(issue.metadata, inputs=earlier)
    window = Dashboard(essonne, dataclasses.replace(issue, metadata=behind), None).meta()["window"]
    assert "Les données s'arrêtent le 25/12/2026 06:00, 3 j avant" in window["note"]


def test_unknown_current_crews_are_explained_once_not_shown_as_dashes(
    home: Path, essonne: Territory
) -> None:
    from previsecours.dashboard.views import Dashboard

    issue = read_forecast_set(
        next((home / "forecasts" / "essonne").glob("*Z.parquet")), essonne.timezone
    )
    assert Dashboard(essonne, issue, None).station_view("EVRY", "ALL")["crews_known"] is True
    unknown = issue.staffing.assign(current_crews=np.nan, saturation_risk=np.nan)
    view = Dashboard(essonne, dataclasses.replace(issue, staffing=unknown), None).station_view(
        "EVRY", "ALL"
    )
    assert view["crews_known"] is False
    assert "staffing.current_crews_file" in view["crews_note"]
    assert view["staffing"][0]["recommended_crews"] >= 1
    # Known for other stations but not this one: said for this station.
    partial = issue.staffing.copy()
    partial.loc[partial["station_code"] == "EVRY", ["current_crews", "saturation_risk"]] = np.nan
    view = Dashboard(essonne, dataclasses.replace(issue, staffing=partial), None).station_view(
        "EVRY", "ALL"
    )
    assert view["crews_known"] is True
    assert "ce centre" in view["crews_note"]


def test_recent_actuals_run_up_to_the_forecast_start_and_stop_with_the_data(
    client: TestClient, home: Path, essonne: Territory
) -> None:
    from previsecours.dashboard.actuals import Actuals

    view = client.get("/api/departement").json()
    first = pd.Timestamp(view["hourly"]["times"][0])
    assert pd.Timestamp(view["actuals"]["times"][-1]) == first - pd.Timedelta(hours=1)
    events = read_events(Paths(home), essonne)
    window = events["alert_time"] >= first - pd.Timedelta(days=7)
    assert sum(view["actuals"]["counts"]) == int(window.sum())
    # A history stopping 5 hours before the forecast: those hours are unknown, not zero.
    cut = events[events["alert_time"] < first - pd.Timedelta(hours=5)]
    actuals = Actuals.of(History.of_events(cut), essonne.timezone)
    counts = actuals.recent_hourly("departement", "essonne", "ALL", first)
    assert counts is not None
    assert counts.index[-1] == first - pd.Timedelta(hours=6)


# ---- where a forecast starts ------------------------------------------------------------------


def test_forecast_origin_is_the_first_period_after_the_data(essonne: Territory) -> None:
    tz = essonne.timezone
    times = pd.to_datetime(["2026-12-01 08:10", "2026-12-05 23:39"]).tz_localize(tz)
    events = History.of_events(pd.DataFrame({"alert_time": times}))
    sunday = pd.Timestamp("2026-12-06 00:00", tz=tz)
    assert events.forecast_origin(essonne, "hour") == sunday
    assert events.forecast_origin(essonne, "day") == sunday
    assert events.forecast_origin(essonne, "week") == pd.Timestamp("2026-12-07 00:00", tz=tz)
    # Training stops at the last (possibly incomplete) day: not where a forecast starts.
    assert events.end(essonne, "hour") == pd.Timestamp("2026-12-05 00:00", tz=tz)
    mid_hour = History.of_events(pd.DataFrame({"alert_time": times[:1]}))
    assert mid_hour.forecast_origin(essonne, "hour") == pd.Timestamp("2026-12-01 09:00", tz=tz)
    # Autumn DST: the repeated 02:00 hour is two periods.
    repeated = pd.Timestamp("2026-10-25 02:30").tz_localize(tz, ambiguous=True)  # +02:00
    autumn = History.of_events(pd.DataFrame({"alert_time": [repeated]}))
    origin = autumn.forecast_origin(essonne, "hour")
    assert origin.tz_convert("UTC") == pd.Timestamp("2026-10-25 01:00", tz="UTC")
    # Counts: the period after the last stored one.
    weeks = pd.to_datetime(["2026-11-23", "2026-11-30"]).tz_localize(tz)
    counts = History.of_counts(
        pd.DataFrame({"period_start": weeks, "area_code": "91228", "category": "SUAP", "count": 3}),
        "week",
    )
    assert counts.forecast_origin(essonne, "week") == pd.Timestamp("2026-12-07 00:00", tz=tz)


# ---- the spreadsheet CSV ----------------------------------------------------------------------


def test_spreadsheet_csv_is_french_and_neutralises_formulas() -> None:
    from previsecours.core.forecast_table import spreadsheet_csv

    start = pd.Timestamp("2026-12-06 00:00", tz="Europe/Paris")
    table = pd.DataFrame(
        {
            "period_start": [start, start],
            "area_name": ['=HYPERLINK("http://x")', "Saint-Germain; nord"],
            "category": ["ALL", "@SUAP"],
            "mean": [1234.56789, -0.5],
            "p10": [2.0, np.nan],
            "note": ["+33 1 23", "-"],
        }
    )
    text = spreadsheet_csv(table)
    assert text.startswith("\ufeff")
    lines = text[1:].split("\r\n")
    assert lines[0] == (
        "Début de période;Décalage UTC;Zone;Catégorie;Prévision moyenne;Intervalle 80 % bas;note"
    )
    assert lines[1] == (
        '06/12/2026 00:00;UTC+01:00;"\'=HYPERLINK(""http://x"")";toutes catégories;'
        "1234,5679;2;'+33 1 23"
    )
    # Text with the separator is quoted; negative numbers stay numbers; unknown is empty.
    assert lines[2] == "06/12/2026 00:00;UTC+01:00;\"Saint-Germain; nord\";'@SUAP;-0,5;;'-"
    back = pd.read_csv(io.StringIO(text[1:]), sep=";", decimal=",")
    assert back["Prévision moyenne"].tolist() == [1234.5679, -0.5]
    assert back["Zone"].tolist() == ['\'=HYPERLINK("http://x")', "Saint-Germain; nord"]


# ---- the territory's words, the opening level, the warnings (issue #16) ---------------------


@pytest.fixture(scope="module")
def montgomery() -> Territory:
    from previsecours.adapters.territory_files import load_territory
    from tests.conftest import REPO

    return load_territory(REPO / "territories" / "montgomery-pa.yaml")


def test_a_foreign_territory_speaks_its_own_words(tmp_path: Path, montgomery: Territory) -> None:
    write_forecast_files(montgomery, tmp_path, ISSUED_AT)
    client = TestClient(
        create_app(Paths(tmp_path), montgomery, lambda *_: History.of_events(pd.DataFrame()))
    )
    meta = client.get("/api/meta").json()
    assert meta["presentation"]["total_label"] == "County"
    assert meta["presentation"]["credits"].startswith("Calls: montcoalert.org")
    assert "IGN" not in meta["presentation"]["credits"]
    assert {lv["key"]: lv["label"] for lv in meta["levels"]} == {
        "commune": "township",
        "departement": "county",
    }
    assert [lv["layer"] for lv in meta["levels"]] == ["Townships", "County"]
    colours = {c["key"]: c["colour"] for c in meta["categories"]}
    assert colours == {"ALL": "#5b6475", "EMS": "#1f77b4", "FIRE": "#d62728", "TRAFFIC": "#ff7f0e"}
    labels = {c["key"]: c["label"] for c in meta["categories"]}
    assert labels["EMS"] == "EMS — emergency medical services"
    # No station level: no crews, and the page says crews need stations.
    assert "centres" in meta["crews_note"]
    assert meta["opening"] == {"level": "commune", "frequency": "hour", "note": ""}
    view = client.get("/api/departement").json()
    assert {c["key"]: c["colour"] for c in view["categories"]}["FIRE"] == "#d62728"
    detail = client.get("/api/area/commune/ABINGTON").json()
    assert detail["level_label"] == "township"


def test_essonne_keeps_its_french_words(client: TestClient) -> None:
    meta = client.get("/api/meta").json()
    assert meta["presentation"]["total_label"] == "Département"
    assert meta["presentation"]["credits"] == "Carte : contours IGN Admin Express / SDIS 91."
    assert [lv["layer"] for lv in meta["levels"]] == [
        "Communes",
        "Zones de couverture",
        "Département",
    ]
    assert {c["key"]: c["colour"] for c in meta["categories"]} == {
        "ALL": "#5b6475",
        "SUAP": "#1f77b4",
        "ACCI": "#ff7f0e",
        "INCU": "#d62728",
        "INCN": "#2ca02c",
        "AUTR": "#9467bd",
    }
    assert meta["opening"] == {"level": "commune", "frequency": "hour", "note": ""}
    assert meta["warnings"] == []
    assert meta["crews_note"] == ""
    assert STATIC.joinpath("app.js").read_text().count("CATEGORY_COLOURS[") == 0


def test_categories_without_a_colour_get_distinct_palette_colours(montgomery: Territory) -> None:
    from previsecours.core.territory import Presentation
    from previsecours.dashboard.views import category_colours

    other = dataclasses.replace(
        montgomery,
        categories=("EMS", "FIRE", "TRAFFIC", "HAZMAT", "RESCUE"),
        mapping=dataclasses.replace(montgomery.mapping, categories={}),
        presentation=Presentation(category_colours={"EMS": "#1F77B4"}),
    )
    first = category_colours(other)
    assert first == category_colours(other)  # deterministic
    assert len({c.lower() for c in first.values()}) == 5  # distinct, none grey by default
    assert first["EMS"] == "#1F77B4"
    assert all(re.fullmatch(r"#[0-9A-Fa-f]{6}", c) for c in first.values())


def test_a_territory_file_presentation_block_is_checked(tmp_path: Path) -> None:
    from previsecours.adapters.territory_files import load_territory
    from previsecours.core.territory import TerritoryError
    from tests.conftest import REPO

    text = (REPO / "territories" / "montgomery-pa.yaml").read_text(encoding="utf-8")
    (tmp_path / "montgomery-pa").symlink_to(REPO / "territories" / "montgomery-pa")
    for bad, message in (
        ('    EMS: "#1f77b4"', "not a #rrggbb colour"),
        ("  total_label: County", "unknown key"),
    ):
        broken = text.replace(bad, bad.replace('"#1f77b4"', "blue").replace("total_", "sum_"))
        path = tmp_path / "montgomery-pa.yaml"
        path.write_text(broken, encoding="utf-8")
        with pytest.raises(TerritoryError, match=message):
            load_territory(path)


def test_weekly_departement_counts_open_on_the_departement_by_week(
    tmp_path: Path, home: Path, forecast: pd.DataFrame, essonne: Territory
) -> None:
    """Counts at département level only: the first screen is the département by week, says
    what the map cannot show, and the metadata's warnings (biased champion, old data) show."""
    from previsecours.adapters import forecast_files

    weekly = forecast[(forecast["level"] == "departement") & (forecast["frequency"] == "week")]
    side = home / "forecasts" / "essonne"
    data_end = weekly["period_start"].min()  # the forecast starts right after the data...
    forecast_files.write_forecast(
        Paths(tmp_path),
        "essonne",
        pd.Timestamp("2030-12-30T05:00:00Z"),  # ... which ended 4 years before the issue
        forecast=weekly.reset_index(drop=True),
        staffing=pd.read_parquet(next(side.glob("*.staffing.parquet"))).iloc[:0],
        drivers=pd.read_parquet(next(side.glob("*.drivers.parquet"))).iloc[:0],
        metadata={
            "model_name": "previsecours-essonne",
            "model_version": "2",
            "data_version": "md5:1",
            "inputs": {"interventions": (data_end - pd.Timedelta(minutes=1)).isoformat()},
            "data_stale": {"data_end": data_end.isoformat(), "age_days": 1463.2},
            "champion_backtest": {"bias_pct": {"departement×week": 14.25}},
            "staffing": {"note": "No crews: the store holds counts only."},
        },
    )
    client = TestClient(
        create_app(Paths(tmp_path), essonne, lambda *_: History.of_events(pd.DataFrame()))
    )
    meta = client.get("/api/meta").json()
    assert meta["opening"]["level"] == "departement"
    assert meta["opening"]["frequency"] == "week"
    note = meta["opening"]["note"]
    assert "le niveau commune" in note and "les heures" in note and "par semaine" in note
    assert [f["key"] for f in meta["frequencies"]] == ["week"]
    first = client.get("/api/map?level=departement&frequency=week&period=0").json()
    assert [a["code"] for a in first["areas"]] == ["essonne"]
    shapes = client.get("/api/geometry/departement").json()["shapes"]
    assert shapes and {s["code"] for s in shapes} == {"essonne"}
    assert any("biaisé" in w and "+14,2 %" in w for w in meta["warnings"])
    last = data_end - pd.Timedelta(minutes=1)
    assert f"Les données s'arrêtent le {last:%d/%m/%Y %H:%M}, 1463 j" in meta["window"]["note"]
    assert "pas aujourd'hui" in meta["window"]["note"]
    view = client.get("/api/departement").json()
    assert view["grain"] == "week"
    assert view["hourly"]["times"] == []
    assert len(view["days"]) == weekly["period_start"].nunique()
    assert client.get("/api/export/departement.csv").status_code == 200
