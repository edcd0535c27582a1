"""Artifacts helpers: frames as Prefect table rows, and artifact keys that carry the territory.

Prefect artifact keys allow lowercase letters, numbers and dashes only: `key("ingest-summary",
"Essonne")` is `ingest-summary-essonne`, so two territories' artifacts never share a key.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pandas as pd


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]


def slug(name: str) -> str:
    """`name` as lowercase letters, numbers and dashes (accents dropped: "Côte-d'Or" →
    "cote-d-or")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "territory"


def key(base: str, territory: str) -> str:
    """The artifact key `<base>-<territory slug>`."""
    return f"{base}-{slug(territory)}"
