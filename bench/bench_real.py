"""Real-data benchmark: every dataset of ../shared/data at explicit origins, against the peers.

For each dataset (bench/benchlib/real_data.py: SDIS 91 weekly totals by category, 1 week ahead;
Montgomery County 911 calls by township × hour, 168 h; Denver hourly EMS calls, city total with
temperature and home games, 168 h; Berlin daily missions by type, 14 days), the platform runs
its production backtest, `core.training.backtest`, with params.yaml's `train:` section (its
CatBoost, its baselines, its allocation) and `train.origins` set to N explicit local dates
(by default every Monday of the last 1–2 years of the data — every other one for Berlin's
14-day windows — so that the windows before an origin are those a training at that origin
would have backtested): a refit at every origin, nothing at or
after the origin read (training rows, lagged features and covariates, category shares).
Prévisecours is the CatBoost: `previsecours train` registers the CatBoost, never a baseline —
at each origin the candidate or combination a training retrained every week would have chosen
then (its own windows and those earlier trainings scored: core/choice.py's choice memory) — and
`promote` makes it champion when it beats the champion — the first version, seasonal naive —
at the primary level; that rule is checked here on the total at the native grain. The peers
(statsforecast, mlforecast + LightGBM, Prophet) run in their own environment on the same
modelled series and windows (bench/benchlib/common.py); every model is allocated down the same
hierarchy and scored by the same code here.

Levels: the native series (the modelled one, or each category of a counts dataset), their daily
and weekly sums, and the total (and its sums). Metrics, pooled over origins: RMSSE (headline) and
MASE, each error scaled by its series' in-sample seasonal-naive error (season: a week of hours, a
week of days, 52 weeks) over all data before its origin; bias %; MAPE at totals; coverage of the
80/95 % negative-binomial intervals around each model's mean, the dispersion fitted at that
level × grain on the latest windows that ended by the origin — as many as a training's backtest
has (4; 13 for weekly data), each category its own, as the platform fits it; the first windows,
with fewer before them, are left out of the coverage figures — a sum's interval is the sum's
own, not a sum of quantiles. With the default adjacent origins, those windows are the very ones
a training at that origin would have backtested: the coverage is what a user's forecast gets.
Beside it, `pit_80` / `pit_95`: how often the randomized PIT of each actual falls in the
interval's band (core.intervals.pit_coverage) — the distribution's own calibration, which on
small counts (means under a few calls) integer intervals cannot show: they include their bounds,
so a calibrated hourly 80 % interval covers 90 % or more.

Writes bench/results/real_data.md. Usage:
    .venv/bin/python bench/bench_real.py [--datasets sdis91 montco911 denver berlin]
        [--origins N] [--horizon 4w] [--span FIRST LAST] [--peers ...] [--reuse | --reuse-peers]
        [--name NAME]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from benchlib.accuracy import LABELS, OURS, align, label, verdict
from benchlib.common import WORK, PeerTask, Report, peer_predictions, run_peers, write_inputs
from benchlib.real_data import (
    DATASETS,
    RealDataset,
    Rows,
    earlier_alphas,
    load,
    per_origin_scales,
    pooled_metrics,
    spread_origins,
)

GRAIN_ORDER = ("hour", "day", "week")
NOT_DONE = """
### What this benchmark does not do (yet)

- The data do not go through `previsecours ingest` (`pipelines.ingest.ingest_file` into a home's
  store): Montgomery's calls go through the ingestion path's reader and mapping only, the counts
  are built from the shared files directly (identical row for row to what `ingest` stores from
  them with territories/denver.yaml and berlin.yaml; tests/integration/test_five_shapes.py runs
  that route end to end).
- Prévisecours is the CatBoost candidate `train` would have registered at each origin (chosen
  on the earlier windows); the promotion rule is checked against seasonal naive only, not re-run
  through `promote`.
- The peers' own intervals are not scored: every model gets the same NB intervals here.
- Montgomery: MSTL and Prophet not run (cost); SDIS 91: statsforecast's window average not run."""
COLUMNS = ("rmsse", "mase", "bias_pct", "mape", "coverage_80", "coverage_95", "pit_80", "pit_95")


