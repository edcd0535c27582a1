"""The choice memory: each training chooses on its own windows and those earlier ones scored."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from previsecours.config import TrainParams
from previsecours.core.backtest import Window
from previsecours.core.choice import choose, models_fingerprint, window_scores, with_memory

FOUR, THREE = "catboost:all_four", "catboost:all_three"
WEEK = pd.Timedelta(days=7)


def scores(first: str, four: list[float], three: list[float], key: str = "f") -> pd.DataFrame:
    """Weekly windows from `first` (their last period 6 days after the origin)."""
    origins = [pd.Timestamp(first, tz="UTC") + WEEK * k for k in range(len(four))]
    rows = [
        (key, o, o + pd.Timedelta(days=6), model, value)
        for model, values in ((FOUR, four), (THREE, three))
        for o, value in zip(origins, values, strict=True)
    ]
    return pd.DataFrame(rows, columns=["fingerprint", "origin", "last", "model", "rmsse"])


def test_a_window_score_is_the_mean_rmsse_over_levels_and_grains_of_each_candidate() -> None:
    rows = [
        ("0", "station", "hour", FOUR, 0.6),
        ("0", "departement", "day", FOUR, 0.4),
        ("0", "station", "hour", THREE, 0.7),
        ("0", "departement", "day", THREE, 0.5),
        ("1", "station", "hour", FOUR, 0.9),
        ("1", "departement", "day", FOUR, 0.7),
        ("1", "station", "hour", THREE, 0.6),
        ("1", "departement", "day", THREE, 0.6),
        ("all", "station", "hour", FOUR, 0.1),  # pooled over windows: not a window's score
        ("0", "station", "hour", "seasonal_naive", 0.1),  # not a candidate
    ]
    metrics = pd.DataFrame(
        [(m, w, lv, g, "ALL", "rmsse", v) for w, lv, g, m, v in rows],
        columns=["model", "window", "level", "grain", "kind", "metric", "value"],
    )
    starts = pd.date_range("2025-01-06", periods=14, freq="D", tz="Europe/Paris")
    windows = (Window(0, 0, 7), Window(1, 7, 14))
    table = window_scores(metrics, windows, starts, fingerprint="abc")
    got = table.set_index(["origin", "model"])["rmsse"]
    first, second = starts[0].tz_convert("UTC"), starts[7].tz_convert("UTC")
    assert got[(first, FOUR)] == pytest.approx(0.5)
    assert got[(second, THREE)] == pytest.approx(0.6)
    assert set(table["model"]) == {FOUR, THREE}
    assert set(table["last"]) == {starts[6].tz_convert("UTC"), starts[13].tz_convert("UTC")}
    assert set(table["fingerprint"]) == {"abc"}
    assert choose(table, (FOUR, THREE)) == THREE  # 0.6 against 0.7 on average


def test_the_choice_reads_the_windows_earlier_trainings_scored() -> None:
    # This training's 4 windows favour all_three by a little; the 8 remembered before them
    # favour all_four clearly: over the 12, all_four.
    own = scores("2025-03-03", [0.72, 0.70, 0.71, 0.70], [0.70, 0.69, 0.70, 0.69])
    memory = scores("2025-01-06", [0.60] * 8, [0.70] * 8)
    assert choose(own, (FOUR, THREE)) == THREE
    merged = with_memory(own, memory, keep=52)
    assert merged["origin"].nunique() == 12
    assert choose(merged, (FOUR, THREE)) == FOUR
    # Capped at `keep` windows: this training's 4, then the latest remembered.
    capped = with_memory(own, memory, keep=6)
    assert sorted(capped["origin"].unique())[:2] == sorted(memory["origin"].unique())[-2:]
    assert capped["origin"].nunique() == 6
    assert with_memory(own, memory, keep=0).equals(with_memory(own, None, keep=52))


def test_remembered_scores_of_other_models_or_later_windows_are_not_read() -> None:
    own = scores("2025-03-03", [0.72] * 4, [0.70] * 4)
    other_models = scores("2025-01-06", [0.10] * 8, [0.90] * 8, key="g")
    assert with_memory(own, other_models, keep=52)["origin"].nunique() == 4
    later = scores("2025-04-07", [0.10] * 8, [0.90] * 8)  # a training on newer data before
    assert with_memory(own, later, keep=52)["origin"].nunique() == 4
    # A window both scored: this training's score, on the data it has.
    again = scores("2025-03-03", [0.10] * 4, [0.90] * 4)
    merged = with_memory(own, again, keep=52)
    assert len(merged) == len(own) and choose(merged, (FOUR, THREE)) == THREE


def test_a_name_without_scores_on_a_window_is_compared_on_the_common_windows() -> None:
    own = scores("2025-03-03", [0.72] * 4, [0.70] * 4)
    memory = scores("2025-01-06", [0.10] * 8, [0.90] * 8)
    memory = memory[memory["model"] == FOUR]  # all_three was not offered then
    assert choose(with_memory(own, memory, keep=52), (FOUR, THREE)) == THREE


def test_the_fingerprint_changes_with_the_models_not_with_the_windows() -> None:
    params = TrainParams(catboost={"iterations": 50})
    spec = {"frequency": "hour", "horizon": 168}
    key = models_fingerprint(params, "essonne", spec)
    same = replace(params, n_windows=8, choose_from=("all_four",), choice_windows=10)
    assert models_fingerprint(same, "essonne", spec) == key
    assert models_fingerprint(replace(params, catboost={"iterations": 60}), "essonne", spec) != key
    assert models_fingerprint(params, "berlin", spec) != key
    assert models_fingerprint(params, "essonne", {**spec, "horizon": 24}) != key


def test_the_memory_file_round_trips_and_an_unknown_layout_is_no_memory(tmp_path: Path) -> None:
    from previsecours.adapters.training_files import read_choice_memory
    from previsecours.paths import Paths

    paths = Paths(tmp_path)
    assert read_choice_memory(paths, "essonne").empty  # no training yet
    memory = scores("2025-01-06", [0.6] * 3, [0.7] * 3)
    paths.choice_file("essonne").parent.mkdir(parents=True)
    memory.to_parquet(paths.choice_file("essonne"), index=False)
    pd.testing.assert_frame_equal(read_choice_memory(paths, "essonne"), memory)
    memory.drop(columns="fingerprint").to_parquet(paths.choice_file("essonne"), index=False)
    assert read_choice_memory(paths, "essonne").empty
