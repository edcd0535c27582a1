"""The MLflow model registry of a territory: versions, the `champion` alias, decisions, rollback.

One registered model per territory, `previsecours-<territory>`. Aliases:
- `champion`: the version the forecast flow serves;
- `previous-champion`: the one it replaced, so `rollback` can restore it.
Each promotion records on the new champion which version it replaced (tag
`previous_champion_version`), so successive rollbacks walk back the chain.

Every decision is written as tags on the version it concerns (`decision`, `decision_reason`,
`decision_reference`, `decision_at`, `metrics_summary`), rejected challengers included.

`load_champion` checks, before loading anything, that the champion's feature spec version is one
this code builds (tag `feature_spec_version` on the version or its run): a model that needs
features the code no longer provides is a clear error, not a wrong forecast.

A home can be moved or renamed: MLflow stores artifact locations absolute in its database (it
resolves a relative one against the working directory, so a relative root is not an option), so
the first time a home's registry or tracking is opened (`client`, `use_registry`,
`tracking.use_tracking`) every location still under an older `<home>/mlruns/artifacts` is
rewritten under the current one (`rebase_home`).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from previsecours.errors import StepError
from previsecours.paths import Paths

if TYPE_CHECKING:
    import pandas as pd

MODEL_PREFIX = "previsecours-"
CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous-champion"
SPEC_VERSION_KEY = "feature_spec_version"
PREVIOUS_KEY = "previous_champion_version"
TAG_LIMIT = 5000  # MLflow's limit on a tag value

Flavor = Literal["pyfunc", "catboost"]


class RegistryError(StepError, RuntimeError):
    """The registry cannot give what was asked, with what to do about it."""


class NoChampionError(RegistryError):
    pass


class IncompatibleModelError(RegistryError):
    pass


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: int
    run_id: str | None
    source: str
    tags: Mapping[str, str]
    aliases: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def label(self) -> str:
        return f"version {self.version}"


@dataclass(frozen=True)
class ServedModel:
    """A loaded champion with the version it came from and what travels with it."""

    version: VersionInfo
    model: Any
    run_params: Mapping[str, str]
    run_tags: Mapping[str, str]


@dataclass(frozen=True)
class RollbackResult:
    demoted: int
    restored: int
    previous_champion: int | None


def model_name(territory: str) -> str:
    return f"{MODEL_PREFIX}{territory}"


def client(paths: Paths) -> Any:
    """An MLflow client on the home's registry (explicit URIs: the default is a trap)."""
    from mlflow import MlflowClient

    uri = paths.mlflow_tracking_uri
    paths.mlruns.mkdir(parents=True, exist_ok=True)
    rebase_home(paths)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def use_registry(paths: Paths) -> None:
    """Point MLflow's module-level functions (`load_model`, `log_model`) at the home's registry."""
    import mlflow

    paths.mlruns.mkdir(parents=True, exist_ok=True)
    rebase_home(paths)
    quiet_downloads()
    mlflow.set_tracking_uri(paths.mlflow_tracking_uri)
    mlflow.set_registry_uri(paths.mlflow_tracking_uri)


def quiet_downloads() -> None:
    """No MLflow progress bars: loading a version or a run's backtest file downloads files, and
    the bars on stderr sat among the commands' own lines (a user's environment may turn them
    back on: `MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=true`)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


# Where MLflow's sqlite schema keeps artifact locations (absolute paths or file: URIs).
LOCATION_COLUMNS: Final = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)
ARTIFACTS_TAIL: Final = "/mlruns/artifacts"
_rebased: set[tuple[str, str]] = set()  # (database, artifacts root) already checked here


def rebase_home(paths: Paths) -> int:
    """Rewrite artifact locations left under another home's `mlruns/artifacts` (the home was
    moved, renamed or copied) to this home's; the number of values rewritten.

    Only the home's own sqlite store (not a tracking server); checked once per process and
    home. An experiment of this project always keeps its artifacts in its home's
    `mlruns/artifacts`, so a root ending so that is not the current one is an old location of
    this home. Values under it (plain paths and `file://` URIs) keep their part below the root.
    """
    database = paths.mlruns / "mlflow.db"
    if paths.tracking_server or not database.is_file():
        return 0
    current = paths.mlflow_artifacts.resolve().as_posix()
    key = (str(database.resolve()), current)
    if key in _rebased:
        return 0
    changed = 0
    with closing(sqlite3.connect(database, timeout=30)) as db, db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "experiments" not in tables:
            return 0  # MLflow has not created its schema yet
        roots = {
            root
            for (location,) in db.execute("SELECT artifact_location FROM experiments")
            if (root := _path_of(str(location or ""))).endswith(ARTIFACTS_TAIL) and root != current
        }
        for old in sorted(roots, key=len, reverse=True):
            for table, column in LOCATION_COLUMNS:
                if table not in tables or column not in _columns(db, table):
                    continue
                for prefix in ("", "file://"):
                    changed += _replace_prefix(db, table, column, prefix + old, prefix + current)
    _rebased.add(key)
    return changed


def _path_of(location: str) -> str:
    return location.removeprefix("file://") if location.startswith("file:///") else location


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in db.execute(f"PRAGMA table_info({table})")}


def _replace_prefix(db: sqlite3.Connection, table: str, column: str, old: str, new: str) -> int:
    """`old` → `new` at the start of `column` where it is the whole value or a parent dir."""
    cursor = db.execute(
        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
        f"WHERE {column} = ? OR substr({column}, 1, ?) = ?",
        (new, len(old) + 1, old, len(old) + 1, old + "/"),
    )
    return int(cursor.rowcount)


def _info(mv: Any) -> VersionInfo:
    return VersionInfo(
        name=mv.name,
        version=int(mv.version),
        run_id=mv.run_id,
        source=mv.source,
        tags=dict(mv.tags or {}),
        aliases=tuple(mv.aliases or ()),
    )


def _registered(c: Any, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        c.get_registered_model(name)
    except MlflowException:
        return False
    return True


def list_versions(paths: Paths, territory: str) -> list[VersionInfo]:
    """All versions of the territory's model, oldest first (empty if none registered)."""
    c = client(paths)
    name = model_name(territory)
    if not _registered(c, name):
        return []
    found = c.search_model_versions(f"name = '{name}'")
    # search results may omit aliases: read each version back for them.
    return sorted(
        (_info(c.get_model_version(name, mv.version)) for mv in found), key=lambda v: v.version
    )


