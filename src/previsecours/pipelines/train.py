"""Training, written once: `fit` computes, `record` writes.

- `fit(settings)`: read the store (read-only) and the data version it holds, build the
  modelled panel with its covariates, backtest every model over rolling origins, choose the
  candidate on those windows and the ones earlier trainings scored (the choice memory, a file
  `record` writes), fit the final CatBoost. It writes nothing and talks to no server, so it
  may run on any Dask worker that sees the home (`ops/retrain_all.py`), and its backtest
  windows may be fanned out as tasks first (`flows/train.py` passes them as `fitted`).
- `record(settings, fit)`: the backtest files and DVC's metrics, the MLflow parent run with a
  child run per model, and a new registered model version (`adapters/tracking.py`).
The CLI's `train`, the DVC stages (`panel`, `backtest`, `train --from-backtest`), the Prefect
flow and `retrain-all` all call these. The compute itself is `core/training.py`.

Contract for the later steps: the registered model `previsecours-<territory>` is a pyfunc
(`adapters.tracking.ForecasterModel`) whose artifacts carry the feature spec, frequency,
horizon, modelled level, hierarchy, dispersion and the data version it was trained on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pandas as pd

from previsecours.adapters import store, training_files
from previsecours.adapters.covariates import with_covariates
from previsecours.core.backtest import BacktestResult, Progress, flat_metrics, metric_table
from previsecours.core.history import History
from previsecours.core.training import (
    BacktestFiles,
    PanelData,
    TrainingFit,
    backtest,
    fit_final,
    history_params,
    modelled_panel,
)
from previsecours.pipelines.training_run import log_training
from previsecours.settings import Settings


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_uri: str
    version: int | None
    metrics: Mapping[str, float]  # CatBoost over all windows, `<level>_<grain>_<metric>`
    rmsse: pd.DataFrame  # level × grain rows, model columns
    seconds: Mapping[str, float]
    notes: tuple[str, ...] = ()  # what the user should know: models dropped, level shifts


def read_history(settings: Settings) -> History:
    return store.read_history(settings.paths, settings.territory).require()


def snapshot(settings: Settings) -> tuple[str, History]:
    """The store and the data version of exactly what is read: taken under the ingest lock
    (an ingest cannot swap the store in between), after reconciling a `data.dvc` left stale by
    an ingest killed between its swap and its DVC commit."""
    from previsecours.adapters.ingest_files import ingest_lock
    from previsecours.adapters.versioning import data_version, reconcile_data_version, remote_path

    remote = remote_path(settings.paths, settings.params.ingest.dvc_remote)
    with ingest_lock(settings.paths):
        reconcile_data_version(settings.paths, remote)
        version = data_version(settings.paths, settings.territory.name)
        return version, read_history(settings)


def panel(settings: Settings, history: History) -> PanelData:
    """The modelled panel with the territory's covariates attached."""
    data = modelled_panel(history, settings.territory, settings.params.train)
    return with_covariates(data, settings.territory)


def fit(
    settings: Settings,
    *,
    history: History | None = None,
    data_version: str | None = None,
    data: PanelData | None = None,
    files: BacktestFiles | None = None,
    fitted: BacktestResult | None = None,
    progress: Progress | None = None,
) -> TrainingFit:
    """Backtest (unless `files` are given) and final fit; writes nothing but a stale data.dvc.

    Without `history`, the store and its data version are read here as one `snapshot`; a
    caller that gives the history may give the version it read with it (`data_version`)."""
    from previsecours.adapters.versioning import data_version as data_version_of

    started_at = datetime.now(UTC)
    cpu, clock = time.process_time(), time.perf_counter()
    backtested = files is None
    seconds: dict[str, float] = {}
    if history is None:
        version, history = snapshot(settings)
    else:  # the caller's history (read from the store, or made in memory by a benchmark)
        version = data_version or data_version_of(settings.paths, settings.territory.name)
    territory = settings.territory
    data = data or panel(settings, history)
    params = history_params(settings.params.train, history, territory)
    seconds["panel"] = time.perf_counter() - clock
    if files is None:
        memory = training_files.read_choice_memory(settings.paths, territory.name)
        files = BacktestFiles.of(
            backtest(history, territory, params, data, progress, fitted=fitted, memory=memory)
        )
    seconds.update(files.seconds)
    t0 = time.perf_counter()
    forecaster = fit_final(
        history,
        territory,
        params,
        data,
        dispersion=files.dispersion["catboost"],
        data_version=version,
        candidate=files.candidate,
    )
    seconds["final_fit"] = time.perf_counter() - t0
    return TrainingFit(
        territory=territory.name,
        data=data,
        files=files,
        forecaster=forecaster,
        history_rows=len(history),
        seconds=seconds,
        cpu_seconds=time.process_time() - cpu,
        backtested=backtested,
        started_at=started_at,
    )


