"""Cross-source event clusters: group coded events that describe the same real-world event.

Two events are *compatible* when their types share a group, their places and dates are within limits
set by their ACLED precisions, their actors do not contradict each other, and at least one of place
and date was read from *both* sentences (an article's place or a publication date is weak evidence
that would chain a whole news cycle together). Merges are applied strongest first, in a total order
(row order does not matter), and one that would stretch a cluster beyond the maximum span is refused.
All thresholds are data (``seeds/rules/clusters.json``); every kept merge keeps its pairwise reasons.
Cluster ids are ``stable_id`` of the sorted member event ids.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd

from coder.config import Settings
from coder.errors import DataFileError
from coder.records import stable_id

SCHEMA_NAME = "clusters_rules.schema.json"
REQUIRED_COLUMNS: tuple[str, ...] = ("event_id", "event_type")
ACTOR_COLUMNS: tuple[str, ...] = ("actor1", "actor2", "assoc_actor1")
CLUSTER_COLUMNS: tuple[str, ...] = (
    "event_cluster_id", "canonical_event_id", "member_event_ids", "n_events", "n_sources", "n_articles",
    "event_type", "event_types", "date_first", "date_last", "location", "iso3", "latitude", "longitude",
    "geo_precision", "time_precision", "fatalities", "fatalities_min", "fatalities_max", "evidence",
    "rules_version",
)  # fmt: skip
# Integer columns that may be missing: nullable Int64, so a None does not turn them into floats.
NULLABLE_INTS = {c: "Int64" for c in ("geo_precision", "time_precision", "fatalities_min", "fatalities_max")}
EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
_LEAST_PRECISE = 3  # an unknown precision is treated as the loosest ACLED level


@dataclass(frozen=True)
class ClusterRules:
    """The thresholds of ``seeds/rules/clusters.json``; tuples are indexed by ACLED precision - 1."""

    version: str
    max_distance_km: tuple[float, float, float]
    date_window_days: tuple[float, float, float]
    unknown_location_compatible: bool
    unknown_date_compatible: bool
    unknown_actors_compatible: bool
    type_groups: tuple[frozenset[str], ...]
    fatalities_policy: str
    strong_place_reasons: tuple[str, ...] = ()
    strong_date_reasons: tuple[str, ...] = ()
    min_strong_fields: int = 0
    shared_actor_types: frozenset[str] = frozenset()
    place_weak_types: frozenset[str] = frozenset()
    publication_date_reasons: tuple[str, ...] = ()
    max_span_days: float = math.inf
    max_span_km: float = math.inf

    @classmethod
    def load(cls, path: Path, schema_path: Path | None = None) -> ClusterRules:
        """Read and schema-check a rules file; any problem is a ``DataFileError`` naming the file."""
        schema_file = schema_path or Settings().schemas_dir / SCHEMA_NAME
        data = _read_json(path)
        schema = _read_json(schema_file)
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: e.path)
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "(top level)"
            raise DataFileError(f"{where}: {errors[0].message}", path=str(path))
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterRules:
        """Build from an already validated rules document."""
        return cls(
            version=data["version"],
            max_distance_km=_by_precision(data["max_distance_km_by_geo_precision"]["value"]),
            date_window_days=_by_precision(data["date_window_days_by_time_precision"]["value"]),
            unknown_location_compatible=data["unknown_location_compatible"]["value"],
            unknown_date_compatible=data["unknown_date_compatible"]["value"],
            unknown_actors_compatible=data["unknown_actors_compatible"]["value"],
            type_groups=tuple(frozenset(group) for group in data["type_groups"]["value"]),
            fatalities_policy=data["fatalities_policy"]["value"],
            strong_place_reasons=tuple(data["strong_evidence"]["value"]["place_reasons"]),
            strong_date_reasons=tuple(data["strong_evidence"]["value"]["date_reasons"]),
            min_strong_fields=int(data["strong_evidence"]["value"]["min_strong_fields"]),
            shared_actor_types=frozenset(data["shared_actor_required_types"]["value"]),
            place_weak_types=frozenset(data["strong_evidence"]["value"]["place_not_strong_for_types"]),
            publication_date_reasons=tuple(data["publication_bound_date_reasons"]["value"]),
            max_span_days=float(data["max_cluster_span"]["value"]["days"]),
            max_span_km=float(data["max_cluster_span"]["value"]["km"]),
        )

    def types_compatible(self, a: str, b: str) -> bool:
        return any(a in group and b in group for group in self.type_groups)

    def distance_limit(self, a: int | None, b: int | None) -> float:
        return self.max_distance_km[_looser(a, b) - 1]

    def date_window(self, a: int | None, b: int | None) -> float:
        return self.date_window_days[_looser(a, b) - 1]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFileError(f"cannot read JSON: {exc}", path=str(path)) from None


def _by_precision(values: dict[str, float]) -> tuple[float, float, float]:
    return (float(values["1"]), float(values["2"]), float(values["3"]))


def _looser(a: int | None, b: int | None) -> int:
    known = [p for p in (a, b) if p is not None and 1 <= p <= _LEAST_PRECISE]
    return max(known) if len(known) == 2 else _LEAST_PRECISE


@dataclass(frozen=True)
class _Event:
    """The fields of one event row that clustering reads, normalised (missing -> None)."""

    event_id: str
    event_type: str
    article_id: str | None
    source: str | None
    day: int | None  # proleptic ordinal of event_date
    time_precision: int | None
    lat: float | None
    lon: float | None
    geo_precision: int | None
    iso3: str | None
    actors: frozenset[str]
    confidence: float
    fatalities: int | None  # None when no figure was stated
    place_from_sentence: bool = False  # the place was read from this event's own sentence
    date_from_sentence: bool = False
    date_is_publication: bool = False  # the event happened on or before this date

    @property
    def point(self) -> tuple[float, float] | None:
        return (self.lat, self.lon) if self.lat is not None and self.lon is not None else None

    def rank(self) -> tuple[int, int, float, str]:
        """Canonical-member order: most precise place, then date, then most confident, then id."""
        return (self.geo_precision or 9, self.time_precision or 9, -self.confidence, self.event_id)


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _value(row: dict[str, Any], column: str) -> Any:
    value = row.get(column)
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return value


def _from_sentence(reason: Any, strong: tuple[str, ...]) -> bool:
    """A missing reason counts as weak: a merge must be able to show its evidence."""
    return reason is not None and str(reason).startswith(strong)


def _to_event(row: dict[str, Any], rules: ClusterRules) -> _Event:
    when = _value(row, "event_date")
    day = pd.Timestamp(when).toordinal() if when is not None else None
    lat, lon = _value(row, "latitude"), _value(row, "longitude")
    stated = _value(row, "fatalities_text") is not None
    fatalities = _value(row, "fatalities")
    return _Event(
        event_id=str(row["event_id"]),
        event_type=str(row["event_type"]),
        article_id=_value(row, "article_id"),
        source=_value(row, "source"),
        day=day,
        time_precision=_int(_value(row, "time_precision")),
        lat=float(lat) if lat is not None and lon is not None else None,
        lon=float(lon) if lat is not None and lon is not None else None,
        geo_precision=_int(_value(row, "geo_precision")),
        iso3=_value(row, "iso3"),
        actors=frozenset(str(a).casefold() for c in ACTOR_COLUMNS if (a := _value(row, c)) is not None),
        confidence=float(_value(row, "confidence") or 0.0),
        fatalities=int(fatalities) if stated and fatalities is not None else None,
        place_from_sentence=str(row["event_type"]) not in rules.place_weak_types
        and _from_sentence(_value(row, "geo_reason"), rules.strong_place_reasons),
        date_from_sentence=_from_sentence(_value(row, "date_reason"), rules.strong_date_reasons),
        date_is_publication=_from_sentence(_value(row, "date_reason"), rules.publication_date_reasons),
    )


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _place_reason(a: _Event, b: _Event, rules: ClusterRules) -> str | None:
    if a.point and b.point:
        km, limit = haversine_km(*a.point, *b.point), rules.distance_limit(a.geo_precision, b.geo_precision)
        return f"distance {km:.1f} km <= {limit:g} km" if km <= limit else None
    if not rules.unknown_location_compatible or (a.iso3 and b.iso3 and a.iso3 != b.iso3):
        return None
    same = f", same country {a.iso3}" if a.iso3 and a.iso3 == b.iso3 else ""
    return "location unknown on one side" + same


def _date_reason(a: _Event, b: _Event, rules: ClusterRules) -> str | None:
    if a.day is None or b.day is None:
        return "date unknown on one side" if rules.unknown_date_compatible else None
    if (a.date_is_publication and b.day > a.day) or (b.date_is_publication and a.day > b.day):
        return None  # an event reported on a day cannot be one that happened after it
    apart, window = abs(a.day - b.day), rules.date_window(a.time_precision, b.time_precision)
    return f"dates {apart} days apart <= {window:g}" if apart <= window else None


def _actor_reason(a: _Event, b: _Event, rules: ClusterRules) -> str | None:
    if a.actors and b.actors:
        shared = sorted(a.actors & b.actors)
        return f"shared actors: {'; '.join(shared)}" if shared else None
    if {a.event_type, b.event_type} & rules.shared_actor_types:
        return None  # e.g. a statement is defined by its speaker: no speaker, no evidence
    return "actors unnamed on one side" if rules.unknown_actors_compatible else None


def _strong_fields(a: _Event, b: _Event) -> list[str]:
    """Fields whose agreement was read from both sentences (the place and date checks passed already)."""
    place = a.place_from_sentence and b.place_from_sentence and a.point and b.point
    date_ = a.date_from_sentence and b.date_from_sentence and a.day is not None and b.day is not None
    return ["place"] * bool(place) + ["date"] * bool(date_)


def compatibility(a: _Event, b: _Event, rules: ClusterRules) -> list[str] | None:
    """The reasons two events may be the same event, or None when a rule says they are not."""
    if not rules.types_compatible(a.event_type, b.event_type):
        return None
    reasons = [f"types compatible: {a.event_type} ~ {b.event_type}"]
    for check in (_place_reason, _date_reason, _actor_reason):
        reason = check(a, b, rules)
        if reason is None:
            return None
        reasons.append(reason)
    strong = _strong_fields(a, b)
    if len(strong) < rules.min_strong_fields:
        return None
    reasons += [f"read from both sentences: {' and '.join(strong)}"] if strong else []
    if a.article_id is not None and a.article_id == b.article_id:
        reasons.append("same article")
    return reasons


def _candidate_pairs(events: Sequence[_Event], rules: ClusterRules) -> Iterator[tuple[_Event, _Event]]:
    """Pairs of type-compatible events close enough in time to be worth comparing (may repeat)."""
    for group in rules.type_groups:
        members = sorted((e for e in events if e.event_type in group), key=lambda e: (e.day or 0, e.event_id))
        buckets = [[e for e in members if _precision(e) == p] for p in (1, 2, 3)]
        for pa, pb in itertools.combinations_with_replacement(range(3), 2):
            yield from _dated_pairs(buckets[pa], buckets[pb], rules.date_window_days[pb], same=pa == pb)
        if rules.unknown_date_compatible:
            undated = [e for e in members if e.day is None]
            dated = [e for e in members if e.day is not None]
            yield from ((a, b) for i, a in enumerate(undated) for b in [*undated[i + 1 :], *dated])


def _precision(event: _Event) -> int:
    """The time-precision bucket of a dated event (an unknown precision is the loosest); 0 when undated."""
    if event.day is None:
        return 0
    known = event.time_precision is not None and 1 <= event.time_precision <= _LEAST_PRECISE
    return event.time_precision if known else _LEAST_PRECISE  # type: ignore[return-value]


def _dated_pairs(
    left: list[_Event], right: list[_Event], window: float, same: bool
) -> Iterator[tuple[_Event, _Event]]:
    """Pairs within ``window`` days; both lists sorted by day (a binary search per event, not a full scan)."""
    days = [e.day or 0 for e in right]
    for i, a in enumerate(left):
        low = bisect.bisect_left(days, (a.day or 0) - window)
        high = bisect.bisect_right(days, (a.day or 0) + window)
        start = max(low, i + 1) if same else low
        yield from ((a, right[j]) for j in range(start, high))


@dataclass(frozen=True)
class _Merge:
    a: str
    b: str
    reasons: tuple[str, ...]
    order: tuple[float, ...] = ()  # strongest first: more fields read from both sentences, then closer


def _merge_order(a: _Event, b: _Event) -> tuple[float, ...]:
    days = abs(a.day - b.day) if a.day is not None and b.day is not None else math.inf
    km = haversine_km(*a.point, *b.point) if a.point and b.point else math.inf
    return (-len(_strong_fields(a, b)), days, round(km, 6))


def _merges(events: Sequence[_Event], rules: ClusterRules) -> list[_Merge]:
    found: dict[tuple[str, str], _Merge] = {}
    for a, b in _candidate_pairs(events, rules):
        first, second = sorted((a, b), key=lambda e: e.event_id)
        key = (first.event_id, second.event_id)
        if key not in found and (reasons := compatibility(first, second, rules)) is not None:
            found[key] = _Merge(key[0], key[1], tuple(reasons), _merge_order(first, second))
    return sorted(found.values(), key=lambda m: (m.order, m.a, m.b))


@dataclass
class _Extent:
    """What a cluster covers: first and last day, distinct coordinates, loosest (geo, time) precision."""

    days: tuple[int, int] | None
    points: frozenset[tuple[float, float]]
    loosest: tuple[int, int]

    @classmethod
    def of(cls, e: _Event) -> _Extent:
        days = (e.day, e.day) if e.day is not None else None
        loosest = (_looser(e.geo_precision, 1), _looser(e.time_precision, 1))
        return cls(days, frozenset({e.point}) if e.point else frozenset(), loosest)

    def join(self, other: _Extent) -> _Extent:
        spans = [d for d in (self.days, other.days) if d is not None]
        days = (min(d[0] for d in spans), max(d[1] for d in spans)) if spans else None
        loosest = (max(self.loosest[0], other.loosest[0]), max(self.loosest[1], other.loosest[1]))
        return _Extent(days, self.points | other.points, loosest)

    def fits(self, rules: ClusterRules) -> bool:
        """Within the absolute caps and within what one merge of its loosest members may span."""
        max_days = min(rules.max_span_days, rules.date_window(self.loosest[1], self.loosest[1]))
        if self.days is not None and self.days[1] - self.days[0] > max_days:
            return False
        max_km, pts = (
            min(rules.max_span_km, rules.distance_limit(*[self.loosest[0]] * 2)),
            sorted(self.points),
        )
        return all(haversine_km(*p, *q) <= max_km for i, p in enumerate(pts) for q in pts[i + 1 :])


class _UnionFind:
    """Disjoint sets that refuse a union whose joined extent breaks the rules' maximum span."""

    def __init__(self, events: Iterable[_Event]) -> None:
        self._parent = {e.event_id: e.event_id for e in events}
        self._extent = {e.event_id: _Extent.of(e) for e in events}

    def find(self, item: str) -> str:
        while self._parent[item] != item:
            self._parent[item] = self._parent[self._parent[item]]
            item = self._parent[item]
        return item

    def union(self, a: str, b: str, rules: ClusterRules) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        joined = self._extent[ra].join(self._extent[rb])
        if not joined.fits(rules):
            return False
        root, child = min(ra, rb), max(ra, rb)
        self._parent[child], self._extent[root] = root, joined
        return True