@dataclass(frozen=True)
class LevelSpec:
    """Which allocated rows form one benchmark level: `level` of the hierarchy, `rows` ALL (each
    area's total), `category` (every category's rows) or one category code; `name` for tables."""

    name: str
    level: str
    rows: str
    total: bool  # MAPE reported


def level_specs(ds: RealDataset, model_level: str) -> list[LevelSpec]:
    names = {"commune": "township", "departement": "total"}
    if ds.history.is_counts:
        out = []
        if len(ds.territory.categories) > 1:
            out.append(LevelSpec("each category", "departement", "category", False))
        out.append(LevelSpec("total", "departement", "ALL", True))
        if ds.name == "sdis91":
            out.append(LevelSpec("SUAP", "departement", "SUAP", True))
        return out
    return [
        LevelSpec(names.get(model_level, model_level), model_level, "ALL", False),
        LevelSpec("total (county)", "departement", "ALL", True),
    ]


def grains_of(frequency: str) -> tuple[str, ...]:
    return GRAIN_ORDER[GRAIN_ORDER.index(frequency) :]


def season_of(grain: str) -> int:
    return {"hour": 168, "day": 7, "week": 52}[grain]


def run_models(
    ds: RealDataset, params_section: dict, origins: tuple[str, ...], peers: tuple[str, ...]
) -> dict:
    """The production backtest and the peers at the origins; predictions of every model."""
    from previsecours.config import TrainParams
    from previsecours.core.training import backtest, backtest_config, modelled_panel

    section = {**params_section, **ds.overrides, "origins": list(origins)}
    params = TrainParams(**section)
    territory = ds.territory
    data = modelled_panel(ds.history, territory, params)
    if ds.covariates is not None:
        frame = ds.covariates.copy()
        frame.index = pd.DatetimeIndex(frame.index).as_unit("s")
        aligned = frame[~frame.index.duplicated()].reindex(data.panel.starts.as_unit("s"))
        aligned.index = data.panel.starts
        data = replace(data, covariates=aligned, known_ahead=ds.known_ahead)
    t0 = time.perf_counter()
    outcome = backtest(ds.history, territory, params, data)
    core_seconds = time.perf_counter() - t0
    used = data.params or params
    frequency = used.frequency_of(territory)
    config = backtest_config(used, territory)
    windows = outcome.result.windows
    keys = ["model", "window", "area_code", "category", "period_start", "mean"]
    core_rows, choices, candidate_scores = chosen_before_origin(outcome, used, data.panel.starts)
    frames = [core_rows[[*keys, "actual"]]]
    peer_info: dict = {"seconds": {}, "skipped": {}, "versions": {}}
    peer_seconds = 0.0
    if peers:
        task = PeerTask(
            folder=WORK / "real" / ds.name,
            frequency=frequency,
            seasons={"hour": (24, 168), "day": (7,), "week": (52,)}[frequency],
            horizon=config.horizon,
            train_periods=config.train_periods or 0,
            windows=tuple((w.origin, w.end) for w in windows),
            models=peers,
        )
        write_inputs(task, data.panel.series, data.panel.starts, data.panel.counts)
        t0 = time.perf_counter()
        peer_info = run_peers(task)
        peer_seconds = time.perf_counter() - t0
        aligned_peers = align(outcome.result.predictions, peer_predictions(task, data.panel.starts))
        frames.append(aligned_peers[[*keys, "actual"]])
    return {
        "predictions": pd.concat(frames, ignore_index=True),
        "series": data.panel.series,
        "starts": data.panel.starts,
        "windows": [(w.index, w.origin, w.end) for w in windows],
        "hierarchy": outcome.hierarchy,
        "model_level": outcome.hierarchy.model_level,
        "frequency": frequency,
        "fit_seconds": dict(outcome.result.fit_seconds),
        "dropped": dict(outcome.result.dropped),
        "core_seconds": core_seconds,
        "candidate_choices": choices,
        "candidate_window_rmsse": candidate_scores,
        "peer_seconds": peer_seconds,
        "peer_info": peer_info,
        "coverage_target": used.coverage_target,
        "params": used,
    }


