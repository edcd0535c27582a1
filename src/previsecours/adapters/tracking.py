"""MLflow tracking for training: experiment per territory, runs, artifacts, the registered model.

- Tracking URI is always explicit (`Paths.mlflow_tracking_uri`, sqlite under `mlruns/`); the
  experiment `previsecours-<territory>` stores artifacts under the absolute
  `Paths.mlflow_artifacts` (MLflow keeps artifact roots absolute in the DB). With a team's
  tracking server (`PREVISECOURS_TRACKING_URI`), runs, registry and artifacts go to the server
  (artifacts proxied to its `--artifacts-destination`).
- The model is a pyfunc (`ForecasterModel`, a plain `PythonModel`, no custom flavour): its
  artifacts are the CatBoost file and `forecaster.json` (feature spec with version, frequency,
  horizon, modelled level, hierarchy, dispersion, training data version). `predict` maps a
  feature frame (float32 columns of the spec) to expected counts; `predict_levels` in
  pipelines/predict.py unwraps it to forecast every level.
- Logged with a signature, an input example and explicit `pip_requirements` (inference of
  requirements costs seconds per model and guesses).
- The experiment is a classic ML one for MLflow 3's UI (experiment tag
  `mlflow.experimentKind = custom_model_development`; without it the UI infers the kind and may
  open it as a GenAI experiment) and carries its description (`mlflow.note.content`), set when
  the experiment is created and brought up to date when it exists.
- Runs are created with their real start (`MlflowClient.create_run(start_time=...)`) and then
  made active, so the UI's duration is the training's, not the logging's.
- A training killed while it logs (SIGKILL, OOM, a worker stopped) cannot end its runs: they
  would stay `RUNNING` for ever. Every training and model run records the process that logs it
  (tags `previsecours.pid`, `previsecours.host`), and before a training creates its parent run
  `close_stale_runs` marks `KILLED` the experiment's `RUNNING` runs whose process is gone (this
  host, pid no longer alive) or that started more than `STALE_AFTER` ago (any host, tags or
  not), with a tag `previsecours.closed_reason` saying which.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.models import infer_signature
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from previsecours.adapters.registry import model_name, quiet_downloads, rebase_home
from previsecours.core.models.base import Forecaster
from previsecours.core.models.boosting import CatBoostCount
from previsecours.core.models.bundle import TrainedForecaster
from previsecours.core.models.combination import Combination
from previsecours.paths import Paths

FORECASTER_FILE = "forecaster.json"
CATBOOST_FILE = "model.cbm"
MEMBER_ARTIFACT = "member_"  # a combination's other members: member_1, member_2, …
SPEC_VERSION_KEY = "feature_spec_version"  # read by adapters.registry before loading
REQUIREMENTS = ("catboost", "pandas", "numpy", "scipy", "pyarrow", "scikit-learn", "mlflow")


PID_TAG = "previsecours.pid"  # the process that logs a run...
HOST_TAG = "previsecours.host"  # ...and its machine
CLOSED_TAG = "previsecours.closed_reason"
STALE_AFTER = timedelta(days=2)  # no training lasts that long: a RUNNING run this old is dead

log = logging.getLogger(__name__)

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CLASSIC_ML = "custom_model_development"  # MLflow 3's kind for model training (not GenAI)
DESCRIPTION_TAG = "mlflow.note.content"  # experiment and run descriptions in the UI


def experiment_description(territory: str, ranking: str | None = None) -> str:
    """What the territory's experiment holds (markdown, shown by the MLflow UI)."""
    rank = f"`{ranking}`" if ranking else "`rank_<level>_<grain>_<metric>` (params.yaml `promote:`)"
    return "\n".join(
        [
            f"Prévisecours, territory **{territory}**: forecasts of fire-and-rescue interventions.",
            "",
            "- **One parent run per training** (`train-<territory>-<start>-<data version>-v<N>`,"
            " tag `kind=training`): the training's real start and duration, tags (data version,"
            " git commit, frequency, feature spec), params (`params.yaml: train`), CatBoost's"
            " headline metrics over all backtest windows (`<level>_<grain>_<metric>`, all"
            " categories), plots, backtest files and the registered model version.",
            "- **One child run per model** (`catboost` and the baselines): every metric,"
            " per category too, and per backtest window as steps (`window/...`).",
            f"- **Ranking metric** {rank}: the promotion's primary metric at its primary level"
            " (RMSSE: the error scaled by seasonal naive's, lower is better, below 1 beats"
            " seasonal naive). Sort runs on it: *Sort* → that metric also adds it as a column.",
            "- **Monitoring runs** (`monitor-<date>`, tag `kind=monitoring`): past forecasts"
            " against the actuals that arrived, and drift.",
            "",
            "Versions, the `champion` alias and each promotion decision are under *Models* →"
            f" `{model_name(territory)}`.",
        ]
    )


