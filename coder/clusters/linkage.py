"""Which pairs to ask about, and how kept merges become clusters, in near-linear time.

Candidate pairs come from a grid: per type group and per pair of ACLED precision classes, events are
bucketed by (date / window) and by their point on the unit sphere (x, y, z scaled by the distance
limit), and only events in neighbouring cells are paired. The grid only *finds* pairs: a vectorised
copy of the rules drops the hopeless ones, and ``rules.compatibility`` (the one definition) decides
every pair that is left, so the result equals asking it about all pairs (tests/test_clusters.py
checks this against an all-pairs reference). Merges are then applied strongest first, in a total
order (row order does not matter), and one that would stretch a cluster beyond the maximum span is
refused. Cluster ids are ``stable_id`` of the sorted member event ids.
"""

from __future__ import annotations

import array
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from coder.clusters.rules import (
    EARTH_RADIUS_KM,
    ClusterRules,
    Event,
    compatibility,
    haversine_km,
    merge_order,
    missing,
    precision_class,
)
from coder.records import stable_id

Pairs = tuple[np.ndarray, np.ndarray]
_CLASSES = (1, 2, 3)
_KEY_MULTIPLIERS = np.array([1_000_003, 998_244_353, 1_000_000_007, 2_147_483_647], dtype=np.int64)
_SLACK_KM = 1e-6  # the vectorised distance may differ from math's in the last bits; compatibility decides


@dataclass(frozen=True, slots=True)  # slots: one per compatible pair, up to millions
class Merge:
    a: str
    b: str
    reasons: tuple[str, ...]
    order: tuple[float, ...] = ()  # strongest first (rules.merge_order)


class _Arrays:
    """Column arrays of the events (in the order given) that the grid and the vectorised test read."""

    def __init__(self, events: Sequence[Event], rules: ClusterRules) -> None:
        n = len(events)
        self.dated = np.array([e.day is not None for e in events], dtype=bool)
        self.day = np.array([e.day or 0 for e in events], dtype=np.int64)
        self.placed = np.array([e.point is not None for e in events], dtype=bool)
        lat = np.radians(np.array([e.lat or 0.0 for e in events], dtype=float))
        lon = np.radians(np.array([e.lon or 0.0 for e in events], dtype=float))
        self.lat, self.lon = lat, lon
        self.xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
        self.tpc = np.array([precision_class(e.time_precision) for e in events], dtype=np.int64)
        self.gpc = np.array([precision_class(e.geo_precision) for e in events], dtype=np.int64)
        codes: dict[Any, int] = {}
        self.iso = np.array([codes.setdefault(e.iso3, len(codes)) if e.iso3 else -1 for e in events])
        self.place_strong = np.array([e.place_from_sentence for e in events], dtype=bool) & self.placed
        self.date_strong = np.array([e.date_from_sentence for e in events], dtype=bool) & self.dated
        self.publication = np.array([e.date_is_publication for e in events], dtype=bool)
        self.needs_speaker = np.array([e.event_type in rules.shared_actor_types for e in events], dtype=bool)
        self.actors = _actor_matrix(events, n)
        self.types = [e.event_type for e in events]


def _actor_matrix(events: Sequence[Event], n: int) -> np.ndarray:
    """Actor ids per event, padded with -1 (an event names at most a few actors)."""
    ids: dict[str, int] = {}
    width = max((len(e.actors) for e in events), default=0)
    out = np.full((n, max(width, 1)), -1, dtype=np.int64)
    for row, e in enumerate(events):
        for col, name in enumerate(sorted(e.actors)):
            out[row, col] = ids.setdefault(name, len(ids))
    return out


def _expand(lo: np.ndarray, hi: np.ndarray) -> Pairs:
    """All (i, k) with lo[i] <= k < hi[i]."""
    counts = hi - lo
    left = np.repeat(np.arange(len(lo)), counts)
    starts = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    return left, starts + np.arange(counts.sum())


