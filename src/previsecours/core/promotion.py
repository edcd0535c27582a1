"""Should the challenger replace the champion? A pure decision on metrics of the same window.

Inputs are metric tables (one row per level such as `station×hour`, one column per metric) that
the caller computed for both models on the SAME backtest window(s) of the SAME data — the only
comparison that means anything. The decision:
- the challenger's predictions must be usable: no NaN, negative or infinite value;
- its interval coverage must sit inside a band at the levels that are checked;
- no level may be worse than the reference's by more than a margin (on the primary metric);
- no category, at the levels judged (the primary level and the coverage levels), may be worse
  than the reference's by more than `category_margin` (on the primary metric): the pooled
  figures cannot see a model that moves one category's interventions onto another;
- and the primary metric at the primary level must improve on the reference by at least the
  tolerance (relative). The reference is the champion, or seasonal naive for a first version.

Guarantees: the decision is a function of its inputs only; every refusal names its reason; the
table holds both models' metrics per level, and the category table per level judged × category,
so the decision can be audited later.

One sign convention everywhere (sentence, guards, table, registry tags): an *improvement* is
positive when the challenger is better than the reference. In the table, `improvement_pct` is
the relative reduction of each metric's error: RMSSE, MAE, RMSE, pinball, deviance, MAPE
themselves; |bias_pct| for the bias (`bias_pct` itself stays each model's signed bias);
|coverage − nominal| for a coverage; higher accuracy for a class accuracy. A metric that is no
error (the dispersion `alpha`) has none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from previsecours.config import PromotionPolicy

KEY_METRICS: Final = (
    "rmsse",
    "mae",
    "bias_pct",
    "pinball",
    "coverage_80",
    "coverage_95",
    "pit_80",
    "pit_95",
)
TABLE_COLUMNS: Final = ("level", "metric", "challenger", "reference", "improvement_pct")
CATEGORY_TABLE_COLUMNS: Final = (
    "level",
    "category",
    "metric",
    "challenger",
    "reference",
    "improvement_pct",
)
IMPROVEMENT_NOTE: Final = (
    "`improvement_pct`: how much smaller the challenger's error is than the reference's, in % of "
    "the reference's — positive: the challenger is better. Error: the metric itself (RMSSE, MAE, "
    "pinball: lower is better), |bias_pct| (`bias_pct` is each model's signed bias), "
    "|coverage − nominal| for a coverage or a PIT share."
)
# What "closer to perfect" means for each metric: its target, or None when lower is better.
_TARGETS: Final[dict[str, float]] = {
    "bias_pct": 0.0,
    "coverage_80": 0.80,
    "coverage_95": 0.95,
    "pit_80": 0.80,
    "pit_95": 0.95,
}
_HIGHER_IS_BETTER: Final = frozenset({"class_accuracy_2018"})
_NOT_AN_ERROR: Final = frozenset({"alpha", "n"})


RANK_PREFIX: Final = "rank_"


def ranking_metric(policy: PromotionPolicy) -> tuple[str, str]:
    """(the metric as logged, its ranking name): `departement_hour_rmsse`,
    `rank_departement_hour_rmsse` for the primary metric at the primary `<level>×<grain>`."""
    level = policy.primary_level.replace("×", "_")
    source = f"{level}_{policy.primary_metric}"
    return source, f"{RANK_PREFIX}{source}"


@dataclass(frozen=True)
class PredictionStats:
    """Counts of unusable values among a model's predictions on the scoring window."""

    n: int
    n_nan: int = 0
    n_negative: int = 0
    n_infinite: int = 0

    @classmethod
    def of(cls, values: npt.ArrayLike) -> PredictionStats:
        v = np.asarray(values, dtype=np.float64).ravel()
        return cls(
            n=int(v.size),
            n_nan=int(np.isnan(v).sum()),
            n_negative=int((v < 0).sum()),
            n_infinite=int(np.isinf(v).sum()),
        )


@dataclass(frozen=True)
class ModelScore:
    """One model's metrics per level (index = level, columns = metrics) on the window, and
    per level × category (`categories`: index (level, category), columns = metrics)."""

    label: str  # "version 3", "seasonal naive"
    metrics: pd.DataFrame
    predictions: PredictionStats | None = None
    categories: pd.DataFrame | None = None


