"""Peer forecasters on the windows the main environment prepared (runs in bench/peers/.venv).

    bench/peers/.venv/bin/python bench/peers/run_peers.py <folder>

Reads <folder>/history.parquet (unique_id, t, ds, y, hour, weekday, month) and windows.json
(frequency, seasons, horizon, train_periods — 0 = all history before the origin —, windows as
[origin, end) positions, models), fits every peer at every origin on the periods before it, and
writes <folder>/predictions.parquet (model, window, unique_id, t, mean, q2_5, q10, q90, q97_5:
the peer's own quantiles, NaN where it has none) and <folder>/peers.json (seconds per model, and
the models skipped with the measured reason).

Peers, each with its library's defaults except what makes it comparable:
- `sf_seasonal_naive`, `sf_window_average`: statsforecast's SeasonalNaive and
  SeasonalWindowAverage(4) on the longest season — the same rules as the core's baselines, so
  their scores checking equal to the core's prove the two environments see the same data.
- `mstl_ets`: statsforecast MSTL on the seasons, trend by AutoETS (its default, "ZZN"), own
  80/95 % intervals; means clipped at 0 (counts). Hourly, it sees the last 8 weeks before each
  origin (its seasons are a day and a week; 2 years cost 10× more); skipped when one measured
  series × the number of fits exceeds MSTL_BUDGET_S.
- `lgbm_poisson`: mlforecast + LightGBM, Poisson objective, one global model; lags ≥ horizon
  (4 seasons back at the horizon; yearly when weekly), rolling means at the horizon, calendar
  features in local time (hour, weekday, month), series as a categorical. Same size as the
  project's CatBoost (300 trees, rate 0.1, 63 leaves ~ depth 6, half the rows per tree); one
  thread (measured: with 2, OpenMP's waits made a 2-series fit take 75 s on busy shared cores).
- `prophet`: one Prophet per series (seasonalities of the frequency, 80 % interval); skipped
  when one measured fit × the number of fits exceeds PROPHET_BUDGET_S.
Counts are the series' own (NaN = unknown periods are dropped from the training rows).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

PROPHET_BUDGET_S = 1800.0
MSTL_BUDGET_S = 1800.0
MSTL_HOURLY_PERIODS = 8 * 168  # MSTL's seasons are a day and a week: 8 weeks of history
QUANTILE_COLUMNS = ("q2_5", "q10", "q90", "q97_5")


def windows_of(spec: dict) -> list[tuple[int, int, int]]:
    return [(k, o, e) for k, (o, e) in enumerate(spec["windows"])]


def training_rows(history: pd.DataFrame, origin: int, train_periods: int) -> pd.DataFrame:
    """The periods before the origin; `step` numbers them 0, 1, … per series.

    statsforecast and mlforecast need a regular series: an unknown period (real weekly data
    has one, 2015-W01) is filled linearly from its neighbours — not dropped, which would shift
    every seasonal lag after it, and not read as a zero. Leading unknowns are dropped.
    """
    first = origin - train_periods if train_periods else 0
    rows = history[(history["t"] >= first) & (history["t"] < origin)].copy()
    rows["y"] = rows.groupby("unique_id")["y"].transform(
        lambda y: y.interpolate(limit_area="inside")
    )
    rows = rows[rows["y"].notna()]
    rows["step"] = rows.groupby("unique_id").cumcount()
    return rows


def future_rows(history: pd.DataFrame, train: pd.DataFrame, origin: int, end: int) -> pd.DataFrame:
    """The window's periods, with `step` continuing each series' training steps."""
    rows = history[(history["t"] >= origin) & (history["t"] < end)].copy()
    last = train.groupby("unique_id")["step"].max()
    rows["step"] = rows["unique_id"].map(last).to_numpy() + 1 + (rows["t"] - origin).to_numpy()
    return rows


def period_of_step(fc: pd.DataFrame, origin: int) -> np.ndarray:
    """Forecast rows (per series, in step order) → panel positions origin, origin + 1, …"""
    return (origin + fc.groupby("unique_id").cumcount()).to_numpy()


def frame_out(
    model: str, window: int, ids: np.ndarray, t: np.ndarray, mean: np.ndarray
) -> pd.DataFrame:
    out = pd.DataFrame({"model": model, "window": window, "unique_id": ids, "t": t})
    out["mean"] = np.clip(np.asarray(mean, dtype=float), 0.0, None)
    for column in QUANTILE_COLUMNS:
        out[column] = np.nan
    return out


def statsforecast_peers(
    history: pd.DataFrame, spec: dict, models: list[str]
) -> tuple[pd.DataFrame, dict]:
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS, SeasonalNaive, SeasonalWindowAverage

    seasons = list(spec["seasons"])
    longest = max(seasons)
    frames, seconds, skipped = [], dict.fromkeys(models, 0.0), {}
    if "mstl_ets" in models:
        reason = mstl_too_slow(history, spec)
        if reason:
            models = [m for m in models if m != "mstl_ets"]
            skipped["mstl_ets"] = reason
            seconds.pop("mstl_ets")
            print(f"  mstl_ets skipped: {reason}", flush=True)
    for k, origin, end in windows_of(spec):
        train = training_rows(history, origin, spec["train_periods"])
        df = train[["unique_id", "step", "y"]].rename(columns={"step": "ds"})
        short = training_rows(history, origin, mstl_periods(spec))
        short_df = short[["unique_id", "step", "y"]].rename(columns={"step": "ds"})
        h = end - origin
        for name in models:
            t0 = time.perf_counter()
            if name == "sf_seasonal_naive":
                model, level = SeasonalNaive(season_length=longest), None
            elif name == "sf_window_average":
                model, level = SeasonalWindowAverage(season_length=longest, window_size=4), None
            else:
                model = MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"))
                level = [80, 95]
            sf = StatsForecast(models=[model], freq=1, n_jobs=1)
            fc = sf.forecast(df=short_df, h=h, level=level) if level else sf.forecast(df=df, h=h)
            seconds[name] += time.perf_counter() - t0
            col = str(model)
            fc = fc.sort_values(["unique_id", "ds"], kind="stable")
            t = period_of_step(fc, origin)
            out = frame_out(name, k, fc["unique_id"].to_numpy(), t, fc[col].to_numpy())
            if level:
                for q, c in (
                    ("q2_5", f"{col}-lo-95"),
                    ("q10", f"{col}-lo-80"),
                    ("q90", f"{col}-hi-80"),
                    ("q97_5", f"{col}-hi-95"),
                ):
                    out[q] = np.clip(fc[c].to_numpy(float), 0.0, None)
            frames.append(out)
            print(f"  window {k}: {name} {time.perf_counter() - t0:.1f} s", flush=True)
    return pd.concat(frames, ignore_index=True), seconds, skipped


def mstl_periods(spec: dict) -> int:
    """MSTL's training span: hourly, the last 8 weeks (AutoETS on 2 years of hourly trend
    cost ~4 s a series on a quiet machine, 40 s on the loaded one); otherwise everyone's."""
    if spec["frequency"] != "hour":
        return spec["train_periods"]
    return min(spec["train_periods"] or MSTL_HOURLY_PERIODS, MSTL_HOURLY_PERIODS)