def _join(left: np.ndarray, right: np.ndarray, keys: np.ndarray) -> Iterator[Pairs]:
    """Pairs (left[i], right[j]) whose integer cell keys differ by at most 1 in every column, one
    neighbouring offset at a time (the caller filters each: all offsets at once is the peak memory).

    Keys are hashed to one int64; a collision only adds a candidate, which the exact test drops.
    """
    if not len(left) or not len(right):
        return
    width = keys.shape[1]
    mult = _KEY_MULTIPLIERS[:width]
    right_codes = keys[right] @ mult
    order = np.argsort(right_codes, kind="stable")
    sorted_codes = right_codes[order]
    base = keys[left] @ mult
    for offset in itertools.product((-1, 0, 1), repeat=width):
        codes = base + np.array(offset, dtype=np.int64) @ mult
        lo = np.searchsorted(sorted_codes, codes, side="left")
        hi = np.searchsorted(sorted_codes, codes, side="right")
        li, ri = _expand(lo, hi)
        yield left[li], right[order[ri]]


def _cells(arr: _Arrays, window: float | None, km: float | None) -> np.ndarray:
    """Cell keys: date / window and unit-sphere point / km (a chord is never longer than its arc)."""
    columns = []
    if window is not None:
        columns.append(np.floor(arr.day / (window if window > 0 else 1.0)))
    if km is not None:
        size = km * (1 + 1e-9) + 1e-9
        columns.extend(np.floor(arr.xyz[:, k] * EARTH_RADIUS_KM / size) for k in range(3))
    if not columns:
        return np.zeros((len(arr.day), 1), dtype=np.int64)
    return np.stack(columns, axis=1).astype(np.int64)


def _lane_pairs(subset: np.ndarray, arr: _Arrays, rules: ClusterRules) -> Iterable[Pairs]:
    """Cover every pair of ``subset`` (a mask) that the date and place rules could accept."""
    dated_placed = subset & arr.dated & arr.placed
    for p, g in itertools.product(_CLASSES, _CLASSES):
        keys = _cells(arr, rules.date_window_days[p - 1], rules.max_distance_km[g - 1])
        within = dated_placed & (arr.tpc <= p) & (arr.gpc <= g)
        corner = within & (arr.tpc == p) & (arr.gpc == g)
        yield from _join(np.flatnonzero(corner), np.flatnonzero(within), keys)
        side_p, side_g = within & (arr.tpc == p) & (arr.gpc < g), within & (arr.tpc < p) & (arr.gpc == g)
        yield from _join(np.flatnonzero(side_p), np.flatnonzero(side_g), keys)
    if rules.unknown_location_compatible:
        yield from _unplaced_pairs(subset & arr.dated, arr, rules)
    if rules.unknown_date_compatible:
        yield from _undated_pairs(subset, arr, rules)


def _unplaced_pairs(dated: np.ndarray, arr: _Arrays, rules: ClusterRules) -> Iterable[Pairs]:
    """Dated pairs of which at least one has no point: blocked on the date only."""
    for p in _CLASSES:
        keys = _cells(arr, rules.date_window_days[p - 1], None)
        within = dated & (arr.tpc <= p)
        loosest = within & (arr.tpc == p)
        yield from _join(np.flatnonzero(loosest & ~arr.placed), np.flatnonzero(within), keys)
        yield from _join(np.flatnonzero(loosest & arr.placed), np.flatnonzero(within & ~arr.placed), keys)


def _undated_pairs(subset: np.ndarray, arr: _Arrays, rules: ClusterRules) -> Iterable[Pairs]:
    """Pairs of which at least one has no date: blocked on the place only, or not at all."""
    undated, placed = subset & ~arr.dated, subset & arr.placed
    for g in _CLASSES:
        keys = _cells(arr, None, rules.max_distance_km[g - 1])
        yield from _join(
            np.flatnonzero(undated & placed & (arr.gpc <= g)), np.flatnonzero(placed & (arr.gpc <= g)), keys
        )
    if rules.unknown_location_compatible:
        keys = _cells(arr, None, None)
        yield from _join(np.flatnonzero(undated & ~arr.placed), np.flatnonzero(subset), keys)
        yield from _join(np.flatnonzero(undated), np.flatnonzero(subset & ~arr.placed), keys)


