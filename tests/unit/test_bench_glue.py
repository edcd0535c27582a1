"""The benchmark's glue between the main and the peer environments (bench/benchlib/common.py,
bench/benchlib/accuracy.py, bench/peers/run_peers.py's data handling): same series, same periods,
same order, whatever the library in between. `benchlib` is importable here through pytest's
`pythonpath` (pyproject.toml)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from benchlib import accuracy, common, criteria

BENCH = Path(__file__).resolve().parents[2] / "bench"
Glue = tuple[ModuleType, ModuleType, ModuleType]  # common, accuracy, run_peers


@pytest.fixture(scope="module")
def glue() -> Glue:
    spec = importlib.util.spec_from_file_location("run_peers", BENCH / "peers" / "run_peers.py")
    assert spec and spec.loader
    run_peers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_peers)
    return common, accuracy, run_peers


def hourly_panel() -> tuple[pd.DataFrame, pd.DatetimeIndex, np.ndarray]:
    # Across the spring DST change: 23 local hours on 2025-03-30.
    starts = pd.date_range("2025-03-29", periods=72, freq="h", tz="UTC").tz_convert("Europe/Paris")
    series = pd.DataFrame({"area_code": ["A", "B"], "category": ["ALL", "ALL"]})
    counts = np.vstack([np.arange(72.0), 100 + np.arange(72.0)])
    return series, starts, counts


def test_inputs_round_trip_to_the_backtest_layout(glue: Glue, tmp_path: Path) -> None:
    common, accuracy, _ = glue
    series, starts, counts = hourly_panel()
    task = common.PeerTask(tmp_path, "hour", (24,), 24, 0, ((48, 72),), ("x",))
    common.write_inputs(task, series, starts, counts)
    history = pd.read_parquet(tmp_path / "history.parquet")
    assert len(history) == 144
    assert (
        history["ds"].diff().dropna().isin([pd.Timedelta(hours=1), -pd.Timedelta(hours=71)]).all()
    )
    b = history[history["unique_id"] == "B|ALL"]
    assert b["y"].tolist() == counts[1].tolist()
    assert b["hour"].tolist() == list(starts.hour)  # local calendar, DST included

    # A peer's forecasts (in its own order) come back keyed like the backtest's rows.
    fake = pd.DataFrame(
        {
            "model": "peer",
            "window": 0,
            "unique_id": np.repeat(["B|ALL", "A|ALL"], 24),
            "t": np.tile(np.arange(48, 72), 2),
            "mean": np.concatenate([counts[1, 48:], counts[0, 48:]]) + 0.5,
        }
    )
    fake.to_parquet(tmp_path / "predictions.parquet")
    peers = common.peer_predictions(task, starts)
    core = pd.DataFrame(
        {
            "model": "catboost",
            "window": 0,
            "area_code": np.repeat(["A", "B"], 24),
            "category": "ALL",
            "period_start": np.tile(starts[48:], 2),
            "actual": counts[:, 48:].reshape(-1),
            "mean": 0.0,
        }
    )
    aligned = accuracy.align(core, peers)
    np.testing.assert_array_equal(aligned["mean"], aligned["actual"] + 0.5)
    assert aligned["area_code"].tolist() == core["area_code"].tolist()
    with pytest.raises(ValueError, match="missing"):
        accuracy.align(core, peers.iloc[1:])


def test_peers_fill_unknown_periods_and_map_steps_back(glue: Glue) -> None:
    _, _, run_peers = glue
    history = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], 10),
            "t": np.tile(np.arange(10), 2),
            "y": np.tile([1.0, 2, 3, 4, 5, 6, np.nan, 8, 9, 10], 2),
        }
    )
    train = run_peers.training_rows(history, origin=8, train_periods=0)
    assert train["t"].tolist() == list(range(8)) * 2
    assert train["y"].tolist() == [1.0, 2, 3, 4, 5, 6, 7, 8] * 2  # period 6 unknown: filled
    assert train["step"].tolist() == list(range(8)) * 2
    future = run_peers.future_rows(history, train, 8, 10)
    assert future["step"].tolist() == [8, 9, 8, 9]
    forecasts = pd.DataFrame({"unique_id": ["a", "a", "b", "b"], "ds": [8, 9, 8, 9]})
    assert run_peers.period_of_step(forecasts, 8).tolist() == [8, 9, 8, 9]


def test_verdict_says_where_we_are_not_first(glue: Glue) -> None:
    _, accuracy, _ = glue
    table = pd.DataFrame(
        {"rank": [1, 2, 3], "rmsse": [0.90, 0.905, 1.0]},
        index=pd.Index(["peer: a", "Prévisecours (CatBoost)", "project alt.: b"], name="model"),
    )
    assert "WITHIN 1 % of the best peer" in accuracy.verdict(table, "x")
    table.loc["Prévisecours (CatBoost)", "rmsse"] = 0.95
    assert "NOT first: 5.6 % behind peer: a" in accuracy.verdict(table, "x")
    table.loc["Prévisecours (CatBoost)", "rmsse"] = 0.85
    assert "FIRST among peers" in accuracy.verdict(table, "x")
    table.loc["project alt.: b", "rmsse"] = 0.80
    assert "own b does better (0.800)" in accuracy.verdict(table, "x")


def test_issue_criteria_pool_windows_and_name_the_best_baseline() -> None:
    rows = []
    for window, (ours, glm, bias, cover) in enumerate(
        [(0.70, 0.72, 1.0, 0.80), (0.76, 0.72, 4.0, 0.84)]
    ):
        for level, grain in (("station", "hour"), ("departement", "day")):
            rows += [
                ("catboost", window, level, grain, "rmsse", ours),
                ("poisson_glm", window, level, grain, "rmsse", glm),
                ("seasonal_naive", window, level, grain, "rmsse", 0.9),
                ("catboost:other", window, level, grain, "rmsse", 0.5),  # a candidate, no baseline
            ]
        rows += [
            ("catboost", window, "departement", "day", "bias_pct", bias),
            ("catboost", window, "station", "day", "coverage_80", cover),
            ("catboost", window, "departement", "day", "coverage_80", cover + 0.1),
            ("catboost", window, "station", "hour", "rmsse", 99.0),  # another kind: ignored
        ]
    metrics = pd.DataFrame(rows, columns=["model", "window", "level", "grain", "metric", "value"])
    metrics["kind"] = np.where(metrics["value"] == 99.0, "category", "ALL")

    table = criteria.criteria(metrics)

    rmsse = table.loc["RMSSE station × hour below every baseline's"]
    assert (rmsse["catboost"], rmsse["bound"], rmsse["met"]) == (
        "0.7300",
        "0.7200 (poisson_glm)",
        "**no**",
    )
    assert table.loc["bias % departement × day", "catboost"] == "2.5000"  # mean of 1 and 4
    assert table.loc["bias % departement × day", "met"] == "**no**"
    assert table.loc["80 % coverage station × day", "met"] == "yes"  # 0.82
    assert table.loc["80 % coverage departement × day", "met"] == "**no**"  # 0.92


def test_the_noise_floor_reads_one_for_a_perfect_mean_and_more_for_a_wrong_one() -> None:
    spec = importlib.util.spec_from_file_location(
        "exp_noise_floor", BENCH / "experiments" / "exp_noise_floor.py"
    )
    assert spec and spec.loader
    floor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(floor)
    rng = np.random.default_rng(0)
    mean = rng.uniform(0.5, 20.0, 50_000)
    actual = rng.poisson(mean).astype(float)
    predictions = pd.concat(
        [
            pd.DataFrame({"model": accuracy.OURS, "mean": mean, "actual": actual}),
            pd.DataFrame({"model": "lgbm_poisson", "mean": 1.2 * mean, "actual": actual}),
        ]
    )
    table = floor.floor_table(predictions)
    ours, peer = (
        table.loc[accuracy.LABELS[accuracy.OURS]],
        table.loc[accuracy.LABELS["lgbm_poisson"]],
    )
    assert ours["mse_over_poisson"] == pytest.approx(1.0, abs=0.02)
    assert ours["rmse_vs_ours"] == 1.0
    # 20 % too high: the squared bias 0.04 μ² on top of the Poisson variance μ.
    expected = 1 + 0.04 * float(np.mean(mean**2)) / float(np.mean(mean))
    assert peer["mse_over_poisson"] == pytest.approx(expected, rel=0.03)
