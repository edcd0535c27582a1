"""Where things are: the project's own files, and a home's run state.

- `Project`: the directory holding `params.yaml`, `territories/` and `expectations/`. Found once
  by an entry point (`Project.locate`) and passed down explicitly: nothing below asks where it
  runs from.
- `Paths`: where a run keeps its state (`data/`, `mlruns/`, `.prefect/`, `forecasts/`), all
  under one `home`, so a run can be isolated.
Nothing here reads the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "PREVISECOURS_HOME"
ROOT_ENV = "PREVISECOURS_ROOT"
TRACKING_URI_ENV = "PREVISECOURS_TRACKING_URI"  # a team's MLflow server, e.g. http://host:5000


@dataclass(frozen=True)
class Project:
    """The project's files: parameters, territories, Great Expectations suites."""

    root: Path

    @property
    def params_file(self) -> Path:
        return self.root / "params.yaml"

    @property
    def territories(self) -> Path:
        return self.root / "territories"

    @property
    def expectations(self) -> Path:
        return self.root / "expectations"

    def holds_project(self) -> bool:
        return self.params_file.is_file() and self.territories.is_dir()

    @classmethod
    def locate(
        cls, explicit: Path | None = None, environ: Mapping[str, str] | None = None
    ) -> Project:
        """`explicit`, else $PREVISECOURS_ROOT, else the working directory or a parent of it
        holding `params.yaml` and `territories/`, else the checkout this package runs from."""
        env = os.environ if environ is None else environ
        if explicit is None and env.get(ROOT_ENV):
            explicit = Path(env[ROOT_ENV])
        if explicit is not None:
            return cls(explicit.resolve())
        here = Path.cwd().resolve()
        for candidate in (here, *here.parents):
            if cls(candidate).holds_project():
                return cls(candidate)
        return cls(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class Paths:
    """Where a run keeps its state. Everything lives under `home`, so a run can be isolated."""

    home: Path
    # A shared MLflow tracking server (runs, registry and artifacts go there); None: the
    # home's own sqlite registry.
    tracking_server: str | None = None

    @classmethod
    def of_home(
        cls, home: Path | None, default: Path, environ: Mapping[str, str] | None = None
    ) -> Paths:
        """`home`, else $PREVISECOURS_HOME, else `default` (the project's root)."""
        env = os.environ if environ is None else environ
        if home is None:
            home = Path(env[HOME_ENV]) if env.get(HOME_ENV) else default
        return cls(home.resolve(), env.get(TRACKING_URI_ENV) or None)

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
    def quarantine(self) -> Path:
        return self.data / "quarantine"

    @property
    def mlruns(self) -> Path:
        return self.home / "mlruns"

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

    @property
    def metrics(self) -> Path:
        """DVC's metrics files (`dvc metrics show`)."""
        return self.home / "metrics"

    def panel_file(self, territory: str) -> Path:
        """The DVC panel stage's output."""
        return self.data / "panel" / f"{territory}.parquet"

    def backtest_dir(self, territory: str) -> Path:
        """The DVC backtest stage's outputs."""
        return self.data / "backtest" / territory

    def choice_file(self, territory: str) -> Path:
        """The choice memory: the windows the last training's choice read (core/choice.py);
        a persistent output of the backtest stage, read by the next one."""
        return self.data / "choice" / f"{territory}.parquet"
