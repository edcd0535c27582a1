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

from previsecours.core.training import TrainingFit
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
    """A territory's training fit and where it was computed."""

    fit: TrainingFit
    worker: WorkerStamp

    @property
    def territory(self) -> str:
        return self.fit.territory


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
    return TerritoryFit(train.fit(settings, data_version=data_version), WorkerStamp.here())


def record_territory(settings: Settings, fitted: TerritoryFit, *, now: datetime) -> Retrained:
    """Backtest files, MLflow run and version, then promotion; in this process."""
    from previsecours.pipelines.promote import run_promote

    cpu = time.process_time()
    clock = time.perf_counter()
    recorded = train.record(settings, fitted.fit)
    seconds = dict(recorded.seconds)
    clock = time.perf_counter()
    promotion = run_promote(settings, now=now, version=recorded.version)
    seconds["promotion"] = time.perf_counter() - clock
    return Retrained(
        territory=fitted.territory,
        run_id=recorded.run_id,
        version=recorded.version,
        champion=promotion.champion_after,
        promoted=promotion.decision.promoted,
        reason=promotion.decision.reason,
        worker=fitted.worker,
        recorder=WorkerStamp.here(),
        seconds=seconds,
        cpu_seconds={"fit": fitted.fit.cpu_seconds, "record": time.process_time() - cpu},
    )
