"""Rebuild the Essonne territory tables from the shared reference data.

Run once by a developer (``python scripts/build_essonne_tables.py ../shared/data/essonne``);
the outputs under ``territories/essonne/`` are committed as facts with their sources named in
``territories/essonne/SOURCES.md``. Nothing at run time reads ``../shared``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "territories" / "essonne"


def _station_code(row: dict[str, str]) -> str:
    """The zone code when the station owns a first-call coverage zone, else a name-based code."""
    if row["coverage_zone_code_guess"]:
        return row["coverage_zone_code_guess"]
    name = row["station_name"].split(" ", 1)[1].split("(")[0].strip()
    letters = "".join(ch for ch in name.upper() if ch.isalpha())
    return f"{row['station_type']}-{letters[:8]}"


def build(src: Path) -> None:
    with (src / "communes.csv").open(encoding="utf-8") as f:
        communes = list(csv.DictReader(f))
    with (OUT / "communes.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "population", "latitude", "longitude"])
        for c in communes:
            pop = int(float(c["population"])) if c["population"] else 0
            w.writerow([c["insee_code"], c["name_2018"], pop, c["centroid_lat"], c["centroid_lon"]])

    with (src / "stations.csv").open(encoding="utf-8") as f:
        stations = list(csv.DictReader(f))
    with (OUT / "stations.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(
            [
                "code",
                "name",
                "type",
                "groupement",
                "latitude",
                "longitude",
                "coverage_zone",
                "within_zone",
            ]
        )
        for s in stations:
            w.writerow(
                [
                    _station_code(s),
                    s["station_name"],
                    s["station_type"],
                    s["groupement"].replace("GROUPEMENT ", ""),
                    s["latitude"],
                    s["longitude"],
                    s["coverage_zone_code_guess"],
                    s["coverage_zone_containing_point"],
                ]
            )

    with (src / "commune_station_shares_pct.csv").open(encoding="utf-8") as f:
        reader = csv.DictReader(f)
        zones = [
            z
            for z in (reader.fieldnames or [])
            if z not in ("ope_nom_commune", "ope_code_insee", "somme")
        ]
        shares = list(reader)
    with (OUT / "coverage_shares.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["commune_code", "coverage_zone", "share_pct"])
        for row in shares:
            for z in zones:
                pct = float(row[z])
                if pct > 0:
                    w.writerow([row["ope_code_insee"], z, round(pct, 4)])


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/essonne"))