def with_cached_peers(run: dict, cached: dict) -> dict:
    """`run` (the platform's models, no peer) with the peers' predictions of the cached run at
    the same windows: a change of the platform rescored without refitting the peers."""
    if run["windows"] != cached["windows"] or not run["starts"].equals(cached["starts"]):
        raise SystemExit("--reuse-peers: the cached run has other windows; run without it")
    predictions = cached["predictions"]
    peer_rows = predictions[predictions["model"].isin(cached["peer_info"]["seconds"])]
    return {
        **run,
        "predictions": pd.concat([run["predictions"], peer_rows], ignore_index=True),
        "peer_seconds": cached["peer_seconds"],
        "peer_info": cached["peer_info"],
    }


def chosen_before_origin(
    outcome: Any, params: Any, starts: pd.DatetimeIndex
) -> tuple[pd.DataFrame, dict[int, str], pd.DataFrame]:
    """The backtest's predictions with `catboost` as a user would have had it at each origin:
    the CatBoost candidate or combination among `params.choosable` that a weekly-retrained
    platform would have chosen then (`choices_before_origin`) — the first window takes the
    first of them. The core's own choice here read every window (in-sample for the windows it
    scores), right for training, not for scoring; each candidate's own rows stay under its name
    (`catboost:<name>`). Also each candidate's score per window (`outcome.window_scores`, the
    core's: what the choice reads), as window index × model."""
    predictions = outcome.result.predictions
    if not outcome.candidate:
        return predictions, {}, pd.DataFrame()
    own = f"catboost:{outcome.candidate}"
    predictions = predictions.assign(model=predictions["model"].replace({OURS: own}))
    names = [m for m in predictions["model"].unique() if str(m).startswith("catboost:")]
    utc = starts.tz_convert("UTC")
    index_of = {utc[w.origin]: w.index for w in outcome.result.windows}
    scores = outcome.window_scores
    per_window = (
        scores.assign(window=scores["origin"].map(index_of))
        .pivot(index="window", columns="model", values="rmsse")
        .reindex(columns=names)
    )
    names = [n for n in params.choosable if n in names]
    choices = choices_before_origin(
        per_window,
        outcome.result.windows,
        names,
        own=params.windows_for(outcome.spec.frequency),
        keep=params.choice_windows,
    )
    return picked(predictions, choices), choices, per_window


def choices_before_origin(
    per_window: pd.DataFrame,
    windows: Sequence[Any],
    names: Sequence[str],
    *,
    own: int,
    keep: int,
) -> dict[int, str]:
    """Each window's candidate as `train` would have chosen it at its origin, retrained every
    week before: core.choice on the windows that ended by that origin — the training's own
    (the `own` latest: `train.n_windows`) and those earlier trainings scored (the choice
    memory), `keep` in all (`train.choice_windows`) — among `names` (none: the first).
    `per_window`: each candidate's mean RMSSE per window (window index × model)."""
    from previsecours.core.choice import choose, with_memory

    by_index = {w.index: w for w in windows}
    long = per_window.rename_axis(index="window", columns="model").stack().rename("rmsse")
    long = long.reset_index()
    long["origin"] = [by_index[k].origin for k in long["window"]]  # positions: ordered alike
    long["last"] = [by_index[k].end - 1 for k in long["window"]]
    long["fingerprint"] = "bench"
    choices: dict[int, str] = {}
    for w in windows:
        ended = long[long["last"] < w.origin]
        origins = sorted(ended["origin"].unique())[-own:]
        mine = ended[ended["origin"].isin(origins)]
        scores = with_memory(mine, ended[~ended["origin"].isin(origins)], keep)
        choices[w.index] = (choose(scores, names) if len(scores) else None) or names[0]
    return choices


def replay_choice(run: dict) -> dict:
    """A cached run's `catboost` rows chosen again by `choices_before_origin` (the params of
    this code: `--reuse` rescoring a choice rule without refitting)."""
    from previsecours.core.backtest import Window

    params = run["params"]
    per_window = run["candidate_window_rmsse"]
    if per_window.empty:
        return run
    names = [n for n in params.choosable if n in per_window.columns]
    windows = [Window(*w) for w in run["windows"]]
    choices = choices_before_origin(
        per_window,
        windows,
        names,
        own=params.windows_for(run["frequency"]),
        keep=params.choice_windows,
    )
    others = run["predictions"][run["predictions"]["model"] != OURS]
    return {**run, "predictions": picked(others, choices), "candidate_choices": choices}


