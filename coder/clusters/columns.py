"""Event rows as the columns clustering reads: a few bytes an event instead of a Python object.

A build clusters every event of its corpus at once, so what it holds an event is what its tail grows
by. An ``Event`` dataclass is ~0.5 KB of Python objects (an id string, floats, a row of pointers), and
millions of small objects also leave the heap fragmented after they are freed. ``EventColumns``
keeps the same fields as numpy arrays instead — the id as fixed-width bytes, days and precisions as
the narrowest integers that hold them (the dtype's minimum marks a missing value), coordinates as
floats (NaN: no point), flags as booleans, and each repeated value (type, article, source, country,
location, actor set) as a code into a table of its distinct values — and makes an ``Event`` only
when one is read (``columns[n]``), so the pairwise rules still read ``Event``s. Parsing is here too:
``parse_stream`` reads frames one at a time into columns, keeps the last row of a repeated id, and
sorts the events by id.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import pandas as pd

from coder.clusters.rules import ClusterRules, Event
from coder.errors import DataFileError

REQUIRED_COLUMNS: tuple[str, ...] = ("event_id", "event_type")
ACTOR_COLUMNS: tuple[str, ...] = ("actor1", "actor2", "assoc_actor1")
_READ_COLUMNS: tuple[str, ...] = (
    "event_id", "event_type", "article_id", "source", "time_precision", "latitude", "longitude",
    "geo_precision", "iso3", "confidence", "fatalities", "fatalities_text", "geo_reason", "date_reason",
    *ACTOR_COLUMNS,
)  # fmt: skip
# Every column clustering reads (the rest of an event row is never looked at): a build may cluster
# a frame of these columns only, and attach the cluster ids to the full rows afterwards.
INPUT_COLUMNS: tuple[str, ...] = (*_READ_COLUMNS, "event_date", "location")
_UNIX_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
_CODED = ("event_type", "article_id", "source", "iso3", "location", "actors")
_INTS = ("day", "time_precision", "geo_precision", "fatalities")
_FLAGS = ("place_from_sentence", "date_from_sentence", "date_is_publication")
_FLOATS = ("lat", "lon", "confidence")
_INT_TYPES = (np.int8, np.int16, np.int32, np.int64)
_INT64_MISSING = int(np.iinfo(np.int64).min)
_ITER_BLOCK = 4096  # events made at a time when iterating


class Interner:
    """Distinct values and a code for each; equal values of one type share a code (and one object)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._codes: dict[tuple[type, Any], int] = {}

    def code(self, value: Any) -> int:
        try:
            key: tuple[type, Any] | None = (type(value), value)
            found = self._codes.get(key)  # type: ignore[arg-type]
        except TypeError:  # unhashable: a code of its own
            key, found = None, None
        if found is None:
            found = len(self.values)
            self.values.append(value)
            if key is not None:
                self._codes[key] = found
        return found

    def codes(self, values: Iterable[Any]) -> np.ndarray:
        return np.fromiter(map(self.code, values), dtype=np.int32)


@dataclass(frozen=True)
class Coded:
    """A column of repeated values: a code a row into ``values``."""

    codes: np.ndarray
    values: tuple[Any, ...]

    def __getitem__(self, n: int) -> Any:
        return self.values[self.codes[n]]

    def map(self, test: Callable[[Any], Any], dtype: Any = bool) -> np.ndarray:
        """``test`` of each row's value, asked once a distinct value."""
        return np.array([test(v) for v in self.values], dtype=dtype)[self.codes]


def missing_marker(values: np.ndarray) -> int:
    """An integer column's missing value: its dtype's minimum."""
    return int(np.iinfo(values.dtype).min)


def narrow(values: np.ndarray) -> np.ndarray:
    """An int64 column (missing: its minimum) in the narrowest integer type that holds its values."""
    known = values[values != missing_marker(values)]
    for kind in _INT_TYPES:
        info = np.iinfo(kind)
        if not len(known) or (known.min() > info.min and known.max() <= info.max):
            return np.where(values == missing_marker(values), info.min, values).astype(kind)
    return values


