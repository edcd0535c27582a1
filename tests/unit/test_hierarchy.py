"""Levels add up exactly; each level has its own ordered quantiles; the hierarchy round-trips."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from previsecours.core.generator import generate_events
from previsecours.core.hierarchy import (
    Dispersion,
    Hierarchy,
    fit_hierarchy,
    level_means,
    rollup,
    split_categories,
    with_quantiles,
)
from previsecours.core.panel import DensePanel, period_starts

TZ = "Europe/Paris"


@pytest.fixture(scope="module")
def hierarchy(essonne) -> Hierarchy:  # type: ignore[no-untyped-def]
    events = generate_events(essonne, dt.date(2024, 1, 1), dt.date(2024, 2, 29), seed=4)
    return fit_hierarchy(
        events,
        essonne,
        "station",
        list(essonne.coverage_zones),
        ("commune", "station", "departement"),
        split_categories=True,
        frequency="hour",
    )


@pytest.fixture(scope="module")
def station_means(essonne) -> DensePanel:  # type: ignore[no-untyped-def]
    starts = period_starts(
        pd.Timestamp("2024-10-26", tz=TZ), pd.Timestamp("2024-10-29", tz=TZ), "hour", TZ
    )
    zones = list(essonne.coverage_zones)
    rng = np.random.default_rng(0)
    series = pd.DataFrame({"area_code": zones, "category": "ALL"})
    return DensePanel(series, starts, rng.uniform(0.05, 1.5, (len(zones), len(starts))))


def test_levels_and_categories_add_up_exactly(essonne, hierarchy, station_means) -> None:  # type: ignore[no-untyped-def]
    per_category = split_categories(station_means, hierarchy, TZ, "hour")
    np.testing.assert_allclose(
        per_category.counts.reshape(len(essonne.coverage_zones), 5, -1).sum(axis=1),
        station_means.counts,
    )
    levels = level_means(per_category, hierarchy)
    totals = {}
    for level, panel in levels.items():
        frame = panel.to_frame()
        totals[level] = frame.groupby(["category", "period_start"])["count"].sum()
        all_rows = frame[frame["category"] == "ALL"].groupby("period_start")["count"].sum()
        cat_rows = frame[frame["category"] != "ALL"].groupby("period_start")["count"].sum()
        np.testing.assert_allclose(all_rows.to_numpy(), cat_rows.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        totals["commune"].to_numpy(), totals["departement"].to_numpy(), rtol=1e-10
    )
    np.testing.assert_allclose(
        totals["station"].to_numpy(), totals["departement"].to_numpy(), rtol=1e-10
    )
    np.testing.assert_allclose(
        levels["station"].counts[5::6].sum(axis=0), station_means.counts.sum(axis=0)
    )
    assert set(hierarchy.levels["commune"]) == {c.code for c in essonne.communes}


def test_quantiles_are_ordered_and_wider_for_bigger_areas(hierarchy, station_means) -> None:  # type: ignore[no-untyped-def]
    per_category = split_categories(station_means, hierarchy, TZ, "hour")
    levels = level_means(per_category, hierarchy)
    dispersion = Dispersion({"departement:day:ALL": 0.01, "station:day:ALL": 0.05})
    dep = with_quantiles(
        rollup(levels["departement"], "hour", "day", TZ), "departement", "day", dispersion
    )
    q = dep[["p02_5", "p10", "p50", "p90", "p97_5"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    all_dep = dep[dep["category"] == "ALL"]
    assert ((all_dep["p90"] - all_dep["p10"]) > 5).all()
    # The 25-hour day is complete; the rollup keeps it and sums its 25 hours.
    assert len(all_dep) == 3
    assert np.isclose(all_dep["mean"].iloc[1], station_means.counts[:, 24:49].sum())


def test_hierarchy_round_trips_through_json(hierarchy) -> None:  # type: ignore[no-untyped-def]
    import json

    back = Hierarchy.from_dict(json.loads(json.dumps(hierarchy.to_dict())))
    assert back.levels == hierarchy.levels
    pd.testing.assert_frame_equal(back.weights, hierarchy.weights, check_dtype=False)
    assert back.category_shares is not None


def test_missing_grain_falls_back_to_the_levels_widest_alpha() -> None:
    d = Dispersion({"station:hour:ALL": 0.0, "station:day:ALL": 0.04})
    assert d.alpha("station", "week", "ALL") == 0.04
    assert d.alpha("commune", "week", "SUAP") == 0.0
