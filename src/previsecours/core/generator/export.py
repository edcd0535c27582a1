"""Turn a canonical extract into a French dispatch export, clean or deliberately dirty.

`dispatch_export` gives the export's columns in the service's own names (the territory's
mapping; `nom_commune` and `motif` added like a real dispatch system): text for codes, names
and the local alert time (naive, in the mapping's time format), numbers for positions and
whole-minute durations. It never changes the events: one row per event, in their order.

`dirty_export` adds the personal-data columns a raw export carries (fake victim names,
addresses and phone numbers) and injects defects into a small share of rows, one defect per
row, each listed as a `Defect` (1-based data row, id as written, code, export column). The
last row is always `truncated_row`: the file writer cuts that line inside `column`.
Both are pure: a seed fixes every choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from previsecours.core.territory import Territory

DEFAULT_TIME_FORMAT: Final = "%d/%m/%Y %H:%M:%S"
PERSONAL_DATA_COLUMNS: Final = ("nom_victime", "adresse", "telephone")
DEFECT_CODES: Final = (
    "unknown_commune",
    "missing_time",
    "unparsable_time",
    "future_time",
    "outside_territory",
    "unknown_category",
    "duplicate_id",
)
TRUNCATED_ROW: Final = "truncated_row"
FUTURE_YEAR: Final = 2099
_STREAM_MOTIFS, _STREAM_PERSONAL, _STREAM_DEFECTS = 101, 102, 103

# Reasons as a French dispatch system words them, with their relative frequency (assumed).
MOTIFS: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "SUAP": (
        ("Malaise à domicile", 24.0),
        ("Chute de personne", 16.0),
        ("Relevage de personne", 9.0),
        ("Détresse respiratoire", 8.0),
        ("Douleur thoracique", 6.0),
        ("Personne blessée sur voie publique", 7.0),
        ("Personne ne répondant pas aux appels", 5.0),
        ("Malaise sur voie publique", 7.0),
        ("Crise convulsive", 3.0),
        ("Intoxication", 3.0),
        ("Tentative de suicide", 2.0),
        ("Hémorragie", 2.0),
        ("Brûlure", 1.0),
        ("Accouchement inopiné", 0.5),
        ("Rixe, personne blessée", 2.0),
        ("Ivresse sur voie publique", 3.0),
    ),
    "ACCI": (
        ("Accident VL seul", 30.0),
        ("Accident VL contre VL", 30.0),
        ("Accident deux-roues", 18.0),
        ("Piéton renversé", 9.0),
        ("Accident PL", 6.0),
        ("Accident avec incarcération", 4.0),
        ("Accident sur autoroute", 3.0),
    ),
    "INCU": (
        ("Feu de poubelle", 22.0),
        ("Feu de véhicule", 22.0),
        ("Feu d'appartement", 14.0),
        ("Feu de pavillon", 9.0),
        ("Feu de cheminée", 6.0),
        ("Odeur de fumée", 10.0),
        ("Feu de cave", 5.0),
        ("Feu de local commercial", 4.0),
        ("Feu de local industriel", 2.0),
        ("Feu de cuisine", 6.0),
    ),
    "INCN": (
        ("Feu de broussailles", 35.0),
        ("Feu d'herbes", 25.0),
        ("Feu de champ", 15.0),
        ("Feu de sous-bois", 12.0),
        ("Feu de haie", 8.0),
        ("Feu de chaume", 5.0),
    ),
    "AUTR": (
        ("Destruction de nid d'hyménoptères", 18.0),
        ("Inondation de locaux", 14.0),
        ("Ouverture de porte", 12.0),
        ("Ascenseur bloqué", 8.0),
        ("Arbre menaçant de tomber", 9.0),
        ("Animal en difficulté", 8.0),
        ("Fuite de gaz", 6.0),
        ("Épuisement de locaux", 5.0),
        ("Chute d'éléments de construction", 5.0),
        ("Pollution, déversement", 3.0),
        ("Reconnaissance, fumées suspectes", 6.0),
        ("Bâchage de toiture", 6.0),
    ),
}

_SURNAMES: Final = (
    "MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY",
    "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX",
    "VINCENT", "FOURNIER", "MOREL", "GIRARD", "ANDRÉ", "MERCIER", "DUPONT", "LAMBERT", "BONNET",
    "FRANÇOIS", "MARTINEZ", "LEGRAND", "GARNIER", "FAURE", "ROUSSEAU", "BLANC", "GUÉRIN", "MULLER",
    "HENRY", "ROUSSEL", "NICOLAS", "PERRIN", "MATHIEU", "CLÉMENT", "GAUTHIER", "DIALLO", "TRAORÉ",
    "NGUYEN", "BENALI", "DA SILVA", "FERREIRA", "COHEN",
)  # fmt: skip
_GIVEN_NAMES: Final = (
    "Marie", "Jean", "Nathalie", "Pierre", "Isabelle", "Michel", "Sylvie", "Philippe", "Catherine",
    "Alain", "Françoise", "Nicolas", "Hélène", "Julien", "Camille", "Lucas", "Léa", "Hugo", "Chloé",
    "Thomas", "Inès", "Mohamed", "Fatima", "Karim", "Aïcha", "Louis", "Emma", "Gabriel", "Jade",
    "Raphaël", "Manon", "Arthur", "Zoé", "Théo", "Élise", "Yasmine", "Paul", "Anaïs", "Bernard",
    "Monique",
)  # fmt: skip
_STREETS: Final = (
    "rue de la République", "avenue du Général de Gaulle", "rue Victor Hugo", "rue Jean Jaurès",
    "place de l'Église", "rue de Paris", "chemin des Vignes", "allée des Tilleuls",
    "rue Pasteur", "boulevard de la Libération", "rue du Moulin", "impasse des Lilas",
    "route de Corbeil", "rue des Écoles", "avenue de la Gare", "rue Gambetta", "rue du Château",
    "sente des Prés", "rue Émile Zola", "avenue Carnot",
)  # fmt: skip


@dataclass(frozen=True)
class Defect:
    row: int  # 1-based data row (header excluded)
    intervention_id: str
    defect: str
    column: str  # export column holding the defect


@dataclass(frozen=True)
class DirtyExport:
    frame: pd.DataFrame
    defects: tuple[Defect, ...]  # sorted by row; the last one is the truncated last row
    personal_data_columns: tuple[str, ...]


@dataclass(frozen=True)
class ExportColumns:
    """The export's own names for what the generator writes."""

    intervention_id: str
    alert_time: str
    commune_code: str
    commune_name: str
    category: str
    motif: str
    station_code: str
    latitude: str
    longitude: str
    duration_min: str

    @classmethod
    def of(cls, territory: Territory) -> ExportColumns:
        names = territory.mapping.columns
        french = {
            "station_code": "cis_premier_engage",
            "latitude": "latitude",
            "longitude": "longitude",
            "duration_min": "duree_engagement_min",
        }
        return cls(
            intervention_id=names["intervention_id"],
            alert_time=names["alert_time"],
            commune_code=names["commune_code"],
            commune_name="nom_commune",
            category=names["category"],
            motif="motif",
            **{k: names.get(k, v) for k, v in french.items()},
        )

    def ordered(self) -> tuple[str, ...]:
        return (
            self.intervention_id,
            self.alert_time,
            self.commune_code,
            self.commune_name,
            self.category,
            self.motif,
            self.station_code,
            self.latitude,
            self.longitude,
            self.duration_min,
        )


