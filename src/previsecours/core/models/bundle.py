"""A trained forecaster: the fitted model plus everything needed to forecast every level.

`TrainedForecaster.metadata()` is plain JSON (feature spec with its version, frequency, horizon,
modelled level, hierarchy weights and shares, dispersion per level and grain, training data
version and end): it travels with the registered model version, so the forecast flow needs
nothing but the registry, the curated history and the territory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from previsecours.core.calendar import period_ends
from previsecours.core.features import FeatureSpec, area_attributes, build_features
from previsecours.core.forecast_schema import QUANTILE_COLUMNS
from previsecours.core.hierarchy import Dispersion, Hierarchy, allocate, rollup, with_quantiles
from previsecours.core.models.base import Forecaster
from previsecours.core.panel import DensePanel
from previsecours.core.territory import Territory

LEVEL_COLUMNS = (
    "frequency",
    "level",
    "area_code",
    "category",
    "period_start",
    "period_end",
    "mean",
    *QUANTILE_COLUMNS,
)


@dataclass(frozen=True)
class TrainedForecaster:
    spec: FeatureSpec
    model: Forecaster
    hierarchy: Hierarchy
    dispersion: Dispersion
    territory: str
    data_version: str
    model_name: str = "catboost"
    # Exclusive end of the panel the final fit saw: promotion scores a window before it on the
    # version's backtest forecasts, never on its in-sample fit. None: an older version.
    data_end: pd.Timestamp | None = None

    @property
    def model_level(self) -> str:
        return self.hierarchy.model_level

    def metadata(self) -> dict[str, Any]:
        return {
            "territory": self.territory,
            "model_name": self.model_name,
            "model_level": self.model_level,
            "frequency": self.spec.frequency,
            "horizon": self.spec.horizon,
            "data_version": self.data_version,
            "feature_spec": self.spec.to_dict(),
            "feature_columns": list(self.spec.columns),
            "hierarchy": self.hierarchy.to_dict(),
            "dispersion": dict(self.dispersion.alphas),
            "data_end": None if self.data_end is None else self.data_end.isoformat(),
        }

    @staticmethod
    def from_metadata(meta: Mapping[str, Any], model: Forecaster) -> TrainedForecaster:
        return TrainedForecaster(
            spec=FeatureSpec.from_dict(meta["feature_spec"]),
            model=model,
            hierarchy=Hierarchy.from_dict(meta["hierarchy"]),
            dispersion=Dispersion({str(k): float(v) for k, v in meta["dispersion"].items()}),
            territory=str(meta["territory"]),
            data_version=str(meta["data_version"]),
            model_name=str(meta.get("model_name", "catboost")),
            data_end=None if meta.get("data_end") is None else pd.Timestamp(meta["data_end"]),
        )

    def modelled_means(
        self,
        panel: DensePanel,
        territory: Territory,
        first: int,
        last: int,
        covariates: pd.DataFrame | None = None,
    ) -> DensePanel:
        """Means of the modelled series for periods panel.starts[first:last].

        `panel`: counts of the modelled series (NaN where unknown), with at least
        `spec.max_lag` periods of history before `first`; `last - first` ≤ the horizon.
        `covariates`: the values of `spec.covariates` per period of the panel (indexed by
        `panel.starts`), when the model reads any.
        """
        if last - first > self.spec.horizon:
            raise ValueError(
                f"{last - first} periods asked, the model forecasts {self.spec.horizon} at most"
            )
        attributes = area_attributes(territory, self.model_level, list(self.hierarchy.model_areas))
        block = build_features(
            panel, self.spec, territory, attributes, first=first, last=last, covariates=covariates
        )
        mean = self.model.predict(block.matrix)
        return DensePanel(
            panel.series, panel.starts[first:last], mean.reshape(len(panel.series), last - first)
        )

    def levels(
        self, means: DensePanel, territory: Territory, grains: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Every level × category (and ALL) × period, mean and quantiles, for each grain."""
        frequency = self.spec.frequency
        frames = []
        for level, panel in allocate(means, self.hierarchy, territory.timezone, frequency).items():
            for grain in (frequency, *(g for g in grains if g != frequency)):
                at_grain = (
                    panel
                    if grain == frequency
                    else rollup(panel, frequency, grain, territory.timezone)  # type: ignore[arg-type]
                )
                frame = with_quantiles(at_grain, level, grain, self.dispersion)
                starts = pd.DatetimeIndex(frame["period_start"])
                frame["period_end"] = period_ends(starts, grain, territory.timezone)  # type: ignore[arg-type]
                frame["frequency"] = grain
                frames.append(frame)
        out = pd.concat(frames, ignore_index=True)[list(LEVEL_COLUMNS)]
        out["mean"] = out["mean"].astype(np.float64)
        return out