def use_tracking(paths: Paths, territory: str, *, description: str | None = None) -> str:
    """Point MLflow at this home and get-or-create the territory's experiment; its id.

    The experiment is marked as classic ML and described: `description` when given (it then
    replaces an older one), the generic description when the experiment has none."""
    paths.mlruns.mkdir(parents=True, exist_ok=True)
    paths.mlflow_artifacts.mkdir(parents=True, exist_ok=True)
    rebase_home(paths)  # a moved home: its artifacts are where it is now
    quiet_downloads()
    mlflow.set_tracking_uri(paths.mlflow_tracking_uri)
    mlflow.set_registry_uri(paths.mlflow_tracking_uri)
    name = model_name(territory)
    found = mlflow.get_experiment_by_name(name)
    if found is None:
        tags = {
            EXPERIMENT_KIND_TAG: CLASSIC_ML,
            DESCRIPTION_TAG: description or experiment_description(territory),
        }
        if paths.tracking_server:  # the server's shared artifact store (--artifacts-destination)
            return str(mlflow.create_experiment(name, tags=tags))
        location = str(paths.mlflow_artifacts.resolve())
        return str(mlflow.create_experiment(name, artifact_location=location, tags=tags))
    experiment_id = str(found.experiment_id)
    wanted = {EXPERIMENT_KIND_TAG: CLASSIC_ML}
    if description or not found.tags.get(DESCRIPTION_TAG):
        wanted[DESCRIPTION_TAG] = description or experiment_description(territory)
    client = mlflow.MlflowClient()
    for key, value in wanted.items():
        if found.tags.get(key) != value:
            client.set_experiment_tag(experiment_id, key, value)
    return experiment_id


def _millis(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1000)