def picked(predictions: pd.DataFrame, choices: Mapping[int, str]) -> pd.DataFrame:
    """`predictions` with the chosen candidate's rows of each window added as `catboost`."""
    rows = [
        predictions[(predictions["model"] == m) & (predictions["window"] == k)]
        for k, m in choices.items()
    ]
    ours = pd.concat(rows, ignore_index=True).assign(model=OURS)
    return pd.concat([ours, predictions], ignore_index=True)


def concat_rows(parts: list[Rows]) -> Rows:
    return Rows(*(np.concatenate([getattr(p, f) for p in parts]) for f in Rows.__annotations__))


def summed(
    series: pd.DataFrame,
    values: np.ndarray,
    starts: pd.DatetimeIndex,
    *,
    source: str,
    grain: str,
    timezone: str,
) -> Any:
    """Sums of `values` (series × `starts` at `source`) per complete period of `grain`."""
    from previsecours.core.hierarchy import rollup
    from previsecours.core.panel import DensePanel

    panel = DensePanel(series, starts, values)
    return panel if grain == source else rollup(panel, source, grain, timezone)  # type: ignore[arg-type]


def first_day(ds: RealDataset) -> pd.Timestamp:
    """The local midnight at or before the first stored instant."""
    start = pd.Timestamp(ds.history.start())
    if start.tzinfo is None:
        start = start.tz_localize(ds.territory.timezone)
    return start.tz_convert(ds.territory.timezone).normalize()


def level_rows(ds: RealDataset, run: dict) -> dict[tuple[str, str], dict[str, Rows]]:
    """(level name, grain) → model → its flat rows, allocated down the backtest's hierarchy."""
    from previsecours.core.backtest import predictions_panel
    from previsecours.core.hierarchy import allocate

    territory, hierarchy, frequency = ds.territory, run["hierarchy"], run["frequency"]
    tz = territory.timezone
    specs = level_specs(ds, run["model_level"])
    levels = tuple(dict.fromkeys(s.level for s in specs))
    starts = run["starts"]
    actuals = ds.history.level_actuals(
        territory, levels, frequency, start=first_day(ds), end=starts[-1] + pd.Timedelta(days=8)
    )
    origins = [starts[o] for _, o, _ in run["windows"]]
    origin_end = {k: (o, e) for k, o, e in run["windows"]}
    out: dict[tuple[str, str], dict[str, Rows]] = {}
    scale_cache: dict[tuple[str, str], tuple] = {}
    for model, frame in run["predictions"].groupby("model", sort=False):
        allocated = {
            int(k): allocate(predictions_panel(wf, run["series"]), hierarchy, tz, frequency)
            for k, wf in frame.groupby("window", sort=True)
        }
        for spec in specs:
            actual = actuals[spec.level]
            cat = actual.series["category"].astype(str).to_numpy()
            sel = {"ALL": cat == "ALL", "category": cat != "ALL"}.get(spec.rows, cat == spec.rows)
            series = actual.series[sel].reset_index(drop=True)
            known = ~np.isnan(actual.counts[sel])
            filled = np.where(known, actual.counts[sel], 0.0)
            index = pd.MultiIndex.from_frame(series[["area_code", "category"]].astype(str))
            for grain in grains_of(frequency):
                key = (spec.name, grain)
                sums_of = partial(summed, series, source=frequency, grain=grain, timezone=tz)
                if key not in scale_cache:
                    sums, found = (
                        sums_of(filled, actual.starts),
                        sums_of(known.astype(float), actual.starts),
                    )
                    history = np.where(found.counts > 0, sums.counts, np.nan)
                    scale_cache[key] = per_origin_scales(
                        history, sums.starts, origins, season_of(grain)
                    )
                sq, ab = scale_cache[key]
                parts = []
                for k, levels_k in allocated.items():
                    pred = levels_k[spec.level]
                    pos = pd.MultiIndex.from_frame(
                        pred.series[["area_code", "category"]].astype(str)
                    ).get_indexer(index)
                    t = actual.starts.get_indexer(pred.starts)
                    mask = known[:, t]
                    mu = np.where(pos[:, None] >= 0, pred.counts[np.maximum(pos, 0)], 0.0) * mask
                    y_sum = sums_of(filled[:, t], pred.starts)
                    if len(y_sum.starts) == 0:
                        continue
                    found = sums_of(mask.astype(float), pred.starts).counts
                    y = np.where(found > 0, y_sum.counts, np.nan)
                    mu_sum = sums_of(mu, pred.starts).counts
                    n_series, n_t = y.shape
                    series_ix = np.repeat(np.arange(n_series), n_t)
                    parts.append(
                        Rows(
                            np.full(y.size, k),
                            series_ix,
                            y.reshape(-1),
                            mu_sum.reshape(-1),
                            sq[k][series_ix],
                            ab[k][series_ix],
                            cat[sel][series_ix],
                        )
                    )
                if parts:
                    out.setdefault(key, {})[str(model)] = concat_rows(parts)
    out["_origin_end"] = origin_end  # type: ignore[assignment]
    return out


