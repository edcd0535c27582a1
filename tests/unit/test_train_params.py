"""params.yaml `train:` is read strictly: a typo stops the run with the key or value named."""

from __future__ import annotations

import pytest
import yaml

from previsecours.pipelines.train import train_params
from previsecours.settings import repository_root


def test_the_repository_params_parse() -> None:
    section = yaml.safe_load((repository_root() / "params.yaml").read_text(encoding="utf-8"))
    params = train_params(section["train"])
    assert params.allocation in ("bottom_up", "top_down")


def test_an_unknown_allocation_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"allocation is 'top-down'.*'bottom_up', 'top_down'"):
        train_params({"allocation": "top-down"})


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown keys.*allocaton"):
        train_params({"allocaton": "top_down"})