def record(settings: Settings, fit: TrainingFit, *, register: bool | None = None) -> TrainResult:
    """The backtest files (when this fit made them), the MLflow run and the model version."""
    seconds = dict(fit.seconds)
    t0 = time.perf_counter()
    if fit.backtested:
        training_files.write_backtest(settings.paths, fit.territory, fit.files)
    run_id, uri, version = log_training(settings, fit, seconds=seconds, register=register)
    seconds["logging"] = time.perf_counter() - t0
    record = {"run_id": run_id, "model_uri": uri, "version": version, "seconds": seconds}
    training_files.write_train_record(settings.paths, fit.territory, record)
    return TrainResult(
        run_id=run_id,
        model_uri=uri,
        version=version,
        metrics=flat_metrics(fit.files.metrics, "catboost"),
        rmsse=metric_table(fit.files.metrics, "rmsse"),
        seconds=seconds,
        notes=training_notes(fit),
    )


def training_notes(fit: TrainingFit) -> tuple[str, ...]:
    """Models the backtest dropped and level shifts of the history, in words."""
    dropped = tuple(f"{m} dropped: {why}" for m, why in fit.files.dropped.items())
    params = fit.data.params
    acted = params is not None and params.start_after_level_shift
    shifts = tuple(
        s.describe() + ("" if acted else " (train.start_after_level_shift: false)")
        for s in fit.data.level_shifts
    )
    return dropped + shifts


def train(
    settings: Settings, *, register: bool | None = None, progress: Progress | None = None
) -> TrainResult:
    """The whole training in one process: panel, backtest, final fit, records."""
    t0 = time.perf_counter()
    result = record(settings, fit(settings, progress=progress), register=register)
    return replace(result, seconds={**result.seconds, "total": time.perf_counter() - t0})


# ------------------------------------------------------------------ DVC stages


def panel_stage(settings: Settings) -> str:
    """Write the modelled panel (long form) for DVC to track."""
    data = modelled_panel(read_history(settings), settings.territory, settings.params.train)
    return str(training_files.write_panel(settings.paths, settings.territory.name, data))


def with_origins(settings: Settings, origins: Sequence[str] | None) -> Settings:
    """`settings` whose backtest runs at `origins` (local dates or times of the territory)
    instead of `train.origins`; None: unchanged."""
    if origins is None:
        return settings
    train = replace(settings.params.train, origins=tuple(origins))
    return replace(settings, params=replace(settings.params, train=train))


def backtest_stage(
    settings: Settings, progress: Progress | None = None, *, origins: Sequence[str] | None = None
) -> BacktestFiles:
    """Backtest every model on the panel stage's file; write the backtest and DVC's metrics.

    `origins`: the windows' origins (local dates or times), instead of `train.origins`."""
    settings = with_origins(settings, origins)
    history = read_history(settings)
    territory = settings.territory
    params = history_params(settings.params.train, history, territory)
    end = history.end(territory, params.frequency_of(territory))
    stored = training_files.read_panel(settings.paths, territory.name, end)
    data = panel(settings, history) if stored is None else with_covariates(stored, territory)
    memory = training_files.read_choice_memory(settings.paths, territory.name)
    files = BacktestFiles.of(backtest(history, territory, params, data, progress, memory=memory))
    training_files.write_backtest(settings.paths, territory.name, files)
    return files


def train_stage(settings: Settings, *, register: bool | None = None) -> TrainResult:
    """Final fit and records from the backtest stage's files (backtesting when absent)."""
    files = training_files.read_backtest(settings.paths, settings.territory.name)
    if files is None:
        return train(settings, register=register)
    return record(settings, fit(settings, files=files), register=register)