def score(ds: RealDataset, run: dict) -> dict[tuple[str, str], pd.DataFrame | None]:
    rows = level_rows(ds, run)
    origin_end = rows.pop("_origin_end")  # type: ignore[arg-type]
    totals = {s.name for s in level_specs(ds, run["model_level"]) if s.total}
    one_category = {
        s.name for s in level_specs(ds, run["model_level"]) if s.rows not in ("ALL", "category")
    }
    tables: dict[tuple[str, str], pd.DataFrame | None] = {}
    # Each category's dispersion as the platform fits it, beside the others (`earlier_alphas`):
    # a category scored alone (SDIS 91's SUAP) reads its α from the rows of every category.
    of_categories: dict[tuple[str, str], Any] = {}
    fitted_on = run["params"].windows_for(run["frequency"])  # the windows a training has
    for key, per_model in sorted(rows.items(), key=lambda kv: kv[0][0] != "each category"):
        metrics = {}
        for model, r in per_model.items():
            if key[0] == "each category":
                alphas = earlier_alphas(r, origin_end, run["coverage_target"], fitted_on)
                of_categories[(model, key[1])] = alphas
            elif key[0] in one_category and (model, key[1]) in of_categories:
                alphas = of_categories[(model, key[1])]
            else:
                alphas = earlier_alphas(r, origin_end, run["coverage_target"], fitted_on)
            metrics[label(model)] = pooled_metrics(r, alphas, mape=key[0] in totals)
        table = pd.DataFrame(metrics).T
        if "rmsse" not in table.columns:  # no scale: less than a season before every origin
            tables[key] = None
            continue
        table = table.reindex(columns=[c for c in COLUMNS if c in table.columns])
        table = table.sort_values("rmsse")
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        table.index.name = "model"
        tables[key] = table
    return tables


def gap_line(table: pd.DataFrame) -> tuple[float, str, float, float]:
    """(ours, best peer name, best peer RMSSE, gap %) — gap < 0: ours ahead."""
    ours = float(table.loc[LABELS[OURS], "rmsse"])
    names = pd.Series(table.index, index=table.index)
    peers = table[names.str.startswith("peer:")]["rmsse"]
    best = float(peers.min())
    return ours, str(peers.idxmin()), best, 100 * (ours - best) / best


