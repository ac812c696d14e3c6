"""The gazetteer: its interface, candidate ranking, and the offline index (``scripts/build_gazetteer.py``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from coder.errors import DataFileError
from coder.geo.names import key_hash, loose_key, normalise_name
from coder.geo.rules import GeoRules, read_json

INDEX_FILES = ("places.parquet", "names.parquet", "meta.json")
CURATED_FILES = ("supplements.jsonl", "aliases.jsonl", "names.json")
_REPEATED = ["kind", "country", "iso3", "admin1", "seat"]  # dictionary-decoded: a fraction of the memory


@dataclass(frozen=True)
class PlaceCandidate:
    """One gazetteer entry a name may refer to (field order = the index's column order)."""

    gazetteer_id: str
    name: str
    # "country", "admin1", "city", "local" (a curated neighbourhood or village) or "region" (a curated area)
    kind: str
    country: str | None
    iso3: str | None
    admin1: str | None
    latitude: float
    longitude: float
    population: int
    importance: int  # country 5, national capital 4, admin1 3, provincial seat 2, other 1
    seat: str | None = None  # for a country or admin1, its capital, whose coordinates it carries


class Gazetteer(Protocol):
    """What the coder needs from a gazetteer: candidates for a name, a country's entry, version, rules."""

    version: str
    rules: GeoRules

    def lookup(self, name: str, *, country_iso3: str | None = None) -> list[PlaceCandidate]: ...

    def country(self, iso3: str) -> PlaceCandidate | None: ...


def rank_candidates(cands: list[PlaceCandidate], country_iso3: str | None) -> list[PlaceCandidate]:
    """Country in context first, then administrative importance, then population (then id, for determinism).

    A province listed beside its own capital under the same name ("Kirkuk", "Idlib") ranks below the town:
    news means the town unless it says "province" (``resolve_place`` reads that cue).
    """
    unique = list({c.gazetteer_id: c for c in cands}.values())
    seats = {(c.iso3, c.admin1, c.name) for c in unique if c.kind == "city"}

    def rank(c: PlaceCandidate) -> tuple[bool, int, int, str]:
        importance = 1 if c.kind == "admin1" and (c.iso3, c.admin1, c.seat) in seats else c.importance
        return c.iso3 != country_iso3, -importance, -c.population, c.gazetteer_id

    return sorted(unique, key=rank)


def inputs_digest(places_dir: Path) -> str:
    """Hash of the curated files built into the index, so a stale index is caught at load."""
    digest = hashlib.sha256()
    for path in (places_dir / name for name in CURATED_FILES):
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:16]


class OfflineGazetteer:
    """Place columns (Arrow) and sorted name-key hashes -> rows (NumPy): binary search, and a candidate is
    built only on a hit, so loading is quick and memory a few tens of megabytes."""

    max_candidates = 25
    # Names recur across articles ("Baghdad", "the Islamic State"): a lookup is answered once per name and
    # country, and a row is made a candidate once. Bounded, so a long build's memory stays flat.
    cache_size = 200_000

    def __init__(self, columns: list[Any], hashes: np.ndarray, rows: np.ndarray, rules: GeoRules, built: str):
        self._columns, self._hashes, self._rows = columns, hashes, rows
        self._found: dict[tuple[str, str | None], tuple[PlaceCandidate, ...]] = {}
        self._made: dict[int, PlaceCandidate] = {}
        self._readers = [_reader(column) for column in columns]
        rows_of_countries = pc.indices_nonzero(pc.equal(columns[2], "country")).to_pylist()
        self._countries = {columns[4][i].as_py(): i for i in rows_of_countries}
        self.rules = rules
        self.version = f"{built}+{rules.version}"

    @classmethod
    def load(cls, gazetteer_dir: Path, places_dir: Path) -> OfflineGazetteer:
        missing = [name for name in INDEX_FILES if not (gazetteer_dir / name).is_file()]
        if missing:
            raise DataFileError(
                f"gazetteer index missing ({', '.join(missing)}); build it with `make gazetteer` "
                "(scripts/build_gazetteer.py)", path=str(gazetteer_dir),
            )  # fmt: skip
        meta = read_json(gazetteer_dir / "meta.json")
        if meta.get("inputs_sha256") != inputs_digest(places_dir):
            raise DataFileError(
                f"gazetteer index was built from other curated files than {places_dir}; rebuild it with "
                "`make gazetteer` (scripts/build_gazetteer.py)", path=str(gazetteer_dir),
            )  # fmt: skip
        try:
            places = pq.read_table(
                gazetteer_dir / "places.parquet", read_dictionary=_REPEATED
            ).combine_chunks()
            names = pq.read_table(gazetteer_dir / "names.parquet").combine_chunks()
            columns = [places[f.name].chunk(0) for f in fields(PlaceCandidate)]
            hashes, rows = names["key"].to_numpy(), names["row"].to_numpy()
        except (OSError, ValueError, KeyError) as exc:
            raise DataFileError(f"gazetteer index unreadable ({exc!r})", path=str(gazetteer_dir)) from None
        return cls(columns, hashes, rows, GeoRules.load(places_dir / "rules.json"), str(meta.get("version")))

    def lookup(self, name: str, *, country_iso3: str | None = None) -> list[PlaceCandidate]:
        found = self._found.get((name, country_iso3))
        if found is None:
            found = self._ranked(name, country_iso3)
            _bounded(self._found, self.cache_size)[(name, country_iso3)] = found
        return list(found)

    def _ranked(self, name: str, country_iso3: str | None) -> tuple[PlaceCandidate, ...]:
        exact = normalise_name(name)
        found = (self._find(exact) or self._find(loose_key(exact))) if exact else []
        return tuple(rank_candidates(found, country_iso3)[: self.max_candidates])

    def country(self, iso3: str) -> PlaceCandidate | None:
        row = self._countries.get(iso3)
        return None if row is None else self._candidate(row)

    def _find(self, key: str) -> list[PlaceCandidate]:
        target = key_hash(key)
        lo = int(self._hashes.searchsorted(target))
        if lo == len(self._hashes) or self._hashes[lo] != target:  # most n-grams name no place
            return []
        hi = int(self._hashes.searchsorted(target, side="right"))
        return [self._candidate(int(r)) for r in self._rows[lo:hi]]

    def _candidate(self, row: int) -> PlaceCandidate:
        made = self._made.get(row)
        if made is None:
            made = PlaceCandidate(*(read(row) for read in self._readers))
            _bounded(self._made, self.cache_size)[row] = made
        return made


def _reader(column: Any) -> Callable[[int], Any]:
    """A fast ``column[row].as_py()``: an Arrow scalar per value costs tens of microseconds, so numbers are
    read from a zero-copy NumPy view and dictionary-encoded strings from their (small) dictionary."""
    if pa.types.is_dictionary(column.type):
        values = column.dictionary.to_pylist()
        codes = pc.fill_null(column.indices, -1).to_numpy()
        return lambda row: values[codes[row]] if codes[row] >= 0 else None
    if column.null_count == 0 and (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
        numbers = column.to_numpy()
        return lambda row: numbers[row].item()
    return lambda row: column[row].as_py()


def _bounded(cache: dict[Any, Any], size: int) -> dict[Any, Any]:
    """The cache, emptied first when full (simpler than LRU, and a build's working set is far smaller)."""
    if len(cache) >= size:
        cache.clear()
    return cache
