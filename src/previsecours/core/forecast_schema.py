"""What a forecast file holds: the contract between the forecast flow and its readers.

Files, under `forecasts/<territory>/`, named by the issue time `YYYYMMDDTHHMMSSZ` (UTC):
- `<issued>.parquet` (+ `<issued>.csv`): one row per level × area × category × period, columns
  `FORECAST_COLUMNS`. `level` is one of `LEVELS`; `category` is a territory category or `ALL`;
  `frequency` is hour, day or week (daily and weekly rows are rollups of the hourly ones).
  Levels add up exactly: the sum of communes' means equals the département's mean, and so on.
  Quantiles are each level's own (quantiles of a sum are not sums of quantiles).
- `<issued>.staffing.parquet`: crews per station and shift, columns `STAFFING_COLUMNS`.
- `<issued>.drivers.parquet`: the main drivers of each forecast in plain words, `DRIVER_COLUMNS`.
- `<issued>.json`: metadata — territory, issued_at, model name/version, data version,
  horizon, and the freshness of each input (`inputs`: name → latest timestamp it holds).
"""

from __future__ import annotations

from typing import Final

LEVELS: Final = ("commune", "station", "departement")
ALL_CATEGORIES: Final = "ALL"
QUANTILES: Final = (0.025, 0.10, 0.50, 0.90, 0.975)
QUANTILE_COLUMNS: Final = ("p02_5", "p10", "p50", "p90", "p97_5")

FORECAST_COLUMNS: Final = (
    "territory",
    "issued_at",  # UTC timestamp
    "frequency",  # hour | day | week
    "period_start",  # territory-local, tz-aware
    "period_end",
    "level",
    "area_code",
    "area_name",
    "category",
    "mean",
    *QUANTILE_COLUMNS,
    "ref_3y_mean",  # mean of the same period over the last 3 years (NaN when unknown)
    "model_name",
    "model_version",
    "data_version",
)

STAFFING_COLUMNS: Final = (
    "station_code",
    "station_name",
    "shift",  # e.g. "jour ouvré", "jour non ouvré", "nuit"
    "shift_start",
    "shift_end",
    "expected_interventions",
    "expected_peak_concurrency",
    "recommended_crews",
    "current_crews",  # NaN when the territory does not provide it
    "saturation_risk",  # P(demand > current crews), NaN when current_crews is unknown
)

DRIVER_COLUMNS: Final = (
    "level",
    "area_code",
    "category",
    "period_start",
    "rank",
    "driver",  # plain French words: "jour férié", "vacances scolaires", "heure de pointe"
    "effect",  # signed contribution (log-rate scale for CatBoost SHAP)
)