def mstl_too_slow(history: pd.DataFrame, spec: dict) -> str:
    """Time MSTL on one series of the first window; the reason to skip it, or ''."""
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS

    _, origin, end = windows_of(spec)[0]
    train = training_rows(history, origin, mstl_periods(spec))
    first = train[train["unique_id"] == train["unique_id"].iloc[0]]
    df = first[["unique_id", "step", "y"]].rename(columns={"step": "ds"})
    t0 = time.perf_counter()
    model = MSTL(season_length=list(spec["seasons"]), trend_forecaster=AutoETS(model="ZZN"))
    StatsForecast(models=[model], freq=1, n_jobs=1).forecast(df=df, h=end - origin, level=[80, 95])
    took = time.perf_counter() - t0
    n_fits = history["unique_id"].nunique() * len(spec["windows"])
    if took * n_fits <= MSTL_BUDGET_S:
        return ""
    return (
        f"one series took {took:.1f} s ({len(first):,} rows); {n_fits} fits "
        f"≈ {took * n_fits / 60:.0f} min > budget {MSTL_BUDGET_S / 60:.0f} min"
    )


def lgbm_features(frequency: str, horizon: int) -> tuple[list[int], dict, list[str]]:
    from mlforecast.lag_transforms import RollingMean, SeasonalRollingMean

    if frequency == "hour":
        lags = [horizon + 168 * j for j in range(4)] if horizon >= 24 else [horizon, 168, 336]
        transforms = {
            horizon: [
                RollingMean(window_size=168),
                SeasonalRollingMean(season_length=168, window_size=4),
            ]
        }
        calendar = ["hour", "weekday", "month"]
    elif frequency == "day":
        lags = [horizon + 7 * j for j in range(4)]
        transforms = {
            horizon: [
                RollingMean(window_size=7),
                SeasonalRollingMean(season_length=7, window_size=4),
            ]
        }
        calendar = ["weekday", "month"]
    else:  # week
        lags = sorted({horizon, horizon + 1, horizon + 2, horizon + 3, 52})
        transforms = {horizon: [RollingMean(window_size=4), RollingMean(window_size=52)]}
        calendar = ["month"]
    return lags, transforms, calendar


