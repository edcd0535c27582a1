"""Retrain many territories: the heavy compute anywhere, the records in one process.

A territory's retrain splits in two:
- `fit_territory(settings, data_version)`: pure compute — read the territory's curated store
  (read-only), build the panel, backtest every model, evaluate, fit the final CatBoost. It
  writes nothing and talks to no server, so it may run on any Dask worker that sees the home
  (same machine, or a shared file system); the result carries the worker's host and process id.
- `record_territory(settings, fit)`: everything that writes — the backtest files, the MLflow
  run and registered version, then the usual promotion (`pipelines.promote.run_promote`,
  which moves `champion` when the new version beats the reference). It runs in the caller's
  process, one territory at a time: DVC and the registry want a single writer.

`territory_files(directory)` lists the territories of a folder (every `*.yaml`).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from previsecours.core.models.bundle import TrainedForecaster
from previsecours.pipelines import train
from previsecours.settings import Settings


@dataclass(frozen=True)
class WorkerStamp:
    """Where a piece of compute ran."""

    host: str
    pid: int

    @classmethod
    def here(cls) -> WorkerStamp:
        return cls(socket.gethostname(), os.getpid())


@dataclass(frozen=True)
class TerritoryFit:
    """A territory's backtest and final model, ready to be recorded."""

    territory: str
    files: train.BacktestFiles
    forecaster: TrainedForecaster
    data: train.PanelData
    events: int
    seconds: Mapping[str, float]
    cpu_seconds: float  # this process's CPU time for the fit: contention does not inflate it
    worker: WorkerStamp


@dataclass(frozen=True)
class Retrained:
    """What `record_territory` left: the version, the promotion decision, where work ran."""

    territory: str
    run_id: str
    version: int | None
    champion: int | None
    promoted: bool
    reason: str
    worker: WorkerStamp
    recorder: WorkerStamp
    seconds: Mapping[str, float] = field(default_factory=dict)
    cpu_seconds: Mapping[str, float] = field(default_factory=dict)  # fit, record


def territory_files(directory: Path) -> list[Path]:
    """Every territory file of `directory`, by name."""
    return sorted(directory.glob("*.yaml"))


def fit_territory(settings: Settings, data_version: str) -> TerritoryFit:
    """Backtest and final fit of one territory; writes nothing (see the module docstring)."""
    seconds: dict[str, float] = {}
    cpu = time.process_time()
    clock = time.perf_counter()
    territory = settings.territory
    events = train.load_events(settings)
    # As `train` does: a counts-only store fixes frequency and level.
    params = train.history_params(train.train_params(settings.section("train")), events, territory)
    seconds["load"] = time.perf_counter() - clock
    data = train.modelled_panel(events, territory, params)
    outcome = train.backtest(events, territory, params, data)
    seconds.update(outcome.seconds)
    files = train.BacktestFiles(
        predictions=outcome.result.predictions,
        metrics=outcome.evaluation.metrics,
        dispersion=outcome.evaluation.dispersion,
        seconds=outcome.seconds,
        fit_seconds=outcome.result.fit_seconds,
        feature_spec=outcome.spec.to_dict(),
    )
    clock = time.perf_counter()
    forecaster = train.fit_final(
        events,
        territory,
        params,
        data,
        dispersion=files.dispersion["catboost"],
        data_version=data_version,
    )
    seconds["final_fit"] = time.perf_counter() - clock
    return TerritoryFit(
        territory=territory.name,
        files=files,
        forecaster=forecaster,
        data=data,
        events=len(events),
        seconds=seconds,
        cpu_seconds=time.process_time() - cpu,
        worker=WorkerStamp.here(),
    )


def record_territory(settings: Settings, fit: TerritoryFit, *, now: datetime) -> Retrained:
    """Backtest files, MLflow run and version, then promotion; in this process."""
    from previsecours.pipelines.promote import run_promote

    seconds = dict(fit.seconds)
    params = fit.data.params or train.train_params(settings.section("train"))
    cpu = time.process_time()
    clock = time.perf_counter()
    train.write_backtest(settings, fit.files)
    run_id, _, version = train.log_training(
        settings, params, fit.files, fit.forecaster, data=fit.data, seconds=fit.seconds
    )
    seconds["logging"] = time.perf_counter() - clock
    clock = time.perf_counter()
    promotion = run_promote(settings, now=now, version=version)
    seconds["promotion"] = time.perf_counter() - clock
    return Retrained(
        territory=fit.territory,
        run_id=run_id,
        version=version,
        champion=promotion.champion_after,
        promoted=promotion.decision.promoted,
        reason=promotion.decision.reason,
        worker=fit.worker,
        recorder=WorkerStamp.here(),
        seconds=seconds,
        cpu_seconds={"fit": fit.cpu_seconds, "record": time.process_time() - cpu},
    )
