"""The real-data benchmark's pure parts (bench/bench_real.py, bench/benchlib/real_data.py): the
explicit origins, the sums at coarser grains, the per-origin seasonal-naive scales and the
metrics pooled over origins; then the loaders on the shared data (skipped without it)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchlib.real_data import (
    SHARED,
    Rows,
    earlier_alphas,
    load_berlin,
    load_denver,
    per_origin_scales,
    pooled_metrics,
    spread_origins,
)


def test_origins_are_mondays_spread_over_the_span() -> None:
    origins = spread_origins("2023-01-04", "2024-12-18", 8)
    days = [dt.date.fromisoformat(o) for o in origins]
    assert len(days) == 8
    assert all(d.weekday() == 0 for d in days)
    assert days == sorted(set(days))
    assert days[0] == dt.date(2023, 1, 2) and days[-1] == dt.date(2024, 12, 16)
    gaps = np.diff([d.toordinal() for d in days])
    assert gaps.max() - gaps.min() <= 7  # evenly spread, to the week


def test_an_hourly_window_never_holds_the_autumn_clock_change() -> None:
    # Denver's clocks go back on Sunday 2016-11-06: the window from Monday 10-31 is 169 hours.
    origins = spread_origins("2016-10-31", "2016-10-31", 1, timezone="America/Denver")
    assert origins == ("2016-10-24",)
    # Spring (167 hours) keeps every hour of its days: not moved.
    assert spread_origins("2016-03-07", "2016-03-07", 1, timezone="America/Denver") == (
        "2016-03-07",
    )


def test_too_many_origins_for_the_span_is_an_error() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        spread_origins("2024-01-01", "2024-01-15", 4)


def test_scales_use_all_data_before_each_origin_only() -> None:
    starts = pd.date_range("2024-01-01", periods=6, freq="D", tz="Europe/Paris")
    history = np.array([[1.0, 2.0, 4.0, 8.0, 100.0, 100.0]])
    sq, ab = per_origin_scales(history, starts, [starts[3], starts[4]], season=1)
    # before the 4th day: diffs 1, 2 → MSE 2.5, MAE 1.5; before the 5th: 1, 2, 4
    assert sq[:, 0] == pytest.approx([2.5, 7.0])
    assert ab[:, 0] == pytest.approx([1.5, 7.0 / 3])
    too_early, _ = per_origin_scales(history, starts, [starts[1]], season=1)
    assert np.isnan(too_early).all()  # a season or less before the origin: no scale


def rows(y: list[float], mean: list[float], window: list[int], scale: list[float]) -> Rows:
    n = len(y)
    s = np.asarray(scale, dtype=float)
    return Rows(
        np.asarray(window),
        np.zeros(n, dtype=int),
        np.asarray(y, dtype=float),
        np.asarray(mean, dtype=float),
        s,
        np.sqrt(s),
        np.full(n, "ALL"),
    )


def test_metrics_pool_scaled_errors_over_origins() -> None:
    # window 0: error 2 on scale 4 (scaled² 1); window 1: error 3 on scale 1 (scaled² 9)
    r = rows([10, 10], [12, 7], [0, 1], [4.0, 1.0])
    out = pooled_metrics(r, {}, mape=True)
    assert out["rmsse"] == pytest.approx(np.sqrt((1 + 9) / 2))
    assert out["mase"] == pytest.approx((2 / 2 + 3 / 1) / 2)
    assert out["bias_pct"] == pytest.approx(100 * (19 - 20) / 20)
    assert out["mape"] == pytest.approx(100 * (0.2 + 0.3) / 2)
    assert np.isnan(out["coverage_80"])  # no window with a dispersion: no coverage


def test_unknown_actuals_and_missing_scales_are_not_scored() -> None:
    r = rows([10, np.nan, 10], [10, 50, 30], [0, 0, 1], [1.0, 1.0, np.nan])
    out = pooled_metrics(r, {})
    assert out["n"] == 1 and out["rmsse"] == 0.0 and out["bias_pct"] == 0.0


def test_intervals_use_the_dispersion_of_earlier_windows_only() -> None:
    rng = np.random.default_rng(0)
    mean = np.full(600, 50.0)
    y = rng.negative_binomial(5, 5 / (5 + 50), size=600).astype(float)  # overdispersed
    window = np.repeat([0, 1, 2], 200)
    r = Rows(window, np.zeros(600, int), y, mean, np.ones(600), np.ones(600), np.full(600, "ALL"))
    positions = {0: (0, 10), 1: (10, 20), 2: (20, 30)}
    alphas = earlier_alphas(r, positions, 0.82)
    assert set(alphas) == {1, 2}  # the first window has nothing before it
    assert alphas[1]["ALL"] > 0.05  # overdispersion measured, not Poisson
    out = pooled_metrics(r, alphas)
    assert 0.7 < out["coverage_80"] < 0.92
    assert out["coverage_95"] > out["coverage_80"]
    assert 0.7 < out["pit_80"] < 0.92 and out["pit_95"] > out["pit_80"]
    poisson = pooled_metrics(r, {1: {"ALL": 0.0}, 2: {"ALL": 0.0}})
    assert poisson["coverage_80"] < 0.5 and poisson["pit_80"] < 0.5


def test_a_window_s_dispersion_rests_on_as_many_windows_as_a_training_has() -> None:
    """With `last`, window k's α is fitted on the `last` windows that ended latest by its
    origin: a stormy early window no longer widens late intervals."""
    rng = np.random.default_rng(3)
    n = 400
    wild = rng.negative_binomial(2, 2 / (2 + 40), size=n).astype(float)
    calm = rng.poisson(40.0, 3 * n).astype(float)
    y = np.concatenate([wild, calm])
    window = np.repeat([0, 1, 2, 3], n)
    r = Rows(
        window,
        np.zeros(4 * n, int),
        y,
        np.full(4 * n, 40.0),
        np.ones(4 * n),
        np.ones(4 * n),
        np.full(4 * n, "ALL"),
    )
    positions = {k: (10 * k, 10 * k + 10) for k in range(4)}
    every, latest = earlier_alphas(r, positions, 0.82), earlier_alphas(r, positions, 0.82, 1)
    assert latest[1]["ALL"] == every[1]["ALL"]  # one window before it either way
    assert latest[3]["ALL"] < 0.2 * every[3]["ALL"]  # window 2 alone: calm
    assert set(earlier_alphas(r, positions, 0.82, 2)) == {2, 3}  # 2 windows before them


def test_each_category_s_dispersion_is_the_platform_s() -> None:
    """The bench fits a window's α by the core's rule, each category its own from
    CATEGORY_MIN_VALUES values on, else every category's rows pooled."""
    from previsecours.core.backtest import CATEGORY_MIN_VALUES
    from previsecours.core.intervals import fit_dispersion

    rng = np.random.default_rng(5)
    n_wild, n_few = 300, CATEGORY_MIN_VALUES - 1  # per window
    wild = rng.negative_binomial(3, 3 / (3 + 40), size=(3, n_wild)).astype(float)
    few = rng.poisson(40.0, (3, n_few)).astype(float)
    y = np.concatenate([np.concatenate([wild[k], few[k]]) for k in range(3)])
    group = np.tile(np.array(["WILD"] * n_wild + ["FEW"] * n_few), 3)
    window = np.repeat([0, 1, 2], n_wild + n_few)
    size = len(y)
    r = Rows(
        window, np.zeros(size, int), y, np.full(size, 40.0), np.ones(size), np.ones(size), group
    )
    positions = {k: (10 * k, 10 * k + 10) for k in range(3)}
    alphas = earlier_alphas(r, positions, 0.82)

    def fitted(sel: np.ndarray) -> float:
        return fit_dispersion(y[sel], np.full(int(sel.sum()), 40.0), 0.82)

    wild_rows, few_rows = group == "WILD", group == "FEW"
    assert alphas[2]["WILD"] == fitted(wild_rows & (window < 2))  # its own
    assert alphas[2]["FEW"] == fitted(few_rows & (window < 2))  # 6 values: its own
    # Window 1 has 3 FEW values before it: the pool's α, not theirs.
    assert alphas[1]["FEW"] == fitted(window < 1)
    assert alphas[1]["FEW"] != fitted(few_rows & (window < 1))