def _strength_subsets(arr: _Arrays, rules: ClusterRules) -> list[np.ndarray]:
    """A pair needs min_strong_fields of {place, date} strong on *both* sides: pair within those sets."""
    everyone = np.ones(len(arr.day), dtype=bool)
    if rules.min_strong_fields <= 0:
        return [everyone]
    if rules.min_strong_fields == 1:
        return [arr.place_strong, arr.date_strong]
    return [arr.place_strong & arr.date_strong]


def _plausible(i: np.ndarray, j: np.ndarray, arr: _Arrays, rules: ClusterRules) -> np.ndarray:
    """The rules, vectorised and slightly loose on distance: a superset of the compatible pairs."""
    both_placed = arr.placed[i] & arr.placed[j]
    h = (
        np.sin((arr.lat[j] - arr.lat[i]) / 2) ** 2
        + np.cos(arr.lat[i]) * np.cos(arr.lat[j]) * np.sin((arr.lon[j] - arr.lon[i]) / 2) ** 2
    )
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    limit = np.asarray(rules.max_distance_km)[np.maximum(arr.gpc[i], arr.gpc[j]) - 1]
    iso_clash = (arr.iso[i] >= 0) & (arr.iso[j] >= 0) & (arr.iso[i] != arr.iso[j])
    place = np.where(both_placed, km <= limit + _SLACK_KM, rules.unknown_location_compatible & ~iso_clash)
    both_dated = arr.dated[i] & arr.dated[j]
    gap = arr.day[j] - arr.day[i]
    window = np.asarray(rules.date_window_days)[np.maximum(arr.tpc[i], arr.tpc[j]) - 1]
    after = (arr.publication[i] & (gap > 0)) | (arr.publication[j] & (gap < 0))
    when = np.where(both_dated, (np.abs(gap) <= window) & ~after, rules.unknown_date_compatible)
    return place & when & _actors_ok(i, j, arr, rules) & _strong_enough(i, j, arr, rules)


def _actors_ok(i: np.ndarray, j: np.ndarray, arr: _Arrays, rules: ClusterRules) -> np.ndarray:
    a, b = arr.actors[i], arr.actors[j]
    shared = ((a[:, :, None] == b[:, None, :]) & (a[:, :, None] >= 0)).any(axis=(1, 2))
    both_named = (a[:, 0] >= 0) & (b[:, 0] >= 0)
    unnamed_ok = rules.unknown_actors_compatible & ~(arr.needs_speaker[i] | arr.needs_speaker[j])
    return np.where(both_named, shared, unnamed_ok)


def _strong_enough(i: np.ndarray, j: np.ndarray, arr: _Arrays, rules: ClusterRules) -> np.ndarray:
    place = arr.place_strong[i] & arr.place_strong[j]
    date_ = arr.date_strong[i] & arr.date_strong[j]
    return place.astype(np.int64) + date_.astype(np.int64) >= rules.min_strong_fields


def candidate_pairs(events: Sequence[Event], rules: ClusterRules) -> Pairs:
    """Index pairs (i < j) of ``events`` that the vectorised rules accept, each once, sorted."""
    arr = _Arrays(events, rules)
    found: list[np.ndarray] = []
    for group in rules.type_groups:
        member = np.array([t in group for t in arr.types], dtype=bool)
        for subset in _strength_subsets(arr, rules):
            for i, j in _lane_pairs(member & subset, arr, rules):
                keep = i != j
                low, high = np.minimum(i[keep], j[keep]), np.maximum(i[keep], j[keep])
                ok = _plausible(low, high, arr, rules)  # per batch: a pair's test reads only the pair
                found.append(np.unique(low[ok] * len(events) + high[ok]))
    if not found:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    codes = np.unique(np.concatenate(found))
    return codes // len(events), codes % len(events)


