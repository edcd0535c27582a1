"""params.yaml is read once and strictly: every section typed, a typo stops the run with the
section, the key and what was expected named."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from previsecours.config import (
    DEFAULT_SHIFTS,
    Params,
    PromotionPolicy,
    StaffingPolicy,
    TrainParams,
    load_params,
)
from previsecours.errors import ConfigError, InputError


def test_the_repository_params_parse_into_every_section(repo_root: Path) -> None:
    params = load_params(repo_root / "params.yaml")
    assert params.default_territory == "essonne"
    assert params.train.allocation in ("bottom_up", "top_down")
    assert params.train.model_params["catboost"]["loss_function"] == "Poisson"
    assert params.promote.coverage_levels
    assert params.monitor.thresholds.coverage80_band == (0.60, 0.97)
    assert [s.name for s in params.staffing.shifts] == [s.name for s in DEFAULT_SHIFTS]


def test_an_unknown_allocation_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"train\.allocation: .*'bottom_up' or 'top_down'"):
        Params.parse({"train": {"allocation": "top-down"}})


@pytest.mark.parametrize("section", ["train", "ingest", "promote", "forecast", "monitor"])
def test_an_unknown_key_is_refused_in_every_section(section: str) -> None:
    with pytest.raises(ConfigError, match=rf"params.yaml {section}\.allocaton: Unexpected"):
        Params.parse({section: {"allocaton": "top_down"}})


def test_an_unknown_section_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"unknown section\(s\) \['trian'\]"):
        Params.parse({"trian": {}})


def test_a_config_error_is_a_user_error() -> None:
    assert issubclass(ConfigError, InputError) and ConfigError.exit_code == 2


def test_sections_are_frozen_and_replace_validates_again() -> None:
    params = TrainParams()
    with pytest.raises(AttributeError):
        params.n_windows = 3  # type: ignore[misc]
    assert replace(params, n_windows=3).n_windows == 3
    with pytest.raises(ValueError, match="allocation"):
        replace(params, allocation="sideways")  # type: ignore[arg-type]


def test_promotion_keeps_defaults_and_reads_overrides() -> None:
    policy = Params.parse(
        {"promote": {"primary_level": "departement×day", "coverage_band": [0.6, 0.9]}}
    ).promote
    assert policy.primary_level == "departement×day"
    assert policy.coverage_band == (0.6, 0.9)
    assert policy.primary_metric == PromotionPolicy().primary_metric


def test_staffing_shifts_as_written_in_params() -> None:
    policy = Params.parse(
        {
            "staffing": {
                "tolerance_hours_per_year": 10,
                "categories": ["SUAP"],
                "shifts": [
                    {"name": "jour", "start": 8, "end": 20},
                    {"name": "nuit", "start": 20, "end": 8},
                ],
            }
        }
    ).staffing
    assert policy.exceedance_target == pytest.approx(10 / 8766)
    assert policy.categories == ("SUAP",)
    assert [(s.name, s.start_hour, s.end_hour) for s in policy.shifts] == [
        ("jour", 8, 20),
        ("nuit", 20, 8),
    ]
    assert StaffingPolicy().shifts == DEFAULT_SHIFTS


def test_monitor_thresholds_sit_flat_beside_the_other_keys() -> None:
    monitor = Params.parse({"monitor": {"recent_days": 14, "coverage80_band": [0, 1]}}).monitor
    assert monitor.recent_days == 14
    assert monitor.thresholds.coverage80_band == (0.0, 1.0)
    assert monitor.thresholds.max_psi == 0.20


def test_a_home_overrides_the_project_key_by_key(tmp_path: Path, repo_root: Path) -> None:
    home = tmp_path / "params.yaml"
    home.write_text(yaml.safe_dump({"train": {"n_windows": 2}}), encoding="utf-8")
    params = load_params(repo_root / "params.yaml", home)
    assert params.train.n_windows == 2
    assert params.train.model_params["catboost"]["depth"] == 6  # kept from the project


def test_a_broken_yaml_file_is_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "params.yaml"
    broken.write_text("train: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(broken)


def test_rolling_windows_default_by_frequency_and_an_explicit_count_wins() -> None:
    from previsecours.config import TrainParams

    default = TrainParams()
    # A weekly model's window is one value per series: a quarter of them, not 4.
    assert [default.windows_for(f) for f in ("hour", "day", "week")] == [4, 4, 13]
    assert replace(default, n_windows=6).windows_for("week") == 6


def test_catboost_settings_of_the_modelled_frequency_lie_under_the_common_ones() -> None:
    train = Params.parse(
        {
            "train": {
                "catboost": {"depth": 6},
                "catboost_by_frequency": {"week": {"iterations": 300, "depth": 4}},
                "candidates": {"fast": {"iterations": 50}},
            }
        }
    ).train
    assert train.for_frequency("hour") is train
    weekly = train.for_frequency("week")
    assert weekly.catboost == {"iterations": 300, "depth": 6}  # `catboost:` sets every frequency
    assert weekly.for_frequency("week") == weekly  # applied twice: the same
    assert weekly.catboost_params("fast")["iterations"] == 50  # a candidate's own still wins
    with pytest.raises(ConfigError, match="catboost_by_frequency"):
        Params.parse({"train": {"catboost_by_frequency": {"month": {"iterations": 300}}}})


def test_the_project_fits_more_trees_on_daily_and_weekly_sums(repo_root: Path) -> None:
    train = load_params(repo_root / "params.yaml").train
    trees = {
        f: train.for_frequency(f).catboost_params()["iterations"] for f in ("hour", "day", "week")
    }
    assert trees == {"hour": 150, "day": 300, "week": 300}


def test_a_home_setting_the_trees_sets_them_for_every_frequency(
    tmp_path: Path, repo_root: Path
) -> None:
    home = tmp_path / "params.yaml"
    home.write_text(yaml.safe_dump({"train": {"catboost": {"iterations": 500}}}), "utf-8")
    train = load_params(repo_root / "params.yaml", home).train
    assert {train.for_frequency(f).catboost_params()["iterations"] for f in ("hour", "week")} == {
        500
    }