def test_a_sum_is_over_complete_local_days() -> None:
    from bench_real import summed

    # 2025-03-30 has 23 local hours in Paris: its sum is its 23 hours, the partial 31st is out.
    starts = pd.date_range("2025-03-29", periods=60, freq="h", tz="UTC").tz_convert("Europe/Paris")
    series = pd.DataFrame({"area_code": ["A"], "category": ["ALL"]})
    days = summed(
        series, np.ones((1, 60)), starts, source="hour", grain="day", timezone="Europe/Paris"
    )
    local = [d.date() for d in days.starts]
    assert dt.date(2025, 3, 30) in local
    assert days.counts[0, local.index(dt.date(2025, 3, 30))] == 23
    assert dt.date(2025, 3, 31) not in local  # incomplete: left out


def test_a_refit_keeps_the_cached_peers_and_only_them() -> None:
    from bench_real import with_cached_peers

    starts = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")

    def run(models: list[str], peers: dict[str, float], first: float = 0.0) -> dict[str, Any]:
        rows = pd.DataFrame({"model": models, "mean": first + np.arange(len(models))})
        return {
            "predictions": rows,
            "windows": [(0, 2, 4)],
            "starts": starts,
            "peer_seconds": float(len(peers)),
            "peer_info": {"seconds": peers, "skipped": {}, "versions": {}},
        }

    cached = run(["catboost", "seasonal_naive", "lgbm_poisson", "prophet"], {"lgbm_poisson": 1.0})
    new = with_cached_peers(run(["catboost", "seasonal_naive"], {}, first=10.0), cached)
    assert list(new["predictions"]["model"]) == ["catboost", "seasonal_naive", "lgbm_poisson"]
    assert list(new["predictions"]["mean"]) == [10.0, 11.0, 2.0]  # the refit's, the peer's
    assert new["peer_info"] == cached["peer_info"] and new["peer_seconds"] == 1.0
    with pytest.raises(SystemExit, match="other windows"):
        with_cached_peers(run(["catboost"], {}) | {"windows": [(0, 1, 4)]}, cached)