def _components(
    events: Sequence[_Event], merges: list[_Merge], rules: ClusterRules
) -> list[tuple[list[_Event], list[_Merge]]]:
    """Clusters with the merges (a spanning forest, strongest first) that built them."""
    forest = _UnionFind(events)
    kept = [m for m in merges if forest.union(m.a, m.b, rules)]
    members: dict[str, list[_Event]] = {}
    for event in events:
        members.setdefault(forest.find(event.event_id), []).append(event)
    edges: dict[str, list[_Merge]] = {}
    for merge in sorted(kept, key=lambda m: (m.a, m.b)):
        edges.setdefault(forest.find(merge.a), []).append(merge)
    return [(members[root], edges.get(root, [])) for root in sorted(members)]


def _fatalities(canonical: _Event, stated: list[int], policy: str) -> int:
    if policy == "canonical" or not stated:
        return canonical.fatalities or 0
    return max(stated) if policy == "max_reported" else min(stated)


def _cluster_row(
    members: list[_Event], merges: list[_Merge], rows: dict[str, dict[str, Any]], rules: ClusterRules
) -> dict[str, Any]:
    ids = sorted({e.event_id for e in members})
    canonical = min(members, key=_Event.rank)
    top = rows[canonical.event_id]
    days = sorted(e.day for e in members if e.day is not None)
    stated = [e.fatalities for e in members if e.fatalities is not None]
    return {
        "event_cluster_id": stable_id(*ids),
        "canonical_event_id": canonical.event_id,
        "member_event_ids": ";".join(ids),
        "n_events": len(ids),
        "n_sources": len({e.source for e in members if e.source is not None}),
        "n_articles": len({e.article_id for e in members if e.article_id is not None}),
        "event_type": canonical.event_type,
        "event_types": ";".join(sorted({e.event_type for e in members})),
        "date_first": date.fromordinal(days[0]) if days else None,
        "date_last": date.fromordinal(days[-1]) if days else None,
        "location": _value(top, "location"),
        "iso3": canonical.iso3,
        "latitude": canonical.lat,
        "longitude": canonical.lon,
        "geo_precision": canonical.geo_precision,
        "time_precision": canonical.time_precision,
        "fatalities": _fatalities(canonical, stated, rules.fatalities_policy),
        "fatalities_min": min(stated) if stated else None,
        "fatalities_max": max(stated) if stated else None,
        "evidence": json.dumps([{"a": m.a, "b": m.b, "rules": list(m.reasons)} for m in merges]),
        "rules_version": rules.version,
    }


def cluster_events(events: pd.DataFrame, rules: ClusterRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events with an ``event_cluster_id`` column (rows in input order), and the clusters table.

    The clusters table has one row per cluster (singletons included), sorted by first date then id;
    ``evidence`` is JSON: the pairwise merges that joined the cluster and the rule outcome of each.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in events.columns]
    if missing:
        raise DataFileError(f"events table lacks column(s) {', '.join(missing)}")
    rows = {str(r["event_id"]): r for r in events.to_dict(orient="records")}
    parsed = sorted((_to_event(r, rules) for r in rows.values()), key=lambda e: e.event_id)
    found = _components(parsed, _merges(parsed, rules), rules)
    clusters = [_cluster_row(m, e, rows, rules) for m, e in found]
    table = pd.DataFrame(clusters, columns=list(CLUSTER_COLUMNS)).astype(NULLABLE_INTS)
    if len(table):
        table = table.sort_values(["date_first", "event_cluster_id"], na_position="last", kind="stable")
    owner = {i: c["event_cluster_id"] for c in clusters for i in c["member_event_ids"].split(";")}
    out = events.copy()
    out["event_cluster_id"] = [owner[str(i)] for i in out["event_id"]]
    return out, table.reset_index(drop=True)
