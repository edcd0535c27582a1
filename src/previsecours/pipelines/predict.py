"""Forecast every level from a trained model and the history: the step the forecast flow reuses.

`predict_levels(model, history, territory, start, periods, frequency)` → one row per level ×
area × category (each territory category and ALL) × period, columns `LEVEL_COLUMNS`
(frequency, level, area_code, category, period_start, period_end, mean, p02_5, p10, p50, p90,
p97_5). Means add up exactly across levels; quantiles are each level's own. `model` is a
`TrainedForecaster`, a pyfunc model loaded from the registry, or an object holding one in
`.model` (e.g. the registry's served model). `history`: the stored `History` (events, or
counts of the modelled level).
Periods from `history_end` (default: `start`) on are unknown to the model: it reads only counts
at least a horizon before each forecast period.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from previsecours.core.calendar import PERIOD_HOURS, period_of, period_starts
from previsecours.core.covariates import missing_lagged, unknown_spans
from previsecours.core.drivers import explain
from previsecours.core.features import area_attributes, build_features
from previsecours.core.forecast_schema import DRIVER_COLUMNS
from previsecours.core.history import History
from previsecours.core.models.bundle import TrainedForecaster
from previsecours.core.panel import DensePanel
from previsecours.core.schema import Frequency
from previsecours.core.territory import Territory
from previsecours.core.training import history_panel


def as_forecaster(model: Any) -> TrainedForecaster:
    if isinstance(model, TrainedForecaster):
        return model
    from previsecours.adapters.tracking import unwrap

    return unwrap(model)


def model_covariates(
    forecaster: TrainedForecaster, territory: Territory, starts: pd.DatetimeIndex
) -> pd.DataFrame | None:
    """The covariates the model reads, from the territory's files, aligned to `starts`."""
    names = forecaster.spec.covariates
    if not names:
        return None
    from previsecours.adapters.covariates import CovariateError, covariate_frame

    declared = {c.name for c in territory.covariates}
    missing = [n for n in names if n not in declared]
    if missing:
        raise CovariateError(
            f"the model reads covariate(s) {missing}, which territory {territory.name} no "
            "longer declares: declare them again or retrain"
        )
    return covariate_frame(territory, starts, forecaster.spec.frequency, names)


def covariate_gaps(
    forecaster: TrainedForecaster,
    territory: Territory,
    start: pd.Timestamp,
    periods: int,
) -> dict[str, int]:
    """Covariates without the values a forecast of `periods` from `start` reads (lagged by the
    horizon, or at the period when known ahead): name → periods missing, out of `periods`
    (empty when all are there)."""
    spec = forecaster.spec
    if not spec.covariates:
        return {}
    aligned, origin = _forecast_covariates(forecaster, territory, start, periods)
    count = min(periods, len(aligned) - origin)
    return dict(
        missing_lagged(
            aligned,
            origin=origin,
            periods=count,
            horizon=spec.horizon,
            known_ahead=spec.known_ahead,
        )
    )


def unknown_ahead(
    forecaster: TrainedForecaster,
    territory: Territory,
    start: pd.Timestamp,
    periods: int,
) -> dict[str, tuple[pd.Timestamp, pd.Timestamp, int]]:
    """Known-ahead covariates whose file has no value yet for some forecast periods: name →
    (first, last such period, how many); the model reads them as unknown, never zero."""
    spec = forecaster.spec
    if not spec.known_ahead:
        return {}
    aligned, origin = _forecast_covariates(forecaster, territory, start, periods)
    return dict(unknown_spans(aligned, spec.known_ahead, origin=origin, periods=periods))


def _forecast_covariates(
    forecaster: TrainedForecaster, territory: Territory, start: pd.Timestamp, periods: int
) -> tuple[pd.DataFrame, int]:
    """The model's covariates from a horizon before `start` to `periods` after it, and the
    position of `start`'s period."""
    spec = forecaster.spec
    tz = territory.timezone
    first = pd.Timestamp(period_of(pd.DatetimeIndex([_local(start, tz)]), spec.frequency, tz)[0])
    step = pd.Timedelta(hours=PERIOD_HOURS[spec.frequency])
    starts = period_starts(
        first - step * (spec.horizon + 1), first + step * periods, spec.frequency, tz
    )
    aligned = model_covariates(forecaster, territory, starts)
    assert aligned is not None
    return aligned, int(starts.get_indexer(pd.DatetimeIndex([first]))[0])