@dataclass(frozen=True)
class Guard:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    reason: str
    challenger: str
    reference: str
    guards: tuple[Guard, ...]
    table: pd.DataFrame = field(repr=False)  # TABLE_COLUMNS: improvement_pct > 0 = better
    # CATEGORY_TABLE_COLUMNS, at the levels judged (primary and coverage levels)
    category_table: pd.DataFrame = field(
        repr=False, default_factory=lambda: pd.DataFrame(columns=list(CATEGORY_TABLE_COLUMNS))
    )

    @property
    def outcome(self) -> str:
        return "promoted" if self.promoted else "rejected"

    def markdown(self, metrics: Sequence[str] | None = KEY_METRICS) -> str:
        """The decision, its guards and its table (`metrics` only; None: all)."""
        table = self.table if metrics is None else self.table[self.table["metric"].isin(metrics)]
        lines = [
            f"## Promotion: {self.challenger} — **{self.outcome}**",
            "",
            f"Compared with **{self.reference}** on the same window. {self.reason}",
            "",
            "| guard | result | detail |",
            "|---|---|---|",
            *(f"| {g.name} | {'ok' if g.passed else 'FAILED'} | {g.detail} |" for g in self.guards),
            "",
            markdown_table(table),
        ]
        categories = self.category_table
        if metrics is not None:
            categories = categories[categories["metric"].isin(metrics)]
        if len(categories):
            lines += ["", "Per category, at the levels judged:", "", markdown_table(categories)]
        lines += ["", IMPROVEMENT_NOTE]
        return "\n".join(lines)

    def summary(self, metric: str) -> str:
        """One entry per level for a registry tag:
        `level: challenger vs reference (improvement +x.x%)`, positive when the challenger is
        better."""
        rows = self.table[self.table["metric"] == metric]
        return "; ".join(
            f"{r.level}: {r.challenger:.4g} vs {r.reference:.4g}"
            + _improvement_text(r.improvement_pct)
            for r in rows.itertuples()
        )


def decide(
    challenger: ModelScore, reference: ModelScore, policy: PromotionPolicy
) -> PromotionDecision:
    """Promote `challenger` over `reference` (the champion, or seasonal naive at first)?"""
    asked = policy.primary_level
    policy = judged_policy(policy, challenger.metrics.index)
    moved = f" ({asked}: not a grain of this model)" if policy.primary_level != asked else ""
    table = comparison_table(challenger.metrics, reference.metrics)
    categories = category_table(challenger.categories, reference.categories, judged_levels(policy))
    guards = (
        _predictions_guard(challenger.predictions),
        _coverage_guard(challenger.metrics, policy),
        _levels_guard(challenger.metrics, reference.metrics, policy),
        _categories_guard(categories, policy),
    )
    gain = _primary_gain(challenger.metrics, reference.metrics, policy)
    failed = [g for g in guards if not g.passed]
    if failed:
        reason = "Refused: " + "; ".join(f"{g.name}: {g.detail}" for g in failed) + "."
        promoted = False
    elif gain is None:
        reason = (
            f"Refused: {policy.primary_metric} at {policy.primary_level} is missing or not "
            "finite for one of the models."
        )
        promoted = False
    elif gain < policy.min_improvement:
        reason = (
            f"Refused: {policy.primary_metric} at {policy.primary_level}{moved}, improvement "
            f"{gain:+.2%} (positive: the challenger is better), less than the "
            f"{policy.min_improvement:+.2%} required."
        )
        promoted = False
    else:
        reason = (
            f"Promoted: {policy.primary_metric} at {policy.primary_level}{moved}, improvement "
            f"{gain:+.2%} (≥ {policy.min_improvement:+.2%} required), and every guard passes."
        )
        promoted = True
    return PromotionDecision(
        promoted, reason, challenger.label, reference.label, guards, table, categories
    )


def not_judged(challenger: str, reference: str, why: str) -> PromotionDecision:
    """The refusal of a challenger that cannot be scored without its fit's own data (`why`:
    which window and why): scoring it there would measure its fit, not its skill."""
    guard = Guard(OUT_OF_SAMPLE_GUARD, False, why)
    return PromotionDecision(
        False,
        f"Refused: {challenger} cannot be judged out of sample — {why}.",
        challenger,
        reference,
        (guard,),
        pd.DataFrame(columns=list(TABLE_COLUMNS)),
    )


OUT_OF_SAMPLE_GUARD: Final = "scored on forecasts made without the window's data"
_GRAINS: Final = ("hour", "day", "week")


