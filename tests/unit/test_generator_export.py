"""The dispatch export of generated events: columns, formats, motifs, defects (in memory)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pandas as pd
import pytest

from previsecours.core.generator import generate_events
from previsecours.core.generator.export import (
    DEFECT_CODES,
    MOTIFS,
    PERSONAL_DATA_COLUMNS,
    TRUNCATED_ROW,
    dirty_export,
    dispatch_export,
)
from previsecours.core.territory import Territory

HEADER = (
    "num_intervention;date_heure_alerte;code_insee;nom_commune;categorie;motif;"
    "cis_premier_engage;latitude;longitude;duree_engagement_min"
)


@pytest.fixture(scope="module")
def events(essonne: Territory) -> pd.DataFrame:
    return generate_events(essonne, date(2024, 2, 1), date(2024, 2, 29), seed=5)


@pytest.fixture(scope="module")
def clean(events: pd.DataFrame, essonne: Territory) -> pd.DataFrame:
    return dispatch_export(events, essonne, seed=5)


def test_export_columns_are_the_contract(clean: pd.DataFrame) -> None:
    assert ";".join(clean.columns) == HEADER


def test_export_values_follow_the_events(
    clean: pd.DataFrame, events: pd.DataFrame, essonne: Territory
) -> None:
    assert clean["num_intervention"].tolist() == events["intervention_id"].tolist()
    local = pd.to_datetime(clean["date_heure_alerte"], format="%d/%m/%Y %H:%M:%S")
    expected = events["alert_time"].dt.tz_localize(None)
    assert (local.to_numpy() == expected.to_numpy()).all()
    names = {c.code: c.name for c in essonne.communes}
    assert (clean["nom_commune"] == clean["code_insee"].map(names)).all()
    for category, motifs in MOTIFS.items():
        used = set(clean.loc[clean["categorie"] == category, "motif"])
        assert used <= {m for m, _ in motifs}
    assert (clean["duree_engagement_min"] == events["duration_min"]).all()


def test_a_dirty_export_has_one_listed_defect_per_defective_row(
    clean: pd.DataFrame, essonne: Territory
) -> None:
    dirty = dirty_export(clean, essonne, seed=5, rate=0.005)
    assert tuple(dirty.frame.columns[-3:]) == PERSONAL_DATA_COLUMNS
    rows = [d.row for d in dirty.defects]
    assert len(rows) == len(set(rows))  # one defect per row
    assert dirty.defects[-1].defect == TRUNCATED_ROW
    assert dirty.defects[-1].row == len(clean)
    assert len(dirty.defects) <= 0.02 * len(clean)
    counts = Counter(d.defect for d in dirty.defects)
    assert set(counts) == {*DEFECT_CODES, TRUNCATED_ROW}
    assert counts["duplicate_id"] % 2 == 0
    changed = (dirty.frame[clean.columns].astype(str) != clean.astype(str)).any(axis=1)
    defective = {r - 1 for r in rows if r - 1 < len(clean)}
    # Every changed row is listed; the truncated row and the first of each pair stay as written.
    assert set(changed[changed].index) <= defective


def test_future_times_stay_valid_dates(clean: pd.DataFrame, essonne: Territory) -> None:
    dirty = dirty_export(clean, essonne, seed=5, rate=0.02)
    for d in dirty.defects:
        if d.defect == "future_time":
            text = dirty.frame.at[d.row - 1, d.column]
            assert isinstance(text, str), text
            assert datetime.strptime(text, "%d/%m/%Y %H:%M:%S").year == 2099


def test_dirty_rate_is_bounded(clean: pd.DataFrame, essonne: Territory) -> None:
    with pytest.raises(ValueError, match=r"between 0 and 0\.5"):
        dirty_export(clean, essonne, seed=5, rate=0.9)
    only_truncated = dirty_export(clean, essonne, seed=5, rate=0.0)
    assert [d.defect for d in only_truncated.defects] == [TRUNCATED_ROW]