def predict_levels(  # noqa: PLR0917 (the contract's positional signature)
    model: Any,
    history: History,
    territory: Territory,
    start: pd.Timestamp,
    periods: int,
    frequency: Frequency | None = None,
    *,
    grains: tuple[str, ...] = (),
    history_end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Every level's forecast for `periods` periods from `start` (see the module docstring).

    `grains`: coarser rollups to add (e.g. ("day", "week")); only complete periods are kept.
    """
    forecaster = as_forecaster(model)
    spec = forecaster.spec
    if frequency is not None and frequency != spec.frequency:
        raise ValueError(f"the model forecasts by {spec.frequency}, not by {frequency}")
    tz = territory.timezone
    first = pd.Timestamp(period_of(pd.DatetimeIndex([_local(start, tz)]), spec.frequency, tz)[0])
    step = pd.Timedelta(hours=PERIOD_HOURS[spec.frequency])
    lookback = first - step * (spec.max_lag + 1)
    # One extra day absorbs DST: the grid is cut to exactly `periods` periods below.
    horizon_end = first + step * periods + pd.Timedelta(days=1)
    panel = history_panel(forecaster, history, territory, lookback, horizon_end)
    known_until = _local(history_end, tz) if history_end is not None else first
    counts = panel.counts.copy()
    counts[:, panel.starts >= known_until] = np.nan
    panel = DensePanel(panel.series, panel.starts, counts)
    origin = int(panel.starts.get_indexer(pd.DatetimeIndex([first]))[0])
    covariates = model_covariates(forecaster, territory, panel.starts)
    means = forecaster.modelled_means(panel, territory, origin, origin + periods, covariates)
    out = forecaster.levels(means, territory, grains)
    # Rollups built with another tz object than the hourly rows concatenate to `object`:
    # the contract is one datetime column in the territory's zone.
    for column in ("period_start", "period_end"):
        out[column] = pd.to_datetime(out[column], utc=True).dt.tz_convert(tz)
    return out


def _local(t: pd.Timestamp, tz: str) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def forecast_drivers(
    forecaster: TrainedForecaster,
    *,
    history: History,
    territory: Territory,
    start: pd.Timestamp,
    periods: int,
    top_k: int,
) -> pd.DataFrame:
    """Top drivers of each modelled row (CatBoost SHAP values, log-rate scale)."""
    booster = getattr(forecaster.model, "model", None)
    if booster is None or not hasattr(booster, "get_feature_importance"):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in DRIVER_COLUMNS})
    from catboost import Pool

    spec = forecaster.spec
    tz = territory.timezone
    first = pd.Timestamp(period_of(pd.DatetimeIndex([_local(start, tz)]), spec.frequency, tz)[0])
    step = pd.Timedelta(hours=PERIOD_HOURS[spec.frequency])
    # The same history window and cut as predict_levels: what the model saw for this forecast.
    panel = history_panel(
        forecaster,
        history,
        territory,
        first - step * (spec.max_lag + 1),
        first + step * periods + pd.Timedelta(days=1),
    )
    counts = panel.counts.copy()
    counts[:, panel.starts >= first] = np.nan
    panel = DensePanel(panel.series, panel.starts, counts)
    origin = int(panel.starts.get_indexer(pd.DatetimeIndex([first]))[0])
    attributes = area_attributes(
        territory, forecaster.model_level, list(forecaster.hierarchy.model_areas)
    )
    block = build_features(
        panel,
        spec,
        territory,
        attributes,
        first=origin,
        last=origin + periods,
        covariates=model_covariates(forecaster, territory, panel.starts),
    )
    shap = booster.get_feature_importance(Pool(block.matrix), type="ShapValues")
    keys = block.keys.assign(level=forecaster.model_level)
    return explain(np.asarray(shap), list(block.matrix.columns), block.matrix, keys, top_k)
