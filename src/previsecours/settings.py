"""One typed settings object: the project, a home's paths, the territory and the parameters.

Built once by an entry point (CLI, flow, demo) and passed down; nothing is read at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from previsecours.adapters.territory_files import load_territory, resolve_territory_path
from previsecours.config import Params, load_params
from previsecours.core.territory import Territory
from previsecours.paths import Paths, Project


@dataclass(frozen=True)
class Settings:
    project: Project
    paths: Paths
    territory: Territory
    territory_file: Path
    params: Params


def load_project_params(project: Project, home: Path) -> Params:
    """The project's `params.yaml`, overridden key by key by the home's own, if any."""
    return load_params(project.params_file, home / "params.yaml")


def load_settings(
    territory: str | None = None, home: Path | None = None, project: Project | None = None
) -> Settings:
    """`territory`: a name under the project's territories/ or a YAML path; None: the default
    territory of params.yaml. `home`: None → $PREVISECOURS_HOME, else the project's root."""
    project = project or Project.locate()
    paths = Paths.of_home(home, project.root)
    params = load_project_params(project, paths.home)
    territory_file = resolve_territory_path(
        territory or params.default_territory, project.territories
    )
    return Settings(
        project=project,
        paths=paths,
        territory=load_territory(territory_file),
        territory_file=territory_file,
        params=params,
    )
