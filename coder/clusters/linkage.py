"""How compatible pairs become clusters, in near-linear time.

``grid`` finds the pairs worth asking about; ``rules.compatibility`` (the one definition) decides each,
so the result equals asking it about all pairs (tests/test_clusters.py checks this against an
all-pairs reference). Merges are then applied strongest first, in a total order (row order does not
matter), and one that would stretch a cluster beyond the maximum span is refused. Cluster ids are
``stable_id`` of the sorted member event ids.
"""

from __future__ import annotations

import array
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from coder.clusters.columns import EventColumns, missing
from coder.clusters.grid import Pairs, candidate_pairs
from coder.clusters.rules import (
    ClusterRules,
    Event,
    compatibility,
    haversine_km,
    merge_order,
    precision_class,
)
from coder.records import stable_id

_PAIR_BLOCK = 8192  # pairs (and their events) turned into Python objects at a time


@dataclass(frozen=True, slots=True)  # slots: one per compatible pair, up to millions
class Merge:
    a: str
    b: str
    reasons: tuple[str, ...]
    order: tuple[float, ...] = ()  # strongest first (rules.merge_order)


def find_merges(events: EventColumns, rules: ClusterRules) -> Pairs:
    """Every compatible pair as index arrays (i < j into ``events``, sorted by event_id), strongest first.

    Strongest first is ``(merge_order, a.event_id, b.event_id)``: with the events sorted by id and
    i < j, the ids' order is the indices' order. Only the pairs are kept, not their reasons: a pair's
    reasons are a few strings (~0.6 KB) and most pairs are refused or chain into a kept merge, so
    ``cluster_merges`` asks ``compatibility`` again for the kept merges only (the same answer: it reads
    nothing but the two events).
    """
    left, right = array.array("q"), array.array("q")
    strength, days, km = array.array("q"), array.array("d"), array.array("d")
    for i, j, a, b in _candidate_events(events, rules):
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


def _candidate_events(events: EventColumns, rules: ClusterRules) -> Iterator[tuple[int, int, Event, Event]]:
    """The candidate pairs with their events, made from the columns a block of pairs at a time."""
    for lefts, rights in _blocks(candidate_pairs(events, rules)):
        needed = np.unique(np.concatenate([lefts, rights]))
        made = dict(zip(needed.tolist(), events.many(needed), strict=True))
        for i, j in zip(lefts.tolist(), rights.tolist(), strict=True):
            yield i, j, made[i], made[j]


def _blocks(pairs: Pairs) -> Iterator[Pairs]:
    """The pairs a block at a time: their events, made for a block, are ~0.5 KB each."""
    lefts, rights = pairs
    for start in range(0, len(lefts), _PAIR_BLOCK):
        yield lefts[start : start + _PAIR_BLOCK], rights[start : start + _PAIR_BLOCK]


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
    kept = array.array("q")
    for lefts, rights in _blocks(merges):
        for i, j in zip(lefts.tolist(), rights.tolist(), strict=True):
            if found.union(i, j, rules):
                kept.extend((i, j))
    roots = np.fromiter(map(found.find, range(len(events))), dtype=np.int64, count=len(events))
    members = np.argsort(roots, kind="stable")  # each cluster's members in id order, clusters by root
    starts = np.flatnonzero(np.diff(roots[members], prepend=-1))
    cluster_of_root = np.zeros(len(events), dtype=np.int64)
    cluster_of_root[roots[members[starts]]] = np.arange(len(starts))
    left, right = np.frombuffer(kept, dtype=np.int64)[0::2], np.frombuffer(kept, dtype=np.int64)[1::2]
    edge_cluster = cluster_of_root[roots[left]]
    by_cluster = np.lexsort((right, left, edge_cluster))
    edge_starts = np.searchsorted(edge_cluster[by_cluster], np.arange(len(starts) + 1))
    ends = np.append(starts, len(events))
    return Forest(members, ends, left[by_cluster], right[by_cluster], edge_starts)


def cluster_merges(
    events: Mapping[int, Event], pairs: list[tuple[int, int]], rules: ClusterRules
) -> list[Merge]:
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
