"""The files the DVC stages leave: the modelled panel, the backtest, the metrics DVC shows.

- `data/panel/<territory>.parquet`: the panel in long form (area_code, category,
  period_start, count);
- `data/backtest/<territory>/`: predictions and metrics (Parquet) and `backtest.json`
  (dispersion, timings, feature spec);
- `data/choice/<territory>.parquet`: the choice memory, the windows the last training's choice
  of candidate read (core/choice.py), which the next training reads (kept across `dvc repro`:
  a persistent output);
- `metrics/backtest-<territory>.json` and `metrics/train-<territory>.json`: what
  `dvc metrics show` lists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from previsecours.core.backtest import flat_metrics
from previsecours.core.choice import WINDOW_SCORE_COLUMNS, no_scores
from previsecours.core.hierarchy import Dispersion
from previsecours.core.panel import DensePanel
from previsecours.core.training import BacktestFiles, PanelData
from previsecours.paths import Paths


def backtest_metrics_file(paths: Paths, territory: str) -> Path:
    return paths.metrics / f"backtest-{territory}.json"


def write_panel(paths: Paths, territory: str, data: PanelData) -> Path:
    path = paths.panel_file(territory)
    path.parent.mkdir(parents=True, exist_ok=True)
    data.panel.to_frame().to_parquet(path, index=False)
    return path


def read_panel(paths: Paths, territory: str, end: pd.Timestamp) -> PanelData | None:
    """The panel stage's file (covariates not attached), or None when absent."""
    path = paths.panel_file(territory)
    if not path.is_file():
        return None
    frame = pd.read_parquet(path)
    series = frame[["area_code", "category"]].drop_duplicates().reset_index(drop=True)
    starts = pd.DatetimeIndex(frame["period_start"].drop_duplicates())
    counts = frame["count"].to_numpy(np.float64).reshape(len(series), len(starts))
    return PanelData(DensePanel(series, starts, counts), starts[0], end)


def write_backtest(paths: Paths, territory: str, files: BacktestFiles) -> None:
    out = paths.backtest_dir(territory)
    out.mkdir(parents=True, exist_ok=True)
    files.predictions.to_parquet(out / "predictions.parquet", index=False)
    files.metrics.to_parquet(out / "metrics.parquet", index=False)
    meta = {
        "dispersion": {k: dict(v.alphas) for k, v in files.dispersion.items()},
        "seconds": dict(files.seconds),
        "fit_seconds": dict(files.fit_seconds),
        "feature_spec": dict(files.feature_spec),
        "dropped": dict(files.dropped),
        "candidate": files.candidate,
    }
    (out / "backtest.json").write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
    choice = paths.choice_file(territory)
    choice.parent.mkdir(parents=True, exist_ok=True)
    partial = choice.with_suffix(".partial")  # a killed write leaves the memory whole
    files.window_scores.to_parquet(partial, index=False)
    partial.replace(choice)
    summary = {
        model: {k: round(v, 5) for k, v in flat_metrics(files.metrics, model).items()}
        for model in files.metrics["model"].unique()
    }
    _write_json(backtest_metrics_file(paths, territory), summary)


def read_backtest(paths: Paths, territory: str) -> BacktestFiles | None:
    """The backtest stage's outputs, or None when absent."""
    out = paths.backtest_dir(territory)
    if not (out / "backtest.json").is_file():
        return None
    meta = json.loads((out / "backtest.json").read_text(encoding="utf-8"))
    return BacktestFiles(
        predictions=pd.read_parquet(out / "predictions.parquet"),
        metrics=pd.read_parquet(out / "metrics.parquet"),
        dispersion={k: Dispersion(v) for k, v in meta["dispersion"].items()},
        seconds=meta["seconds"],
        fit_seconds=meta["fit_seconds"],
        feature_spec=meta["feature_spec"],
        dropped=meta.get("dropped", {}),
        candidate=meta.get("candidate", ""),
        window_scores=read_choice_memory(paths, territory),
    )


def read_choice_memory(paths: Paths, territory: str) -> pd.DataFrame:
    """The windows the last training's choice read (empty when none was recorded, or in a
    layout this code does not write: the next training then chooses on its own windows)."""
    path = paths.choice_file(territory)
    if not path.is_file():
        return no_scores()
    frame = pd.read_parquet(path)
    return frame if set(WINDOW_SCORE_COLUMNS) <= set(frame.columns) else no_scores()


def write_train_record(paths: Paths, territory: str, record: Mapping[str, Any]) -> Path:
    path = paths.metrics / f"train-{territory}.json"
    _write_json(path, record)
    return path


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1), encoding="utf-8")
