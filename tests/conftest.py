"""Shared fixtures. Real reference data is read from ../shared/data, never copied here: the tests
that need it take the `shared_data` fixture and skip when it is absent (a user's bare clone)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from previsecours.core.territory import Territory

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real reference data; a test that needs it skips on a bare clone (CI has it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data absent: {SHARED_DATA} (a bare clone; CI has it)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def essonne() -> Territory:
    from previsecours.adapters.territory_files import load_territory

    return load_territory(REPO / "territories" / "essonne.yaml")


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One real (temporary) Prefect API for the whole session, with its own PREFECT_HOME."""
    import os

    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