def newest_version(paths: Paths, territory: str) -> VersionInfo | None:
    versions = list_versions(paths, territory)
    return versions[-1] if versions else None


def get_version(paths: Paths, territory: str, version: int) -> VersionInfo:
    return _info(client(paths).get_model_version(model_name(territory), str(version)))


def alias_version(paths: Paths, territory: str, alias: str) -> VersionInfo | None:
    """The version an alias points to, or None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    c = client(paths)
    name = model_name(territory)
    if not _registered(c, name):
        return None
    try:
        return _info(c.get_model_version_by_alias(name, alias))
    except MlflowException:
        return None


def champion(paths: Paths, territory: str) -> VersionInfo | None:
    return alias_version(paths, territory, CHAMPION)


def record_decision(
    paths: Paths, territory: str, version: int, tags: Mapping[str, str], now: datetime
) -> None:
    """Write a decision's tags on a version, stamped `decision_at`."""
    tag_version(
        paths, territory, version, {**tags, "decision_at": now.isoformat(timespec="seconds")}
    )


def tag_version(paths: Paths, territory: str, version: int, tags: Mapping[str, str]) -> None:
    """Set tags on a version (values cut at MLflow's tag limit)."""
    c = client(paths)
    name = model_name(territory)
    for key, value in tags.items():
        c.set_model_version_tag(name, str(version), key, str(value)[:TAG_LIMIT])


def set_champion(paths: Paths, territory: str, version: int) -> int | None:
    """Make `version` the champion; the replaced one becomes `previous-champion`.

    Returns the replaced version (None for a first champion or a re-promotion of the same).
    """
    c = client(paths)
    name = model_name(territory)
    current = champion(paths, territory)
    replaced = current.version if current and current.version != version else None
    if replaced is not None:
        c.set_registered_model_alias(name, PREVIOUS_CHAMPION, str(replaced))
        c.set_model_version_tag(name, str(version), PREVIOUS_KEY, str(replaced))
    c.set_registered_model_alias(name, CHAMPION, str(version))
    return replaced


def rollback(paths: Paths, territory: str, now: datetime) -> RollbackResult:
    """Move `champion` back to `previous-champion`, and tag both versions with what happened."""
    c = client(paths)
    name = model_name(territory)
    current = champion(paths, territory)
    previous = alias_version(paths, territory, PREVIOUS_CHAMPION)
    if current is None:
        raise NoChampionError(f"{name} has no champion: nothing to roll back")
    if previous is None:
        raise RegistryError(
            f"{name} has no {PREVIOUS_CHAMPION}: version {current.version} is the only champion "
            "it ever had, nothing to roll back to"
        )
    c.set_registered_model_alias(name, CHAMPION, str(previous.version))
    before = previous.tags.get(PREVIOUS_KEY)
    if before and int(before) != previous.version and _exists(c, name, before):
        c.set_registered_model_alias(name, PREVIOUS_CHAMPION, before)
        next_previous: int | None = int(before)
    else:
        c.delete_registered_model_alias(name, PREVIOUS_CHAMPION)
        next_previous = None
    record_decision(
        paths,
        territory,
        current.version,
        {"decision": "rolled-back", "decision_reason": f"rolled back to {previous.label}"},
        now,
    )
    record_decision(
        paths,
        territory,
        previous.version,
        {"decision": "restored", "decision_reason": f"restored by rollback from {current.label}"},
        now,
    )
    return RollbackResult(current.version, previous.version, next_previous)


