"""Headless Chromium (Debian's, `make browser`) as the dashboard's browser tests and its
benchmark launch it: offline, no sandbox, no GPU, no background traffic."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
