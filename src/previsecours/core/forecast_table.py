"""The forecast table of the contract: `predict_levels` rows decorated for people and files.

Guarantees: `decorate` returns exactly `FORECAST_COLUMNS`; `reference_3y` is the mean count of
the same period 52, 104 and 156 weeks before (local wall-clock time, so 8 am stays 8 am across
DST), over the years the history covers — NaN, never zero, when it covers none;
`spreadsheet_csv` writes a table as a French spreadsheet opens it right: `;` separator, decimal
comma, French headers and values, times as local `dd/mm/yyyy hh:mm` with a `Décalage UTC`
column (the repeated autumn hour stays two distinct rows), UTF-8 with a BOM, and text cells
neutralised against formula injection (a cell starting with = + - @ gets a leading apostrophe).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from previsecours.core.forecast_schema import ALL_CATEGORIES, FORECAST_COLUMNS
from previsecours.core.hierarchy import rollup
from previsecours.core.history import History
from previsecours.core.panel import DensePanel
from previsecours.core.schema import Frequency
from previsecours.core.territory import Territory

# French headers of the spreadsheet CSV (the forecast file's and the dashboard's exports).
CSV_HEADERS: Final = {
    "territory": "Territoire",
    "issued_at": "Émise le",
    "frequency": "Pas de temps",
    "period_start": "Début de période",
    "period_end": "Fin de période",
    "utc_offset": "Décalage UTC",
    "level": "Niveau",
    "area_code": "Code zone",
    "area_name": "Zone",
    "category": "Catégorie",
    "mean": "Prévision moyenne",
    "p02_5": "Intervalle 95 % bas",
    "p10": "Intervalle 80 % bas",
    "p50": "Médiane",
    "p90": "Intervalle 80 % haut",
    "p97_5": "Intervalle 95 % haut",
    "ref_3y_mean": "Même période, moyenne sur 3 ans",
    "model_name": "Modèle",
    "model_version": "Version du modèle",
    "data_version": "Version des données",
    "class": "Classe",
}
CSV_VALUES: Final = {
    "frequency": {"hour": "heure", "day": "jour", "week": "semaine"},
    "level": {"commune": "commune", "station": "zone de couverture", "departement": "département"},
    "category": {ALL_CATEGORIES: "toutes catégories"},
}
CSV_DECIMALS = 4  # 0,0123 interventions in a commune's hour keeps its digits
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")

REFERENCE_YEARS = (1, 2, 3)
YEAR_SHIFT = pd.Timedelta(days=364)  # 52 weeks: the same weekday one year before


def decorate(
    levels: pd.DataFrame,
    territory: Territory,
    *,
    issued_at: pd.Timestamp,
    reference: pd.Series,
    model_name: str,
    model_version: str,
    data: str,
) -> pd.DataFrame:
    """The forecast table of the contract (`FORECAST_COLUMNS`) from `predict_levels` rows."""
    out = levels.copy()
    out["territory"] = territory.name
    out["issued_at"] = issued_at
    names = area_names(territory)
    out["area_name"] = [
        names.get((lvl, code), code)
        for lvl, code in zip(out["level"], out["area_code"].astype(str), strict=True)
    ]
    out["ref_3y_mean"] = reference.to_numpy(np.float64)
    out["model_name"] = model_name
    out["model_version"] = model_version
    out["data_version"] = data
    return out[list(FORECAST_COLUMNS)]


def area_names(territory: Territory) -> dict[tuple[str, str], str]:
    names = {("commune", c.code): c.name for c in territory.communes}
    for zone in territory.coverage_zones:
        station = territory.zone_station(zone)
        names["station", zone] = station.name if station else zone
    names["departement", territory.name] = territory.label
    return names


def reference_3y(
    history: History, territory: Territory, levels: pd.DataFrame, frequency: Frequency
) -> pd.Series:
    """Mean count of the same period 52, 104 and 156 weeks before, aligned with `levels` rows.

    Only years the history covers count (NaN when none does). Periods are matched in local
    wall-clock time, so 8 am stays 8 am across DST changes.
    """
    tz = territory.timezone
    first = pd.Timestamp(levels["period_start"].min())
    last = pd.Timestamp(levels["period_end"].max())
    stored_from = history.start() if len(history) else last
    names = tuple(dict.fromkeys(levels["level"]))
    margin = pd.Timedelta(days=8)  # complete weeks around the window
    years = []
    for n in REFERENCE_YEARS:
        lo = wall_shift(first - margin, -YEAR_SHIFT * n, tz)
        hi = wall_shift(last + margin, -YEAR_SHIFT * n, tz)
        if lo >= stored_from:
            times = history.times
            window = History(history.frame[(times >= lo) & (times < hi)], history.frequency)
            years.append((n, window.level_actuals(territory, names, frequency, start=lo, end=hi)))
    blocks = []
    for (level, grain), rows in levels.groupby(["level", "frequency"], sort=False):
        starts = pd.DatetimeIndex(rows["period_start"].drop_duplicates()).tz_convert(tz)
        target: Frequency = grain  # type: ignore[assignment]
        panels = [(n, at_grain(actual[str(level)], frequency, target, tz)) for n, actual in years]
        series = panels[0][1].series if panels else rows[["area_code", "category"]].iloc[:0]
        found = np.full((len(panels), len(series), len(starts)), np.nan)
        for k, (n, panel) in enumerate(panels):
            idx = panel.starts.get_indexer(wall_shift_index(starts, -YEAR_SHIFT * n, tz))
            found[k][:, idx >= 0] = panel.counts[:, idx[idx >= 0]]
        # The mean of the years known at each cell, NaN where none is (a counts store's gaps)
        # — computed, not np.nanmean, whose warning would land on the command's stderr.
        known = np.isfinite(found).sum(axis=0)
        total = np.nansum(found, axis=0)
        mean = (
            np.divide(total, known, out=np.full(total.shape, np.nan), where=known > 0)
            if panels
            else total
        )
        blocks.append(
            pd.DataFrame(
                {
                    "level": level,
                    "frequency": grain,
                    "area_code": np.repeat(series["area_code"].astype(str).to_numpy(), len(starts)),
                    "category": np.repeat(series["category"].astype(str).to_numpy(), len(starts)),
                    "t": np.tile(starts.as_unit("s").asi8, len(series)),
                    "ref": mean.reshape(-1),
                }
            )
        )
    keys = ["level", "frequency", "area_code", "category", "t"]
    rows = pd.DataFrame(
        {
            "level": levels["level"].to_numpy(),
            "frequency": levels["frequency"].to_numpy(),
            "area_code": levels["area_code"].astype(str).to_numpy(),
            "category": levels["category"].astype(str).to_numpy(),
            "t": pd.DatetimeIndex(levels["period_start"]).as_unit("s").asi8,
        }
    )
    merged = rows.merge(pd.concat(blocks, ignore_index=True), on=keys, how="left")
    return pd.Series(merged["ref"].to_numpy(np.float64), index=levels.index)


def at_grain(panel: DensePanel, frequency: Frequency, grain: Frequency, tz: str) -> DensePanel:
    return panel if grain == frequency else rollup(panel, frequency, grain, tz)


def local_time(t: pd.Timestamp, tz: str) -> pd.Timestamp:
    stamp = pd.Timestamp(t)
    return stamp.tz_localize(tz) if stamp.tzinfo is None else stamp.tz_convert(tz)


def wall_shift(t: pd.Timestamp, shift: pd.Timedelta, tz: str) -> pd.Timestamp:
    """`t` moved by `shift` in local wall-clock time (so 8 am stays 8 am across DST)."""
    naive = local_time(t, tz).tz_localize(None) + shift
    return naive.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")


def wall_shift_index(starts: pd.DatetimeIndex, shift: pd.Timedelta, tz: str) -> pd.DatetimeIndex:
    naive = starts.tz_convert(tz).tz_localize(None) + shift
    first = np.ones(len(naive), dtype=bool)
    return naive.tz_localize(tz, ambiguous=first, nonexistent="shift_forward").as_unit("s")


# ------------------------------------------------------------------ spreadsheet CSV


def spreadsheet_csv(table: pd.DataFrame) -> str:
    """`table` as CSV text for a French spreadsheet (see the module docstring), BOM included.

    Numbers get a decimal comma and at most `CSV_DECIMALS` decimals (empty when unknown);
    tz-aware times are written in the zone of `period_start` (or their own), with the UTC offset
    of each period's start beside it; known columns get French headers (`CSV_HEADERS`).
    """
    out = pd.DataFrame(index=table.index)
    tz = _zone(table["period_start"]) if "period_start" in table else None
    for column in table.columns:
        values = table[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
            values.dtype
        ):
            out[column] = _times(values, tz)
            if column == "period_start" and tz is not None:
                out["utc_offset"] = _offsets(values)
        elif pd.api.types.is_bool_dtype(values.dtype):
            out[column] = np.where(values.to_numpy(bool), "oui", "non")
        elif pd.api.types.is_numeric_dtype(values.dtype):
            out[column] = _decimal(values)
        else:
            labels = CSV_VALUES.get(str(column), {})
            out[column] = _text(values.map(lambda v, m=labels: m.get(v, v)))
    out = out.rename(columns=CSV_HEADERS)
    return "\ufeff" + out.to_csv(sep=";", index=False, lineterminator="\r\n")


def _zone(values: pd.Series) -> str | None:
    tz = getattr(values.dtype, "tz", None)
    return str(tz) if tz is not None else None


def _times(values: pd.Series, tz: str | None) -> np.ndarray:
    """`dd/mm/yyyy hh:mm`, each distinct time formatted once (few: one per period)."""
    stamps = pd.to_datetime(values)
    if tz is not None and stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert(tz)
    codes, uniques = pd.factorize(stamps)
    text = np.array([f"{t:%d/%m/%Y %H:%M}" for t in uniques] + [""], dtype=object)
    return np.asarray(text[codes])  # code -1 (missing) reads the trailing ""


def _offsets(values: pd.Series) -> np.ndarray:
    codes, uniques = pd.factorize(pd.to_datetime(values))
    text = [t.strftime("%z") for t in uniques]
    labels = np.array([f"UTC{z[:3]}:{z[3:]}" for z in text] + [""], dtype=object)
    return np.asarray(labels[codes])


def _decimal(values: pd.Series) -> pd.Series:
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    fixed = np.char.mod(f"%.{CSV_DECIMALS}f", np.round(numbers, CSV_DECIMALS))
    text = pd.Series(fixed, index=values.index, dtype=object)
    text = text.str.rstrip("0").str.rstrip(".").str.replace(".", ",", regex=False)
    text = text.where(text != "-0", "0")
    return text.where(np.isfinite(numbers), "")


def _text(values: pd.Series) -> pd.Series:
    """Text cells; one a spreadsheet would read as a formula gets a leading apostrophe."""
    text = values.astype(object).where(values.notna(), "").astype(str)
    risky = text.str.startswith(FORMULA_START)
    return text.where(~risky, "'" + text)
