"""Cross-source event clusters: group coded events that describe the same real-world event.

``rules`` holds the thresholds (``seeds/rules/clusters.json``) and the pairwise test; ``columns``
parses event rows into ``EventColumns``; ``grid`` finds the pairs worth testing; ``linkage`` joins
them strongest first. ``cluster_stream`` is what a build calls: it clusters rows streamed a frame at
a time (a build's spill) and holds, for the whole corpus, numpy arrays only: the event columns (~75
bytes an event: the id as 16 bytes, days and precisions as small integers, coordinates, flags, and
codes into tables of the distinct types, articles, sources, countries, locations and actor sets),
each row's position among them, the compatible pairs, the forest's index arrays, and each row's
cluster id as 16 bytes. ``Event`` objects are made from the columns only for the pairs being tested
and the clusters being written, a block at a time, and the clusters table is made a chunk at a time
(``Clustering.tables``). ``cluster_frames`` and ``cluster_events`` return the whole table
(tests, scripts).

Why not cluster in date windows: no cluster spans more than ``max_span_days``, but whether a merge
is kept depends on merges that came before it in strength order, and those chain through time. Day-
precise events a, b, c, d at one place on days 1, 2, 3, 4 (each pair one day apart compatible, two
days apart not): with b-c strongest, b-c is kept and a-b, c-d are refused (a 2-day span), giving
{a} {b, c} {d}; a window holding days 1-2 would keep a-b first and give {a, b} {c, d}. A merge's
outcome depends on the whole connected component of its events among the pairs at least as strong
(each of their outcomes does, recursively), and copies of a recurring event (a daily clash at one
place, or the benchmark's shifted copies) chain such components across the whole corpus: cutting at
components of the compatibility graph is exact but saves nothing then. A sound sweep (not built yet):
with events read up to day T, only events of the last ``max(date_window_days)`` days (the border)
can pair with later ones, so a pair whose component among the pairs at least as strong holds no
border event is decided for good; a cluster none of whose pairs is undecided and with no border
member is final, and dropping it changes nothing else (every pair leaving it is refused, so it never
shares a set with another event). What remains open is the border plus the clusters of undecided
pairs (on a chain of equal-strength pairs, those weaker than every pair nearer the border).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coder.clusters.columns import INPUT_COLUMNS, EventColumns, parse_stream
from coder.clusters.linkage import Forest, cluster_merges, cluster_row, find_merges, forest
from coder.clusters.rules import ClusterRules, Event, haversine_km
from coder.records import stable_id

__all__ = [
    "CLUSTER_COLUMNS",
    "INPUT_COLUMNS",
    "ClusterRules",
    "Clustering",
    "EventColumns",
    "cluster_events",
    "cluster_frames",
    "cluster_stream",
    "empty_table",
    "haversine_km",
    "parse_unique",
]

CLUSTER_COLUMNS: tuple[str, ...] = (
    "event_cluster_id", "canonical_event_id", "member_event_ids", "n_events", "n_sources", "n_articles",
    "event_type", "event_types", "date_first", "date_last", "location", "iso3", "latitude", "longitude",
    "geo_precision", "time_precision", "fatalities", "fatalities_min", "fatalities_max", "evidence",
    "rules_version",
)  # fmt: skip
# Integer columns that may be missing: nullable Int64, so a None does not turn them into floats.
NULLABLE_INTS = {c: "Int64" for c in ("geo_precision", "time_precision", "fatalities_min", "fatalities_max")}
FLOATS = {c: "float64" for c in ("latitude", "longitude")}
_UNDATED = np.iinfo(np.int64).max  # sorts an undated cluster after every dated one


def parse_unique(events: pd.DataFrame, rules: ClusterRules) -> tuple[list[Event], dict[str, object]]:
    """Events sorted by id (a repeated id keeps its last row), and each id's location column."""
    parsed = list(parse_stream([events], rules)[0])
    return parsed, {e.event_id: e.location for e in parsed}


