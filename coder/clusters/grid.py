"""Which pairs are worth asking ``rules.compatibility`` about: a grid over dates and places.

Per type group and per pair of ACLED precision classes, events are bucketed by (date / window) and by
their point on the unit sphere (x, y, z scaled by the distance limit), and only events in neighbouring
cells are paired. The grid only *finds* pairs: a vectorised copy of the rules drops the hopeless ones,
and ``rules.compatibility`` (the one definition) decides every pair that is left (``linkage``), so the
result equals asking it about all pairs. The arrays are read from the event columns directly.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import numpy as np

from coder.clusters.columns import EventColumns
from coder.clusters.rules import EARTH_RADIUS_KM, LEAST_PRECISE, ClusterRules

Pairs = tuple[np.ndarray, np.ndarray]
_CLASSES = (1, 2, 3)
_KEY_MULTIPLIERS = np.array([1_000_003, 998_244_353, 1_000_000_007, 2_147_483_647], dtype=np.int64)
_SLACK_KM = 1e-6  # the vectorised distance may differ from math's in the last bits; compatibility decides


class _Arrays:
    """Column arrays of the events that the grid and the vectorised test read."""

    def __init__(self, events: EventColumns, rules: ClusterRules) -> None:
        self.dated = events.known("day")
        self.day = np.where(self.dated, events.ints["day"], 0).astype(np.int64)
        self.placed = ~np.isnan(events.floats["lat"])
        lat = np.radians(np.where(self.placed, events.floats["lat"], 0.0))
        lon = np.radians(np.where(self.placed, events.floats["lon"], 0.0))
        self.lat, self.lon = lat, lon
        self.xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
        self.tpc = _precision_class(events, "time_precision")
        self.gpc = _precision_class(events, "geo_precision")
        self.iso = _country_codes(events)
        self.place_strong = events.flags["place_from_sentence"] & self.placed
        self.date_strong = events.flags["date_from_sentence"] & self.dated
        self.publication = events.flags["date_is_publication"]
        self.needs_speaker = events.coded["event_type"].map(rules.shared_actor_types.__contains__)
        self.actors = _actor_matrix(events)


def _precision_class(events: EventColumns, name: str) -> np.ndarray:
    """``rules.precision_class`` of each event: an unknown or out-of-range precision is the loosest."""
    values = events.ints[name].astype(np.int64)
    usable = events.known(name) & (values >= 1) & (values <= LEAST_PRECISE)
    return np.where(usable, values, LEAST_PRECISE)


def _country_codes(events: EventColumns) -> np.ndarray:
    """A code per distinct iso3 value (equal values, one code), -1 where it is empty."""
    codes: dict[object, int] = {}
    table = events.coded["iso3"]
    by_value = [codes.setdefault(v, len(codes)) if v else -1 for v in table.values]
    return np.array(by_value, dtype=np.int64)[table.codes] if by_value else np.full(len(events), -1)


def _actor_matrix(events: EventColumns) -> np.ndarray:
    """Actor ids per event, padded with -1 (an event names at most a few actors)."""
    ids: dict[str, int] = {}
    sets = events.coded["actors"]
    width = max((len(s) for s in sets.values), default=0)
    by_set = np.full((len(sets.values), max(width, 1)), -1, dtype=np.int32)
    for row, names in enumerate(sets.values):
        for col, name in enumerate(sorted(names)):
            by_set[row, col] = ids.setdefault(name, len(ids))
    return by_set[sets.codes] if len(sets.values) else np.full((len(events), 1), -1, dtype=np.int32)


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


def candidate_pairs(events: EventColumns, rules: ClusterRules) -> Pairs:
    """Index pairs (i < j) of ``events`` that the vectorised rules accept, each once, sorted."""
    arr = _Arrays(events, rules)
    found: list[np.ndarray] = []
    for group in rules.type_groups:
        member = events.coded["event_type"].map(group.__contains__)
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
