"""Why a forecast is high or low, in plain French: SHAP contributions grouped into drivers.

Input: per-row contributions of each model feature (CatBoost `ShapValues`, on the log-rate
scale of a Poisson/Tweedie model: contributions add up to log(mean) − the base value), the
feature values and the row keys. Related features are summed into one driver (hour, hour_sin
and hour_cos are one "time of day" effect), and each driver is worded from the feature values
and the sign of its effect: a positive time-of-day effect in the evening is "heure de pointe",
a negative one at 3 am is "nuit"; a holiday flag only speaks as "jour férié" on a holiday.

Guarantees: the effects of a row's drivers sum to the sum of its feature contributions (the
base value excluded), whatever `top_k` keeps; output columns are `DRIVER_COLUMNS`, ranks start
at 1 by decreasing |effect|.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from previsecours.core.forecast_schema import DRIVER_COLUMNS

FloatArray = npt.NDArray[np.float64]

# feature name → driver group (first match wins).
GROUPS: Final[tuple[tuple[str, str], ...]] = (
    (r"^(hour|hour_sin|hour_cos)$", "hour"),
    (r"^weekday$", "weekday"),
    (r"^(month|week_of_year|day_of_year|doy_sin|doy_cos)$", "season"),
    (r"^years_since_2000$", "trend"),
    (r"^is_holiday$", "holiday"),
    (r"^is_bridge$", "bridge"),
    (r"^is_school_holiday$", "school"),
    (r"^is_new_year_night$", "new_year"),
    (r"^is_national_day$", "national_day"),
    (r"^is_music_day$", "music_day"),
    # The territory's totals (same category) read like the area's own history.
    (r"^(lag_\d+|(total_)?roll_(24|168))$", "recent"),
    (r"^(total_)?(roll_\d+|season_mean_4|day_profile_7)$", "usual"),
    (r"^(total_)?ref_3y", "past_years"),
    (r"^(area_id|population|area_share)$", "area"),
    (r"^category_id$", "category"),
    (r"^cov_.*(grippe|flu)", "flu"),
    (r"^cov_.*(temp|chaleur|heat)", "temperature"),
    (r"^cov_", "covariate"),
)

FLAG_WORDS: Final = {
    "holiday": "jour férié",
    "bridge": "pont",
    "school": "vacances scolaires",
    "new_year": "nuit du Nouvel An",
    "national_day": "14 juillet",
    "music_day": "fête de la musique",
}

FIXED_WORDS: Final = {
    "season": "saison",
    "trend": "tendance de long terme",
    "recent": "tendance récente",
    "usual": "niveau habituel du secteur",
    "past_years": "même période les années passées",
    "area": "taille du secteur",
    "category": "type d'intervention",
    "flu": "épidémie de grippe",
    "temperature": "température",
    "covariate": "conditions extérieures",
}

NIGHT_HOURS: Final = frozenset({22, 23, 0, 1, 2, 3, 4, 5, 6})


def feature_group(name: str) -> str:
    for pattern, group in GROUPS:
        if re.search(pattern, name):
            return group
    return "other"


def driver_words(group: str, effect: float, values: dict[str, float]) -> str:
    """Plain words for one driver of one row, from its feature values and the effect's sign."""
    if group == "hour":
        hour = int(values.get("hour", -1))
        if effect >= 0:
            return "heure de pointe"
        return "nuit" if hour in NIGHT_HOURS else "heure creuse"
    if group == "weekday":
        return "week-end" if values.get("weekday", 0) >= 5 else "jour de semaine"
    if group in FLAG_WORDS:
        flag = next((v for k, v in values.items() if k.startswith("is_")), 0.0)
        return FLAG_WORDS[group] if flag > 0 else "jour ordinaire"
    return FIXED_WORDS.get(group, "autres facteurs")


def explain(
    contributions: FloatArray,
    feature_names: Sequence[str],
    features: pd.DataFrame,
    keys: pd.DataFrame,
    top_k: int = 3,
) -> pd.DataFrame:
    """The `top_k` drivers of each row, `DRIVER_COLUMNS`.

    `contributions`: rows × features, or rows × (features + 1) with the base value last (as
    CatBoost returns it; the base value is dropped). `keys`: level, area_code, category,
    period_start, one row per contribution row.
    """
    shap = np.asarray(contributions, dtype=np.float64)
    if shap.shape[1] == len(feature_names) + 1:
        shap = shap[:, :-1]
    if shap.shape != (len(keys), len(feature_names)):
        raise ValueError(
            f"contributions {shap.shape} do not match {len(keys)} rows × "
            f"{len(feature_names)} features"
        )
    groups = [feature_group(n) for n in feature_names]
    names = list(dict.fromkeys(groups))
    summed = np.zeros((shap.shape[0], len(names)))
    for j, g in enumerate(groups):
        summed[:, names.index(g)] += shap[:, j]
    k = min(top_k, len(names))
    order = np.argsort(-np.abs(summed), axis=1, kind="stable")[:, :k]
    members = {
        g: [n for n, gg in zip(feature_names, groups, strict=True) if gg == g] for g in names
    }
    value_of = {n: features[n].to_numpy(np.float64) for n in feature_names if n in features}
    rows = []
    for i in range(shap.shape[0]):
        for rank, col in enumerate(order[i], start=1):
            group = names[col]
            effect = float(summed[i, col])
            values = {n: float(value_of[n][i]) for n in members[group] if n in value_of}
            rows.append((i, rank, driver_words(group, effect, values), effect))
    picked = pd.DataFrame(rows, columns=["row", "rank", "driver", "effect"])
    base = keys.reset_index(drop=True).iloc[picked["row"].to_numpy()].reset_index(drop=True)
    out = pd.concat([base, picked[["rank", "driver", "effect"]]], axis=1)
    return out[list(DRIVER_COLUMNS)]