def lgbm_peer(history: pd.DataFrame, spec: dict) -> tuple[pd.DataFrame, float]:
    import lightgbm as lgb
    from mlforecast import MLForecast

    lags, transforms, calendar = lgbm_features(spec["frequency"], spec["horizon"])
    ids = sorted(history["unique_id"].unique())
    frames, seconds = [], 0.0
    for k, origin, end in windows_of(spec):
        t0 = time.perf_counter()
        train = training_rows(history, origin, spec["train_periods"])
        df = train[["unique_id", "step", "y", *calendar]].rename(columns={"step": "ds"})
        df["series"] = pd.Categorical(df["unique_id"], categories=ids)
        model = lgb.LGBMRegressor(
            objective="poisson",
            n_estimators=300,
            learning_rate=0.1,
            num_leaves=63,
            subsample=0.5,
            subsample_freq=1,
            n_jobs=1,  # 2 OpenMP threads stall for minutes when the shared cores are busy
            random_state=0,
            verbose=-1,
        )
        fcst = MLForecast(models={"lgbm": model}, freq=1, lags=lags, lag_transforms=transforms)
        fcst.fit(df, static_features=["series"], dropna=True)
        future = future_rows(history, train, origin, end)
        x_df = future[["unique_id", "step", *calendar]].rename(columns={"step": "ds"})
        fc = fcst.predict(h=end - origin, X_df=x_df).sort_values(["unique_id", "ds"], kind="stable")
        seconds += time.perf_counter() - t0
        t = period_of_step(fc, origin)
        frames.append(
            frame_out("lgbm_poisson", k, fc["unique_id"].to_numpy(), t, fc["lgbm"].to_numpy())
        )
        print(f"  window {k}: lgbm_poisson {time.perf_counter() - t0:.1f} s", flush=True)
    return pd.concat(frames, ignore_index=True), seconds


def prophet_peer(history: pd.DataFrame, spec: dict) -> tuple[pd.DataFrame | None, float, str]:
    from prophet import Prophet

    logging.getLogger("cmdstanpy").disabled = True  # one INFO line per chain otherwise
    logging.getLogger("prophet").setLevel(logging.WARNING)
    frequency = spec["frequency"]
    seasonality = {
        "hour": {"daily_seasonality": True, "weekly_seasonality": True, "yearly_seasonality": True},
        "day": {"daily_seasonality": False, "weekly_seasonality": True, "yearly_seasonality": True},
        "week": {
            "daily_seasonality": False,
            "weekly_seasonality": False,
            "yearly_seasonality": True,
        },
    }[frequency]
    ids = sorted(history["unique_id"].unique())
    windows = windows_of(spec)
    n_fits = len(ids) * len(windows)
    frames, seconds, first = [], 0.0, True
    for k, origin, end in windows:
        train = training_rows(history, origin, spec["train_periods"])
        window_rows = history[(history["t"] >= origin) & (history["t"] < end)]
        for uid in ids:
            t0 = time.perf_counter()
            rows = train[train["unique_id"] == uid]
            model = Prophet(interval_width=0.8, uncertainty_samples=200, **seasonality)
            model.fit(rows[["ds", "y"]])
            future = window_rows[window_rows["unique_id"] == uid]
            fc = model.predict(future[["ds"]])
            took = time.perf_counter() - t0
            seconds += took
            if first:
                first = False
                estimate = took * n_fits
                if estimate > PROPHET_BUDGET_S:
                    reason = (
                        f"one fit + predict took {took:.1f} s ({len(rows):,} rows); {n_fits} fits "
                        f"({len(ids)} series × {len(windows)} windows) ≈ {estimate / 60:.0f} min "
                        f"> budget {PROPHET_BUDGET_S / 60:.0f} min"
                    )
                    return None, seconds, reason
            out = frame_out(
                "prophet",
                k,
                np.full(len(future), uid),
                future["t"].to_numpy(),
                fc["yhat"].to_numpy(),
            )
            out["q10"] = np.clip(fc["yhat_lower"].to_numpy(float), 0.0, None)
            out["q90"] = np.clip(fc["yhat_upper"].to_numpy(float), 0.0, None)
            frames.append(out)
        print(f"  window {k}: prophet {seconds:.1f} s so far", flush=True)
    return pd.concat(frames, ignore_index=True), seconds, ""


def main(folder: Path) -> None:
    spec = json.loads((folder / "windows.json").read_text(encoding="utf-8"))
    history = pd.read_parquet(folder / "history.parquet")
    models = spec["models"]
    frames, seconds, skipped = [], {}, {}
    sf_models = [m for m in models if m in ("sf_seasonal_naive", "sf_window_average", "mstl_ets")]
    if sf_models:
        frame, s, sf_skipped = statsforecast_peers(history, spec, sf_models)
        frames.append(frame)
        seconds.update(s)
        skipped.update(sf_skipped)
    if "lgbm_poisson" in models:
        frame, seconds["lgbm_poisson"] = lgbm_peer(history, spec)
        frames.append(frame)
    if "prophet" in models:
        prophet_frame, seconds["prophet"], reason = prophet_peer(history, spec)
        if prophet_frame is None:
            skipped["prophet"] = reason
            print(f"  prophet skipped: {reason}", flush=True)
        else:
            frames.append(prophet_frame)
    pd.concat(frames, ignore_index=True).to_parquet(folder / "predictions.parquet", index=False)
    versions = {}
    from importlib import metadata

    for name in ("statsforecast", "mlforecast", "lightgbm", "prophet", "pandas", "numpy"):
        versions[name] = metadata.version(name)
    (folder / "peers.json").write_text(
        json.dumps({"seconds": seconds, "skipped": skipped, "versions": versions}, indent=1),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