def find_merges(events: Sequence[Event], rules: ClusterRules) -> Pairs:
    """Every compatible pair as index arrays (i < j into ``events``, sorted by event_id), strongest first.

    Strongest first is ``(merge_order, a.event_id, b.event_id)``: with the events sorted by id and
    i < j, the ids' order is the indices' order. Only the pairs are kept, not their reasons: a pair's
    reasons are a few strings (~0.6 KB) and most pairs are refused or chain into a kept merge, so
    ``cluster_merges`` asks ``compatibility`` again for the kept merges only (the same answer: it reads
    nothing but the two events).
    """
    left, right = array.array("q"), array.array("q")
    strength, days, km = array.array("q"), array.array("d"), array.array("d")
    for i, j in zip(*(side.tolist() for side in candidate_pairs(events, rules)), strict=True):
        a, b = events[i], events[j]
        if compatibility(a, b, rules) is not None:
            rank = merge_order(a, b)
            left.append(i)
            right.append(j)
            strength.append(int(rank[0]))
            days.append(rank[1])
            km.append(rank[2])
    keys = [np.frombuffer(k, dtype=np.int64 if k.typecode == "q" else float) for k in (right, left, km, days)]
    order = np.lexsort((*keys, np.frombuffer(strength, dtype=np.int64)))  # the last key sorts first
    return keys[1][order], keys[0][order]


@dataclass(slots=True)  # one per event while clusters form
class Extent:
    """What a cluster covers: first and last day, distinct coordinates, loosest (geo, time) class."""

    days: tuple[int, int] | None
    points: frozenset[tuple[float, float]]
    loosest: tuple[int, int]

    @classmethod
    def of(cls, e: Event) -> Extent:
        days = (e.day, e.day) if e.day is not None else None
        loosest = (precision_class(e.geo_precision), precision_class(e.time_precision))
        return cls(days, frozenset({e.point}) if e.point else frozenset(), loosest)

    def join(self, other: Extent) -> Extent:
        spans = [d for d in (self.days, other.days) if d is not None]
        days = (min(d[0] for d in spans), max(d[1] for d in spans)) if spans else None
        loosest = (max(self.loosest[0], other.loosest[0]), max(self.loosest[1], other.loosest[1]))
        return Extent(days, self.points | other.points, loosest)

    def max_km(self, rules: ClusterRules) -> float:
        return min(rules.max_span_km, rules.distance_limit(self.loosest[0], self.loosest[0]))

    def fits_days(self, rules: ClusterRules) -> bool:
        max_days = min(rules.max_span_days, rules.date_window(self.loosest[1], self.loosest[1]))
        return self.days is None or self.days[1] - self.days[0] <= max_days


def _all_within(left: Iterable[tuple[float, float]], right: Iterable[tuple[float, float]], km: float) -> bool:
    return all(haversine_km(*p, *q) <= km for p in left for q in right if p != q)


def joined_fits(a: Extent, b: Extent, joined: Extent, rules: ClusterRules) -> bool:
    """Whether ``joined`` keeps every pair of its points within its span limit.

    Each side already kept its own points within its own limit, so when the joined limit is no
    smaller only the pairs across the two sides need measuring (the same answer, far fewer pairs).
    """
    if not joined.fits_days(rules):
        return False
    limit = joined.max_km(rules)
    if limit >= a.max_km(rules) and limit >= b.max_km(rules):
        return _all_within(sorted(a.points - b.points), sorted(b.points), limit)
    pts = sorted(joined.points)
    return all(haversine_km(*p, *q) <= limit for n, p in enumerate(pts) for q in pts[n + 1 :])


class _UnionFind:
    """Disjoint sets of event indices that refuse a union whose joined extent breaks the maximum span.

    A set's root is its smallest index (the smallest event id); extents are made for the sets that
    take part in a union only (a singleton's extent is its event's).
    """

    def __init__(self, events: Sequence[Event]) -> None:
        self._events = events
        self._parent = array.array("q", range(len(events)))
        self._extent: dict[int, Extent] = {}

    def find(self, item: int) -> int:
        parent = self._parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def extent(self, root: int) -> Extent:
        found = self._extent.get(root)
        return found if found is not None else Extent.of(self._events[root])

    def union(self, a: int, b: int, rules: ClusterRules) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        left, right = self.extent(ra), self.extent(rb)
        joined = left.join(right)
        if not joined_fits(left, right, joined, rules):
            return False
        root, child = min(ra, rb), max(ra, rb)
        self._parent[child], self._extent[root] = root, joined
        self._extent.pop(child, None)
        return True


