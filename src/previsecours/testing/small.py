"""A training small enough for tests: weeks of data, two backtest windows, three models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SMALL_TRAINING: dict[str, Any] = {
    "train": {
        "train_years": 0.12,
        "history_years": 1.0,
        "n_windows": 2,
        "models": ["catboost", "seasonal_naive", "poisson_glm"],
        "catboost": {"iterations": 60},
        "poisson_glm": {"max_rows": 5000},
    }
}


def write_small_params(home: Path, overrides: dict[str, Any] | None = None) -> None:
    """A `params.yaml` in `home` that shrinks training (it overrides the repository's)."""
    home.mkdir(parents=True, exist_ok=True)
    params = {**SMALL_TRAINING, **(overrides or {})}
    (home / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
