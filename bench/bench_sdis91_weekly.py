"""Real SDIS 91 weekly totals against the peers: backtest over 2014–2015, 1-week horizon.

Reads ../shared/data/sdis91/weekly_totals_by_category_2010_2015.csv (département-wide weekly
counts per category, 2010–2015, with real covariates), builds the département × category × week
panel (the 2 weeks missing from the source stay unknown, never zero), and backtests every model
with one window per week of 2014–2015 (origin steps of one week, refit at each origin on all the
history before it). Covariates (flu incidence, mean temperature, school holidays) enter lagged
by the horizon: last week's values, known when forecasting.

Prévisecours is the project's CatBoost with params.yaml's weekly settings (`train: catboost`,
`catboost_by_frequency: week`, no candidate or combination) and the
project's weekly features (core.features, core.backtest — the production code; there is no
weekly territory in production, so the backtest is called directly). The core baselines run
beside it; the peers (statsforecast, mlforecast + LightGBM, Prophet) get the same 5 series and
the same 104 origins in their environment (missing weeks dropped from their training rows).

Scoring (core/metrics.py through core.backtest.scores, every model alike), pooled over the 104
windows: per category ("category") and for the five categories' total ("ALL"); RMSSE scaled by
the seasonal-naive (52 weeks) error of 2012–2013, the two years before the first window; 80/95 %
intervals negative binomial around each model's mean, dispersion cross-fitted by year (2014's
from 2015's errors and the reverse). Also weekly MAPE (SUAP by year, and the total).

Writes bench/results/sdis91_weekly.md. Usage:
    .venv/bin/python bench/bench_sdis91_weekly.py [--reuse-core]
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from benchlib.accuracy import METRICS, PEERS, label, verdict
from benchlib.common import WORK, PeerTask, Report, peer_predictions, run_peers, write_inputs
from previsecours.core import metrics as m
from previsecours.core.backtest import BacktestResult, scores
from previsecours.core.intervals import fit_dispersion

COVARIATES = ("inc_grippe", "temperature_average", "has_vacation")
CATEGORIES = ("SUAP", "ACCI", "INCU", "INCN", "AUTR")
TZ = "Europe/Paris"
CORE_MODELS = (
    "catboost",
    "last_period",
    "seasonal_naive",
    "seasonal_average_4",
    "reference_3y",
    "reference_3y_pm2",
    "poisson_glm",
)
SEASON = 52
COVERAGE_TARGET = 0.82


def load(path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(path)
    year, week = raw["yearweek"] // 100, raw["yearweek"] % 100
    monday = [dt.date.fromisocalendar(int(y), int(w), 1) for y, w in zip(year, week, strict=True)]
    raw["period_start"] = pd.DatetimeIndex(pd.to_datetime(monday)).tz_localize(TZ).as_unit("s")
    counts = raw.melt(
        id_vars=["period_start"],
        value_vars=list(CATEGORIES),
        var_name="category",
        value_name="count",
    ).assign(area_code="essonne")
    covariates = raw.set_index("period_start")[list(COVARIATES)].astype(float)
    return counts, covariates


def pooled_scores(predictions: pd.DataFrame, history: dict[str, np.ndarray]) -> pd.DataFrame:
    """Metrics per model × kind over all windows (scales from the 2 years before them)."""
    rows = []
    p = predictions.assign(year=pd.DatetimeIndex(predictions["period_start"]).year)
    total = p.groupby(["model", "window", "period_start", "year"], sort=False)[
        ["actual", "mean"]
    ].sum(min_count=1)
    kinds = {"category": p, "ALL": total.reset_index()}
    for kind, rows_of_kind in kinds.items():
        frame = rows_of_kind.dropna(subset=["actual"])
        scale = m.seasonal_scale(history[kind], SEASON)
        for model, f in frame.groupby("model", sort=False):
            y, mu = f["actual"].to_numpy(float), f["mean"].to_numpy(float)
            years = f["year"].to_numpy()
            alphas = {
                yr: fit_dispersion(y[years != yr], mu[years != yr], COVERAGE_TARGET)
                for yr in np.unique(years)
            }
            per_year = [
                scores(y[years == yr], mu[years == yr], scale, a, level="departement", grain="week")
                for yr, a in alphas.items()
            ]
            point = scores(y, mu, scale, 0.0, level="departement", grain="week")
            weights = [int((years == yr).sum()) for yr in alphas]
            for metric, value in point.items():
                if metric in ("pinball", "coverage_80", "coverage_95"):
                    # intervals: each year's with its cross-fitted dispersion
                    pooled = np.average([s[metric] for s in per_year], weights=weights)
                    rows.append((model, kind, metric, float(pooled)))
                else:
                    rows.append((model, kind, metric, value))
    return pd.DataFrame(rows, columns=["model", "kind", "metric", "value"])


def table_of(metrics: pd.DataFrame, kind: str) -> pd.DataFrame:
    keep = (*METRICS, "mape")
    sel = metrics[(metrics["kind"] == kind) & metrics["metric"].isin(keep)]
    table = sel.pivot_table(index="model", columns="metric", values="value", sort=False)
    table = table.reindex(columns=[c for c in keep if c in table.columns]).sort_values("rmsse")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table.index = pd.Index([label(str(i)) for i in table.index], name="model")
    return table


def suap_mape(predictions: pd.DataFrame) -> pd.DataFrame:
    """Weekly SUAP MAPE % per model and year (the figure of the 2018 project)."""
    p = predictions.dropna(subset=["actual"])
    p = p.assign(year=pd.DatetimeIndex(p["period_start"]).year)
    suap = p[p["category"] == "SUAP"]
    ape = (suap["mean"] - suap["actual"]).abs() / suap["actual"] * 100
    mape = ape.groupby([suap["model"], suap["year"]]).mean().unstack("year")
    mape["SUAP 2014–2015"] = ape.groupby(suap["model"]).mean()
    mape = mape.sort_values("SUAP 2014–2015")
    mape.index = pd.Index([label(str(i)) for i in mape.index], name="model")
    mape.columns = [str(c) for c in mape.columns]
    return mape


def core_backtest(run: Callable[[], BacktestResult], reuse: bool) -> tuple[BacktestResult, float]:
    """The core models' backtest (kept in bench/out; `reuse` reads the previous one)."""
    cache = WORK / "sdis91_weekly" / "core.pkl"
    if reuse and cache.is_file():
        result, seconds = pd.read_pickle(cache)
        return result, seconds
    t0 = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - t0
    cache.parent.mkdir(parents=True, exist_ok=True)
    pd.to_pickle((result, seconds), cache)
    return result, seconds


