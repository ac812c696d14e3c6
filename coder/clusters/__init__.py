"""Cross-source event clusters: group coded events that describe the same real-world event.

``rules`` holds the thresholds (``seeds/rules/clusters.json``) and the pairwise test; ``linkage``
finds the pairs worth testing on a grid and joins them strongest first. ``cluster_events`` is the
stage's entry point (``coder.pipeline.add_clusters``).
"""

from __future__ import annotations

import pandas as pd

from coder.clusters.linkage import cluster_row, components, find_merges
from coder.clusters.rules import INPUT_COLUMNS, ClusterRules, Event, haversine_km, parse_events
from coder.errors import DataFileError

__all__ = [
    "CLUSTER_COLUMNS",
    "INPUT_COLUMNS",
    "ClusterRules",
    "cluster_events",
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
    ids = events["event_id"].astype(str)
    last = events.loc[~ids.duplicated(keep="last").to_numpy()]
    parsed = sorted(parse_events(last, rules), key=lambda e: e.event_id)
    where = last["location"].tolist() if "location" in last.columns else [None] * len(last)
    return parsed, dict(zip(last["event_id"].astype(str).tolist(), where, strict=True))


def cluster_events(events: pd.DataFrame, rules: ClusterRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events with an ``event_cluster_id`` column (rows in input order), and the clusters table.

    The clusters table has one row per cluster (singletons included), sorted by first date then id;
    ``evidence`` is JSON: the pairwise merges that joined the cluster and the rule outcome of each.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in events.columns]
    if missing:
        raise DataFileError(f"events table lacks column(s) {', '.join(missing)}")
    parsed, locations = parse_unique(events, rules)
    found = components(parsed, find_merges(parsed, rules), rules)
    rows = [cluster_row(m, e, locations[min(m, key=Event.rank).event_id], rules) for m, e in found]
    return _with_ids(events, rows), _table(rows)


def _table(rows: list[dict[str, object]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(CLUSTER_COLUMNS)).astype(NULLABLE_INTS)
    if len(table):
        table = table.sort_values(["date_first", "event_cluster_id"], na_position="last", kind="stable")
    return table.reset_index(drop=True)


def _with_ids(events: pd.DataFrame, rows: list[dict[str, object]]) -> pd.DataFrame:
    owner = {i: str(c["event_cluster_id"]) for c in rows for i in str(c["member_event_ids"]).split(";")}
    out = events.copy()
    out["event_cluster_id"] = [owner[str(i)] for i in out["event_id"]]
    return out
