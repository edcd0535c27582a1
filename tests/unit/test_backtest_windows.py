"""Backtest windows run apart and merged give the backtest of all windows at once."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from previsecours.config import TrainParams
from previsecours.core.backtest import merge_results
from previsecours.core.generator import generate_events
from previsecours.core.history import History
from previsecours.core.synthetic_territory import synthetic_territory
from previsecours.core.training import modelled_panel, window_fits

PARAMS = TrainParams(
    train_years=0.1,
    history_years=0.5,
    n_windows=3,
    models=("catboost", "seasonal_naive"),
    catboost={"iterations": 20, "thread_count": 1, "random_seed": 0},
)


def test_windows_run_apart_then_merged_equal_one_run_of_all() -> None:
    territory = synthetic_territory("w", 3, seed=2)
    events = generate_events(territory, date(2024, 1, 1), date(2024, 3, 20), seed=2)
    data = modelled_panel(History.of_events(events), territory, PARAMS)
    together = window_fits(territory, PARAMS, data, (0, 1, 2))
    parts = [window_fits(territory, PARAMS, data, (k,)) for k in (2, 0, 1)]
    merged = merge_results(parts)
    assert [w.index for w in merged.windows] == [0, 1, 2]
    assert merged.windows == together.windows
    pd.testing.assert_frame_equal(merged.predictions, together.predictions)
    assert set(merged.fit_seconds) == {"catboost", "seasonal_naive"}
    with pytest.raises(ValueError, match="twice"):
        merge_results([parts[0], parts[0]])
    # Without refit, models are fitted once at the first origin: windows are not independent.
    with pytest.raises(ValueError, match="refit"):
        no_refit = replace(PARAMS, refit=False)
        window_fits(
            territory,
            no_refit,
            modelled_panel(History.of_events(events), territory, no_refit),
            (1,),
        )
