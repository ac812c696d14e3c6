"""The cluster rules (``seeds/rules/clusters.json``) and the pairwise test they define.

Two events are *compatible* when their types share a group, their places and dates are within limits
set by their ACLED precisions, their actors do not contradict each other, and at least one of place
and date was read from *both* sentences (an article's place or a publication date is weak evidence
that would chain a whole news cycle together). Actor names on the rules' stop list (pronouns, words
like "broadcasters" or "air" that the parse mistook for actors) are not actors at all here.
``compatibility`` is the one definition of a pair; ``coder.clusters.linkage`` only decides which
pairs are worth asking about.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coder.config import Settings
from coder.errors import DataFileError
from coder.schema import check_data_file

SCHEMA_NAME = "clusters_rules.schema.json"
EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
LEAST_PRECISE = 3  # an unknown precision is treated as the loosest ACLED level


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
    stop_actor_names: frozenset[str] = frozenset()  # casefolded
    stop_actor_patterns: tuple[str, ...] = ()  # full-match regexes on the casefolded name

    @classmethod
    def load(cls, path: Path, schema_path: Path | None = None) -> ClusterRules:
        """Read and schema-check a rules file; any problem is a ``DataFileError`` naming the file."""
        schema_file = schema_path or Settings().schemas_dir / SCHEMA_NAME
        data = _read_json(path)
        check_data_file(data, schema_file, str(path))
        for pattern in data["stop_actors"]["value"]["patterns"]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise DataFileError(f"stop_actors: bad pattern {pattern!r}: {exc}", path=str(path)) from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterRules:
        """Build from an already validated rules document."""
        strong = data["strong_evidence"]["value"]
        return cls(
            version=data["version"],
            max_distance_km=_by_precision(data["max_distance_km_by_geo_precision"]["value"]),
            date_window_days=_by_precision(data["date_window_days_by_time_precision"]["value"]),
            unknown_location_compatible=data["unknown_location_compatible"]["value"],
            unknown_date_compatible=data["unknown_date_compatible"]["value"],
            unknown_actors_compatible=data["unknown_actors_compatible"]["value"],
            type_groups=tuple(frozenset(group) for group in data["type_groups"]["value"]),
            fatalities_policy=data["fatalities_policy"]["value"],
            strong_place_reasons=tuple(strong["place_reasons"]),
            strong_date_reasons=tuple(strong["date_reasons"]),
            min_strong_fields=int(strong["min_strong_fields"]),
            shared_actor_types=frozenset(data["shared_actor_required_types"]["value"]),
            place_weak_types=frozenset(strong["place_not_strong_for_types"]),
            publication_date_reasons=tuple(data["publication_bound_date_reasons"]["value"]),
            max_span_days=float(data["max_cluster_span"]["value"]["days"]),
            max_span_km=float(data["max_cluster_span"]["value"]["km"]),
            stop_actor_names=frozenset(n.casefold() for n in data["stop_actors"]["value"]["names"]),
            stop_actor_patterns=tuple(data["stop_actors"]["value"]["patterns"]),
        )

    def types_compatible(self, a: str, b: str) -> bool:
        return any(a in group and b in group for group in self.type_groups)

    def distance_limit(self, a: int | None, b: int | None) -> float:
        return self.max_distance_km[looser(a, b) - 1]

    def date_window(self, a: int | None, b: int | None) -> float:
        return self.date_window_days[looser(a, b) - 1]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFileError(f"cannot read JSON: {exc}", path=str(path)) from None


def _by_precision(values: dict[str, float]) -> tuple[float, float, float]:
    return (float(values["1"]), float(values["2"]), float(values["3"]))


def precision_class(p: int | None) -> int:
    """1..3; an unknown or out-of-range precision is the loosest."""
    return p if p is not None and 1 <= p <= LEAST_PRECISE else LEAST_PRECISE


def looser(a: int | None, b: int | None) -> int:
    return max(precision_class(a), precision_class(b))


@dataclass(frozen=True, slots=True)  # made from EventColumns a block at a time, thousands at once
class Event:
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
    location: Any = None  # the row's location column, written to the clusters table as it is

    @property
    def point(self) -> tuple[float, float] | None:
        return (self.lat, self.lon) if self.lat is not None and self.lon is not None else None

    def rank(self) -> tuple[int, int, float, str]:
        """Canonical-member order: most precise place, then date, then most confident, then id."""
        return (self.geo_precision or 9, self.time_precision or 9, -self.confidence, self.event_id)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _place_reason(a: Event, b: Event, rules: ClusterRules) -> str | None:
    if a.point and b.point:
        km, limit = haversine_km(*a.point, *b.point), rules.distance_limit(a.geo_precision, b.geo_precision)
        return f"distance {km:.1f} km <= {limit:g} km" if km <= limit else None
    if not rules.unknown_location_compatible or (a.iso3 and b.iso3 and a.iso3 != b.iso3):
        return None
    same = f", same country {a.iso3}" if a.iso3 and a.iso3 == b.iso3 else ""
    return "location unknown on one side" + same


def _date_reason(a: Event, b: Event, rules: ClusterRules) -> str | None:
    if a.day is None or b.day is None:
        return "date unknown on one side" if rules.unknown_date_compatible else None
    if (a.date_is_publication and b.day > a.day) or (b.date_is_publication and a.day > b.day):
        return None  # an event reported on a day cannot be one that happened after it
    apart, window = abs(a.day - b.day), rules.date_window(a.time_precision, b.time_precision)
    return f"dates {apart} days apart <= {window:g}" if apart <= window else None


def _actor_reason(a: Event, b: Event, rules: ClusterRules) -> str | None:
    if a.actors and b.actors:
        shared = sorted(a.actors & b.actors)
        return f"shared actors: {'; '.join(shared)}" if shared else None
    if {a.event_type, b.event_type} & rules.shared_actor_types:
        return None  # e.g. a statement is defined by its speaker: no speaker, no evidence
    return "actors unnamed on one side" if rules.unknown_actors_compatible else None


def strong_fields(a: Event, b: Event) -> list[str]:
    """Fields whose agreement was read from both sentences (the place and date checks passed already)."""
    place = a.place_from_sentence and b.place_from_sentence and a.point and b.point
    date_ = a.date_from_sentence and b.date_from_sentence and a.day is not None and b.day is not None
    return ["place"] * bool(place) + ["date"] * bool(date_)


def compatibility(a: Event, b: Event, rules: ClusterRules) -> list[str] | None:
    """The reasons two events may be the same event, or None when a rule says they are not."""
    if not rules.types_compatible(a.event_type, b.event_type):
        return None
    reasons = [f"types compatible: {a.event_type} ~ {b.event_type}"]
    for check in (_place_reason, _date_reason, _actor_reason):
        reason = check(a, b, rules)
        if reason is None:
            return None
        reasons.append(reason)
    strong = strong_fields(a, b)
    if len(strong) < rules.min_strong_fields:
        return None
    reasons += [f"read from both sentences: {' and '.join(strong)}"] if strong else []
    if a.article_id is not None and a.article_id == b.article_id:
        reasons.append("same article")
    return reasons


def merge_order(a: Event, b: Event) -> tuple[float, ...]:
    """Strongest first: more fields read from both sentences, then fewer days apart, then fewer km."""
    days = abs(a.day - b.day) if a.day is not None and b.day is not None else math.inf
    km = haversine_km(*a.point, *b.point) if a.point and b.point else math.inf
    return (-len(strong_fields(a, b)), days, round(km, 6))
