"""A user's mistakes, through the real command: one line on stderr, the right exit code, no
traceback (issue #19).

Each case runs `previsecours` in a fresh process on an empty home (no training: every case
fails before any work), and checks what a user sees: exit code 2 for bad usage or input, 1 for
a step that could not complete; stderr exactly one line starting with `error:` (click's own
"Usage: … Error: …" block for click usage errors); never a traceback, unless `--debug`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from previsecours.core.ingest import ExtractError, map_counts, map_events
from previsecours.core.territory import Territory
from previsecours.testing import cli as testing_cli

REPO = Path(__file__).resolve().parents[2]


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return testing_cli.run_cli(home, *args, cwd=REPO)


def essonne_doc() -> dict[str, Any]:
    """Essonne's territory document without its tables (cases fail before reading them)."""
    doc: dict[str, Any] = yaml.safe_load((REPO / "territories" / "essonne.yaml").read_text())
    doc.pop("areas")
    doc.pop("geometry")
    return doc


def without_extract() -> str:
    doc = essonne_doc()
    doc.pop("extract")
    return yaml.safe_dump(doc)


def on_mars() -> str:
    return yaml.safe_dump(essonne_doc() | {"timezone": "Mars/Olympus"})


BROKEN_TERRITORIES = {
    "missing-key": (without_extract, "missing key 'extract' (the column mapping"),
    "bad-yaml": (lambda: "name: x\n  timezone: [\n", "invalid YAML at line 2, column"),
    "not-a-mapping": (lambda: "- essonne\n- paris\n", "expected a YAML mapping"),
    "mars": (on_mars, "unknown time zone 'Mars/Olympus' (an IANA name such as Europe/Paris)"),
}


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("train", "-t", "essonne"), 2, "no events in the store: run `previsecours ingest`"),
        (("panel", "-t", "essonne"), 2, "no events in the store: run `previsecours ingest`"),
        (("backtest", "-t", "essonne"), 2, "no events in the store: run `previsecours ingest`"),
        (("forecast", "-t", "essonne"), 1, "no model registered: run `previsecours train"),
        (("promote", "-t", "essonne"), 1, "no model registered, run `previsecours train"),
        (("forecast", "-t", "essonne", "--horizon", "banana"), 2, "horizon 'banana'"),
        (
            ("forecast", "-t", "essonne", "--start", "yesterday"),
            2,
            "--start 'yesterday': expected a local date or time, e.g. 2026-12-07",
        ),
        (
            ("ingest", "x.csv", "--format", "counts", "--preset", "nonsense"),
            2,
            "--preset 'nonsense': unknown counts preset (known: sdis91-weekly, sdis91-weekly-",
        ),
        (
            ("ingest", "x.csv", "--format", "events", "--preset", "sdis91-weekly-totals"),
            2,
            "--preset describes a counts extract, not --format events",
        ),
        (("territory", "-t", "/nonexistent/atlantis.yaml"), 2, "no such territory file"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, tuple) else None,
)
def test_a_user_error_is_one_line_and_its_exit_code(
    tmp_path: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    done = run_cli(tmp_path / "home", *args)
    assert done.returncode == code, done.stderr[-3000:]
    assert message in _one_error_line(done)
    assert done.stdout == ""


@pytest.mark.parametrize("case", sorted(BROKEN_TERRITORIES))
def test_a_broken_territory_file_is_named_with_its_fault(tmp_path: Path, case: str) -> None:
    write, message = BROKEN_TERRITORIES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(write(), encoding="utf-8")
    done = run_cli(tmp_path / "home", "territory", "-t", str(path))
    assert done.returncode == 2, done.stderr[-3000:]
    line = _one_error_line(done)
    assert f"territory file {path}" in line
    assert message in line


@pytest.mark.parametrize(
    "args",
    [("ingest", "x.csv", "--format", "bogus"), ("forecast", "--no-such-option")],
    ids=["bad-format", "unknown-option"],
)
def test_a_usage_error_is_clicks_block_without_traceback(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    done = run_cli(tmp_path / "home", *args)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.startswith("Usage: ")
    assert "Error: " in done.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = run_cli(tmp_path / "home", "--debug", "panel", "-t", "essonne")
    assert done.returncode != 0
    assert "Traceback" in done.stderr
    assert "NoDataError: no events in the store" in done.stderr


# ---------------------------------------------------------------- times in the wrong format


def test_events_whose_times_never_parse_name_the_expected_format(essonne: Territory) -> None:
    """Rejected as a whole, the expected format named; never an offending value (personal data
    could hide there)."""
    raw = pd.DataFrame(
        {
            "num_intervention": ["1", "2", "3"],
            "date_heure_alerte": ["2024-01-01 10:00", "2024-01-02 11:00", "0612345678"],
            "code_insee": ["91001"] * 3,
            "categorie": ["SUAP"] * 3,
        }
    )
    with pytest.raises(ExtractError) as info:
        map_events(raw, essonne, "x.csv")
    message = str(info.value)
    assert info.value.check == "time_format"
    assert (
        "none of the 3 times in column 'date_heure_alerte' (alert_time) matched the format "
        "'%d/%m/%Y %H:%M:%S' (territory essonne, extract.time_format)"
    ) in message
    assert "0612345678" not in message and "2024" not in message


def test_a_few_unparsable_times_stay_row_reasons(essonne: Territory) -> None:
    raw = pd.DataFrame(
        {
            "num_intervention": ["1", "2"],
            "date_heure_alerte": ["01/01/2024 10:00:00", "banana"],
            "code_insee": ["91001"] * 2,
            "categorie": ["SUAP"] * 2,
        }
    )
    frame = map_events(raw, essonne, "x.csv").frame
    assert frame["time_parsable"].tolist() == [True, False]


def test_counts_whose_periods_never_parse_name_the_expected_formats(
    essonne: Territory,
) -> None:
    raw = pd.DataFrame(
        {
            "period_start": ["1er janvier", "2 janvier"],
            "area_code": ["91001"] * 2,
            "category": ["SUAP"] * 2,
            "count": ["3", "4"],
        }
    )
    with pytest.raises(ExtractError, match="none of the 2 period starts matched ISO 8601 or the "):
        map_counts(raw, essonne, "c.csv")


@pytest.mark.parametrize(
    ("text", "local"),
    [
        ("2026-12-07", "2026-12-07 00:00"),
        ("2026-12-07T06:00", "2026-12-07 06:00"),
        ("2026-12-07T06:00+00:00", "2026-12-07 07:00"),
        ("2026-03-29T02:30", "2026-03-29 03:00"),  # the skipped spring hour moves forward
    ],
)
def test_start_is_a_local_time_of_the_territory(text: str, local: str) -> None:
    from previsecours.cli import local_start

    assert local_start(text, "Europe/Paris") == pd.Timestamp(local, tz="Europe/Paris")