def dispatch_export(events: pd.DataFrame, territory: Territory, seed: int) -> pd.DataFrame:
    """The clean export of a canonical extract, in the territory's column names."""
    cols = ExportColumns.of(territory)
    names = {c.code: c.name for c in territory.communes}
    export_code = {canonical: code for code, canonical in territory.mapping.categories.items()}
    categories = events["category"].astype(str)
    time_format = territory.mapping.time_format or DEFAULT_TIME_FORMAT
    local = events["alert_time"].dt.tz_convert(territory.timezone).dt.tz_localize(None)
    frame = pd.DataFrame(
        {
            cols.intervention_id: events["intervention_id"].astype(str),
            cols.alert_time: local.dt.strftime(time_format),
            cols.commune_code: events["commune_code"].astype(str),
            cols.commune_name: events["commune_code"].astype(str).map(names).fillna(""),
            cols.category: categories.map(lambda c: export_code.get(c, c)),
            cols.motif: draw_motifs(categories, np.random.default_rng([seed, _STREAM_MOTIFS])),
            cols.station_code: events["station_code"].astype(str),
            cols.latitude: events["latitude"].astype("float64"),
            cols.longitude: events["longitude"].astype("float64"),
            cols.duration_min: events["duration_min"].round().astype("Int64"),
        }
    )
    return frame.reset_index(drop=True)