def _exists(c: Any, name: str, version: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        c.get_model_version(name, version)
    except MlflowException:
        return False
    return True


def run_details(paths: Paths, run_id: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Params and tags of the run that logged a version (empty when unknown)."""
    if not run_id:
        return {}, {}
    run = client(paths).get_run(run_id)
    return dict(run.data.params), dict(run.data.tags)


BACKTEST_PREDICTIONS = "backtest/predictions.parquet"  # logged by pipelines.training_run
BACKTEST_COLUMNS: Final = ("window", "area_code", "category", "period_start", "mean")


def backtest_forecasts(paths: Paths, version: VersionInfo) -> pd.DataFrame | None:
    """The registered model's own out-of-sample backtest forecasts, from the run that logged
    the version: its `catboost` rows (the chosen candidate's, renamed so by the training),
    `BACKTEST_COLUMNS`; None when the run logged none (a version registered outside a training).
    """
    import pandas as pd

    if not version.run_id:
        return None
    c = client(paths)
    folder = BACKTEST_PREDICTIONS.rpartition("/")[0]
    if not any(a.path == BACKTEST_PREDICTIONS for a in c.list_artifacts(version.run_id, folder)):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        local = c.download_artifacts(version.run_id, BACKTEST_PREDICTIONS, tmp)
        frame = pd.read_parquet(
            local, columns=["model", *BACKTEST_COLUMNS], filters=[("model", "==", "catboost")]
        )
    return frame.drop(columns="model").reset_index(drop=True)


def spec_version(
    version: VersionInfo, run_params: Mapping[str, str], run_tags: Mapping[str, str]
) -> int | None:
    """The feature spec version a model needs: version tag, else run tag, else run param."""
    for source in (version.tags, run_tags, run_params):
        value = source.get(SPEC_VERSION_KEY)
        if value is not None:
            return int(float(value))
    return None


def check_compatible(
    version: VersionInfo,
    run_params: Mapping[str, str],
    run_tags: Mapping[str, str],
    supported: Collection[int],
) -> None:
    needed = spec_version(version, run_params, run_tags)
    if needed is None:
        raise IncompatibleModelError(
            f"{version.name} {version.label} does not say which feature spec it needs "
            f"(no {SPEC_VERSION_KEY!r} tag): retrain it with this code"
        )
    if needed not in supported:
        raise IncompatibleModelError(
            f"{version.name} {version.label} needs feature spec version {needed}, but this code "
            f"builds version(s) {sorted(supported)}: retrain it (`previsecours train`) or roll "
            "back to a compatible champion"
        )


def load_version(
    paths: Paths,
    version: VersionInfo,
    supported_spec_versions: Collection[int],
    flavor: Flavor = "pyfunc",
) -> ServedModel:
    """Load a registered version after checking its feature spec version."""
    params, tags = run_details(paths, version.run_id)
    check_compatible(version, params, tags, supported_spec_versions)
    use_registry(paths)  # `models:/` URIs resolve against the global registry URI
    return ServedModel(version, _load_once(paths, version, flavor), params, tags)


# Models loaded in this process: a registered version's files never change, so the weekly
# retrain's forecast serves the model its promotion just loaded (~1.5 s a load) instead of
# loading it again. The run id is in the key: a home wiped and retrained reuses version numbers.
_loaded: OrderedDict[tuple[str, str, int, str, str], Any] = OrderedDict()
LOADED_KEPT: Final = 2  # a promotion's challenger and champion


def _load_once(paths: Paths, version: VersionInfo, flavor: Flavor) -> Any:
    key = (paths.mlflow_tracking_uri, version.name, version.version, version.run_id or "", flavor)
    if key not in _loaded:
        _loaded[key] = _loader(flavor)(version.uri)
        while len(_loaded) > LOADED_KEPT:
            _loaded.popitem(last=False)
    _loaded.move_to_end(key)
    return _loaded[key]


def load_champion(
    paths: Paths,
    territory: str,
    supported_spec_versions: Collection[int],
    flavor: Flavor = "pyfunc",
) -> ServedModel:
    """`models:/previsecours-<territory>@champion`, checked, loaded — or a clear error."""
    current = champion(paths, territory)
    if current is None:
        versions = list_versions(paths, territory)
        hint = (
            f"{len(versions)} version(s) registered, none promoted: run `previsecours promote "
            f"--territory {territory}`"
            if versions
            else f"no model registered: run `previsecours train --territory {territory}` first"
        )
        raise NoChampionError(f"{model_name(territory)} has no champion ({hint})")
    return load_version(paths, current, supported_spec_versions, flavor)


def _loader(flavor: Flavor) -> Callable[[str], Any]:
    if flavor == "catboost":
        import mlflow.catboost

        return mlflow.catboost.load_model  # type: ignore[no-any-return]
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model  # type: ignore[no-any-return]