def judged_policy(policy: PromotionPolicy, rows: Iterable[str]) -> PromotionPolicy:
    """The policy as this model can be judged: a primary `<level>×<grain>` it does not
    forecast (daily or weekly counts have no hour) moves to the next coarser grain it has at
    the same level (`departement×hour` → `departement×week` for SDIS 91's weekly totals)."""
    present = set(rows)
    level, _, grain = policy.primary_level.partition("×")
    if policy.primary_level in present or grain not in _GRAINS:
        return policy
    for coarser in _GRAINS[_GRAINS.index(grain) + 1 :]:
        if f"{level}×{coarser}" in present:
            return replace(policy, primary_level=f"{level}×{coarser}")
    return policy


def judged_levels(policy: PromotionPolicy) -> tuple[str, ...]:
    """The levels each category is guarded at: the primary level, then the coverage levels."""
    return tuple(dict.fromkeys((policy.primary_level, *policy.coverage_levels)))


def category_table(
    challenger: pd.DataFrame | None, reference: pd.DataFrame | None, levels: Sequence[str]
) -> pd.DataFrame:
    """Long table: level, category, metric, challenger, reference, improvement_pct, for the
    `levels` (in that order) and every category the challenger was scored on; empty when
    either model has no per-category metrics."""
    rows = []
    if challenger is not None and reference is not None:
        metrics = [m for m in challenger.columns if m in reference.columns]
        for level, category in challenger.index:
            if level not in levels:
                continue
            for metric in metrics:
                a = _cell(challenger, (level, category), metric)
                b = _cell(reference, (level, category), metric)
                rows.append((level, category, metric, a, b, improvement_pct(metric, a, b)))
    out = pd.DataFrame(rows, columns=list(CATEGORY_TABLE_COLUMNS))
    order = {level: i for i, level in enumerate(levels)}
    return out.sort_values("level", key=lambda c: c.map(order), kind="stable").reset_index(
        drop=True
    )


def _cell(frame: pd.DataFrame, row: tuple[str, str], metric: str) -> float:
    if row in frame.index and metric in frame.columns:
        position = frame.index.get_loc(row)
        value = frame[metric].to_numpy(dtype=np.float64)[position]
        return float(np.asarray(value).ravel()[0])
    return math.nan


