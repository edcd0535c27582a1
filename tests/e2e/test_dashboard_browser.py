"""The planners' dashboard in a real headless Chromium, served by `previsecours dashboard`.

Each test checks what a planner sees against the forecast files themselves, saves a screenshot
under test-artifacts/, and ends by checking that the browser logged no error and requested
nothing but the local server.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from previsecours.adapters.store import read_events
from previsecours.dashboard.views import NO_CREWS_NOTE
from previsecours.paths import Paths
from tests.e2e.conftest import PageLog, Server

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

    from previsecours.core.territory import Territory


READY = "body[data-ready=true]"
PALETTE = {"#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"}


@pytest.fixture(scope="module")
def forecast(dashboard_server: Server) -> pd.DataFrame:
    return pd.read_parquet(dashboard_server.files.forecast)


@pytest.fixture
def clean(page_log: PageLog, dashboard_server: Server) -> Iterator[None]:
    """After the test: no console error, and not one request beyond the local server."""
    yield
    assert page_log.errors == []
    assert page_log.requests, "the page requested nothing"
    foreign = [u for u in page_log.requests if not u.startswith(dashboard_server.url + "/")]
    assert foreign == []


def open_dashboard(page: Page, server: Server) -> None:
    """Load the page until the map is coloured (its speed is measured in bench/, not here)."""
    page.goto(server.url + "/")
    page.wait_for_selector(READY, timeout=30_000)


def hourly_rows(forecast: pd.DataFrame, level: str, index: int) -> pd.DataFrame:
    rows = forecast[
        (forecast["level"] == level)
        & (forecast["frequency"] == "hour")
        & (forecast["category"] == "ALL")
    ]
    start = sorted(rows["period_start"].unique())[index]
    one_period: pd.DataFrame = rows[rows["period_start"] == start].set_index("area_code")
    return one_period


def shape_state(page: Page) -> dict[str, tuple[str, str]]:
    state: dict[str, tuple[str, str]] = page.eval_on_selector_all(  # the page's JSON
        "#map .area",
        "nodes => Object.fromEntries(nodes.map(n => [n.dataset.code, [n.getAttribute('fill'),"
        " n.dataset.mean]]))",
    )
    return state


def move_slider(page: Page, steps: int) -> None:
    page.focus("#period")
    for _ in range(steps):
        page.keyboard.press("ArrowRight")
    page.wait_for_selector(f"#map[data-period='{steps}']")


@pytest.mark.usefixtures("clean")
def test_map_has_one_shape_per_commune_and_shows_provenance(
    page: Page, dashboard_server: Server, essonne: Territory, artifacts: Path
) -> None:
    open_dashboard(page, dashboard_server)

    shapes = shape_state(page)
    assert len(shapes) == 196
    assert set(shapes) == {c.code for c in essonne.communes}
    assert {fill for fill, _ in shapes.values()} <= PALETTE
    assert len({fill for fill, _ in shapes.values()}) == 5  # all five classes are in use
    assert page.locator("#map .station").count() == len(essonne.stations)
    assert page.locator("#legend").inner_text().startswith("très faible")
    assert "très forte" in page.locator("#legend").inner_text()
    assert page.locator("#meta-model").inner_text() == "previsecours-essonne v3"
    assert page.locator("#meta-data").inner_text() == "données du 28/12/2026 · 4f2a9c0e"
    assert page.locator("#meta-data").get_attribute("title") == "version complète : md5:4f2a9c0e"
    window = page.locator("#meta-window").inner_text()
    assert window == "du lun. 28/12/2026 06:00 au lun. 04/01/2027 06:00"
    assert not page.locator("#window-note").is_visible()
    assert page.locator("#meta-issued").inner_text() == "28/12/2026 06:00 (Europe/Paris)"
    assert "interventions : 28/12/2026 05:10" in page.locator("#meta-inputs").inner_text()
    page.screenshot(path=artifacts / "dashboard-map.png", full_page=True)


@pytest.mark.usefixtures("clean")
def test_slider_changes_colours_and_numbers(
    page: Page, dashboard_server: Server, forecast: pd.DataFrame, artifacts: Path
) -> None:
    open_dashboard(page, dashboard_server)
    before, label_before = shape_state(page), page.locator("#period-label").inner_text()

    move_slider(page, 14)  # 06:00 → 20:00, the evening plateau

    after = shape_state(page)
    assert page.locator("#period-label").inner_text() == "lun. 28/12 20:00–21:00"
    assert label_before == "lun. 28/12 06:00–07:00"
    assert sum(before[c][0] != after[c][0] for c in before) > 20
    assert all(before[c][1] != after[c][1] for c in before)
    expected = hourly_rows(forecast, "commune", 14)["mean"]
    shown = pd.Series({c: float(mean) for c, (_, mean) in after.items()})
    pd.testing.assert_series_equal(
        shown.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )
    page.screenshot(path=artifacts / "dashboard-map-slider.png", full_page=True)


@pytest.mark.usefixtures("clean")
def test_clicking_a_commune_opens_its_detail(
    page: Page, dashboard_server: Server, forecast: pd.DataFrame, artifacts: Path
) -> None:
    open_dashboard(page, dashboard_server)
    page.click("#map .area[data-code='91228']")  # Évry
    page.wait_for_selector("#detail:not([hidden]) #detail-mean")

    row = hourly_rows(forecast, "commune", 0).loc["91228"]
    detail = page.locator("#detail").inner_text()
    assert "Évry (91228)" in detail
    mean_text = page.locator("#detail-mean").inner_text()
    assert float(mean_text.split()[0].replace(",", ".")) == pytest.approx(row["mean"], abs=0.01)
    assert f"Intervalle à 80 % : {row['p10']:.0f} – {row['p90']:.0f}" in detail
    assert "moyenne sur 3 ans" in detail
    assert "Mêmes semaines ±2 (2025, 2024, 2023)" in detail
    assert "vacances scolaires" in detail  # a driver, in plain words
    page.screenshot(path=artifacts / "dashboard-detail.png")  # the map and its detail panel

    page.click("#detail .zones a[data-zone='EVRY']")  # the commune's main coverage zone
    page.wait_for_selector("#station-chart .main-svg")
    assert "CSP EVRY" in page.locator("#station-title").inner_text()


@pytest.mark.usefixtures("clean")
def test_clicking_a_station_opens_its_seven_day_chart(
    page: Page, dashboard_server: Server, forecast: pd.DataFrame, artifacts: Path
) -> None:
    open_dashboard(page, dashboard_server)
    page.click("#map .station[data-code='EVRY']")
    page.wait_for_selector("#station-chart .main-svg")

    assert page.locator("#view-station").is_visible()
    assert not page.locator("#view-map").is_visible()
    assert "CSP EVRY" in page.locator("#station-title").inner_text()
    traces = page.evaluate(
        "() => document.getElementById('station-chart').data.map(t => [t.name, t.y.length])"
    )
    names = [name for name, _ in traces]
    assert "Intervalle à 80 %" in names
    assert "Prévision (moyenne)" in names
    assert "Réalisé (7 derniers jours)" in names
    assert "Même période, moyenne sur 3 ans" in names
    assert dict(traces)["Prévision (moyenne)"] == 168  # 7 days, hourly
    expected = forecast[
        (forecast["level"] == "station")
        & (forecast["area_code"] == "EVRY")
        & (forecast["frequency"] == "hour")
        & (forecast["category"] == "ALL")
    ]["mean"].tolist()
    shown = page.evaluate("() => document.getElementById('station-chart').data[2].y")
    assert shown == pytest.approx(expected)
    assert page.locator("#staffing-table tbody tr").count() >= 14  # two shifts a day
    page.wait_for_timeout(300)  # let Plotly finish its transition before the picture
    page.screenshot(path=artifacts / "dashboard-station.png", full_page=True)


@pytest.mark.usefixtures("clean")
def test_departement_view_shows_totals_peaks_and_alerts(
    page: Page, dashboard_server: Server, artifacts: Path
) -> None:
    open_dashboard(page, dashboard_server)
    page.click("#tabs [data-view=departement]")
    page.wait_for_selector("#dept-hourly-chart .main-svg")

    assert page.locator("#dept-table tbody tr").count() == 8  # 7 days from 06:00 touch 8 dates
    headers = page.locator("#dept-table thead th").all_inner_texts()
    assert headers == ["Jour", "Total", "SUAP", "ACCI", "INCU", "INCN", "AUTR"]
    alerts = page.locator("#alerts").inner_text()
    assert "jeu. 31/12 20:00 → ven. 01/01 06:00" in alerts  # New Year's night
    assert "INCU" in alerts
    assert page.locator("#peaks li").first.inner_text().startswith("jeu. 31/12 20:00")
    page.wait_for_timeout(300)
    page.screenshot(path=artifacts / "dashboard-departement.png", full_page=True)
    page.locator("#view-departement .columns").screenshot(path=artifacts / "dashboard-alerts.png")


def download_csv(page: Page) -> tuple[bytes, pd.DataFrame]:
    """Click « Exporter en CSV »: the raw file, and the table a French spreadsheet reads."""
    with page.expect_download() as info:
        page.click("#export")
    raw = Path(info.value.path()).read_bytes()
    table = pd.read_csv(
        io.BytesIO(raw), sep=";", decimal=",", encoding="utf-8-sig", dtype={"Code zone": str}
    )
    return raw, table


@pytest.mark.usefixtures("clean")
def test_export_downloads_the_displayed_forecast_for_a_french_spreadsheet(
    page: Page, dashboard_server: Server, forecast: pd.DataFrame
) -> None:
    open_dashboard(page, dashboard_server)
    page.select_option("#layer", "station")
    page.wait_for_function("document.querySelectorAll('#map .area').length === 34")
    move_slider(page, 5)

    raw, exported = download_csv(page)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Niveau;Code zone;Zone;Catégorie;Pas de temps;Début de période;")
    assert "Prévision moyenne;Intervalle 80 % bas;Intervalle 80 % haut;" in lines[0]
    mean_cell = lines[1].split(";")[lines[0].split(";").index("Prévision moyenne")]
    assert "," in mean_cell and "." not in mean_cell  # decimal comma
    displayed = page.eval_on_selector_all(
        "#area-table tbody tr",
        "rows => rows.map(r => [r.dataset.code, Number(r.children[2].dataset.value)])",
    )
    assert [code for code, _ in displayed] == exported["Code zone"].tolist()
    means = exported["Prévision moyenne"].tolist()
    assert means == pytest.approx([mean for _, mean in displayed], abs=5e-5)
    expected = hourly_rows(forecast, "station", 5).loc[exported["Code zone"]]
    assert means == pytest.approx(expected["mean"].tolist(), abs=5e-5)
    assert exported["Intervalle 80 % bas"].tolist() == expected["p10"].tolist()
    assert exported["Intervalle 80 % haut"].tolist() == expected["p90"].tolist()
    assert set(exported["Début de période"]) == {"28/12/2026 11:00"}
    assert set(exported["Niveau"]) == {"zone de couverture"}

    page.click("#tabs [data-view=departement]")
    page.wait_for_selector("#dept-hourly-chart .main-svg")
    _, daily = download_csv(page)
    assert len(daily) == 8 * 6  # days × (5 categories + all)
    assert set(daily["Pas de temps"]) == {"jour"}


def chart_ends(page: Page, chart: str) -> dict[str, list[str]]:
    """Each trace of a Plotly chart: its first and last x (wall-clock time)."""
    ends: dict[str, list[str]] = page.evaluate(
        f"() => Object.fromEntries(document.getElementById('{chart}').data"
        ".map(t => [t.name, [t.x[0], t.x[t.x.length - 1]]]))"
    )
    return ends


@pytest.mark.usefixtures("clean")
def test_the_first_period_shown_is_the_first_after_the_data(
    page: Page, dashboard_server: Server, essonne: Territory
) -> None:
    events = read_events(Paths(dashboard_server.home), essonne)
    last = pd.Timestamp(events["alert_time"].max()).tz_convert(essonne.timezone)
    after = last.floor("h") + pd.Timedelta(hours=1)
    before = f"{after - pd.Timedelta(hours=1):%Y-%m-%d %H:%M}"
    open_dashboard(page, dashboard_server)

    hour = f"{after:%d/%m %H:%M}–{after + pd.Timedelta(hours=1):%H:%M}"
    assert page.locator("#period-label").inner_text() == f"lun. {hour}"
    assert page.locator("#meta-window").inner_text().startswith(f"du lun. {after:%d/%m/%Y %H:%M}")
    # The recent actuals run up to it: their last hour is the one before the first forecast.
    page.click("#map .station[data-code='EVRY']")
    page.wait_for_selector("#station-chart .main-svg")
    ends = chart_ends(page, "station-chart")
    assert ends["Prévision (moyenne)"][0] == f"{after:%Y-%m-%d %H:%M}"
    assert ends["Réalisé (7 derniers jours)"][1] == before
    page.click("#tabs [data-view=departement]")
    page.wait_for_selector("#dept-hourly-chart .main-svg")
    ends = chart_ends(page, "dept-hourly-chart")
    assert ends["Prévision"][0] == f"{after:%Y-%m-%d %H:%M}"
    assert ends["Réalisé (7 derniers jours)"][1] == before
    # The forecast starts at 06:00 here: its first day is marked as partial, not read as calm.
    first_day = page.locator("#dept-table tbody tr td").first.inner_text()
    assert first_day == f"lun. {after:%d/%m/%Y} (prévu dès {after:%H:%M})"


@pytest.mark.usefixtures("clean")
def test_unknown_current_crews_are_explained_not_dashed(
    page: Page, dashboard_server: Server, artifacts: Path
) -> None:
    def without_crews(route: Route) -> None:
        answer = route.fetch()
        body = answer.json()
        body["crews_known"] = False
        body["crews_note"] = NO_CREWS_NOTE
        for row in body["staffing"]:
            row["current_crews"] = row["saturation_risk"] = None
        route.fulfill(response=answer, json=body)

    page.route("**/api/station/**", without_crews)
    open_dashboard(page, dashboard_server)
    page.click("#map .station[data-code='EVRY']")
    page.wait_for_selector("#station-chart .main-svg")

    headers = [h for h in page.locator("#staffing-table thead th").all() if h.is_visible()]
    names = [h.inner_text() for h in headers]
    assert "Équipes actuelles" not in names
    assert "Risque de saturation" not in names
    assert "Équipes recommandées" in names
    note = page.locator("#staffing-note")
    assert note.is_visible()
    assert note.inner_text().startswith("Équipes actuellement engagées inconnues")
    assert "—" not in page.locator("#staffing-table tbody").inner_text()
    page.wait_for_timeout(300)
    page.locator("#view-station").screenshot(path=artifacts / "dashboard-station-no-crews.png")


@pytest.mark.usefixtures("clean")
def test_printable_view_keeps_the_map_and_provenance_only(
    page: Page, dashboard_server: Server, artifacts: Path
) -> None:
    open_dashboard(page, dashboard_server)
    page.emulate_media(media="print")

    assert not page.locator("#tabs").is_visible()
    assert not page.locator("#map-controls").is_visible()
    assert page.locator("#provenance").is_visible()
    assert page.locator("#print-selection").inner_text().startswith("Communes — Toutes catégories")
    page.screenshot(path=artifacts / "dashboard-print.png")  # the first page's worth
    pdf = page.pdf(format="A4", landscape=True)
    assert pdf.startswith(b"%PDF")


def test_without_a_forecast_the_page_says_what_to_do(
    page: Page, dashboard_server: Server, page_log: PageLog, artifacts: Path
) -> None:
    message = "Aucune prévision pour SDIS 91 — Essonne : lancez « make demo »"
    page.route(
        "**/api/meta",
        lambda route: route.fulfill(
            status=503, content_type="application/json", json={"detail": message}
        ),
    )
    page.goto(dashboard_server.url + "/")
    page.wait_for_selector("#message:not([hidden])")

    assert "lancez « make demo »" in page.locator("#message").inner_text()
    assert not page.locator("main").is_visible()
    # The browser reports the 503 itself; nothing else may fail.
    assert all("503" in e for e in page_log.errors)
    page.screenshot(path=artifacts / "dashboard-no-forecast.png")


def test_a_foreign_county_with_weekly_totals_opens_on_them_in_its_own_words(
    page: Page, page_log: PageLog, county_server: Server, artifacts: Path
) -> None:
    """Montgomery County's words, credits and colours; a forecast of weekly county counts
    opens on the county by week (not on an empty township map) and says what the map cannot
    show; the champion's +14 % backtest bias is announced."""
    page.goto(county_server.url + "/")
    page.wait_for_selector(READY, timeout=30_000)
    assert page.input_value("#layer") == "departement"
    assert page.input_value("#frequency") == "week"
    assert page.is_hidden("#message")  # no « pas de prévision commune/hour/ALL »
    fills = {fill for fill, _ in shape_state(page).values()}
    assert fills and fills <= PALETTE
    assert "ne peut pas montrer le niveau township" in page.inner_text("#map-note")
    assert "les heures" in page.inner_text("#map-note")
    assert "+14,2 %" in page.inner_text("#warnings")
    assert page.is_visible("#warnings")
    assert page.inner_text("#tab-total") == "County"
    assert page.inner_text("#credits").startswith("Calls: montcoalert.org")
    assert "IGN" not in page.inner_text("footer")
    assert "centres" in page.inner_text("#crews-note")
    page.screenshot(path=artifacts / "dashboard-county-week.png", full_page=True)

    page.click("#tabs [data-view=departement]")
    page.wait_for_function("document.querySelector('#dept-daily-chart .bars') !== null")
    assert page.inner_text("#dept-title") == "County : totaux par semaine et par catégorie"
    colours = page.evaluate(
        "document.getElementById('dept-daily-chart').data.map(t => t.marker.color)"
    )
    assert colours == ["#1f77b4", "#d62728", "#ff7f0e"]  # Montgomery's, not grey
    assert page.is_hidden("#dept-hourly")
    page.screenshot(path=artifacts / "dashboard-county-totals.png", full_page=True)

    assert page_log.errors == []
    foreign = [u for u in page_log.requests if not u.startswith(county_server.url + "/")]
    assert foreign == []
