"""Promotion step: re-score challenger and champion on the same window, decide, record.

`run_promote(settings, now=...)`:
- the challenger is the newest registered version (or the one asked for); the reference is the
  current champion, or — for a first version, or a champion this code cannot serve — seasonal
  naive computed on each level's own actual series (`pipelines.scoring.score_seasonal_naive`:
  every area × category one season earlier), never through the challenger's hierarchy, so a
  version whose category shares or area weights are wrong is compared with a reference that
  does not share its error;
- both are scored by `pipelines.scoring.score_out_of_sample` on the latest backtest window(s)
  of the CURRENT curated data, never compared on metrics logged against other data versions:
  per level × grain (all categories) and per level × grain × category, each category guarded
  at the levels judged (`core.promotion`);
- each version on forecasts it made WITHOUT the window's data: from the history before the
  origin when the window starts at or after its training data end, else its own backtest
  forecast of the window (its run's `backtest/predictions.parquet`): never its in-sample fit.
  A challenger with a window judged neither way is refused, saying which window and why; such
  a champion gives way to seasonal naive as the reference. The reason says which route scored
  each model;
- the challenger's forecast of the next horizon is checked (no NaN, negative, infinite value in
  means or quantiles);
- `core.promotion.decide` rules; the decision is tagged on the challenger version, and a
  promotion moves `champion` (the replaced version becomes `previous-champion`). Its reason,
  table (`improvement_pct`) and tags share one sign: an improvement is positive when the
  challenger is better.

`run_rollback(settings, now=...)` moves `champion` back to `previous-champion`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from previsecours.adapters import registry, store
from previsecours.config import PromotionPolicy
from previsecours.core.features import FEATURE_SPEC_VERSION
from previsecours.core.forecast_schema import ALL_CATEGORIES, QUANTILE_COLUMNS
from previsecours.core.history import History
from previsecours.core.models.bundle import TrainedForecaster
from previsecours.core.promotion import (
    ModelScore,
    PredictionStats,
    PromotionDecision,
    decide,
    not_judged,
)
from previsecours.pipelines.predict import as_forecaster, predict_levels
from previsecours.pipelines.scoring import score_out_of_sample, score_seasonal_naive
from previsecours.settings import Settings

SEASONAL_NAIVE = "seasonal naive"


@dataclass(frozen=True)
class PromoteResult:
    decision: PromotionDecision
    challenger: int
    champion_before: int | None
    champion_after: int | None
    window_end: pd.Timestamp
    seconds: dict[str, float] = field(default_factory=dict)

    def markdown(self) -> str:
        before = f"version {self.champion_before}" if self.champion_before else "none"
        after = f"version {self.champion_after}" if self.champion_after else "none"
        return (
            f"{self.decision.markdown()}\n\nScored on the window(s) ending "
            f"{self.window_end:%Y-%m-%d %H:%M}. Champion before: {before}; after: {after}."
        )


def metric_table(scores: pd.DataFrame) -> pd.DataFrame:
    """`score_on_window` output → rows `<level>×<grain>` (all categories), columns metrics."""
    pooled = scores[(scores["window"] == "all") & (scores["kind"] == ALL_CATEGORIES)]
    table = pooled.assign(row=pooled["level"] + "×" + pooled["grain"]).pivot_table(
        index="row", columns="metric", values="value", sort=False
    )
    table.index.name = "level"
    table.columns.name = None
    return table


def category_metric_table(scores: pd.DataFrame) -> pd.DataFrame:
    """`score_on_window` output → rows (`<level>×<grain>`, category), columns metrics."""
    one = scores[(scores["window"] == "all") & scores["kind"].str.startswith(CATEGORY_KIND)]
    table = one.assign(
        row=one["level"] + "×" + one["grain"], category=one["kind"].str[len(CATEGORY_KIND) :]
    ).pivot_table(index=["row", "category"], columns="metric", values="value", sort=False)
    table.index.names = ["level", "category"]
    table.columns.name = None
    return table


def model_score(
    label: str, scores: pd.DataFrame, predictions: PredictionStats | None = None
) -> ModelScore:
    """A model's `score_on_window` (or `score_seasonal_naive`) output as the decision reads it."""
    return ModelScore(label, metric_table(scores), predictions, category_metric_table(scores))


