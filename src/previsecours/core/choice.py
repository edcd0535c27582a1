"""Which CatBoost candidate or combination a training registers, and the windows it reads.

A training backtests 4 windows (13 for weekly data): too few to tell two good models apart —
on real services the choice between the combinations flipped from one week's training to the
next and cost up to 3 % of RMSSE at daily and weekly sums (bench/README.md). A weekly retrain
has scored many more windows than its own by then: each training's per-window scores are kept
(the *choice memory*, `WINDOW_SCORE_COLUMNS`) and the next training chooses on its own windows
and the latest remembered ones, up to `train.choice_windows` in all.

Rules, so that a remembered score is as honest as a fresh one:
- a score is a candidate's RMSSE on one backtest window, averaged over every level × grain
  the backtest scored (series and totals, the modelled grain and its daily and weekly sums:
  planners read them all), each window forecast by models fitted before its origin;
- only scores made with the same models on the same territory are remembered (`fingerprint`:
  the training settings that change a window's forecast; the data version does not, a window's
  score stays what it measured);
- a window this training scored again takes this training's score; a remembered window that
  ends after this training's last one (a training on older data) is not read;
- the choice is the lowest mean over the windows every choosable name was scored on; a tie,
  or nothing scored: the first offered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, Final

import pandas as pd

from previsecours.config import TrainParams, is_candidate
from previsecours.core.backtest import Window

WINDOW_SCORE_COLUMNS: Final = ("fingerprint", "origin", "last", "model", "rmsse")
# Settings that say which windows are backtested or which names may be chosen, not what a
# window's forecast is: a change of them keeps the memory.
NOT_IN_FINGERPRINT: Final = ("origins", "n_windows", "step", "choose_from", "choice_windows")


def no_scores() -> pd.DataFrame:
    """An empty choice memory, in its layout (no candidates, or nothing remembered yet)."""
    return pd.DataFrame(columns=list(WINDOW_SCORE_COLUMNS))


def models_fingerprint(params: TrainParams, territory: str, spec: Mapping[str, Any]) -> str:
    """The training settings a window's forecast depends on, hashed (territory, feature spec,
    `train:` but the window and choice settings)."""
    train = {k: v for k, v in asdict(params).items() if k not in NOT_IN_FINGERPRINT}
    text = json.dumps(
        {"territory": territory, "spec": dict(spec), "train": train}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def window_scores(
    metrics: pd.DataFrame,
    windows: Sequence[Window],
    starts: pd.DatetimeIndex,
    *,
    fingerprint: str,
) -> pd.DataFrame:
    """Each candidate's score on each of this backtest's windows (`WINDOW_SCORE_COLUMNS`;
    `origin` and `last`: the window's first and last period starts, UTC)."""
    scored = metrics[
        (metrics["window"] != "all")
        & (metrics["metric"] == "rmsse")
        & (metrics["kind"] == "ALL")
        & metrics["model"].map(lambda m: is_candidate(str(m)))
    ]
    if scored.empty:
        return no_scores()
    means = scored.groupby(["window", "model"])["value"].mean().reset_index()
    by_index = {str(w.index): w for w in windows}
    utc = starts.tz_convert("UTC")
    means["origin"] = [utc[by_index[k].origin] for k in means["window"]]
    means["last"] = [utc[by_index[k].end - 1] for k in means["window"]]
    means["fingerprint"] = fingerprint
    return means.rename(columns={"value": "rmsse"})[list(WINDOW_SCORE_COLUMNS)]


def with_memory(own: pd.DataFrame, memory: pd.DataFrame | None, keep: int) -> pd.DataFrame:
    """The windows the choice reads: this training's (`own`, always), then the latest
    remembered ones of the same fingerprint that end by its last window, `keep` windows in
    all (0: this training's only). Sorted by origin."""
    if memory is None or memory.empty or own.empty or keep <= own["origin"].nunique():
        return pd.DataFrame(own.sort_values(["origin", "model"], ignore_index=True))
    same = memory[
        (memory["fingerprint"] == own["fingerprint"].iloc[0])
        & (memory["last"] <= own["last"].max())
        & ~memory["origin"].isin(own["origin"])
    ]
    room = keep - own["origin"].nunique()
    recent = sorted(same["origin"].unique())[-room:]
    merged = pd.concat([same[same["origin"].isin(recent)], own], ignore_index=True)
    return pd.DataFrame(merged.sort_values(["origin", "model"], ignore_index=True))


def choose(scores: pd.DataFrame, models: Sequence[str]) -> str | None:
    """Among `models` (`TrainParams.choosable`), the lowest mean score over the windows every
    one of them was scored on; None without candidates; a tie or no such window: the first."""
    names = [m for m in models if is_candidate(m)]
    if not names:
        return None
    table = scores.pivot_table(index="origin", columns="model", values="rmsse", aggfunc="mean")
    common = table.reindex(columns=names).dropna()
    if common.empty:
        return names[0]
    return str(common.mean().idxmin())  # the first of equal means
