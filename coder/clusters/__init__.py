"""Cross-source event clusters: group coded events that describe the same real-world event.

``rules`` holds the thresholds (``seeds/rules/clusters.json``) and the pairwise test; ``linkage``
finds the pairs worth testing on a grid and joins them strongest first. ``cluster_frames`` is the
stage's entry point (``coder.pipeline.cluster_frames``): it clusters rows streamed a frame at a time
(a build's spill), holding only the parsed events, compatible pairs as index arrays, and one tuple a
cluster; ``cluster_events`` does the same for one frame in memory.

Why not cluster in date windows: no cluster spans more than ``max_span_days``, but whether a merge
is kept depends on merges that came before it in strength order, and those chain through time. Day-
precise events a, b, c, d at one place on days 1, 2, 3, 4 (each pair one day apart compatible, two
days apart not): with b-c strongest, b-c is kept and a-b, c-d are refused (a 2-day span), giving
{a} {b, c} {d}; a window holding days 1-2 would keep a-b first and give {a, b} {c, d}. The outcome
of a merge depends on the connected component of its events among the stronger pairs, which no
date bound limits; a windowed build must carry those components, not just the open tail.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from coder.clusters.linkage import cluster_row, components, find_merges
from coder.clusters.rules import INPUT_COLUMNS, ClusterRules, Event, haversine_km, parse_events
from coder.errors import DataFileError

__all__ = [
    "CLUSTER_COLUMNS",
    "INPUT_COLUMNS",
    "ClusterRules",
    "cluster_events",
    "cluster_frames",
    "haversine_km",
    "parse_unique",
]

REQUIRED_COLUMNS: tuple[str, ...] = ("event_id", "event_type")
CLUSTER_COLUMNS: tuple[str, ...] = (
    "event_cluster_id", "canonical_event_id", "member_event_ids", "n_events", "n_sources", "n_articles",
    "event_type", "event_types", "date_first", "date_last", "location", "iso3", "latitude", "longitude",
    "geo_precision", "time_precision", "fatalities", "fatalities_min", "fatalities_max", "evidence",
    "rules_version",
)  # fmt: skip
# Integer columns that may be missing: nullable Int64, so a None does not turn them into floats.
NULLABLE_INTS = {c: "Int64" for c in ("geo_precision", "time_precision", "fatalities_min", "fatalities_max")}


def parse_unique(events: pd.DataFrame, rules: ClusterRules) -> tuple[list[Event], dict[str, object]]:
    """Events sorted by id (a repeated id keeps its last row), and each id's location column."""
    latest: dict[str, Event] = {}
    _parse_into(events, rules, latest)
    parsed = sorted(latest.values(), key=lambda e: e.event_id)
    return parsed, {e.event_id: e.location for e in parsed}


def _parse_into(frame: pd.DataFrame, rules: ClusterRules, latest: dict[str, Event]) -> list[str]:
    """Parse ``frame``'s rows into ``latest`` (a later row of an id replaces an earlier one); its ids."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataFileError(f"events table lacks column(s) {', '.join(missing)}")
    ids = []
    for event in parse_events(frame, rules):
        latest[event.event_id] = event
        ids.append(event.event_id)
    return ids


def cluster_frames(frames: Iterable[pd.DataFrame], rules: ClusterRules) -> tuple[np.ndarray, pd.DataFrame]:
    """Cluster ids of the rows of ``frames`` (in order), and the clusters table (as ``cluster_events``).

    The frames are parsed one at a time, so a caller streaming them from disk never holds their rows
    whole: only the parsed events (the fields clustering reads) and each row's id.
    """
    latest: dict[str, Event] = {}
    row_ids: list[str] = []
    for frame in frames:
        row_ids += _parse_into(frame, rules, latest)
    parsed = sorted(latest.values(), key=lambda e: e.event_id)
    del latest
    cluster_of = np.empty(len(parsed), dtype=np.int64)  # position in ``parsed`` -> cluster number
    names: list[str] = []
    rows: list[tuple[object, ...]] = []  # a tuple a cluster: a dict of 21 keys costs ~1 KB more
    for where, members, merges in components(parsed, find_merges(parsed, rules), rules):
        row = cluster_row(members, merges, min(members, key=Event.rank).location, rules)
        cluster_of[where] = len(names)
        names.append(str(row["event_cluster_id"]))
        rows.append(tuple(row[c] for c in CLUSTER_COLUMNS))
    ids = np.array(names, dtype=object)[cluster_of[_positions(parsed, row_ids)]]
    return ids, _table(rows)


def _positions(parsed: list[Event], ids: list[str]) -> np.ndarray:
    """Where each id is in ``parsed`` (sorted by id, every id present)."""
    keys = np.array([e.event_id for e in parsed], dtype=object)
    return np.searchsorted(keys, np.array(ids, dtype=object)) if len(ids) else np.empty(0, dtype=np.int64)


def cluster_events(events: pd.DataFrame, rules: ClusterRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events with an ``event_cluster_id`` column (rows in input order), and the clusters table.

    The clusters table has one row per cluster (singletons included), sorted by first date then id;
    ``evidence`` is JSON: the pairwise merges that joined the cluster and the rule outcome of each.
    """
    ids, table = cluster_frames([events], rules)
    out = events.copy()
    out["event_cluster_id"] = ids.tolist()
    return out, table


def _table(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """Rows as tuples infer the same column types as rows as dicts (pandas converts both as one)."""
    table = pd.DataFrame(rows, columns=list(CLUSTER_COLUMNS)).astype(NULLABLE_INTS)
    if len(table):
        table = table.sort_values(["date_first", "event_cluster_id"], na_position="last", kind="stable")
    return table.reset_index(drop=True)