CATEGORY_KIND = "category:"  # score_on_window's kind of one category's rows


def check_predictions(
    forecaster: TrainedForecaster, history: History, settings: Settings, start: pd.Timestamp
) -> PredictionStats:
    """Usability of what the model would serve next: every level's means and quantiles."""
    levels = predict_levels(forecaster, history, settings.territory, start, forecaster.spec.horizon)
    values = levels[["mean", *QUANTILE_COLUMNS]].to_numpy(np.float64)
    return PredictionStats.of(values)


def run_promote(settings: Settings, *, now: datetime, version: int | None = None) -> PromoteResult:
    territory = settings.territory
    paths = settings.paths
    policy = settings.params.promote
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    challenger = (
        registry.get_version(paths, territory.name, version)
        if version is not None
        else registry.newest_version(paths, territory.name)
    )
    if challenger is None:
        raise registry.RegistryError(
            f"{registry.model_name(territory.name)}: no model registered, run "
            f"`previsecours train --territory {territory.name}` first"
        )
    champion = registry.champion(paths, territory.name)
    if champion is not None and champion.version == challenger.version:
        raise registry.RegistryError(
            f"{challenger.label} is already the champion: train a new version first"
        )
    candidate = as_forecaster(registry.load_version(paths, challenger, {FEATURE_SPEC_VERSION}))
    history = store.read_history(paths, territory).require()
    end = history.end(territory, candidate.spec.frequency)
    windows = scored_windows(policy, candidate.spec.frequency)
    seconds["load"] = time.perf_counter() - clock

    clock = time.perf_counter()
    scored = score_out_of_sample(
        candidate,
        history,
        territory,
        lambda: registry.backtest_forecasts(paths, challenger),
        n_windows=windows,
        end=end,
    )
    seconds["score challenger"] = time.perf_counter() - clock
    clock = time.perf_counter()
    incumbent, label = _incumbent(settings, champion)
    if scored.scores is None:
        # Its fit's own periods would show its fit, not its skill: refused, saying why.
        decision = not_judged(challenger.label, label, scored.why_not())
    else:
        reference, reference_routes = _reference(
            settings,
            incumbent,
            label,
            candidate=candidate,
            history=history,
            end=end,
            windows=windows,
        )
        seconds["score reference"] = time.perf_counter() - clock
        judged = model_score(
            challenger.label, scored.scores, check_predictions(candidate, history, settings, end)
        )
        decision = decide(judged, reference, policy)
        routes = "; ".join([f"{challenger.label}: {scored.describe()}", *reference_routes])
        decision = replace(decision, reason=f"{decision.reason} Scored on: {routes}.")
    registry.record_decision(
        paths, territory.name, challenger.version, decision_tags(decision, policy), now
    )
    if champion is not None:
        registry.tag_version(
            paths,
            territory.name,
            champion.version,
            {
                "last_challenge": f"{challenger.label}: {decision.outcome}",
                "last_challenge_at": now.isoformat(timespec="seconds"),
            },
        )
    after = champion.version if champion else None
    if decision.promoted:
        registry.set_champion(paths, territory.name, challenger.version)
        after = challenger.version
    return PromoteResult(
        decision,
        challenger.version,
        champion.version if champion else None,
        after,
        end,
        seconds,
    )


def scored_windows(policy: PromotionPolicy, frequency: str) -> int:
    """How many of the latest windows both models are scored on: `windows`, and for a weekly
    model at least `weekly_windows` — its window is one week, a single value at the
    département, too few to judge a model on (SDIS 91's first version lost to seasonal naive
    on Christmas week, having won the 4 backtest weeks by 40 %)."""
    return max(policy.windows, policy.weekly_windows) if frequency == "week" else policy.windows