needs_shared = pytest.mark.skipif(
    not Path(SHARED).is_dir(), reason="the shared reference data (../shared/data) is absent"
)


@needs_shared
def test_berlin_types_add_up_to_every_mission() -> None:
    ds = load_berlin()
    frame = ds.history.frame
    total = frame.groupby("period_start")["count"].sum()
    raw = pd.read_csv(SHARED / "berlin" / "daily_missions_2018_2024.csv")
    assert total.to_numpy() == pytest.approx(raw["mission_count_all"].to_numpy())
    assert (frame["count"] >= 0).all()


@needs_shared
def test_denver_absent_hours_stay_unknown() -> None:
    ds = load_denver()
    frame = ds.history.frame
    assert frame["period_start"].is_unique  # the repeated autumn hour once, by its UTC start
    hours = pd.DatetimeIndex(frame["period_start"])
    span = pd.date_range(hours.min(), hours.max(), freq="h")
    assert 0.95 < len(hours) / len(span) < 0.99  # ≈ 2.5 % absent, not filled with zeros
    assert ds.covariates is not None and set(ds.covariates.columns) == {"temperature", "home_game"}
    games = ds.covariates["home_game"]
    assert games.notna().all() and 3000 < games.sum() < 3500  # hours with a home game (was NaN)
    assert ds.known_ahead == ("home_game",)  # a schedule; temperature stays lagged


def test_each_category_has_its_own_dispersion_as_the_platform_fits_it() -> None:
    rng = np.random.default_rng(1)
    n = 300  # per category and window
    calm = rng.poisson(30.0, 3 * n).astype(float)
    wild = rng.negative_binomial(3, 3 / (3 + 30), size=3 * n).astype(float)
    y = np.concatenate([calm, wild])
    window = np.tile(np.repeat([0, 1, 2], n), 2)
    group = np.repeat(["A", "B"], 3 * n)
    r = Rows(
        window, np.zeros(6 * n, int), y, np.full(6 * n, 30.0), np.ones(6 * n), np.ones(6 * n), group
    )
    positions = {0: (0, 10), 1: (10, 20), 2: (20, 30)}
    alphas = earlier_alphas(r, positions, 0.8)
    assert alphas[2]["A"] < 0.5 * alphas[2]["B"]  # the calm category keeps narrow intervals
    out = pooled_metrics(r, alphas)
    calm_only = pooled_metrics(
        Rows(*(getattr(r, f)[group == "A"] for f in Rows.__annotations__)), alphas
    )
    assert 0.7 < calm_only["coverage_80"] < 0.9  # not over-covered by the wild one's α
    assert 0.7 < out["coverage_80"] < 0.9


def test_each_origin_s_choice_reads_the_windows_ended_by_it_as_a_weekly_platform_does() -> None:
    from bench_real import choices_before_origin
    from previsecours.core.backtest import Window

    windows = [Window(k, 10 * k, 10 * k + 7) for k in range(8)]
    # all_four better on windows 0–3, all_three on 4–5 by a little, then clearly on 6.
    per_window = pd.DataFrame(
        {
            "catboost:all_four": [0.5, 0.5, 0.5, 0.5, 0.60, 0.60, 0.9, 0.9],
            "catboost:all_three": [0.7, 0.7, 0.7, 0.7, 0.55, 0.55, 0.1, 0.1],
        }
    )
    names = ["catboost:all_four", "catboost:all_three"]
    remembered = choices_before_origin(per_window, windows, names, own=2, keep=52)
    # Window 0: nothing before, the first offered; window 6 reads 0–5: all_four on average;
    # window 7 reads 0–6: all_three by then.
    assert [remembered[k] for k in range(8)] == [names[0]] * 7 + [names[1]]
    alone = choices_before_origin(per_window, windows, names, own=2, keep=0)
    # A training's own 2 windows only: all_three from window 6 (windows 4 and 5).
    assert [alone[k] for k in range(8)] == [names[0]] * 6 + [names[1]] * 2
