"""The dashboard's web server: one static page and a small JSON API, all served locally.

Guarantees: every asset comes from this package or an installed one (Plotly.js from the
`plotly` package) — the page makes no request beyond the server it came from, so it works on a
closed network. The newest forecast file is picked up without a restart (checked on each
request for the page's metadata). With no forecast yet, the API answers 503 with a message the
page shows ("lancez make demo"); with no history, the panels say so and show the forecast.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from previsecours.core.forecast_schema import ALL_CATEGORIES
from previsecours.core.forecast_table import spreadsheet_csv
from previsecours.core.history import History
from previsecours.core.territory import Territory
from previsecours.dashboard.actuals import Actuals
from previsecours.dashboard.forecast_reader import (
    ForecastFileError,
    latest_issue,
    read_forecast_set,
)
from previsecours.dashboard.geometry import MapProjection, layer_shapes, station_markers
from previsecours.dashboard.views import Dashboard, Selection, UnknownSelectionError
from previsecours.errors import StepError
from previsecours.paths import Paths

STATIC = Path(__file__).parent / "static"
LAYERS = ("commune", "station", "departement")
log = logging.getLogger(__name__)

HistoryReader = Callable[[Paths, Territory], History]


class NoForecastError(StepError, RuntimeError):
    """No forecast file yet for this territory."""


def default_history_reader(paths: Paths, territory: Territory) -> History:
    from previsecours.adapters.store import read_history

    return read_history(paths, territory)


def no_forecast_message(paths: Paths, territory: Territory) -> str:
    return (
        f"Aucune prévision pour {territory.label} dans {paths.forecasts / territory.name} : "
        "lancez « make demo » (ou « previsecours forecast ») puis rechargez la page."
    )


class DashboardStore:
    """The current forecast issue, reloaded when a newer file appears (thread-safe)."""

    def __init__(self, paths: Paths, territory: Territory, history_reader: HistoryReader) -> None:
        self.paths = paths
        self.territory = territory
        self.history_reader = history_reader
        self._lock = threading.Lock()
        self._current: Dashboard | None = None
        self._version: tuple[Path, int] | None = None

    def current(self) -> Dashboard:
        path = latest_issue(self.paths, self.territory.name)
        if path is None:
            raise NoForecastError(no_forecast_message(self.paths, self.territory))
        # An issue rewritten under the same name (a re-run) is a new issue too.
        version = (path, path.with_suffix(".json").stat().st_mtime_ns)
        with self._lock:
            if self._current is None or self._version != version:
                forecasts = read_forecast_set(path, self.territory.timezone)
                history, note = self._history()
                self._current = Dashboard(self.territory, forecasts, history, note)
                self._version = version
                log.info("dashboard: serving %s", path)
            return self._current

    def warm(self) -> None:
        """Read the forecast now rather than on the first page load (no forecast is fine)."""
        with contextlib.suppress(NoForecastError):
            self.current()

    def _history(self) -> tuple[Actuals | None, str]:
        # The history only enriches the panels: any failure to read it is shown, not raised.
        try:
            history = self.history_reader(self.paths, self.territory)
        except Exception as exc:
            log.warning("dashboard: no history (%s)", exc)
            return None, f"Historique illisible : {exc}"
        if history.empty:
            return None, "Aucune intervention dans l'historique (lancez l'ingestion)."
        actuals = Actuals.of(history, self.territory.timezone)
        if history.frequency is None:
            return actuals, ""
        label = {"hour": "horaires", "day": "journaliers", "week": "hebdomadaires"}
        note = f"Historique en comptages {label[history.frequency]} par commune"
        if history.frequency != "hour":
            note += " : pas d'activité heure par heure à montrer"
        return actuals, note + "."


def create_app(
    paths: Paths, territory: Territory, history_reader: HistoryReader = default_history_reader
) -> FastAPI:
    store = DashboardStore(paths, territory, history_reader)
    projection = MapProjection.for_territory(territory)
    app = FastAPI(title="Prévisecours", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store

    @app.exception_handler(NoForecastError)
    async def _no_forecast(_: Request, exc: NoForecastError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "no_forecast": True}, status_code=503)

    @app.exception_handler(UnknownSelectionError)
    async def _unknown(_: Request, exc: UnknownSelectionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(ForecastFileError)
    async def _bad_file(_: Request, exc: ForecastFileError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=500)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            plotly_bundle(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/api/meta")
    def meta() -> dict[str, Any]:
        return store.current().meta()

    @app.get("/api/geometry/{layer}")
    def geometry(layer: str) -> dict[str, Any]:
        if layer not in LAYERS:
            raise HTTPException(404, f"couche inconnue : {layer}")
        return layer_shapes(territory, layer, projection)

    @app.get("/api/stations")
    def stations() -> list[dict[str, Any]]:
        return station_markers(territory, projection)

    @app.get("/api/map")
    def map_view(
        level: str = "commune",
        category: str = ALL_CATEGORIES,
        frequency: str = "hour",
        period: int = 0,
    ) -> dict[str, Any]:
        return store.current().map_view(Selection(level, category, frequency, period))

    @app.get("/api/area/{level}/{code}")
    def area(
        level: str,
        code: str,
        category: str = ALL_CATEGORIES,
        frequency: str = "hour",
        period: int = 0,
    ) -> dict[str, Any]:
        return store.current().area_detail(Selection(level, category, frequency, period), code)

    @app.get("/api/station/{code}")
    def station(code: str, category: str = ALL_CATEGORIES) -> dict[str, Any]:
        return store.current().station_view(code, category)

    @app.get("/api/departement")
    def departement() -> dict[str, Any]:
        return store.current().departement_view()

    @app.get("/api/export/map.csv")
    def export_map(
        level: str = "commune",
        category: str = ALL_CATEGORIES,
        frequency: str = "hour",
        period: Annotated[int, Query()] = 0,
    ) -> Response:
        s = Selection(level, category, frequency, period)
        table = store.current().map_table(s)
        return csv_response(table, f"prevision_{level}_{category}_{frequency}_{period}.csv")

    @app.get("/api/export/station/{code}.csv")
    def export_station(code: str, category: str = ALL_CATEGORIES) -> Response:
        table = store.current().station_table(code, category)
        return csv_response(table, f"prevision_centre_{code}_{category}.csv")

    @app.get("/api/export/departement.csv")
    def export_departement() -> Response:
        return csv_response(store.current().departement_table(), "prevision_departement.csv")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def plotly_bundle() -> Path:
    """Plotly.js as shipped inside the installed `plotly` Python package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def csv_response(table: pd.DataFrame, filename: str) -> Response:
    """The table as a French spreadsheet opens it right (`core.forecast_table.spreadsheet_csv`:
    `;`, decimal comma, French headers, UTF-8 with a BOM, formulas neutralised)."""
    return Response(
        spreadsheet_csv(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def serve(paths: Paths, territory: Territory, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Run the dashboard until interrupted."""
    import uvicorn

    app = create_app(paths, territory)
    app.state.store.warm()
    uvicorn.run(app, host=host, port=port, log_level="warning")