def process_tags() -> dict[str, str]:
    """Which process logs a run: what `close_stale_runs` checks."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def close_stale_runs(
    experiment_id: str, *, now: datetime | None = None, stale_after: timedelta = STALE_AFTER
) -> dict[str, str]:
    """Mark `KILLED` the experiment's RUNNING runs left by a dead process; run id → reason.

    Dead: its host is this machine and its pid no longer exists (or is a zombie), or it started
    more than `stale_after` before `now` (whatever its host; a run without process tags too).
    A run of a live process on this machine, or of another machine, younger than that, is
    left alone: it may be a training in progress."""
    client = mlflow.MlflowClient()
    runs = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    moment = now or datetime.now(UTC)
    closed: dict[str, str] = {}
    for run in runs:
        reason = _stale_reason(run.data.tags, run.info.start_time, moment, stale_after)
        if reason is None:
            continue
        client.set_tag(run.info.run_id, CLOSED_TAG, reason)
        client.set_terminated(run.info.run_id, "KILLED")
        closed[str(run.info.run_id)] = reason
        log.warning(
            "MLflow run %s (%s) closed as KILLED: %s", run.info.run_id, run.info.run_name, reason
        )
    return closed


def _stale_reason(
    tags: Mapping[str, str], start_ms: int | None, now: datetime, stale_after: timedelta
) -> str | None:
    pid, host = tags.get(PID_TAG, ""), tags.get(HOST_TAG)
    mine = host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid()
    if mine and not _alive(int(pid)):
        return f"its process {pid} on {host} is gone"
    if start_ms is not None:
        started = datetime.fromtimestamp(start_ms / 1000, UTC)
        if now - started > stale_after:
            return f"RUNNING since {started:%Y-%m-%d %H:%M} UTC, more than {stale_after} ago"
    return None


def _alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return True  # no /proc: trust the signal
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@contextmanager
def training_run(
    experiment_id: str,
    run_name: str,
    tags: Mapping[str, str],
    *,
    started_at: datetime | None = None,
) -> Iterator[str]:
    """The parent run of one training, started at `started_at` (default: now); yields its id.

    Runs of earlier trainings left RUNNING by a dead process are closed first."""
    close_stale_runs(experiment_id)
    run = mlflow.MlflowClient().create_run(
        experiment_id,
        start_time=_millis(started_at),
        tags={**tags, **process_tags()},
        run_name=run_name,
    )
    # The process may have an active experiment of another territory (retrain-all records
    # them one after the other): resuming a run by id needs its own to be the active one.
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run(run_id=run.info.run_id) as active:
        yield str(active.info.run_id)


@contextmanager
def child_run(
    experiment_id: str,
    name: str,
    tags: Mapping[str, str],
    *,
    started_at: datetime | None = None,
    seconds: float | None = None,
) -> Iterator[str]:
    """A run nested in the active one, started at `started_at` and, when `seconds` is given,
    ended that long after it (the model's own fitting time) rather than at logging time."""
    parent = mlflow.active_run()
    if parent is None:
        raise RuntimeError("a child run needs an active parent run")
    client = mlflow.MlflowClient()
    run = client.create_run(
        experiment_id,
        start_time=_millis(started_at),
        tags={**tags, **process_tags(), MLFLOW_PARENT_RUN_ID: parent.info.run_id},
        run_name=name,
    )
    run_id = str(run.info.run_id)
    with mlflow.start_run(run_id=run_id, nested=True):
        yield run_id
    if started_at is not None and seconds is not None:
        end = started_at + timedelta(seconds=max(seconds, 0.0))
        client.set_terminated(run_id, "FINISHED", end_time=_millis(end))


def rename_run(run_id: str, name: str) -> None:
    mlflow.MlflowClient().update_run(run_id, name=name)


def describe_run(run_id: str, text: str) -> None:
    """The run's description in the UI (markdown)."""
    mlflow.MlflowClient().set_tag(run_id, DESCRIPTION_TAG, text)


def log_params(params: Mapping[str, Any]) -> None:
    flat = {k: str(v)[:6000] for k, v in _flatten(params).items()}
    items = list(flat.items())
    for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
        mlflow.log_params(dict(items[i : i + 100]))


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    clean = {_metric_key(k): float(v) for k, v in metrics.items() if not math.isnan(float(v))}
    if clean:
        mlflow.log_metrics(clean, step=step)


METRICS_PER_BATCH = 1000  # MLflow's limit on one log_batch


def log_metric_groups(groups: Sequence[tuple[Mapping[str, float], int | None]]) -> None:
    """Metrics of the active run, each group at its step (None: 0), in order, in as few writes
    as MLflow takes: each write is a sqlite commit (~70 ms on a loaded machine), and a training
    wrote 45 groups one by one."""
    from mlflow.entities import Metric

    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("metrics need an active run")
    now = time.time_ns() // 1_000_000  # milliseconds, as mlflow.log_metrics stamps them
    metrics = [
        Metric(_metric_key(k), float(v), now, step or 0)
        for values, step in groups
        for k, v in values.items()
        if not math.isnan(float(v))
    ]
    client = mlflow.MlflowClient()
    for start in range(0, len(metrics), METRICS_PER_BATCH):
        client.log_batch(run.info.run_id, metrics=metrics[start : start + METRICS_PER_BATCH])


def log_frame(frame: pd.DataFrame, artifact_path: str, file_name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / file_name
        if file_name.endswith(".parquet"):
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        mlflow.log_artifact(str(path), artifact_path=artifact_path)


def log_json(payload: Mapping[str, Any], artifact_file: str) -> None:
    mlflow.log_dict(dict(payload), artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    mlflow.log_figure(figure, artifact_file)


class ForecasterModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc, name-defined]
    """Expected counts from the feature frame; `.forecaster` forecasts every level."""

    def __init__(self) -> None:
        self.forecaster: TrainedForecaster | None = None

    def load_context(self, context: Any) -> None:
        meta = json.loads(Path(context.artifacts["forecaster"]).read_text(encoding="utf-8"))
        catboost = CatBoostCount.load(Path(context.artifacts["catboost"]))
        others = sorted(
            (int(k.removeprefix(MEMBER_ARTIFACT)), Path(v))
            for k, v in context.artifacts.items()
            if k.startswith(MEMBER_ARTIFACT)
        )
        model: Forecaster = catboost
        if others:
            model = Combination([catboost, *(_load_member(path) for _, path in others)])
        self.forecaster = TrainedForecaster.from_metadata(meta, model)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        if self.forecaster is None:
            raise RuntimeError("model context not loaded")
        from previsecours.core.features import cast_features

        features = cast_features(model_input, self.forecaster.spec)
        return pd.DataFrame({"mean": self.forecaster.model.predict(features)})


def log_forecaster(
    forecaster: TrainedForecaster,
    example: pd.DataFrame,
    tags: Mapping[str, str],
    register: bool,
) -> tuple[str, int | None]:
    """Log the pyfunc model in the active run, register it; (model URI, version or None)."""
    model = forecaster.model
    members = model.members if isinstance(model, Combination) else [model]
    if not isinstance(members[0], CatBoostCount):
        raise TypeError("only the CatBoost forecaster (alone or leading a combination) is logged")
    with tempfile.TemporaryDirectory() as tmp:
        cbm = Path(tmp) / CATBOOST_FILE
        members[0].save(cbm)
        artifacts = {"catboost": str(cbm)}
        for k, member in enumerate(members[1:], start=1):
            artifacts[f"{MEMBER_ARTIFACT}{k}"] = str(_save_member(member, Path(tmp) / f"member{k}"))
        meta = Path(tmp) / FORECASTER_FILE
        meta.write_text(json.dumps(forecaster.metadata(), default=str), encoding="utf-8")
        artifacts["forecaster"] = str(meta)
        signature = infer_signature(example, forecaster.model.predict(example))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=ForecasterModel(),
            artifacts=artifacts,
            signature=signature,
            input_example=example,
            pip_requirements=[f"{p}=={package_version(p)}" for p in REQUIREMENTS],
            registered_model_name=model_name(forecaster.territory) if register else None,
            metadata={k: str(v) for k, v in tags.items()},
        )
    version = info.registered_model_version
    if register and version is not None:
        client = mlflow.MlflowClient()
        for key, value in tags.items():
            client.set_model_version_tag(model_name(forecaster.territory), str(version), key, value)
    return str(info.model_uri), None if version is None else int(version)


def _save_member(member: Forecaster, stem: Path) -> Path:
    """A combination member's file: a CatBoost's own format, any other model pickled (our own
    artifact, read back by `_load_member` only — as MLflow's scikit-learn flavour does)."""
    if isinstance(member, CatBoostCount):
        path = stem.with_suffix(".cbm")
        member.save(path)
    else:
        path = stem.with_suffix(".pkl")
        path.write_bytes(pickle.dumps(member))
    return path


def _load_member(path: Path) -> Forecaster:
    if path.suffix == ".cbm":
        return CatBoostCount.load(path)
    member: Forecaster = pickle.loads(path.read_bytes())
    return member


def load_forecaster(uri: str) -> TrainedForecaster:
    """A registered or logged model back as a `TrainedForecaster` (e.g. `models:/NAME/3`)."""
    return unwrap(mlflow.pyfunc.load_model(uri))


def unwrap(model: Any) -> TrainedForecaster:
    """`TrainedForecaster` from itself, a loaded pyfunc model, or anything with `.model`."""
    if isinstance(model, TrainedForecaster):
        return model
    if hasattr(model, "unwrap_python_model"):
        inner = model.unwrap_python_model()
        if isinstance(inner, ForecasterModel) and inner.forecaster is not None:
            return inner.forecaster
    if hasattr(model, "model"):
        return unwrap(model.model)
    raise TypeError(f"cannot forecast with {type(model).__name__}")


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _metric_key(key: str) -> str:
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in key)


def git_commit(root: Path) -> str:
    """The commit of the checkout at `root` (`unknown` outside a git repository)."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"