def draw_motifs(categories: pd.Series, rng: np.random.Generator) -> npt.NDArray[np.object_]:
    out = np.full(len(categories), "Intervention diverse", dtype=object)
    values = categories.to_numpy(dtype=object)
    for category, motifs in MOTIFS.items():
        mask = values == category
        labels = np.array([m for m, _ in motifs], dtype=object)
        weights = np.array([w for _, w in motifs])
        out[mask] = rng.choice(labels, size=int(mask.sum()), p=weights / weights.sum())
    return out


def personal_data(
    commune_names: pd.Series, rng: np.random.Generator
) -> dict[str, npt.NDArray[np.object_]]:
    """Fake victim names, addresses and phone numbers (never real people)."""
    n = len(commune_names)
    surname = np.array(_SURNAMES, dtype=object)[rng.integers(0, len(_SURNAMES), n)]
    given = np.array(_GIVEN_NAMES, dtype=object)[rng.integers(0, len(_GIVEN_NAMES), n)]
    street = np.array(_STREETS, dtype=object)[rng.integers(0, len(_STREETS), n)]
    number = rng.integers(1, 180, n).astype(str).astype(object)
    digits = rng.integers(0, 100, (n, 4))
    prefix = np.where(rng.random(n) < 0.7, "06", "01")
    phone = pd.Series(prefix, dtype="string")
    for i in range(4):
        phone = phone + " " + pd.Series(digits[:, i]).astype("string").str.zfill(2)
    return {
        "nom_victime": surname + " " + given,
        "adresse": number + " " + street + ", " + commune_names.to_numpy(dtype=object),
        "telephone": phone.to_numpy(dtype=object),
    }


def dirty_export(clean: pd.DataFrame, territory: Territory, seed: int, rate: float) -> DirtyExport:
    """`clean` plus personal data, with about `rate` of its rows made defective."""
    if not 0.0 <= rate <= 0.5:
        raise ValueError(f"defect rate {rate} is not between 0 and 0.5")
    if len(clean) < 2:
        raise ValueError("a dirty export needs at least two rows")
    cols = ExportColumns.of(territory)
    rng = np.random.default_rng([seed, _STREAM_DEFECTS])
    plan = _defect_plan(len(clean), rate, rng)
    last = len(clean) - 1
    cells = _Cells(clean, sorted({r for r, _ in plan} | {r + 1 for r, _ in plan} | {last}))
    defects = [
        _inject(cells, row, code, cols=cols, territory=territory, rng=rng) for row, code in plan
    ]
    defects += _duplicates(cells, plan, cols)
    identifier = str(cells.get(cols.intervention_id, last))
    defects.append(Defect(last + 1, identifier, TRUNCATED_ROW, cols.latitude))
    frame = cells.applied()
    personal = personal_data(
        frame[cols.commune_name], np.random.default_rng([seed, _STREAM_PERSONAL])
    )
    frame = frame.assign(**personal)
    return DirtyExport(frame, tuple(sorted(defects, key=lambda d: d.row)), PERSONAL_DATA_COLUMNS)


class _Cells:
    """Edits of a few cells of `frame`, read through to its values, applied once per column.

    Setting cells one at a time in Arrow-backed text columns copies the column each time; a
    column-wide copy of 600k strings per edited column costs memory: batch the few edits.
    """

    def __init__(self, frame: pd.DataFrame, rows: list[int]) -> None:
        self._frame = frame
        self._original = {
            c: dict(zip(rows, frame[c].iloc[rows].tolist(), strict=True)) for c in frame
        }
        self._edits: dict[str, dict[int, Any]] = {}

    def get(self, column: str, row: int) -> Any:
        edited = self._edits.get(column, {})
        return edited[row] if row in edited else self._original[column][row]

    def set(self, column: str, row: int, value: Any) -> None:
        self._edits.setdefault(column, {})[row] = value

    def applied(self) -> pd.DataFrame:
        frame = self._frame.copy()
        for column, edits in self._edits.items():
            values = frame[column].copy()
            values.iloc[list(edits)] = list(edits.values())
            frame[column] = values
        return frame


