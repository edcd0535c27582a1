"""Levels add up exactly; each level has its own ordered quantiles; the hierarchy round-trips."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from previsecours.core.calendar import period_starts
from previsecours.core.generator import generate_events
from previsecours.core.hierarchy import (
    Dispersion,
    Hierarchy,
    allocate,
    fit_hierarchy,
    level_means,
    rollup,
    split_categories,
    with_quantiles,
)
from previsecours.core.panel import DensePanel

if TYPE_CHECKING:
    from previsecours.core.territory import Territory

TZ = "Europe/Paris"


def _fitted(essonne: Territory, *, pooled: bool) -> Hierarchy:
    events = generate_events(essonne, dt.date(2024, 1, 1), dt.date(2024, 2, 29), seed=4)
    return fit_hierarchy(
        events,
        essonne,
        "station",
        list(essonne.coverage_zones),
        ("commune", "station", "departement"),
        split_categories=True,
        frequency="hour",
        pooled=pooled,
    )


@pytest.fixture(scope="module")
def hierarchy(essonne: Territory) -> Hierarchy:
    return _fitted(essonne, pooled=False)


@pytest.fixture(scope="module")
def pooled_hierarchy(essonne: Territory) -> Hierarchy:
    return _fitted(essonne, pooled=True)


@pytest.fixture(scope="module")
def station_means(essonne: Territory) -> DensePanel:
    starts = period_starts(
        pd.Timestamp("2024-10-26", tz=TZ), pd.Timestamp("2024-10-29", tz=TZ), "hour", TZ
    )
    zones = list(essonne.coverage_zones)
    rng = np.random.default_rng(0)
    series = pd.DataFrame({"area_code": zones, "category": "ALL"})
    return DensePanel(series, starts, rng.uniform(0.05, 1.5, (len(zones), len(starts))))


def test_levels_and_categories_add_up_exactly(
    essonne: Territory, hierarchy: Hierarchy, station_means: DensePanel
) -> None:
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


def test_quantiles_are_ordered_and_wider_for_bigger_areas(
    hierarchy: Hierarchy, station_means: DensePanel
) -> None:
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


def test_hierarchy_round_trips_through_json(hierarchy: Hierarchy) -> None:
    import json

    back = Hierarchy.from_dict(json.loads(json.dumps(hierarchy.to_dict())))
    assert back.levels == hierarchy.levels
    pd.testing.assert_frame_equal(back.weights, hierarchy.weights, check_dtype=False)
    assert back.category_shares is not None


def test_missing_grain_falls_back_to_the_levels_widest_alpha() -> None:
    d = Dispersion({"station:hour:ALL": 0.0, "station:day:ALL": 0.04})
    assert d.alpha("station", "week", "ALL") == 0.04
    assert d.alpha("commune", "week", "SUAP") == 0.0


def test_top_down_keeps_the_modelled_total_and_splits_it_by_measured_shares(
    essonne: Territory, hierarchy: Hierarchy, pooled_hierarchy: Hierarchy, station_means: DensePanel
) -> None:
    bottom_up = allocate(station_means, hierarchy, TZ, "hour")
    top_down = allocate(station_means, pooled_hierarchy, TZ, "hour")
    # The département is the modelled zones' sum either way, for ALL and for each category.
    dep_bu, dep_td = bottom_up["departement"], top_down["departement"]
    np.testing.assert_allclose(dep_td.counts[-1], station_means.counts.sum(axis=0))
    np.testing.assert_allclose(dep_td.counts[-1], dep_bu.counts[-1])
    for level in ("commune", "station"):
        frame = top_down[level].to_frame()
        sums = frame.groupby(["category", "period_start"])["count"].sum()
        dep = dep_td.to_frame().set_index(["category", "period_start"])["count"]
        np.testing.assert_allclose(sums.to_numpy(), dep.reindex(sums.index).to_numpy())
    # A zone gets its measured share of each category of the total: the same share every
    # hour, whatever its own modelled means said (here random).
    stations = top_down["station"].to_frame()
    suap = stations[stations["category"] == "SUAP"].pivot(
        index="period_start", columns="area_code", values="count"
    )
    shares = suap.div(suap.sum(axis=1), axis=0)
    np.testing.assert_allclose(shares.std().max(), 0.0, atol=1e-12)
    weights = pooled_hierarchy.weights
    expected = weights[(weights["level"] == "station") & (weights["category"] == "SUAP")]
    np.testing.assert_allclose(
        shares.iloc[0].reindex(expected["area_code"]).to_numpy(), expected["weight"].to_numpy()
    )
    assert set(expected["model_area"]) == {essonne.name}
    mine = stations[stations["category"] == "ALL"].groupby("area_code")["count"].sum()
    own = pd.Series(station_means.counts.sum(axis=1), index=list(station_means.series["area_code"]))
    assert not np.allclose(mine.reindex(own.index).to_numpy(), own.to_numpy(), rtol=0.05)


def test_pooled_hierarchy_round_trips_and_older_models_stay_bottom_up(
    pooled_hierarchy: Hierarchy,
) -> None:
    import json

    data = json.loads(json.dumps(pooled_hierarchy.to_dict()))
    assert Hierarchy.from_dict(data).pooled_area == pooled_hierarchy.pooled_area == "essonne"
    del data["pooled_area"]  # metadata of a model version registered before pooling existed
    assert Hierarchy.from_dict(data).pooled_area is None


def test_a_category_reads_its_own_alpha_then_the_pooled_one() -> None:
    d = Dispersion(
        {
            "station:day:category": 0.05,
            "station:day:category:SUAP": 0.01,
            "station:hour:category:SUAP": 0.002,
            "station:hour:category": 0.03,
        }
    )
    assert d.alpha("station", "day", "SUAP") == 0.01
    assert d.alpha("station", "day", "INCN") == 0.05  # no own α: the pooled one
    # A grain not scored: the category's own widest α over the level, then the pool's.
    assert d.alpha("station", "week", "SUAP") == 0.01
    assert d.alpha("station", "week", "INCN") == 0.05
    assert d.alpha("station", "day", "ALL") == 0.0  # the totals' α is not the categories'