@dataclass(frozen=True, eq=False)  # eq: arrays do not compare as one value
class EventColumns(Sequence[Event]):
    """Events (sorted by id) as columns; ``columns[n]`` is the ``Event`` that the row parses to."""

    ids: np.ndarray  # ASCII bytes, or str objects when some id is not plain ASCII
    coded: dict[str, Coded]  # _CODED
    ints: dict[str, np.ndarray]  # _INTS, missing: the dtype's minimum
    floats: dict[str, np.ndarray]  # _FLOATS, lat/lon NaN when the event has no point
    flags: dict[str, np.ndarray]  # _FLAGS

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, n: int) -> Event: ...

    @overload
    def __getitem__(self, n: slice) -> list[Event]: ...

    def __getitem__(self, n: int | slice) -> Event | list[Event]:
        if isinstance(n, slice):
            return self.many(np.arange(len(self))[n])
        return self.many(np.array([n]))[0]

    def many(self, rows: np.ndarray) -> list[Event]:
        """The ``Event``s of ``rows``, made a column at a time (one at a time costs ~4x the CPU)."""
        place = [None if v != v else v for v in self.floats["lat"][rows].tolist()]  # NaN: no point
        fields = [
            self.event_ids(rows),
            *(self._values(k, rows) for k in ("event_type", "article_id", "source")),
            self._ints(self.ints["day"], rows),
            self._ints(self.ints["time_precision"], rows),
            place,
            [None if p is None else v for p, v in zip(place, self.floats["lon"][rows].tolist(), strict=True)],
            self._ints(self.ints["geo_precision"], rows),
            self._values("iso3", rows),
            self._values("actors", rows),
            self.floats["confidence"][rows].tolist(),
            self._ints(self.ints["fatalities"], rows),
            *(self.flags[k][rows].tolist() for k in _FLAGS),
            self._values("location", rows),
        ]
        return [Event(*values) for values in zip(*fields, strict=True)]

    def _values(self, name: str, rows: np.ndarray) -> list[Any]:
        table = self.coded[name]
        return [table.values[c] for c in table.codes[rows].tolist()]

    @staticmethod
    def _ints(values: np.ndarray, rows: np.ndarray) -> list[int | None]:
        marker = missing_marker(values)
        return [None if v == marker else v for v in values[rows].tolist()]

    def __iter__(self) -> Iterator[Event]:
        for start in range(0, len(self), _ITER_BLOCK):
            yield from self.many(np.arange(start, min(start + _ITER_BLOCK, len(self))))

    def event_ids(self, where: np.ndarray) -> list[str]:
        chosen = self.ids[where].tolist()
        return [i.decode("ascii") for i in chosen] if self.ids.dtype.kind == "S" else chosen

    def known(self, name: str) -> np.ndarray:
        """Rows whose integer column ``name`` has a value."""
        values = self.ints[name]
        return values != missing_marker(values)

    def take(self, rows: np.ndarray) -> EventColumns:
        """The events at ``rows``, in that order (the value tables are shared)."""
        return EventColumns(
            self.ids[rows],
            {k: Coded(c.codes[rows], c.values) for k, c in self.coded.items()},
            {k: v[rows] for k, v in self.ints.items()},
            {k: v[rows] for k, v in self.floats.items()},
            {k: v[rows] for k, v in self.flags.items()},
        )


def missing(value: Any) -> bool:
    return value is None or bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    """A column as Python values with every missing marker (NaN, NaT, pd.NA) as None."""
    if name not in frame.columns:
        return [None] * len(frame)
    column = frame[name]
    return [None if gone else v for v, gone in zip(column.tolist(), column.isna().tolist(), strict=True)]


def _days(frame: pd.DataFrame, marker: int) -> np.ndarray:
    """Proleptic ordinals of ``event_date`` (dates, strings or timestamps), vectorised."""
    if "event_date" not in frame.columns:
        return np.full(len(frame), marker, dtype=np.int64)
    stamps = pd.to_datetime(frame["event_date"].astype(object), errors="raise")
    floored = stamps.dt.floor("D").astype("datetime64[s]").astype("int64") // 86400 + _UNIX_EPOCH_ORDINAL
    return np.where(stamps.isna().to_numpy(), marker, floored.to_numpy(dtype=np.int64))


def _from_sentence(reason: Any, strong: tuple[str, ...]) -> bool:
    """A missing reason counts as weak: a merge must be able to show its evidence."""
    return reason is not None and str(reason).startswith(strong)


class _StopActors:
    """The rules' stop list as one test, compiled once a parse."""

    def __init__(self, rules: ClusterRules) -> None:
        self._names = rules.stop_actor_names
        joined = "|".join(f"(?:{p})" for p in rules.stop_actor_patterns)
        self._pattern = re.compile(joined) if joined else None

    def actors(self, names: Iterable[Any]) -> frozenset[str]:
        folded = (str(n).casefold().strip() for n in names if n is not None)
        return frozenset(n for n in folded if n and not self._stopped(n))

    def _stopped(self, name: str) -> bool:
        return name in self._names or bool(self._pattern and self._pattern.fullmatch(name))


def _ints(values: Iterable[Any]) -> np.ndarray:
    return np.array([_INT64_MISSING if v is None else int(v) for v in values], dtype=np.int64)


def _numbers(row: dict[str, list[Any]]) -> dict[str, np.ndarray]:
    """The numeric columns of one frame (a fatalities figure counts only when its text was stated)."""
    placed = [a is not None and b is not None for a, b in zip(row["latitude"], row["longitude"], strict=True)]
    stated = zip(row["fatalities"], row["fatalities_text"], strict=True)
    return {
        "time_precision": _ints(row["time_precision"]),
        "geo_precision": _ints(row["geo_precision"]),
        "fatalities": _ints(f if t is not None else None for f, t in stated),
        "lat": _coordinates(row["latitude"], placed),
        "lon": _coordinates(row["longitude"], placed),
        "confidence": np.array([float(v or 0.0) for v in row["confidence"]], dtype=np.float64),
    }