def _incumbent(
    settings: Settings, champion: registry.VersionInfo | None
) -> tuple[tuple[TrainedForecaster, registry.VersionInfo] | None, str]:
    """The champion to re-score (with its version) and the reference's label."""
    if champion is None:
        return None, SEASONAL_NAIVE
    try:
        served = registry.load_version(settings.paths, champion, {FEATURE_SPEC_VERSION})
    except registry.IncompatibleModelError as exc:
        # A champion this code can no longer serve cannot be re-scored: the challenger
        # then has to beat seasonal naive, like a first version.
        return None, f"{SEASONAL_NAIVE} (the champion cannot be re-scored: {exc})"
    return (as_forecaster(served), champion), f"champion {champion.label}"


def _reference(
    settings: Settings,
    incumbent: tuple[TrainedForecaster, registry.VersionInfo] | None,
    label: str,
    *,
    candidate: TrainedForecaster,
    history: History,
    end: pd.Timestamp,
    windows: int,
) -> tuple[ModelScore, list[str]]:
    """The reference's score and how it was forecast: the champion out of sample, or — for a
    first version, or a champion that cannot be judged without its fit's own data — seasonal
    naive on the levels' own actuals (never through the challenger's shares and weights)."""
    territory = settings.territory
    if incumbent is not None:
        model, version = incumbent
        scored = score_out_of_sample(
            model,
            history,
            territory,
            lambda: registry.backtest_forecasts(settings.paths, version),
            n_windows=windows,
            end=end,
        )
        if scored.scores is not None:
            return model_score(label, scored.scores), [f"{label}: {scored.describe()}"]
        label = f"{SEASONAL_NAIVE} ({label} cannot be judged out of sample — {scored.why_not()})"
    naive = score_seasonal_naive(candidate, history, territory, n_windows=windows, end=end)
    return model_score(label, naive), []


def decision_tags(decision: PromotionDecision, policy: PromotionPolicy) -> dict[str, str]:
    """What the registry keeps of a decision (each value within MLflow's tag limit)."""
    table = decision.table[decision.table["metric"].isin([*_TAGGED_METRICS, policy.primary_metric])]
    compact = {
        f"{r.level}|{r.metric}": [
            _round(r.challenger),
            _round(r.reference),
            _round(r.improvement_pct, 2),
        ]
        for r in table.itertuples()
    }
    return {
        "decision": decision.outcome,
        "decision_reason": decision.reason,
        "decision_reference": decision.reference,
        "metrics_summary": decision.summary(policy.primary_metric),
        "decision_table": json.dumps(compact, ensure_ascii=False),
        "decision_table_columns": DECISION_TABLE_COLUMNS,
        "decision_categories": json.dumps(_category_tag(decision, policy), ensure_ascii=False),
    }


def _category_tag(decision: PromotionDecision, policy: PromotionPolicy) -> dict[str, Any]:
    """`level|category|metric` → [challenger, reference, improvement_pct], the primary metric
    at the levels judged (what the category guard read)."""
    table = decision.category_table
    rows = table[table["metric"] == policy.primary_metric]
    return {
        f"{r.level}|{r.category}|{r.metric}": [
            _round(r.challenger),
            _round(r.reference),
            _round(r.improvement_pct, 2),
        ]
        for r in rows.itertuples()
    }


# How to read `decision_table`: one sign convention with the reason and the summary.
DECISION_TABLE_COLUMNS = (
    "level|metric: [challenger, reference, improvement_pct]; improvement_pct > 0: the "
    "challenger is better (its error — the metric, |bias_pct|, |coverage - nominal| — is "
    "that % smaller)"
)


_TAGGED_METRICS = ("rmsse", "coverage_80", "bias_pct")


def _round(value: object, digits: int = 4) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return round(number, digits) if np.isfinite(number) else None


@dataclass(frozen=True)
class RollbackOutcome:
    result: registry.RollbackResult

    def markdown(self) -> str:
        r = self.result
        previous = f"version {r.previous_champion}" if r.previous_champion else "none"
        return (
            f"## Rollback\n\nChampion moved back from version {r.demoted} to version "
            f"{r.restored}. Previous champion is now: {previous}."
        )


def run_rollback(settings: Settings, *, now: datetime) -> RollbackOutcome:
    return RollbackOutcome(registry.rollback(settings.paths, settings.territory.name, now))