def report_dataset(
    report: Report,
    ds: RealDataset,
    run: dict,
    *,
    origins: tuple[str, ...],
    horizon: str,
    peers: tuple[str, ...],
    summary: list[dict],
) -> None:
    """One dataset's section: its setting, a table per level × grain, the verdicts."""
    report.add(f"\n## {ds.title}\n")
    params = run["params"]
    report.add(
        f"{len(run['windows'])} origins ({', '.join(origins)}), horizon {horizon}, "
        f"refit at every origin on the last {params.train_years:g} years; model level "
        f"{run['model_level']} × {run['frequency']}; {len(run['series'])} modelled series; "
        f"allocation {params.allocation}. Core backtest {run['core_seconds']:.0f} s, peers "
        f"{run['peer_seconds']:.0f} s (2 shared cores)."
    )
    for note in ds.notes:
        report.add(f"- {note}")
    choices = run.get("candidate_choices") or {}
    if choices:
        counts = pd.Series(list(choices.values())).value_counts()
        report.add(
            "- Prévisecours (CatBoost) at each origin is what params.yaml's `choose_from` "
            "(CatBoost candidates, combinations) offered that scored best on the windows a "
            "training retrained every week would have read then — its own and the latest "
            "remembered ones, `train.choice_windows` in all (core/choice.py; the first origin: "
            "the first offered): " + ", ".join(f"{m} {n}×" for m, n in counts.items()) + "."
        )
    if run["dropped"]:
        report.add(
            "- Core models dropped: " + "; ".join(f"{k}: {v}" for k, v in run["dropped"].items())
        )
    skipped = run["peer_info"].get("skipped", {})
    if skipped:
        report.add("- Peers skipped: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    not_asked = [p for p in LABELS if p.startswith(("sf_", "mstl", "lgbm", "prophet"))]
    absent = [label(p) for p in not_asked if p not in peers]
    if absent:
        report.add(
            "- Peers not run on this dataset (cost or no fit: see above): " + ", ".join(absent)
        )
    tables = score(ds, run)
    verdicts = []
    for (level, grain), table in tables.items():
        heading = f"{ds.name}: {level} × {grain}"
        if table is None:
            report.add(
                f"\n### {heading}\n\nNot scored: less than a season ({season_of(grain)} "
                f"{grain}s) of data before every origin, so no seasonal-naive scale."
            )
            continue
        report.table(heading, table)
        verdicts.append(verdict(table, heading))
        if LABELS[OURS] in table.index and any(table.index.str.startswith("peer:")):
            ours, best_name, best, gap = gap_line(table)
            summary.append(
                {
                    "dataset × level": f"{ds.name}: {level} × {grain}",
                    "Prévisecours": ours,
                    "best peer": best,
                    "best peer is": best_name.removeprefix("peer: "),
                    "gap %": gap,
                    "cov. 80": float(table.loc[LABELS[OURS], "coverage_80"]),
                    "cov. 95": float(table.loc[LABELS[OURS], "coverage_95"]),
                    "PIT 80": float(table.loc[LABELS[OURS], "pit_80"]),
                    "PIT 95": float(table.loc[LABELS[OURS], "pit_95"]),
                    "bias %": float(table.loc[LABELS[OURS], "bias_pct"]),
                    "MAPE %": float(table.loc[LABELS[OURS]].get("mape", np.nan)),
                }
            )
    native = "week" if run["frequency"] == "week" else run["frequency"]
    total = next(
        (
            t
            for (lv, g), t in tables.items()
            if t is not None and lv.startswith("total") and g == native
        ),
        None,
    )
    if total is not None and "peer: seasonal naive (core)" in total.index:
        ours = float(total.loc[LABELS[OURS], "rmsse"])
        naive = float(total.loc["peer: seasonal naive (core)", "rmsse"])
        report.add(
            f"\nChampion (promotion rule, first version: beat seasonal naive at the total × "
            f"{native}): CatBoost {ours:.3f} vs seasonal naive {naive:.3f} → "
            + ("champion" if ours < naive * (1 - 0.002) else "NOT promoted")
        )
    report.add("\n### Verdicts (RMSSE)\n\n" + "\n".join(verdicts))


def cached_or_run(
    cache: Path, args: argparse.Namespace, fit: Callable[[tuple[str, ...]], dict], peers: tuple
) -> dict:
    """The cached run (`--reuse`), a refit with the cached peers (`--reuse-peers`), or a run
    of everything; a run is cached."""
    if args.reuse and cache.is_file():
        return replay_choice(pd.read_pickle(cache))
    if args.reuse_peers and cache.is_file():
        run = with_cached_peers(fit(()), pd.read_pickle(cache))
    else:
        run = fit(peers)
    cache.parent.mkdir(parents=True, exist_ok=True)
    pd.to_pickle(run, cache)
    return run


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--origins", type=int, help="origins per dataset (default: per dataset)")
    parser.add_argument("--peers", nargs="*", help="peers to run (default: per dataset)")
    parser.add_argument("--iterations", type=int, help="CatBoost iterations (development only)")
    parser.add_argument("--reuse", action="store_true", help="rescore the cached predictions")
    parser.add_argument(
        "--reuse-peers",
        action="store_true",
        help="refit the platform, keep the cached peers' predictions (same origins)",
    )
    parser.add_argument("--name", default="real_data", help="results file name")
    parser.add_argument("--horizon", help="another horizon than each dataset's (e.g. 4w)")
    parser.add_argument(
        "--span",
        nargs=2,
        metavar=("FIRST", "LAST"),
        help="first and last origin (local ISO dates) in place of each dataset's own span",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()

    from previsecours.core.calendar import horizon_periods
    from previsecours.paths import Project

    root = Project.locate().root
    train = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["train"]
    if args.iterations:
        train["catboost"] = {**train.get("catboost", {}), "iterations": args.iterations}
    report = Report(args.name, "Real data — Prévisecours against the peers", __doc__ or "")
    summary = []
    not_run = [d for d in DATASETS if d not in args.datasets]
    for name in args.datasets:
        t0 = time.perf_counter()
        ds = load(name, root)
        if args.span:  # other origins: earlier years, a regime change
            ds = replace(ds, span=(args.span[0], args.span[1]))
        if args.horizon:  # a longer horizon: the last origin moves back by the difference
            title = f"{ds.title.rsplit(',', 1)[0]}, {args.horizon} ahead"
            longer = horizon_periods(args.horizon, "day") - horizon_periods(
                str(ds.overrides.get("horizon", train.get("horizon", "7d"))), "day"
            )
            last = dt.date.fromisoformat(ds.span[1]) - dt.timedelta(days=max(longer, 0))
            overrides = {**ds.overrides, "horizon": args.horizon}
            ds = replace(ds, title=title, overrides=overrides, span=(ds.span[0], str(last)))
        n = args.origins or ds.default_origins
        horizon = str(ds.overrides.get("horizon", train.get("horizon", "7d")))
        days = horizon_periods(horizon, "day")
        tz = ds.territory.timezone if ds.overrides.get("frequency", "hour") == "hour" else None
        origins = spread_origins(*ds.span, n, timezone=tz, days=days)
        peers = tuple(args.peers) if args.peers is not None else ds.peers
        # Another results name (other origins or horizon) keeps its own cache.
        cache = (
            WORK
            / "real"
            / (f"{name}.pkl" if args.name == "real_data" else f"{args.name}-{name}.pkl")
        )
        run = cached_or_run(cache, args, partial(run_models, ds, train, origins), peers)
        report_dataset(
            report, ds, run, origins=origins, horizon=horizon, peers=peers, summary=summary
        )
        report.add(f"\n{name}: {time.perf_counter() - t0:.0f} s in all.")
    if summary:
        frame = pd.DataFrame(summary).set_index("dataset × level")
        report.table(
            "Summary — Prévisecours (CatBoost) vs the best peer, RMSSE pooled over origins",
            frame,
            note="gap % < 0: Prévisecours ahead. Coverage of the NB intervals (windows after the "
            "first); PIT: the randomized PIT in each interval's band (calibration). Goals: "
            "RMSSE ≤ best peer's (3 % ahead), 80 % in 75–88 %, 95 % in 91–98 %.",
        )
    if not_run:
        report.add("\nNot run this time: " + ", ".join(not_run) + ".")
    report.add(NOT_DONE)
    if args.reuse_peers:
        report.add(
            "\nThe peers' predictions are those the run before cached (`--reuse-peers`), at the "
            "same windows; the platform was refit."
        )
    if args.reuse:
        report.add(
            "\nThe tables were rescored (`--reuse`) from the predictions the run cached in "
            "bench/out/real/<dataset>.pkl; the seconds are the run's."
        )
    report.write()


if __name__ == "__main__":
    main()