def main(reuse_core: bool = False) -> None:
    from previsecours.adapters.territory_files import load_territory
    from previsecours.config import load_params
    from previsecours.core.backtest import BacktestConfig, run_backtest
    from previsecours.core.features import area_attributes, make_spec
    from previsecours.core.panel import DensePanel, panel_from_counts
    from previsecours.paths import Project

    root = Project.locate().root
    report = Report(
        "sdis91_weekly",
        "Accuracy against the peers — real SDIS 91 weekly totals",
        (__doc__ or "").split("\n\n")[0],
    )
    weekly = load_params(root / "params.yaml").train.for_frequency("week")
    territory = load_territory(root / "territories" / "essonne.yaml")
    counts, covariates = load(
        str(root.parent / "shared" / "data" / "sdis91" / "weekly_totals_by_category_2010_2015.csv")
    )
    start = counts["period_start"].min()
    end = counts["period_start"].max() + pd.Timedelta(days=7)
    panel = panel_from_counts(counts, "week", TZ, start, end)
    known = panel.starts.isin(pd.DatetimeIndex(counts["period_start"].unique()))
    dense = panel.counts.copy()
    dense[:, ~known] = np.nan  # a week missing from the source is unknown, not zero
    panel = DensePanel(panel.series, panel.starts, dense)
    spec = make_spec("week", 1, covariates=COVARIATES)
    attributes = area_attributes(territory, "departement", ["essonne"])
    first_scored = pd.Timestamp("2014-01-01", tz=TZ)
    n_windows = int((panel.starts >= first_scored).sum())
    config = BacktestConfig(
        horizon=1,
        n_windows=n_windows,
        step=1,
        refit=True,
        models=CORE_MODELS,
        model_params={"catboost": weekly.catboost_params()},
    )
    result, core_seconds = core_backtest(
        lambda: run_backtest(panel, spec, territory, attributes, config, covariates=covariates),
        reuse_core,
    )
    task = PeerTask(
        folder=WORK / "sdis91_weekly",
        frequency="week",
        seasons=(SEASON,),
        horizon=1,
        train_periods=0,
        windows=tuple((w.origin, w.end) for w in result.windows),
        models=PEERS,
    )
    write_inputs(task, panel.series, panel.starts, panel.counts)
    t0 = time.perf_counter()
    peers = run_peers(task)
    peer_seconds = time.perf_counter() - t0
    keys = ["window", "area_code", "category", "period_start"]
    base = result.predictions[result.predictions["model"] == "catboost"][[*keys, "actual"]]
    peer_rows = base.merge(peer_predictions(task, panel.starts), on=keys, how="left")
    predictions = pd.concat(
        [result.predictions, peer_rows[[*result.predictions.columns]]], ignore_index=True
    )
    before = (panel.starts < first_scored) & (
        panel.starts >= first_scored - pd.Timedelta(weeks=104)
    )
    history = {
        "category": panel.counts[:, before],
        "ALL": panel.counts[:, before].sum(axis=0, keepdims=True),
    }
    metrics = pooled_scores(predictions, history)
    report.add(
        f"\n{n_windows} one-week windows, origins "
        f"{panel.starts[result.windows[0].origin].date()} … "
        f"{panel.starts[result.windows[-1].origin].date()}; "
        "CatBoost = params.yaml `train: catboost`, its weekly settings. "
        f"Core models {core_seconds:.0f} s, peers {peer_seconds:.0f} s (2 shared cores)."
    )
    verdicts = []
    for kind, heading in (
        ("ALL", "all categories' total × week"),
        ("category", "each category × week"),
    ):
        table = table_of(metrics, kind)
        report.table(f"département, {heading}", table)
        verdicts.append(verdict(table, f"département {heading}"))
    mape = suap_mape(predictions)
    report.table("Weekly SUAP MAPE % (the 2018 project's figure)", mape, 2)
    report.add("\n### Verdict (RMSSE)\n\n" + "\n".join(verdicts))
    seconds = {label(k): v for k, v in {**result.fit_seconds, **peers["seconds"]}.items()}
    report.add(
        "\nFit seconds (all windows): " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items())
    )
    if peers.get("skipped"):
        report.add("\nSkipped: " + "; ".join(f"{k}: {v}" for k, v in peers["skipped"].items()))
    report.write()


if __name__ == "__main__":
    # --reuse-core: keep the core models' backtest of the previous run (bench/out), redo the
    # peers and the scoring — for iterating on the peers; `make bench` runs everything.
    main(reuse_core="--reuse-core" in sys.argv)