def _evidence(row: dict[str, list[Any]], kinds: list[str], rules: ClusterRules) -> dict[str, np.ndarray]:
    """Whether place and date were read from the event's own sentence (a weak type's place never is)."""
    place = [k not in rules.place_weak_types and _from_sentence(r, rules.strong_place_reasons)
             for k, r in zip(kinds, row["geo_reason"], strict=True)]  # fmt: skip
    return {
        "place_from_sentence": np.array(place, dtype=bool),
        "date_from_sentence": _flags(row["date_reason"], rules.strong_date_reasons),
        "date_is_publication": _flags(row["date_reason"], rules.publication_date_reasons),
    }


@dataclass
class _Parser:
    """Frames read one at a time into column pieces; the value tables are shared by all the pieces."""

    rules: ClusterRules
    tables: dict[str, Interner] = field(default_factory=lambda: {k: Interner() for k in _CODED})
    pieces: list[dict[str, np.ndarray]] = field(default_factory=list)

    def add(self, frame: pd.DataFrame) -> None:
        absent = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
        if absent:
            raise DataFileError(f"events table lacks column(s) {', '.join(absent)}")
        row = {c: _column(frame, c) for c in _READ_COLUMNS}
        kinds = [str(v) for v in row["event_type"]]
        where = frame["location"].tolist() if "location" in frame.columns else [None] * len(frame)
        stop = _StopActors(self.rules)
        coded = {
            "event_type": kinds,
            "article_id": row["article_id"],
            "source": row["source"],
            "iso3": row["iso3"],
            "location": where,
            "actors": map(stop.actors, zip(*(row[c] for c in ACTOR_COLUMNS), strict=True)),
        }
        piece = {k: self.tables[k].codes(values) for k, values in coded.items()}
        piece |= {"ids": _id_array([str(v) for v in row["event_id"]]), "day": _days(frame, _INT64_MISSING)}
        self.pieces.append(piece | _numbers(row) | _evidence(row, kinds, self.rules))

    def finish(self) -> tuple[EventColumns, np.ndarray]:
        """The events (the last row of each id, sorted by id), and each row's position among them."""
        whole = (
            {name: _concatenate(self.pieces, name) for name in list(self.pieces[0])} if self.pieces else {}
        )
        self.pieces.clear()
        ids = whole.pop("ids", np.empty(0, dtype="S1"))
        order = np.argsort(ids, kind="stable")  # an id's rows together, in row order
        ranked = ids[order]
        new = np.ones(len(ids), dtype=bool)
        new[1:] = ranked[1:] != ranked[:-1]
        last = np.roll(new, -1) if len(ids) else new  # the last row of each id (the next row starts one)
        positions = np.empty(len(ids), dtype=np.int64)
        positions[order] = np.cumsum(new) - 1
        rows = order[last]
        del order, ranked
        events = EventColumns(
            ids[rows],
            {k: Coded(_get(whole, k, np.int32)[rows], tuple(self.tables[k].values)) for k in _CODED},
            {k: narrow(_get(whole, k, np.int64)[rows]) for k in _INTS},
            {k: _get(whole, k, np.float64)[rows] for k in _FLOATS},
            {k: _get(whole, k, bool)[rows] for k in _FLAGS},
        )
        return events, positions


def _get(whole: dict[str, np.ndarray], name: str, dtype: Any) -> np.ndarray:
    return whole.pop(name) if name in whole else np.empty(0, dtype=dtype)


def _concatenate(pieces: list[dict[str, np.ndarray]], name: str) -> np.ndarray:
    parts = [piece.pop(name) for piece in pieces]
    if name == "ids" and any(p.dtype.kind != "S" for p in parts):
        parts = [p.astype(str).astype(object) if p.dtype.kind == "S" else p for p in parts]
    return np.concatenate(parts)


def _id_array(ids: list[str]) -> np.ndarray:
    """Ids as fixed-width ASCII bytes (16 bytes a build's id); any other text stays str objects (bytes
    would lose a trailing NUL, and only ASCII bytes sort as the strings do)."""
    if all(i.isascii() and not i.endswith("\0") for i in ids):
        return np.array([i.encode("ascii") for i in ids], dtype=bytes) if ids else np.empty(0, dtype="S1")
    return np.array(ids, dtype=object)


def _coordinates(values: list[Any], placed: list[bool]) -> np.ndarray:
    return np.array(
        [float(v) if p else math.nan for v, p in zip(values, placed, strict=True)], dtype=np.float64
    )


def _flags(reasons: list[Any], strong: tuple[str, ...]) -> np.ndarray:
    return np.array([_from_sentence(r, strong) for r in reasons], dtype=bool)


def parse_stream(frames: Iterable[pd.DataFrame], rules: ClusterRules) -> tuple[EventColumns, np.ndarray]:
    """The events of ``frames`` (read one at a time; a repeated id keeps its last row) sorted by id, and
    where each row's event is among them."""
    parser = _Parser(rules)
    for frame in frames:
        parser.add(frame)
    return parser.finish()
