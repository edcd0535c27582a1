"""Issue #4's judged accuracy criteria, read off backtest metrics.

On generated Essonne data CatBoost must score an RMSSE below every baseline's at station × hour
and département × day, a département × day bias within ±2 % and 80 % intervals covering
78–90 % at station × day and département × day. `criteria` reads them off the per-window rows
of `core.backtest.evaluate`'s metrics (of one backtest or of several end to end): each figure is
the mean over the windows given, each window weighing the same.
"""

from __future__ import annotations

import pandas as pd

from previsecours.config import is_candidate

MAIN = "catboost"
RANKED = (("station", "hour"), ("departement", "day"))  # RMSSE below every baseline's
BIAS_BOUND = 2.0  # % at département × day
COVERED = (("station", "day"), ("departement", "day"))  # 80 % intervals...
COVERAGE_BAND = (0.78, 0.90)  # ...cover within this band


def criteria(metrics: pd.DataFrame) -> pd.DataFrame:
    """Issue #4's judged criteria on per-window metrics, each a mean over the windows given."""
    scores = metrics[metrics["kind"] == "ALL"]
    mean = scores.groupby(["metric", "level", "grain", "model"])["value"].mean()
    rows = []
    for level, grain in RANKED:
        rmsse = mean.loc["rmsse", level, grain]
        # The other CatBoost candidates (`catboost:<name>`) are not baselines.
        others = rmsse.drop(MAIN)[lambda r: ~r.index.map(lambda m: is_candidate(str(m)))]
        best = str(others.idxmin())
        rows.append(
            (
                f"RMSSE {level} × {grain} below every baseline's",
                rmsse[MAIN],
                f"{others[best]:.4f} ({best})",
                rmsse[MAIN] < others[best],
            )
        )
    bias = mean.loc["bias_pct", "departement", "day", MAIN]
    rows.append(("bias % departement × day", bias, f"±{BIAS_BOUND:g}", abs(bias) <= BIAS_BOUND))
    low, high = COVERAGE_BAND
    for level, grain in COVERED:
        cover = mean.loc["coverage_80", level, grain, MAIN]
        rows.append(
            (f"80 % coverage {level} × {grain}", cover, f"{low:g}–{high:g}", low <= cover <= high)
        )
    table = pd.DataFrame(rows, columns=["criterion", MAIN, "bound", "met"]).set_index("criterion")
    table[MAIN] = table[MAIN].map(lambda v: f"{v:.4f}")
    table["met"] = table["met"].map({True: "yes", False: "**no**"})
    return table