def comparison_table(challenger: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Long table: level, metric, challenger, reference, improvement_pct (> 0: challenger
    better; see the module's docstring for each metric's error)."""
    levels = [lvl for lvl in challenger.index if lvl in reference.index]
    metrics = [m for m in challenger.columns if m in reference.columns]
    rows = []
    for level in levels:
        for metric in metrics:
            a = _value(challenger, level, metric)
            b = _value(reference, level, metric)
            rows.append(
                dict(
                    zip(
                        TABLE_COLUMNS,
                        (level, metric, a, b, improvement_pct(metric, a, b)),
                        strict=True,
                    )
                )
            )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def improvement_pct(metric: str, challenger: float, reference: float) -> float:
    """How much smaller the challenger's error is than the reference's, in % of the latter
    (> 0: the challenger is better); NaN when undefined (no error, reference perfect)."""
    if metric in _NOT_AN_ERROR:
        return math.nan
    if metric in _TARGETS:
        target = _TARGETS[metric]
        challenger, reference = abs(challenger - target), abs(reference - target)
    gain = _relative_gain(challenger, reference, lower_is_better=metric not in _HIGHER_IS_BETTER)
    return math.nan if gain is None else gain * 100


def _improvement_text(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    return f" (improvement {number:+.2f}%)" if math.isfinite(number) else ""


def _relative_gain(new: float, old: float, lower_is_better: bool) -> float | None:
    if not (math.isfinite(new) and math.isfinite(old)) or old == 0:
        return None
    gain = (old - new) / abs(old)
    return gain if lower_is_better else -gain


def _value(metrics: pd.DataFrame, level: str, metric: str) -> float:
    if level in metrics.index and metric in metrics.columns:
        return float(metrics.loc[[level], metric].to_numpy(dtype=np.float64)[0])
    return math.nan


def _primary_gain(
    challenger: pd.DataFrame, reference: pd.DataFrame, policy: PromotionPolicy
) -> float | None:
    return _relative_gain(
        _value(challenger, policy.primary_level, policy.primary_metric),
        _value(reference, policy.primary_level, policy.primary_metric),
        policy.lower_is_better,
    )


def _predictions_guard(stats: PredictionStats | None) -> Guard:
    name = "usable predictions"
    if stats is None:
        return Guard(name, False, "the challenger's predictions were not checked")
    bad = {"NaN": stats.n_nan, "negative": stats.n_negative, "infinite": stats.n_infinite}
    found = ", ".join(f"{n} {what}" for what, n in bad.items() if n)
    if found or stats.n == 0:
        return Guard(name, False, found or "no prediction at all")
    return Guard(name, True, f"{stats.n:,} predictions, all finite and ≥ 0")


def _too_few(n: float, policy: PromotionPolicy) -> str | None:
    """Why a level (× category) is not judged: fewer paired values than `min_points`."""
    if math.isfinite(n) and n < policy.min_points:
        return f"{n:.0f} values, fewer than promote.min_points ({policy.min_points}): not judged"
    return None


def _coverage_guard(metrics: pd.DataFrame, policy: PromotionPolicy) -> Guard:
    low, high = policy.coverage_band
    name = f"{policy.coverage_metric} in [{low:.0%}, {high:.0%}]"
    details, passed = [], True
    for level in policy.coverage_levels:
        value = _value(metrics, level, policy.coverage_metric)
        few = _too_few(_value(metrics, level, "n"), policy)
        if level not in metrics.index:  # a level this model does not forecast (counts store)
            details.append(f"{level}: not a level of this model, not judged")
        elif few:
            details.append(f"{level}: {few}")
        elif not math.isfinite(value):
            passed = False
            details.append(f"{level}: not measured")
        else:
            inside = low <= value <= high
            passed &= inside
            details.append(f"{level}: {value:.1%}{'' if inside else ' (outside)'}")
    return Guard(name, passed, ", ".join(details) or "no level checked")


def _levels_guard(
    challenger: pd.DataFrame, reference: pd.DataFrame, policy: PromotionPolicy
) -> Guard:
    name = f"no level worse by > {policy.level_margin:.0%}"
    worse = []
    for level in challenger.index:
        if _too_few(_value(challenger, level, "n"), policy):
            continue
        gain = _relative_gain(
            _value(challenger, level, policy.primary_metric),
            _value(reference, level, policy.primary_metric),
            policy.lower_is_better,
        )
        if gain is not None and gain < -policy.level_margin:
            worse.append(f"{level} (improvement {gain:+.1%})")
    if worse:
        return Guard(name, False, f"{policy.primary_metric} worse at " + ", ".join(worse))
    return Guard(name, True, f"{policy.primary_metric} checked at {len(challenger.index)} levels")


def _categories_guard(table: pd.DataFrame, policy: PromotionPolicy) -> Guard:
    name = f"no category worse by > {policy.category_margin:.0%}"
    rows = table[table["metric"] == policy.primary_metric]
    if rows.empty:
        return Guard(name, False, "per-category metrics were not measured")
    counts = table[table["metric"] == "n"].set_index(["level", "category"])["challenger"]
    worse, checked, few = [], 0, []
    for r in rows.itertuples():
        n = float(counts.get((r.level, r.category), math.nan))
        if _too_few(n, policy):
            few.append(f"{r.category} at {r.level} ({n:.0f} values)")
            continue
        gain = _relative_gain(
            float(r.challenger),  # type: ignore[arg-type]
            float(r.reference),  # type: ignore[arg-type]
            policy.lower_is_better,
        )
        if gain is None:  # a category without events: nothing to compare
            continue
        checked += 1
        if gain < -policy.category_margin:
            worse.append(f"{r.category} at {r.level} (improvement {gain:+.1%})")
    if worse:
        return Guard(name, False, f"{policy.primary_metric} worse for " + ", ".join(worse))
    levels = ", ".join(judged_levels(policy))
    unjudged = (
        f"; not judged, fewer than {policy.min_points} values: {', '.join(few)}" if few else ""
    )
    return Guard(
        name,
        True,
        f"{policy.primary_metric} checked for {checked} level × category at {levels}{unjudged}",
    )


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-style markdown table (numbers to `digits` significant digits)."""

    def cell(value: object) -> str:
        if isinstance(value, float | np.floating):
            return "—" if not math.isfinite(float(value)) else f"{float(value):.{digits}g}"
        return str(value)

    header: Sequence[str] = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)
