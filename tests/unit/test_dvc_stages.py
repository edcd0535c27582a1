"""dvc.yaml's training stages: one per territory of params.yaml, each depending on its
territory file, its tables and its declared covariates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

STAGES = ("panel", "backtest", "train")


def _expanded(stage: dict[str, Any], item: str) -> dict[str, Any]:
    """A `foreach` stage's body for one item (what DVC would build)."""
    text = yaml.safe_dump(stage["do"]).replace("${item}", item)
    body: dict[str, Any] = yaml.safe_load(text)
    return body


def test_stages_run_for_every_territory_of_params(repo_root: Path) -> None:
    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for name in STAGES:
        assert stages[name]["foreach"] == "${territories}", name
        assert "--territory ${item}" in stages[name]["do"]["cmd"], name


def test_training_stages_depend_on_the_territory_and_its_covariates(repo_root: Path) -> None:
    from previsecours.adapters.territory_files import load_territory
    from previsecours.config import load_params

    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for territory in load_params(repo_root / "params.yaml").territories:
        yaml_file = repo_root / "territories" / f"{territory}.yaml"
        for name in STAGES:
            deps = [repo_root / str(d) for d in _expanded(stages[name], territory)["deps"]]
            assert yaml_file in deps, f"stage {name}@{territory}"
            for covariate in load_territory(yaml_file).covariates:
                path = Path(covariate.file).resolve()
                assert any(path.is_relative_to(d.resolve()) for d in deps), (
                    f"stage {name}@{territory}: covariate {covariate.name} ({path}) not a dep"
                )