@dataclass(frozen=True)
class Forest:
    """The kept merges (a spanning forest) and the clusters they make, as index arrays.

    ``roots`` is each event's cluster root (its smallest index); ``members`` lists the events grouped
    by cluster (clusters by root, members in index order), cluster ``c`` being
    ``members[starts[c]:starts[c + 1]]``; ``left``/``right`` are the kept merges grouped the same way
    (by cluster, then (i, j)), cluster ``c``'s being ``[edge_starts[c]:edge_starts[c + 1]]``. Arrays,
    not a list of members and merges a cluster: ~40 bytes an event rather than ~300.
    """

    members: np.ndarray
    starts: np.ndarray
    left: np.ndarray
    right: np.ndarray
    edge_starts: np.ndarray

    def __len__(self) -> int:
        return len(self.starts) - 1

    def cluster(self, c: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Cluster ``c``'s member positions and its kept merges (i < j), in (i, j) order."""
        a, b = int(self.edge_starts[c]), int(self.edge_starts[c + 1])
        pairs = list(zip(self.left[a:b].tolist(), self.right[a:b].tolist(), strict=True))
        return self.members[self.starts[c] : self.starts[c + 1]], pairs


def forest(events: Sequence[Event], merges: Pairs, rules: ClusterRules) -> Forest:
    """Apply ``merges`` (index pairs strongest first, ``find_merges``) and group the kept ones by cluster."""
    found = _UnionFind(events)
    kept = [(i, j) for i, j in zip(*(m.tolist() for m in merges), strict=True) if found.union(i, j, rules)]
    roots = np.array([found.find(n) for n in range(len(events))], dtype=np.int64)
    members = np.argsort(roots, kind="stable")  # each cluster's members in id order, clusters by root
    starts = np.flatnonzero(np.diff(roots[members], prepend=-1))
    cluster_of_root = np.zeros(len(events), dtype=np.int64)
    cluster_of_root[roots[members[starts]]] = np.arange(len(starts))
    left = np.array([i for i, _ in kept], dtype=np.int64)
    right = np.array([j for _, j in kept], dtype=np.int64)
    edge_cluster = cluster_of_root[roots[left]]
    by_cluster = np.lexsort((right, left, edge_cluster))
    edge_starts = np.searchsorted(edge_cluster[by_cluster], np.arange(len(starts) + 1))
    ends = np.append(starts, len(events))
    return Forest(members, ends, left[by_cluster], right[by_cluster], edge_starts)


def cluster_merges(events: Sequence[Event], pairs: list[tuple[int, int]], rules: ClusterRules) -> list[Merge]:
    """The kept merges of one cluster with their reasons (``compatibility`` asked again, kept only)."""
    return [_merge(events[i], events[j], rules) for i, j in pairs]


def _merge(a: Event, b: Event, rules: ClusterRules) -> Merge:
    reasons = compatibility(a, b, rules)
    assert reasons is not None  # a kept merge was compatible when found: the same two events
    return Merge(a.event_id, b.event_id, tuple(reasons), merge_order(a, b))


def _fatalities(canonical: Event, stated: list[int], policy: str) -> int:
    if policy == "canonical" or not stated:
        return canonical.fatalities or 0
    return max(stated) if policy == "max_reported" else min(stated)


def cluster_row(
    members: list[Event], merges: list[Merge], location: Any, rules: ClusterRules, cluster_id: str = ""
) -> dict[str, Any]:
    """One row of the clusters table; ``location`` is the canonical member's location column, and
    ``cluster_id`` the members' ``stable_id`` when the caller has it already (a hash a cluster less)."""
    ids = sorted({e.event_id for e in members})
    canonical = min(members, key=Event.rank)
    days = sorted(e.day for e in members if e.day is not None)
    stated = [e.fatalities for e in members if e.fatalities is not None]
    return {
        "event_cluster_id": cluster_id or stable_id(*ids),
        "canonical_event_id": canonical.event_id,
        "member_event_ids": ";".join(ids),
        "n_events": len(ids),
        "n_sources": len({e.source for e in members if e.source is not None}),
        "n_articles": len({e.article_id for e in members if e.article_id is not None}),
        "event_type": canonical.event_type,
        "event_types": ";".join(sorted({e.event_type for e in members})),
        "date_first": date.fromordinal(days[0]) if days else None,
        "date_last": date.fromordinal(days[-1]) if days else None,
        "location": None if missing(location) else location,
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