@dataclass(frozen=True)
class Clustering:
    """Clusters of parsed events, the table made on demand a chunk at a time in its order.

    What a build holds while the clusters table is written is the event columns, the forest's index
    arrays and two arrays a cluster (its id, its place in the table): a table row is ~1 KB of Python
    objects and a corpus has nearly as many clusters as events, so rows are made a chunk at a time,
    written, and dropped (``tables``).
    """

    events: EventColumns  # sorted by id
    found: Forest
    names: np.ndarray  # each cluster's id (ASCII bytes; clusters in forest order)
    order: np.ndarray  # clusters in table order: first date (undated last), then id
    rules: ClusterRules

    def __len__(self) -> int:
        return len(self.found)

    def tables(self, rows: int) -> Iterator[pd.DataFrame]:
        """The clusters table in frames of ``rows`` rows (as ``cluster_events``'s table, cut)."""
        for start in range(0, len(self.order), rows):
            chosen = self.order[start : start + rows].tolist()
            made = self._events(chosen)
            yield _frame([self._row(c, made) for c in chosen])

    def _events(self, chosen: list[int]) -> dict[int, Event]:
        """The member events of clusters ``chosen``, made from the columns at once (by position)."""
        starts = self.found.starts
        parts = [self.found.members[starts[c] : starts[c + 1]] for c in chosen]
        where = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        return dict(zip(where.tolist(), self.events.many(where), strict=True))

    def _row(self, c: int, made: dict[int, Event]) -> tuple[object, ...]:
        where, pairs = self.found.cluster(c)
        members = [made[n] for n in where.tolist()]
        merges = cluster_merges(made, pairs, self.rules)
        name = self.names[c].decode("ascii")
        row = cluster_row(members, merges, min(members, key=Event.rank).location, self.rules, name)
        return tuple(row[c] for c in CLUSTER_COLUMNS)


def cluster_stream(frames: Iterable[pd.DataFrame], rules: ClusterRules) -> tuple[np.ndarray, Clustering]:
    """Cluster ids of the rows of ``frames`` (in order, as ASCII bytes), and the clusters.

    The frames are parsed one at a time, so a caller streaming them from disk never holds their rows
    whole: only the event columns (the fields clustering reads) and each row's event.
    """
    parsed, positions = parse_stream(frames, rules)
    found = forest(parsed, find_merges(parsed, rules), rules)
    sizes = np.diff(found.starts)
    cluster_of = np.empty(len(parsed), dtype=np.int64)  # position in ``parsed`` -> cluster number
    cluster_of[found.members] = np.repeat(np.arange(len(found)), sizes)
    names = [  # as cluster_row's id
        stable_id(*parsed.event_ids(found.members[found.starts[c] : found.starts[c + 1]])).encode("ascii")
        for c in range(len(found))
    ]
    keys = np.array(names, dtype=bytes) if names else np.empty(0, dtype="S1")
    del names
    order = np.lexsort((keys, _first_days(parsed, found)))  # the table's sort: date_first, undated last, id
    return keys[cluster_of[positions]], Clustering(parsed, found, keys, order, rules)


def _first_days(events: EventColumns, found: Forest) -> np.ndarray:
    """Each cluster's first day (``_UNDATED`` when none of its events is dated)."""
    days = np.where(events.known("day"), events.ints["day"].astype(np.int64), _UNDATED)[found.members]
    return np.minimum.reduceat(days, found.starts[:-1]) if len(found) else np.empty(0, dtype=np.int64)


def cluster_frames(frames: Iterable[pd.DataFrame], rules: ClusterRules) -> tuple[np.ndarray, pd.DataFrame]:
    """Cluster ids of the rows of ``frames`` (in order, as str), and the clusters table (as
    ``cluster_events``), the whole table in memory."""
    ids, found = cluster_stream(frames, rules)
    table = next(found.tables(len(found)), None) if len(found) else None
    return ids.astype(str).astype(object), table if table is not None else empty_table()


def empty_table() -> pd.DataFrame:
    """The clusters table with no rows (its columns and types)."""
    return _frame([])


def cluster_events(events: pd.DataFrame, rules: ClusterRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events with an ``event_cluster_id`` column (rows in input order), and the clusters table.

    The clusters table has one row per cluster (singletons included), sorted by first date then id;
    ``evidence`` is JSON: the pairwise merges that joined the cluster and the rule outcome of each.
    """
    ids, table = cluster_frames([events], rules)
    out = events.copy()
    out["event_cluster_id"] = ids.tolist()
    return out, table


def _frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """Rows as tuples infer the same column types as rows as dicts (pandas converts both as one);
    coordinates are floats even in a frame where every one is missing (a chunk of unplaced clusters)."""
    return pd.DataFrame(rows, columns=list(CLUSTER_COLUMNS)).astype(NULLABLE_INTS | FLOATS)
