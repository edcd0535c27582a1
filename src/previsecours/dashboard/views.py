"""What each part of the page shows, as small JSON-ready payloads and exportable tables.

`Dashboard` indexes one forecast issue once (per level × frequency × category, periods sorted)
so that each request reads a slice of a few hundred rows: the page fetches one period of one
layer at a time, never the whole forecast. Colour classes are fixed per layer, frequency and
category over the whole horizon (quintiles of all its values), so moving the time slider moves
the colours with the forecast rather than re-ranking every period. Texts are French (the users'
language); names in the code are English.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from previsecours.core.forecast_report import BIAS_WARNING_PCT
from previsecours.core.forecast_schema import ALL_CATEGORIES
from previsecours.core.territory import Territory
from previsecours.dashboard.actuals import Actuals
from previsecours.dashboard.forecast_reader import ForecastSet
from previsecours.errors import InputError

CLASS_LABELS = ("très faible", "faible", "moyenne", "forte", "très forte")
FREQUENCY_LABELS = {"hour": "heure", "day": "jour", "week": "semaine"}
LEVEL_LABELS = {"commune": "commune", "station": "zone de couverture", "departement": "département"}
CATEGORY_LABELS = {
    ALL_CATEGORIES: "Toutes catégories",
    "SUAP": "SUAP — secours à personne",
    "ACCI": "ACCI — accidents de la route",
    "INCU": "INCU — feux urbains",
    "INCN": "INCN — feux d'espaces naturels",
    "AUTR": "AUTR — opérations diverses",
}
# SDIS 91's category colours; other categories take the free colours of PALETTE in the order the
# territory declares them (deterministic: the same category keeps its colour between issues).
SDIS_CATEGORY_COLOURS = {
    "SUAP": "#1f77b4",
    "ACCI": "#ff7f0e",
    "INCU": "#d62728",
    "INCN": "#2ca02c",
    "AUTR": "#9467bd",
}
CATEGORY_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
SDIS_CREDITS = "Carte : contours IGN Admin Express / SDIS 91."
LEVEL_ORDER = ("commune", "station", "departement")  # finest first
WEEKDAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
# A peak is "beyond the usual" when it exceeds the horizon's median for the same hour of day
# (or the median day) by this ratio and by a count worth a crew's attention.
ALERT_RATIO = 1.3
ALERT_MIN_EXCESS = {"hour": 0.5, "day": 5.0}
STALE_INPUT = pd.Timedelta(hours=48)
PEAKS_SHOWN = 5
NO_CREWS_NOTE = (
    "Équipes actuellement engagées inconnues : renseignez staffing.current_crews_file "
    "(params.yaml) pour voir les équipes actuelles et le risque de saturation."
)
EXPORT_COLUMNS = (
    "level",
    "area_code",
    "area_name",
    "category",
    "frequency",
    "period_start",
    "period_end",
    "mean",
    "p10",
    "p90",
    "ref_3y_mean",
)


class UnknownSelectionError(InputError, LookupError):
    """A layer, category, period or area the forecast does not hold."""


@dataclass(frozen=True)
class Selection:
    level: str
    category: str
    frequency: str
    period: int


@dataclass(frozen=True)
class Labels:
    """The territory's words and colours on the page (`Territory.presentation`; SDIS 91's
    French words by default)."""

    levels: dict[str, str]
    layers: dict[str, str]
    total: str
    categories: dict[str, str]
    colours: dict[str, str]
    credits: str

    @classmethod
    def of(cls, territory: Territory) -> Labels:
        p = territory.presentation
        levels = {
            "commune": p.area_label,
            "station": p.zone_label,
            "departement": p.total_label[:1].lower() + p.total_label[1:],
        }
        layers = {
            "commune": "Communes" if p.area_label == "commune" else _plural(p.area_label),
            "station": "Zones de couverture"
            if p.zone_label == "zone de couverture"
            else _plural(p.zone_label),
            "departement": p.total_label[:1].upper() + p.total_label[1:],
        }
        if p.credits is not None:
            credits = p.credits
        else:  # SDIS 91's map sources for a French territory, none claimed elsewhere
            credits = SDIS_CREDITS if territory.holidays_country == "FR" else ""
        return cls(
            levels=levels,
            layers=layers,
            total=layers["departement"],
            categories={**CATEGORY_LABELS, **p.category_labels},
            colours=category_colours(territory),
            credits=credits,
        )

    def level(self, level: str) -> str:
        return self.levels.get(level, level)

    def layer(self, level: str) -> str:
        return self.layers.get(level, level)

    def category(self, category: str) -> str:
        return self.categories.get(category, category)

    def category_entry(self, category: str) -> dict[str, Any]:
        return {
            "key": category,
            "label": self.category(category),
            "colour": self.colours.get(category, "#5b6475"),
        }

    def page(self) -> dict[str, Any]:
        return {"total_label": self.total, "levels": self.levels, "credits": self.credits}


def category_colours(territory: Territory) -> dict[str, str]:
    """Each category's colour: the territory's own, SDIS 91's for its codes, then the free
    colours of `CATEGORY_PALETTE` in the order the territory declares its categories."""
    given = {c: v for c, v in SDIS_CATEGORY_COLOURS.items() if c in territory.categories}
    given |= dict(territory.presentation.category_colours)
    taken = {v.lower() for v in given.values()}
    free = [c for c in CATEGORY_PALETTE if c not in taken]
    out = {}
    for rank, category in enumerate(territory.categories):
        if category in given:
            out[category] = given[category]
        else:
            out[category] = free.pop(0) if free else CATEGORY_PALETTE[rank % len(CATEGORY_PALETTE)]
    return out


def _plural(label: str) -> str:
    text = label[:1].upper() + label[1:]
    return text if text.endswith("s") else f"{text}s"


class Dashboard:
    """One forecast issue of one territory, indexed for the page's requests."""

    def __init__(
        self,
        territory: Territory,
        forecasts: ForecastSet,
        history: Actuals | None,
        history_note: str = "",
    ) -> None:
        self.territory = territory
        self.forecasts = forecasts
        self.history = history
        self.history_note = history_note
        self.labels = Labels.of(territory)
        frame = forecasts.forecast.sort_values(["period_start", "area_code"], kind="stable")
        self._slices: dict[tuple[str, str, str], pd.DataFrame] = {
            cast(tuple[str, str, str], key): group.reset_index(drop=True)
            for key, group in frame.groupby(["level", "frequency", "category"], sort=False)
        }
        self.periods = {
            f: pd.DatetimeIndex(frame.loc[frame["frequency"] == f, "period_start"].unique())
            for f in FREQUENCY_LABELS
            if (frame["frequency"] == f).any()
        }
        self._period_ends = {
            f: frame[frame["frequency"] == f].groupby("period_start")["period_end"].first()
            for f in self.periods
        }
        self._breaks: dict[tuple[str, str, str], np.ndarray] = {}
        self._departement: dict[str, Any] | None = None
        self._drivers: dict[tuple[str, str, str], pd.DataFrame] = {
            cast(tuple[str, str, str], key): group
            for key, group in forecasts.drivers.groupby(["level", "area_code", "category"])
        }
        # Most specific level first: the territory-wide fallback prefers the finest drivers.
        levels = set(forecasts.drivers["level"].astype(str))
        self._driver_levels = [lv for lv in ("commune", "station", "departement") if lv in levels]

    # ---- selections -------------------------------------------------------------------------

    def slice(self, level: str, frequency: str, category: str) -> pd.DataFrame:
        try:
            return self._slices[(level, frequency, category)]
        except KeyError:
            raise UnknownSelectionError(
                f"pas de prévision {level}/{frequency}/{category} dans ce fichier"
            ) from None

    def period_start(self, frequency: str, index: int) -> pd.Timestamp:
        periods = self.periods.get(frequency)
        if periods is None or not 0 <= index < len(periods):
            raise UnknownSelectionError(f"période {index} hors de l'horizon ({frequency})")
        return periods[index]

    def rows(self, s: Selection) -> pd.DataFrame:
        """The rows of one map view: every area of a layer for one category and period."""
        frame = self.slice(s.level, s.frequency, s.category)
        start = self.period_start(s.frequency, s.period)
        return frame[frame["period_start"] == start]

    def breaks(self, level: str, frequency: str, category: str) -> np.ndarray:
        """Four class limits: quintiles of every value of this layer over the horizon."""
        key = (level, frequency, category)
        if key not in self._breaks:
            values = self.slice(*key)["mean"].to_numpy(dtype=float)
            self._breaks[key] = np.quantile(values, [0.2, 0.4, 0.6, 0.8])
        return self._breaks[key]

    # ---- payloads ---------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        m = self.forecasts.metadata
        tz = self.territory.timezone
        issued_local = m.issued_at.tz_convert(tz)
        levels = [lv for lv in LEVEL_ORDER if any(k[0] == lv for k in self._slices)]
        categories = [c for c in (ALL_CATEGORIES, *self.territory.categories) if _has(self, c)]
        return {
            "territory": {"name": self.territory.name, "label": self.territory.label},
            "file": self.forecasts.path.name,
            "model": {"name": m.model_name, "version": m.model_version},
            "data_version": m.data_version,
            "data_label": data_label(m.data_version, self._data_until()),
            "window": self._window(),
            "issued_at": m.issued_at.isoformat(),
            "issued_label": _stamp(issued_local),
            "timezone": tz,
            "horizon": m.horizon,
            "inputs": [_freshness(name, at, m.issued_at, tz) for name, at in m.inputs.items()],
            "levels": [
                {"key": lv, "label": self.labels.level(lv), "layer": self.labels.layer(lv)}
                for lv in levels
            ],
            "categories": [self.labels.category_entry(c) for c in categories],
            "presentation": self.labels.page(),
            "opening": self.opening(),
            "warnings": self.warnings(),
            "crews_note": self.crews_note(),
            "frequencies": [
                {
                    "key": f,
                    "label": FREQUENCY_LABELS[f],
                    "periods": [self._period(f, i) for i in range(len(p))],
                }
                for f, p in self.periods.items()
            ],
            "classes": list(CLASS_LABELS),
            "history": {
                "available": self.history is not None,
                "resolution": self.history.resolution if self.history is not None else None,
                "note": self.history_note,
                "last": _stamp(self.history.last.tz_convert(tz))
                if self.history is not None and self.history.last is not None
                else None,
            },
        }

    def opening(self) -> dict[str, Any]:
        """The map's first screen: the finest level and grain the forecast has (communes by
        hour when it has them; the département by week for weekly département counts), and a
        note saying what the map cannot show."""
        levels = [lv for lv in LEVEL_ORDER if (lv, "hour", ALL_CATEGORIES) in self._slices]
        levels += [lv for lv in LEVEL_ORDER if any(k[0] == lv for k in self._slices)]
        if not levels:
            return {"level": "commune", "frequency": "hour", "note": ""}
        level = levels[0]
        held = [f for f in FREQUENCY_LABELS if (level, f, ALL_CATEGORIES) in self._slices]
        frequency = held[0] if held else "hour"
        missing = []
        if level != "commune":
            missing.append(f"le niveau {self.labels.level('commune')}")
        if level == "departement" and self.territory.coverage_zones:
            missing.append(f"le niveau {self.labels.level('station')}")
        if frequency != "hour":
            missing.append("les heures")
        note = ""
        if missing:
            listed = ", ".join(missing[:-1]) + (" ni " if len(missing) > 1 else "") + missing[-1]
            note = (
                f"La carte ne peut pas montrer {listed} : cette prévision n'en a pas. Elle "
                f"s'ouvre sur le niveau {self.labels.level(level)}, par "
                f"{FREQUENCY_LABELS[frequency]}."
            )
        return {"level": level, "frequency": frequency, "note": note}

    def warnings(self) -> list[str]:
        """What a planner must know before reading the numbers: a biased champion."""
        out = []
        bias = self.forecasts.metadata.champion_backtest.get("bias_pct")
        if isinstance(bias, dict) and bias:
            level, worst = max(bias.items(), key=lambda kv: abs(float(kv[1])))
            worst = float(worst)
            if abs(worst) > BIAS_WARNING_PCT:
                grain = str(level).partition("×")[2]
                where = f"{self.labels.level('departement')}" + (
                    f", par {FREQUENCY_LABELS.get(grain, grain)}" if grain else ""
                )
                way = "surestime" if worst > 0 else "sous-estime"
                amount = f"{worst:+.1f}".replace(".", ",")
                out.append(
                    f"Modèle biaisé : en backtest, le modèle champion {way} le total "
                    f"({where}) de {amount} %, au-delà de ±{BIAS_WARNING_PCT:.0f} % — "
                    "lisez ses prévisions en conséquence."
                )
        return out

    def crews_note(self) -> str:
        """Why there are no crews, when there are none."""
        if len(self.forecasts.staffing):
            return ""
        if not self.territory.coverage_shares or not any(k[0] == "station" for k in self._slices):
            return (
                "Pas d'équipes recommandées : les équipes se calculent par centre, et ce "
                "territoire ne déclare pas de centres avec leurs zones de couverture "
                "(areas.stations et areas.coverage_shares du fichier du territoire)."
            )
        if self.history is not None and self.history.resolution != "event":
            return (
                "Pas d'équipes recommandées : l'historique ne contient que des comptages, et "
                "les équipes ont besoin des interventions elles-mêmes (durées d'engagement)."
            )
        return "Pas d'équipes recommandées avec cette prévision."

    def _data_until(self) -> pd.Timestamp | None:
        """The last stored instant the forecast was made from, in the territory's zone."""
        at = self.forecasts.metadata.inputs.get("interventions")
        if at is None and self.history is not None:
            at = self.history.last
        return None if at is None else pd.Timestamp(at).tz_convert(self.territory.timezone)

    def _window(self) -> dict[str, Any]:
        """The forecast's first and last periods, and a note when it does not start right
        after the data (a gap the forecast jumps over, or periods the data already holds)."""
        finest = next(iter(self.periods), None)
        if finest is None:
            return {"label": "", "start": None, "note": ""}
        first = self.periods[finest][0]
        last = self._period_ends[finest].iloc[-1]
        label = f"du {_label(first, 'day')} {first:%H:%M} au {_label(last, 'day')} {last:%H:%M}"
        until = self._data_until()
        note = ""
        if until is not None:
            step = _step(finest)
            if until >= first:
                note = (
                    f"La prévision commence le {_stamp(first)}, avant la fin des données "
                    f"({_stamp(until)}) : ses premières périodes sont déjà passées."
                )
            elif first - until > step:
                note = (
                    f"Les données s'arrêtent le {_stamp(until)}, {_span_text(first - until)} "
                    f"avant le début de la prévision ({_stamp(first)}) : les périodes entre les "
                    "deux ne sont ni connues ni prévues."
                )
        stale = self.forecasts.metadata.data_stale
        if stale and not note and until is not None:
            note = (
                f"Les données s'arrêtent le {_stamp(until)}, "
                f"{_span_text(self.forecasts.metadata.issued_at - until)} avant l'émission : la "
                "prévision commence juste après elles, pas aujourd'hui (ingérez des données "
                "récentes)."
            )
        return {"label": label, "start": first.isoformat(), "note": note}

    def map_view(self, s: Selection) -> dict[str, Any]:
        rows = self.rows(s)
        breaks = self.breaks(s.level, s.frequency, s.category)
        classes = np.searchsorted(breaks, rows["mean"].to_numpy(dtype=float), side="right")
        return {
            "selection": s.__dict__,
            "period": self._period(s.frequency, s.period),
            "breaks": [_num(b) for b in breaks],
            "areas": [
                {
                    "code": code,
                    "name": name,
                    "mean": _num(mean),
                    "p10": _num(p10),
                    "p90": _num(p90),
                    "class": int(cls),
                }
                for code, name, mean, p10, p90, cls in zip(
                    rows["area_code"],
                    rows["area_name"],
                    rows["mean"],
                    rows["p10"],
                    rows["p90"],
                    classes,
                    strict=True,
                )
            ],
        }

    def area_detail(self, s: Selection, code: str) -> dict[str, Any]:
        rows = self.rows(s)
        row = rows[rows["area_code"] == code]
        if row.empty:
            raise UnknownSelectionError(
                f"pas de prévision pour {code} ({self.labels.level(s.level)})"
            )
        r = row.iloc[0]
        start = self.period_start(s.frequency, s.period)
        breaks = self.breaks(s.level, s.frequency, s.category)
        return {
            "level": s.level,
            "level_label": self.labels.level(s.level),
            "code": code,
            "name": r["area_name"],
            "category": self.labels.category(s.category),
            "period": self._period(s.frequency, s.period),
            "mean": _num(r["mean"]),
            "p10": _num(r["p10"]),
            "p90": _num(r["p90"]),
            "class": CLASS_LABELS[int(np.searchsorted(breaks, r["mean"], side="right"))],
            "ref_3y_mean": _num(r["ref_3y_mean"]),
            "ref_same_weeks": self._same_weeks(s, code, start),
            "drivers": self.drivers(s, code, start),
            "zones": self._zones_of(code) if s.level == "commune" else [],
            "station": code if s.level == "station" else None,
        }

    def drivers(self, s: Selection, code: str, start: pd.Timestamp) -> dict[str, Any]:
        """The main drivers of one forecast, in plain words, from the most specific source.

        Drivers come at the model's own level: a commune without its own takes its main
        coverage zone's, and any area falls back on the mean over its level's areas. Over a
        day or a week, a driver's effect is its mean over the hours (0 where not in the top).
        """
        end = start + _step(s.frequency)
        candidates: list[tuple[str, str | None, str, str]] = [
            (s.level, code, s.category, ""),
            (s.level, code, ALL_CATEGORIES, "toutes catégories"),
        ]
        zones = self._zones_of(code) if s.level == "commune" else []
        if zones:
            zone = zones[0]["zone"]
            candidates += [
                ("station", zone, s.category, f"zone de couverture {zone}"),
                ("station", zone, ALL_CATEGORIES, f"zone de couverture {zone}, toutes catégories"),
            ]
        for model_level in self._driver_levels:
            candidates += [
                (model_level, None, s.category, "moyenne du territoire"),
                (model_level, None, ALL_CATEGORIES, "moyenne du territoire, toutes catégories"),
            ]
        for level, area, category, scope in candidates:
            frame = self._driver_frame(level, area, category)
            if frame is None:
                continue
            frame = frame[(frame["period_start"] >= start) & (frame["period_start"] < end)]
            if frame.empty:
                continue
            explained = len(frame.drop_duplicates(["area_code", "period_start"]))
            effects = frame.groupby("driver")["effect"].sum() / explained
            top = effects.reindex(effects.abs().sort_values(ascending=False).index).head(3)
            return {
                "scope": scope,
                "items": [
                    {"driver": str(d), "effect": _num(e), "text": _driver_text(str(d), e)}
                    for d, e in top.items()
                ],
            }
        return {"scope": "", "items": []}

    def station_view(self, station_code: str, category: str) -> dict[str, Any]:
        station = next((s for s in self.territory.stations if s.code == station_code), None)
        if station is None:
            raise UnknownSelectionError(f"centre inconnu : {station_code}")
        zone = station.coverage_zone or station.within_zone
        note = ""
        if station.coverage_zone is None:
            note = (
                f"Ce centre n'a pas de zone de premier appel propre : prévision de la zone "
                f"{zone} qui le contient."
            )
        series = self.station_rows(station_code, category)
        first = series["period_start"].iloc[0] if len(series) else None
        actuals = None
        if self.history is not None and first is not None and zone:
            counts = self.history.recent_hourly("station", zone, category, first)
            if counts is not None:
                actuals = {
                    "times": [t.isoformat() for t in counts.index],
                    "counts": counts.tolist(),
                }
        return {
            "station": {
                "code": station.code,
                "name": station.name,
                "type": station.type,
                "groupement": station.groupement,
                "zone": zone,
            },
            "note": note,
            "category": category,
            "category_label": self.labels.category(category),
            "forecast": _series(series),
            "actuals": actuals,
            "actuals_note": "" if actuals else self._no_actuals_note(),
            "staffing": self._staffing(zone),
            **self._crews(zone),
        }

    def station_rows(self, station_code: str, category: str) -> pd.DataFrame:
        """A station's zone, hour by hour (the zone around it when it owns none)."""
        station = next((s for s in self.territory.stations if s.code == station_code), None)
        if station is None:
            raise UnknownSelectionError(f"centre inconnu : {station_code}")
        frame = self.slice("station", "hour", category)
        return frame[frame["area_code"] == (station.coverage_zone or station.within_zone)]

    def departement_view(self) -> dict[str, Any]:
        """Totals per day and category, the peak hours and the alerts (computed once)."""
        if self._departement is None:
            self._departement = self._departement_view()
        return self._departement

    def _departement_view(self) -> dict[str, Any]:
        daily = self.departement_daily()
        grain = self.departement_grain()
        hourly = self._slices.get(("departement", "hour", ALL_CATEGORIES))
        if hourly is None:  # a store of daily or weekly counts: no hour to show
            hourly = self.slice("departement", grain, ALL_CATEGORIES).iloc[:0]
        busiest = hourly if len(hourly) else self.slice("departement", grain, ALL_CATEGORIES)
        peaks = busiest.nlargest(PEAKS_SHOWN, "mean")
        peak_grain = "hour" if len(hourly) else grain
        categories = [c for c in (ALL_CATEGORIES, *self.territory.categories) if _has(self, c)]
        table = []
        for key, day in daily.groupby("period_start", sort=True):
            start = _ts(key)
            by_category = day.set_index("category")
            partial = self._partial(start, start + _step(grain))
            short = (
                f"{WEEKDAYS[start.day_of_week]} {start:%d/%m}"
                if grain == "day"
                else f"S{start.isocalendar().week:02d} {start:%d/%m}"
            )
            table.append(
                {
                    "label": _label(start, grain) + partial,
                    "short": short + (" (partiel)" if partial else ""),
                    "start": start.isoformat(),
                    "values": {
                        c: {
                            "mean": _num(by_category.at[c, "mean"]),
                            "p10": _num(by_category.at[c, "p10"]),
                            "p90": _num(by_category.at[c, "p90"]),
                        }
                        for c in categories
                        if c in by_category.index
                    },
                }
            )
        actuals = None
        if self.history is not None and len(hourly):
            first = _ts(hourly["period_start"].iloc[0])
            counts = self.history.recent_hourly(
                "departement", self.territory.name, ALL_CATEGORIES, first
            )
            if counts is not None:
                actuals = {
                    "times": [t.isoformat() for t in counts.index],
                    "counts": counts.tolist(),
                }
        return {
            "categories": [self.labels.category_entry(c) for c in categories],
            "grain": grain,
            "grain_label": FREQUENCY_LABELS[grain],
            "days": table,
            "hourly": _series(hourly),
            "actuals": actuals,
            "actuals_note": "" if actuals else self._no_actuals_note(),
            "peaks": [
                {
                    "label": _label(_ts(r.period_start), peak_grain),
                    "mean": _num(r.mean),
                    "p10": _num(r.p10),
                    "p90": _num(r.p90),
                }
                for r in peaks.itertuples()
            ],
            "alerts": self.alerts(),
        }

    def departement_grain(self) -> str:
        """The totals' period: days, or the finest the forecast has (weeks for weekly counts)."""
        held = {k[1] for k in self._slices if k[0] == "departement"}
        grain = next((f for f in ("day", "week", "hour") if f in held), None)
        if grain is None:
            raise UnknownSelectionError(
                f"pas de prévision pour le niveau {self.labels.level('departement')}"
            )
        return grain

    def departement_daily(self) -> pd.DataFrame:
        """The territory's totals per period (days, or weeks for weekly counts) and category."""
        grain = self.departement_grain()
        frames = [
            self._slices[key] for key in self._slices if key[0] == "departement" and key[1] == grain
        ]
        if not frames:
            raise UnknownSelectionError("pas de prévision journalière pour le département")
        return pd.concat(frames, ignore_index=True).sort_values(["period_start", "category"])

    def alerts(self) -> list[dict[str, Any]]:
        """Runs of periods far above the usual level, per category, in time order."""
        out: list[dict[str, Any]] = []
        for category in (ALL_CATEGORIES, *self.territory.categories):
            for frequency in ("hour", "day"):
                key = ("departement", frequency, category)
                if key in self._slices:
                    label = self.labels.category(category)
                    out.extend(_alert_runs(self._slices[key], category, frequency, label))
        return sorted(out, key=lambda a: (a["start"], a["category"] != ALL_CATEGORIES))

    # ---- exports ----------------------------------------------------------------------------

    def map_table(self, s: Selection) -> pd.DataFrame:
        """The map's rows as the page's table lists them (largest first), with their class."""
        rows = self.rows(s)
        table = rows.loc[:, list(EXPORT_COLUMNS)].copy()
        breaks = self.breaks(s.level, s.frequency, s.category)
        classes = np.searchsorted(breaks, table["mean"].to_numpy(dtype=float), side="right")
        table["class"] = [CLASS_LABELS[c] for c in classes]
        return table.sort_values(["mean", "area_code"], ascending=[False, True], kind="stable")

    def station_table(self, station_code: str, category: str) -> pd.DataFrame:
        return self.station_rows(station_code, category).loc[:, list(EXPORT_COLUMNS)]

    def departement_table(self) -> pd.DataFrame:
        return self.departement_daily().loc[:, list(EXPORT_COLUMNS)]

    # ---- helpers ----------------------------------------------------------------------------

    def _period(self, frequency: str, index: int) -> dict[str, Any]:
        start = self.periods[frequency][index]
        end = self._period_ends[frequency].get(start, start + _step(frequency))
        return {
            "index": index,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "label": _label(start, frequency) + self._partial(start, end),
        }

    def _partial(self, start: pd.Timestamp, end: pd.Timestamp) -> str:
        """A note such as « (prévu dès 06:00) » for a day, week or shift the hourly forecast
        covers in part only (it starts or ends inside it): its smaller total is not calm."""
        hours = self.periods.get("hour")
        if hours is None or not len(hours):
            return ""
        first, last = hours[0], self._period_ends["hour"].iloc[-1]
        if start < first < end:
            return f" (prévu dès {first:%H:%M})"
        if start < last < end:
            return f" (prévu jusqu'à {last:%H:%M})"
        return ""

    def _driver_frame(self, level: str, area: str | None, category: str) -> pd.DataFrame | None:
        """One area's drivers, or (area None) those of every area of the level."""
        if area is not None:
            return self._drivers.get((level, area, category))
        frames = [f for (lv, _, c), f in self._drivers.items() if lv == level and c == category]
        return pd.concat(frames, ignore_index=True) if frames else None

    def _same_weeks(self, s: Selection, code: str, start: pd.Timestamp) -> dict[str, Any] | None:
        if self.history is None:
            return None
        ref = self.history.same_weeks(s.level, code, s.category, start, s.frequency)
        return None if ref is None else {"mean": _num(ref.mean), "years": list(ref.years)}

    def _zones_of(self, commune: str) -> list[dict[str, Any]]:
        shares = self.territory.shares_by_commune().get(commune, {})
        return [
            {"zone": z, "share_pct": round(100 * f, 1)}
            for z, f in sorted(shares.items(), key=lambda kv: -kv[1])
        ]

    def _staffing(self, zone: str | None) -> list[dict[str, Any]]:
        staffing = self.forecasts.staffing
        rows = staffing[staffing["station_code"] == zone].sort_values("shift_start")
        return [
            {
                "shift": r.shift,
                "label": _span(_ts(r.shift_start), _ts(r.shift_end))
                + self._partial(_ts(r.shift_start), _ts(r.shift_end)),
                "start": _ts(r.shift_start).isoformat(),
                "expected_interventions": _num(r.expected_interventions),
                "expected_peak_concurrency": _num(r.expected_peak_concurrency),
                "recommended_crews": _num(r.recommended_crews),
                "current_crews": _num(r.current_crews),
                "saturation_risk": _num(r.saturation_risk),
            }
            for r in rows.itertuples()
        ]

    def _crews(self, zone: str | None) -> dict[str, Any]:
        """Whether current crews (and so the saturation risk) are known, and why not if not."""
        current = self.forecasts.staffing["current_crews"]
        if not current.notna().any():
            return {"crews_known": False, "crews_note": NO_CREWS_NOTE}
        mine = current[self.forecasts.staffing["station_code"] == zone]
        if len(mine) and not mine.notna().any():
            return {
                "crews_known": True,
                "crews_note": (
                    "Équipes actuelles de ce centre absentes de staffing.current_crews_file : "
                    "risque de saturation non calculé (—)."
                ),
            }
        return {"crews_known": True, "crews_note": ""}

    def _no_actuals_note(self) -> str:
        if self.history is None:
            return self.history_note or "Pas d'historique disponible."
        if not self.history.answers("hour"):
            return self.history_note
        return "L'historique ne couvre pas les 7 jours qui précèdent la prévision."


