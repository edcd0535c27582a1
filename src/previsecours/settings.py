"""One typed settings object: the working root, the territory and `params.yaml`.

Built explicitly by the CLI and the flows (nothing is read at import time). Each pipeline parses
its own section of `params` into its own typed model, so sections evolve independently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from previsecours.adapters.territory_files import load_territory, resolve_territory_path
from previsecours.core.territory import Territory

HOME_ENV = "PREVISECOURS_HOME"
TRACKING_URI_ENV = "PREVISECOURS_TRACKING_URI"  # a team's MLflow server, e.g. http://host:5000


def repository_root() -> Path:
    """The checkout this package runs from (src/previsecours/ → two levels up)."""
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Paths:
    """Where a run keeps its state. Everything lives under `home`, so a run can be isolated."""

    home: Path
    # A shared MLflow tracking server (runs, registry and artifacts go there); None: the
    # home's own sqlite registry.
    tracking_server: str | None = None

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def curated(self) -> Path:
        """The curated intervention store, tracked by the top-level `data.dvc`."""
        return self.data / "raw"

    @property
    def inbox(self) -> Path:
        return self.data / "inbox"

    @property
    def mlruns(self) -> Path:
        return self.home / "mlruns"

    @property
    def quarantine(self) -> Path:
        return self.data / "quarantine"

    @property
    def mlflow_tracking_uri(self) -> str:
        """Always explicit: MLflow's default (sqlite in the cwd) is a trap."""
        return self.tracking_server or f"sqlite:///{self.mlruns / 'mlflow.db'}"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.mlruns / "artifacts"

    @property
    def prefect_home(self) -> Path:
        return self.home / ".prefect"

    @property
    def forecasts(self) -> Path:
        return self.home / "forecasts"


@dataclass(frozen=True)
class Settings:
    paths: Paths
    territory: Territory
    territory_file: Path
    params: dict[str, Any]

    def section(self, name: str) -> dict[str, Any]:
        """One section of `params.yaml` (empty when absent)."""
        value = self.params.get(name) or {}
        if not isinstance(value, dict):
            raise ValueError(f"params.yaml: section {name!r} must be a mapping")
        return value


def resolve_home(home: Path | None) -> Path:
    """Explicit option, else $PREVISECOURS_HOME, else the repository root."""
    if home is None:
        env = os.environ.get(HOME_ENV)
        home = Path(env) if env else repository_root()
    return home.resolve()


def load_params(home: Path) -> dict[str, Any]:
    """The repository's `params.yaml`, overridden key by key by the home's own, if any."""
    params: dict[str, Any] = {}
    for candidate in dict.fromkeys((repository_root() / "params.yaml", home / "params.yaml")):
        if candidate.is_file():
            loaded = yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{candidate}: params must be a YAML mapping")
            params = _merged(params, loaded)
    return params


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(territory: str, home: Path | None = None) -> Settings:
    root = resolve_home(home)
    territory_file = resolve_territory_path(territory, repository_root() / "territories")
    return Settings(
        paths=Paths(root, os.environ.get(TRACKING_URI_ENV) or None),
        territory=load_territory(territory_file),
        territory_file=territory_file,
        params=load_params(root),
    )
