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
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.models import infer_signature

from previsecours.adapters.registry import model_name
from previsecours.core.models.boosting import CatBoostCount
from previsecours.core.models.bundle import TrainedForecaster
from previsecours.paths import Paths

FORECASTER_FILE = "forecaster.json"
CATBOOST_FILE = "model.cbm"
SPEC_VERSION_KEY = "feature_spec_version"  # read by adapters.registry before loading
REQUIREMENTS = ("catboost", "pandas", "numpy", "scipy", "pyarrow", "scikit-learn", "mlflow")


def use_tracking(paths: Paths, territory: str) -> str:
    """Point MLflow at this home and get-or-create the territory's experiment; its id."""
    paths.mlruns.mkdir(parents=True, exist_ok=True)
    paths.mlflow_artifacts.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(paths.mlflow_tracking_uri)
    mlflow.set_registry_uri(paths.mlflow_tracking_uri)
    name = model_name(territory)
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    if paths.tracking_server:  # the server's shared artifact store (--artifacts-destination)
        return str(mlflow.create_experiment(name))
    return str(
        mlflow.create_experiment(name, artifact_location=str(paths.mlflow_artifacts.resolve()))
    )


@contextmanager
def training_run(experiment_id: str, run_name: str, tags: Mapping[str, str]) -> Iterator[str]:
    """The parent run of one training; yields its id."""
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=dict(tags)) as run:
        yield str(run.info.run_id)


@contextmanager
def child_run(experiment_id: str, name: str, tags: Mapping[str, str]) -> Iterator[str]:
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=name, nested=True, tags=dict(tags)
    ) as run:
        yield str(run.info.run_id)


def log_params(params: Mapping[str, Any]) -> None:
    flat = {k: str(v)[:6000] for k, v in _flatten(params).items()}
    items = list(flat.items())
    for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
        mlflow.log_params(dict(items[i : i + 100]))


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    clean = {_metric_key(k): float(v) for k, v in metrics.items() if not math.isnan(float(v))}
    if clean:
        mlflow.log_metrics(clean, step=step)


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
        model = CatBoostCount.load(Path(context.artifacts["catboost"]))
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
    if not isinstance(forecaster.model, CatBoostCount):
        raise TypeError("only the CatBoost forecaster is registered")
    with tempfile.TemporaryDirectory() as tmp:
        cbm = Path(tmp) / CATBOOST_FILE
        forecaster.model.save(cbm)
        meta = Path(tmp) / FORECASTER_FILE
        meta.write_text(json.dumps(forecaster.metadata(), default=str), encoding="utf-8")
        signature = infer_signature(example, forecaster.model.predict(example))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=ForecasterModel(),
            artifacts={"catboost": str(cbm), "forecaster": str(meta)},
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
