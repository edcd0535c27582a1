"""A model records the data version of exactly what it read (issue #17, item 5): the store and
its version are read together under the ingest lock, and a data.dvc left stale by an ingest
killed between its store swap and its DVC commit is reconciled first."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

from previsecours.adapters import store
from previsecours.adapters.ingest_files import ingest_lock
from previsecours.adapters.versioning import commit_data_version, data_version, remote_path
from previsecours.core.generator import generate_events
from previsecours.pipelines.train import snapshot
from previsecours.settings import load_settings


def test_a_stale_data_dvc_is_reconciled_before_the_store_is_read(tmp_path: Path) -> None:
    settings = load_settings("essonne", tmp_path)
    paths, territory = settings.paths, settings.territory
    remote = remote_path(paths, settings.params.ingest.dvc_remote)
    january = generate_events(territory, date(2024, 1, 1), date(2024, 1, 31), seed=1)
    store.write_events(paths, territory, january)
    first = commit_data_version(paths, remote)
    # An ingest killed after its swap: the store holds February, data.dvc still says January.
    february = generate_events(territory, date(2024, 1, 1), date(2024, 2, 29), seed=1)
    store.write_events(paths, territory, february)
    assert data_version(paths) == first
    version, history = snapshot(settings)
    assert data_version(paths) != first  # data.dvc now describes the store
    assert version == data_version(paths, territory.name) != data_version(paths, "elsewhere")
    assert history.times.max() >= february["alert_time"].max()


def test_the_snapshot_waits_for_an_ingest_in_progress(tmp_path: Path) -> None:
    settings = load_settings("essonne", tmp_path)
    events = generate_events(settings.territory, date(2024, 1, 1), date(2024, 1, 7), seed=2)
    store.write_events(settings.paths, settings.territory, events)
    done = threading.Event()

    def read() -> None:
        snapshot(settings)
        done.set()

    with ingest_lock(settings.paths):
        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(1.0)
        assert not done.is_set()  # the ingest holds the store: the reader waits
    reader.join(timeout=60)
    assert done.is_set()


def test_each_territory_has_its_own_data_version(tmp_path: Path) -> None:
    """Ingesting another service's data leaves a territory's version unchanged (issue #16)."""
    from previsecours.core.synthetic_territory import synthetic_territory

    settings = load_settings("essonne", tmp_path)
    paths, essonne = settings.paths, settings.territory
    remote = remote_path(paths, settings.params.ingest.dvc_remote)
    store.write_events(
        paths, essonne, generate_events(essonne, date(2024, 1, 1), date(2024, 1, 7), seed=3)
    )
    commit_data_version(paths, remote)
    before = data_version(paths, "essonne")
    other = synthetic_territory("other", 3, seed=1)
    store.write_events(
        paths, other, generate_events(other, date(2024, 1, 1), date(2024, 1, 7), seed=3)
    )
    commit_data_version(paths, remote)
    assert data_version(paths, "essonne") == before
    assert data_version(paths, "other") not in (before, "unversioned")