def data_label(version: str, until: pd.Timestamp | None) -> str:
    """A readable data version: the date of the data and a short hash ("données du 05/12/2026
    · 599b742f"); the full version stays in the metadata."""
    text = version.strip()
    if text in ("", "inconnu", "unversioned"):
        short = "non versionnées"
    else:
        short = text.split(":", 1)[-1].removesuffix(".dir")[:8]
    return f"données du {until:%d/%m/%Y} · {short}" if until is not None else short


def _series(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """A forecast time series for a chart: times (ISO, with offset), mean and 80 % band."""
    return {
        "times": [t.isoformat() for t in frame["period_start"]],
        "mean": [_num(v) for v in frame["mean"]],
        "p10": [_num(v) for v in frame["p10"]],
        "p90": [_num(v) for v in frame["p90"]],
        "ref_3y": [_num(v) for v in frame["ref_3y_mean"]],
    }


def _has(d: Dashboard, category: str) -> bool:
    return any(k[2] == category for k in d._slices)


def _alert_runs(
    frame: pd.DataFrame, category: str, frequency: str, label: str
) -> list[dict[str, Any]]:
    """Consecutive periods whose mean beats the usual by ALERT_RATIO, merged into one alert."""
    usual = _usual(frame, frequency)
    hot = (frame["mean"] >= ALERT_RATIO * usual) & (
        frame["mean"] - usual >= ALERT_MIN_EXCESS[frequency]
    )
    runs = (hot != hot.shift()).cumsum()[hot]
    out = []
    for _, run in frame[hot].groupby(runs):
        ratio = float((run["mean"] / usual[run.index]).max())
        first, last = run["period_start"].iloc[0], run["period_end"].iloc[-1]
        times = f"{ratio:.1f}".replace(".", ",")
        out.append(
            {
                "category": category,
                "category_label": label,
                "frequency": frequency,
                "start": first.isoformat(),
                "label": _run_label(first, last) if frequency == "hour" else _label(first, "day"),
                "expected": _num(run["mean"].sum()),
                "usual": _num(usual[run.index].sum()),
                "ratio": round(ratio, 1),
                "text": f"{label} : jusqu'à {times} fois l'habituel",
            }
        )
    return out


def _usual(frame: pd.DataFrame, frequency: str) -> pd.Series:
    """Each period's usual level: the higher of two, so that only what beats both alerts.

    - the same period over the last 3 years (`ref_3y_mean`, whole weeks back: a Saturday night
      beside Saturday nights, New Year's night beside ordinary nights) — but from 3 samples,
      noisy hour by hour, and low when a holiday fell in it;
    - the horizon's median for the same hour of day (or the median day) — smooth, but blind to
      weekdays.
    """
    key = frame["period_start"].dt.hour if frequency == "hour" else pd.Series(0, frame.index)
    median = frame.groupby(key)["mean"].transform("median")
    reference = frame["ref_3y_mean"].astype(float)
    return pd.concat([reference, median], axis=1).max(axis=1)  # NaN references are skipped


def _driver_text(driver: str, effect: float) -> str:
    change = math.expm1(effect) * 100  # effects are on the log-rate scale
    return f"{driver} : {'+' if change >= 0 else '−'}{abs(change):.0f} %"


def _freshness(name: str, at: pd.Timestamp | None, issued: pd.Timestamp, tz: str) -> dict[str, Any]:
    if at is None:
        return {"name": name, "at": None, "label": "inconnue", "age": "", "stale": True}
    age = issued - at
    return {
        "name": name,
        "at": at.isoformat(),
        "label": _stamp(at.tz_convert(tz)),
        "age": _duration(age),
        "stale": bool(age > STALE_INPUT),
    }


def _duration(delta: pd.Timedelta) -> str:
    if delta < pd.Timedelta(0):
        return "après l'émission"
    return f"{_span_text(delta)} avant l'émission"


def _span_text(delta: pd.Timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} j"


def _step(frequency: str) -> pd.Timedelta:
    return {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1)}.get(
        frequency, pd.Timedelta(days=7)
    )


