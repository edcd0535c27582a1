"""dvc.yaml's training stages depend on their territory file and on its declared covariates."""

from __future__ import annotations

import re
from pathlib import Path

import yaml


def test_training_stages_depend_on_the_territory_and_its_covariates(repo_root: Path) -> None:
    from previsecours.adapters.territory_files import load_territory

    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for name in ("panel", "backtest", "train"):
        stage = stages[name]
        match = re.search(r"--territory\s+(\S+)", stage["cmd"])
        assert match, f"stage {name}: no --territory in {stage['cmd']!r}"
        yaml_file = repo_root / "territories" / f"{match[1]}.yaml"
        deps = {str(d) for d in stage["deps"]}
        assert str(yaml_file.relative_to(repo_root)) in deps, f"stage {name}"
        for covariate in load_territory(yaml_file).covariates:
            rel = Path(covariate.file).resolve().relative_to(repo_root.resolve())
            assert str(rel) in deps, f"stage {name}: covariate {covariate.name} ({rel}) not a dep"