def _defect_plan(n_rows: int, rate: float, rng: np.random.Generator) -> list[tuple[int, str]]:
    """(0-based row, code) for single-row defects; `duplicate_id` rows are pair starts.

    The budget is `rate` of the rows, the truncated last row included; codes take turns so
    every one appears once the budget allows, a duplicate pair costing two rows.
    """
    budget = round(rate * n_rows) - 1
    codes: list[str] = []
    turn = 0
    while budget > 0:  # a single-row code always fits: each round spends at least one row
        code = DEFECT_CODES[turn % len(DEFECT_CODES)]
        cost = 2 if code == "duplicate_id" else 1
        if cost <= budget:
            codes.append(code)
            budget -= cost
        turn += 1
    # Rows two apart at least, never the last: a duplicate pair takes a row and the next.
    candidates = rng.choice(np.arange(0, n_rows - 2, 2), size=len(codes), replace=False)
    return sorted(zip((int(r) for r in candidates), codes, strict=True))


def _inject(
    cells: _Cells,
    row: int,
    code: str,
    *,
    cols: ExportColumns,
    territory: Territory,
    rng: np.random.Generator,
) -> Defect:
    time_format = territory.mapping.time_format or DEFAULT_TIME_FORMAT
    column = {
        "unknown_commune": cols.commune_code,
        "missing_time": cols.alert_time,
        "unparsable_time": cols.alert_time,
        "future_time": cols.alert_time,
        "unknown_category": cols.category,
        "duplicate_id": cols.intervention_id,
    }.get(code, cols.latitude if rng.random() < 0.5 else cols.longitude)
    if code == "unknown_commune":
        value: str | float = _pick(rng, _unknown_communes(territory))
    elif code == "missing_time":
        value = ""
    elif code == "unparsable_time":
        value = _pick(rng, ("31/02/2024 25:61:00", "n/a", "2024-13-45T99:00", "??/??/???? ??:??"))
    elif code == "future_time":
        value = _in_future_year(str(cells.get(column, row)), time_format)
    elif code == "unknown_category":
        value = _pick(rng, ("DIV", "SAP", "INCX", "SSUAP", "FEU"))
    elif code == "duplicate_id":
        value = str(cells.get(column, row))  # the pair is completed by `_duplicates`
    else:
        value = _far_coordinate(column == cols.latitude, territory, rng)
    cells.set(column, row, value)
    return Defect(row + 1, str(cells.get(cols.intervention_id, row)), code, column)


def _duplicates(cells: _Cells, plan: list[tuple[int, str]], cols: ExportColumns) -> list[Defect]:
    """The row after each pair start reuses its id (a counter re-used; content stays its own)."""
    out = []
    for row, code in plan:
        if code != "duplicate_id":
            continue
        identifier = str(cells.get(cols.intervention_id, row))
        cells.set(cols.intervention_id, row + 1, identifier)
        out.append(Defect(row + 2, identifier, code, cols.intervention_id))
    return out


def _in_future_year(text: str, time_format: str) -> str:
    """The same wall-clock time in FUTURE_YEAR (29 February becomes the 28th)."""
    moment = datetime.strptime(text, time_format)
    day = min(moment.day, 28) if moment.month == 2 else moment.day
    return moment.replace(year=FUTURE_YEAR, day=day).strftime(time_format)


def _pick(rng: np.random.Generator, values: tuple[str, ...]) -> str:
    return values[int(rng.integers(0, len(values)))]


def _unknown_communes(territory: Territory) -> tuple[str, ...]:
    """Codes that look right but are not the territory's (a postal code, a neighbour's...)."""
    known = territory.commune_codes
    return tuple(
        c for c in ("91000", "91999", "75056", "92050", "9I228", "00000") if c not in known
    )


def _far_coordinate(latitude: bool, territory: Territory, rng: np.random.Generator) -> float:
    """A coordinate far outside the bounding box: zero, swapped lat/lon, another region."""
    box = territory.bounding_box
    if latitude:
        choices = (0.0, (box.lon_min + box.lon_max) / 2, 43.2965, -box.lat_max)
    else:
        choices = (0.0, (box.lat_min + box.lat_max) / 2, 5.3698, -box.lon_max - 10)
    return float(choices[int(rng.integers(0, len(choices)))])