def _stamp(t: pd.Timestamp) -> str:
    return f"{t:%d/%m/%Y %H:%M}"


def _run_label(start: pd.Timestamp, end: pd.Timestamp) -> str:
    return (
        f"{WEEKDAYS[start.day_of_week]} {start:%d/%m %H:%M} → "
        f"{WEEKDAYS[end.day_of_week]} {end:%d/%m %H:%M}"
    )


def _span(start: pd.Timestamp, end: pd.Timestamp) -> str:
    return f"{WEEKDAYS[start.day_of_week]} {start:%d/%m %H:%M} → {end:%H:%M}"


def _label(t: pd.Timestamp, frequency: str) -> str:
    day = WEEKDAYS[t.day_of_week]
    if frequency == "hour":
        return f"{day} {t:%d/%m} {t:%H:%M}–{t + pd.Timedelta(hours=1):%H:%M}"
    if frequency == "day":
        return f"{day} {t:%d/%m/%Y}"
    return f"semaine du {t:%d/%m/%Y} (S{t.isocalendar().week:02d})"


def _ts(value: Any) -> pd.Timestamp:
    """A pandas scalar read back from a frame, as the Timestamp it is."""
    return pd.Timestamp(value)


def _num(value: Any) -> float | None:
    """A JSON-safe number (NaN and missing become null)."""
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number
