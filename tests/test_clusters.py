"""Cross-source clusters: one test per rule of seeds/rules/clusters.json, plus order-independence."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coder.clusters import (
    CLUSTER_COLUMNS,
    FLOATS,
    NULLABLE_INTS,
    ClusterRules,
    cluster_events,
    cluster_frames,
    cluster_stream,
    empty_table,
    haversine_km,
    parse_unique,
)
from coder.clusters.linkage import Extent, Merge, cluster_row
from coder.clusters.rules import Event, compatibility, merge_order
from coder.config import PROJECT_ROOT
from coder.errors import DataFileError
from coder.records import stable_id

RULES_FILE = PROJECT_ROOT / "seeds" / "rules" / "clusters.json"
RAMADI = (33.4258, 43.2992)
KM_PER_DEG_LAT = 111.2


@pytest.fixture(scope="module")
def rules() -> ClusterRules:
    return ClusterRules.load(RULES_FILE)


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    """An event row with the columns clustering reads; defaults place it in Ramadi on 2014-01-02."""
    row: dict[str, Any] = {
        "event_id": event_id,
        "event_type": "airstrike",
        "event_date": date(2014, 1, 2),
        "time_precision": 1,
        "latitude": RAMADI[0],
        "longitude": RAMADI[1],
        "geo_precision": 1,
        "location": "Ramadi",
        "iso3": "IRQ",
        "actor1": "Iraqi Air Force",
        "actor2": None,
        "assoc_actor1": None,
        "fatalities": 0,
        "fatalities_text": None,
        "source": f"source-{event_id}",
        "article_id": f"article-{event_id}",
        "confidence": 0.8,
        "geo_reason": "named in sentence",
        "date_reason": "explicit date (explicit.month_day)",
    }
    return row | fields


def north(km: float) -> float:
    return RAMADI[0] + km / KM_PER_DEG_LAT


def clusters_of(rows: list[dict[str, Any]], rules: ClusterRules) -> set[frozenset[str]]:
    _, table = cluster_events(pd.DataFrame(rows), rules)
    return {frozenset(ids.split(";")) for ids in table["member_event_ids"]}


def merged(a: dict[str, Any], b: dict[str, Any], rules: ClusterRules) -> bool:
    return len(clusters_of([a, b], rules)) == 1


# --- loading -------------------------------------------------------------------------------------


def test_seed_rules_load_with_values_and_version(rules: ClusterRules) -> None:
    assert rules.version.startswith("clusters.rules.v")
    assert rules.max_distance_km[0] < rules.max_distance_km[2]
    assert rules.types_compatible("airstrike", "bombing")


def test_rules_file_that_breaks_schema_is_a_data_file_error(tmp_path: Path) -> None:
    data = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    data["max_distance_km_by_geo_precision"]["value"]["1"] = -5
    bad = tmp_path / "clusters.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataFileError, match="max_distance_km_by_geo_precision"):
        ClusterRules.load(bad)


def test_rules_file_that_is_not_json_is_a_data_file_error(tmp_path: Path) -> None:
    bad = tmp_path / "clusters.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataFileError, match="cannot read JSON"):
        ClusterRules.load(bad)


def test_events_without_required_columns_are_refused(rules: ClusterRules) -> None:
    with pytest.raises(DataFileError, match="event_type"):
        cluster_events(pd.DataFrame([{"event_id": "a"}]), rules)


# --- one test per rule ---------------------------------------------------------------------------


def test_type_groups_merge_airstrike_with_bombing_but_not_with_clash(rules: ClusterRules) -> None:
    assert merged(event("a"), event("b", event_type="bombing"), rules)
    assert not merged(event("a"), event("b", event_type="armed_clash"), rules)


def test_distance_limit_follows_the_looser_geo_precision(rules: ClusterRules) -> None:
    assert merged(event("a"), event("b", latitude=north(5)), rules)
    assert not merged(event("a"), event("b", latitude=north(40)), rules)
    assert merged(event("a"), event("b", latitude=north(150), geo_precision=3), rules)


def test_date_window_follows_the_looser_time_precision(rules: ClusterRules) -> None:
    later = date(2014, 1, 2) + timedelta(days=1)
    much_later = date(2014, 1, 2) + timedelta(days=5)
    assert merged(event("a"), event("b", event_date=later), rules)
    assert not merged(event("a"), event("b", event_date=much_later), rules)
    assert merged(event("a"), event("b", event_date=much_later, time_precision=2), rules)


def test_unknown_date_is_compatible_only_when_the_rule_says_so(rules: ClusterRules) -> None:
    undated = event("b", event_date=None, time_precision=None)
    assert not merged(event("a"), undated, rules)
    assert merged(event("a"), undated, replace(rules, unknown_date_compatible=True))
    also_undated = event("a", event_date=None, time_precision=None)
    assert merged(also_undated, undated, replace(rules, unknown_date_compatible=True))


def test_unknown_location_needs_same_country_and_the_rule(rules: ClusterRules) -> None:
    unplaced = event("b", latitude=None, longitude=None, geo_precision=None, location=None)
    assert merged(event("a"), unplaced, rules)
    assert not merged(event("a"), unplaced | {"iso3": "SYR"}, rules)
    assert not merged(event("a"), unplaced, replace(rules, unknown_location_compatible=False))


def test_named_actors_must_overlap_and_unnamed_ones_follow_the_rule(rules: ClusterRules) -> None:
    assert merged(event("a"), event("b", actor1=None, actor2="iraqi air force"), rules)
    assert not merged(event("a"), event("b", actor1="ISIL"), rules)
    unnamed = event("b", actor1=None)
    assert merged(event("a"), unnamed, rules)
    assert not merged(event("a"), unnamed, replace(rules, unknown_actors_compatible=False))


def test_events_of_the_same_article_merge_and_say_so(rules: ClusterRules) -> None:
    rows = [event("a", article_id="art"), event("b", article_id="art", actor1=None)]
    _, table = cluster_events(pd.DataFrame(rows), rules)
    evidence = json.loads(table.loc[0, "evidence"])
    assert table.loc[0, "n_articles"] == 1
    assert evidence == [{"a": "a", "b": "b", "rules": evidence[0]["rules"]}]
    assert "same article" in evidence[0]["rules"]
    assert any(r.startswith("distance 0.0 km") for r in evidence[0]["rules"])


def test_fatalities_are_the_lowest_stated_figure_ignoring_unstated(rules: ClusterRules) -> None:
    rows = [
        event("a", fatalities=12, fatalities_text="dozens"),
        event("b", fatalities=7, fatalities_text="seven"),
        event("c", fatalities=0, fatalities_text=None),
    ]
    _, table = cluster_events(pd.DataFrame(rows), rules)
    assert table.loc[0, ["fatalities", "fatalities_min", "fatalities_max"]].tolist() == [7, 7, 12]
    top = cluster_events(pd.DataFrame(rows), replace(rules, fatalities_policy="max_reported"))[1]
    assert top.loc[0, "fatalities"] == 12


def test_canonical_event_is_most_precise_place_then_most_confident(rules: ClusterRules) -> None:
    rows = [
        event("a", geo_precision=2, confidence=0.99),
        event("b", geo_precision=1, confidence=0.6),
        event("c", geo_precision=1, confidence=0.7, location="Ramadi city"),
    ]
    _, table = cluster_events(pd.DataFrame(rows), rules)
    assert table.loc[0, "canonical_event_id"] == "c"
    assert table.loc[0, "location"] == "Ramadi city"


WEAK = {"geo_reason": "inherited from article", "date_reason": "publication date", "time_precision": 2}


def test_a_merge_needs_place_or_date_read_from_both_sentences(rules: ClusterRules) -> None:
    assert not merged(event("a", **WEAK), event("b", **WEAK), rules)
    assert (
        merged(event("a", **WEAK), event("b", **WEAK | {"geo_reason": "named in sentence"}), rules) is False
    )
    place_ok = WEAK | {"geo_reason": "named in sentence"}
    assert merged(event("a", **place_ok), event("b", **place_ok), rules)
    date_ok = {"geo_reason": "inherited from article", "time_precision": 1}
    assert merged(event("a", **date_ok), event("b", **date_ok), rules)
    no_reasons = {"geo_reason": None, "date_reason": None}
    assert not merged(event("a", **no_reasons), event("b", **no_reasons), rules)  # evidence must be shown
    assert merged(event("a", **WEAK), event("b", **WEAK), replace(rules, min_strong_fields=0))


def test_a_statements_place_is_never_strong_and_it_needs_a_named_speaker(rules: ClusterRules) -> None:
    said = {"event_type": "statement", "date_reason": "publication date", "time_precision": 2}
    assert not merged(event("a", **said), event("b", **said), rules)
    dated = {"event_type": "statement"}
    assert merged(event("a", **dated), event("b", **dated), rules)
    assert not merged(event("a", **dated), event("b", **dated | {"actor1": None}), rules)


def test_an_event_cannot_happen_after_the_publication_date_it_inherited(rules: ClusterRules) -> None:
    reported = event("a", date_reason="publication date", time_precision=2)
    assert not merged(reported, event("b", event_date=date(2014, 1, 4)), rules)
    assert merged(reported, event("b", event_date=date(2013, 12, 31)), rules)


def test_chains_stop_at_the_maximum_cluster_span(rules: ClusterRules) -> None:
    """Week-precise reports 5 days apart would chain for ever; the cluster may span only one window."""
    rows = [
        event(f"e{i}", event_date=date(2014, 1, 1) + timedelta(days=5 * i), time_precision=2)
        for i in range(4)
    ]
    _, table = cluster_events(pd.DataFrame(rows), rules)
    assert len(table) == 2
    assert all((r.date_last - r.date_first).days <= rules.date_window_days[1] for r in table.itertuples())
    near = [event(f"k{i}", latitude=north(20 * i), geo_precision=2) for i in range(4)]  # 20 km steps, 25 km
    assert sorted(len(c) for c in clusters_of(near, rules)) == [2, 2]
    loose = replace(rules, max_span_days=float("inf"), date_window_days=(1, 7, 31))
    assert len(clusters_of(rows, replace(loose, max_span_days=0))) == 4  # the absolute ceiling also caps


def test_an_unnamed_report_links_two_that_name_different_actors(rules: ClusterRules) -> None:
    """A and C name different actors (incompatible); B names none and matches both: one cluster."""
    rows = [event("a"), event("b", actor1=None), event("c", actor1="ISIL")]
    _, table = cluster_events(pd.DataFrame(rows), rules)
    assert len(table) == 1
    assert len(json.loads(table.loc[0, "evidence"])) == 2


def test_cluster_table_counts_ids_and_columns(rules: ClusterRules) -> None:
    rows = [event("b", source="Reuters"), event("a", source="Reuters"), event("z", event_type="statement")]
    out, table = cluster_events(pd.DataFrame(rows), rules)
    assert tuple(table.columns) == CLUSTER_COLUMNS
    assert str(table["fatalities_min"].dtype) == "Int64"  # missing figures stay integers, not NaN floats
    pair = table[table["n_events"] == 2].iloc[0]
    assert pair["event_cluster_id"] == stable_id("a", "b")
    assert (pair["n_sources"], pair["n_articles"], pair["member_event_ids"]) == (1, 2, "a;b")
    assert out["event_id"].tolist() == ["b", "a", "z"]
    assert out.loc[0, "event_cluster_id"] == out.loc[1, "event_cluster_id"] != out.loc[2, "event_cluster_id"]


def test_empty_events_give_empty_tables(rules: ClusterRules) -> None:
    out, table = cluster_events(pd.DataFrame(columns=["event_id", "event_type"]), rules)
    assert out.empty and table.empty
    assert "event_cluster_id" in out.columns
    assert tuple(table.columns) == CLUSTER_COLUMNS


def test_haversine_matches_a_known_distance() -> None:
    # Baghdad to Ramadi is about 100 km as the crow flies.
    assert 95 < haversine_km(33.3152, 44.3661, *RAMADI) < 105


# --- invariants ----------------------------------------------------------------------------------

random_event = st.builds(
    lambda i, kind, day, km, actor: event(
        f"e{i}",
        event_type=kind,
        event_date=date(2014, 1, 1) + timedelta(days=day),
        latitude=north(km),
        actor1=actor,
    ),
    st.integers(0, 10_000),
    st.sampled_from(["airstrike", "bombing", "armed_clash"]),
    st.integers(0, 4),
    st.floats(0, 60),
    st.sampled_from([None, "ISIL", "Iraqi Air Force"]),
).map(lambda row: row | {"time_precision": 2} if row["event_id"] < "e5" else row)


@settings(max_examples=40, deadline=None)
@given(st.lists(random_event, max_size=12, unique_by=lambda r: r["event_id"]), st.randoms())
def test_clusters_do_not_depend_on_row_order(rows: list[dict[str, Any]], rnd: Any) -> None:
    rules = ClusterRules.load(RULES_FILE)
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    _, first = cluster_events(pd.DataFrame(rows, columns=list(event("x"))), rules)
    _, second = cluster_events(pd.DataFrame(shuffled, columns=list(event("x"))), rules)
    pd.testing.assert_frame_equal(first, second)
    assert first["n_events"].sum() == len(rows)


def test_eval_script_lists_merges_with_their_reasons(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "eval_clusters", PROJECT_ROOT / "scripts" / "eval_clusters.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    pd.DataFrame(
        [event("a"), event("b", event_type="bombing"), event("c", event_type="armed_clash")]
    ).to_parquet(tmp_path / "events.parquet")
    result = script.evaluate(tmp_path, RULES_FILE)
    assert (result["events"], result["clusters"], result["merged_clusters"]) == (3, 2, 1)
    assert "merged a + b: types compatible: airstrike ~ bombing" in script.to_text(result)


# --- stop-actors ---------------------------------------------------------------------------------


def test_stop_actors_are_not_shared_and_do_not_count_as_named(rules: ClusterRules) -> None:
    """Statements need a shared named speaker: junk 'speakers' must not provide one."""
    said = {"event_type": "statement", "article_id": "art"}
    for junk in ("I", "broadcasters", "At least 19", "This “threat", "al"):
        assert not merged(event("a", **said, actor1=junk), event("b", **said, actor1=junk.lower()), rules)
    real = "1920 Revolution Brigades"
    assert merged(event("a", **said, actor1=real), event("b", **said, actor1=real.lower()), rules)
    # junk on one side of a violent event does not contradict a real actor: that side names nobody
    assert merged(event("a", actor1="air"), event("b", actor1="ISIL"), rules)
    assert not merged(event("a", actor1="Iraqi Air Force"), event("b", actor1="ISIL"), rules)


def test_a_bad_stop_actor_pattern_is_a_data_file_error(tmp_path: Path) -> None:
    data = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    data["stop_actors"]["value"]["patterns"] = ["(unclosed"]
    bad = tmp_path / "clusters.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataFileError, match="stop_actors"):
        ClusterRules.load(bad)


# --- the grid equals asking every pair ------------------------------------------------------------


def reference_table(frame: pd.DataFrame, rules: ClusterRules) -> pd.DataFrame:
    """All pairs through ``compatibility``, merged strongest first with a full span check each time."""
    parsed, locations = parse_unique(frame, rules)
    found = [
        Merge(a.event_id, b.event_id, tuple(r), merge_order(a, b))
        for a, b in itertools.combinations(parsed, 2)
        if (r := compatibility(a, b, rules)) is not None
    ]
    parent = {e.event_id: e.event_id for e in parsed}
    extent = {e.event_id: Extent.of(e) for e in parsed}

    def root(x: str) -> str:
        return x if parent[x] == x else root(parent[x])

    kept = []
    for m in sorted(found, key=lambda m: (m.order, m.a, m.b)):
        ra, rb = root(m.a), root(m.b)
        joined = extent[ra].join(extent[rb])
        pairs = itertools.combinations(sorted(joined.points), 2)
        if ra == rb or not joined.fits_days(rules):
            continue
        if any(haversine_km(*p, *q) > joined.max_km(rules) for p, q in pairs):
            continue
        parent[max(ra, rb)], extent[min(ra, rb)] = min(ra, rb), joined
        kept.append(m)
    rows = []
    for top in sorted({root(e.event_id) for e in parsed}):
        members = [e for e in parsed if root(e.event_id) == top]
        edges = sorted((m for m in kept if root(m.a) == top), key=lambda m: (m.a, m.b))
        rows.append(cluster_row(members, edges, locations[min(members, key=Event.rank).event_id], rules))
    table = pd.DataFrame(rows, columns=list(CLUSTER_COLUMNS)).astype(NULLABLE_INTS | FLOATS)
    table = table.sort_values(["date_first", "event_cluster_id"], na_position="last", kind="stable")
    return table.reset_index(drop=True)


maybe = st.none() | st.just(1) | st.just(2) | st.just(3) | st.just(7)
wild_event = st.builds(
    lambda i, kind, day, km, east, gp, tp, iso3, actor, gr, dr: event(
        f"w{i}",
        event_type=kind,
        event_date=None if day is None else date(2014, 1, 1) + timedelta(days=day),
        time_precision=tp,
        latitude=None if km is None else north(km),
        longitude=None if km is None else RAMADI[1] + east,
        geo_precision=gp,
        iso3=iso3,
        actor1=actor,
        geo_reason=gr,
        date_reason=dr,
        article_id=f"art{i % 3}",
    ),
    st.integers(0, 60),
    st.sampled_from(["airstrike", "bombing", "armed_clash", "statement"]),
    st.none() | st.integers(0, 40),
    st.none() | st.floats(0, 260),
    st.floats(-0.5, 0.5),
    maybe,
    maybe,
    st.sampled_from([None, "IRQ", "SYR", ""]),
    st.sampled_from([None, "ISIL", "Iraqi Air Force", "i", "al"]),
    st.sampled_from([None, "named in sentence", "inherited from article"]),
    st.sampled_from([None, "publication date", "explicit date (x)", "relative to publication (weekday)"]),
)
rule_variant = st.fixed_dictionaries(
    {
        "unknown_date_compatible": st.booleans(),
        "unknown_location_compatible": st.booleans(),
        "unknown_actors_compatible": st.booleans(),
        "min_strong_fields": st.integers(0, 2),
        "max_span_km": st.sampled_from([math.inf, 30.0, 200.0]),
    }
)


@settings(max_examples=150, deadline=None)
@given(st.lists(wild_event, max_size=25, unique_by=lambda r: r["event_id"]), rule_variant)
def test_the_grid_gives_exactly_the_all_pairs_clusters(rows: list[dict[str, Any]], variant: Any) -> None:
    rules = replace(ClusterRules.load(RULES_FILE), **variant)
    frame = pd.DataFrame(rows, columns=list(event("x")))
    _, fast = cluster_events(frame, rules)
    pd.testing.assert_frame_equal(fast, reference_table(frame, rules))


def test_the_grid_equals_all_pairs_on_a_dense_synthetic_feed() -> None:
    """A few hundred events in few towns and weeks: many candidate pairs, many refused chains."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "eval_clusters", PROJECT_ROOT / "scripts" / "eval_clusters.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    frame = script.synthetic_events(400, seed=3)
    frame["event_date"] = [date(2014, 1, 1) + timedelta(days=k % 20) for k in range(len(frame))]
    rules = ClusterRules.load(RULES_FILE)
    _, fast = cluster_events(frame, rules)
    assert (fast["n_events"] > 1).sum() > 5
    pd.testing.assert_frame_equal(fast, reference_table(frame, rules))


# --- clustering streamed frames equals clustering one frame ---------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(wild_event, max_size=25),  # ids may repeat: the last row of an id is the one clustered
    st.lists(st.integers(0, 25), max_size=4),
)
def test_frames_parsed_one_at_a_time_cluster_as_one_frame(
    rows: list[dict[str, Any]], cuts: list[int]
) -> None:
    rules = ClusterRules.load(RULES_FILE)
    frame = pd.DataFrame(rows, columns=list(event("x")))
    bounds = [0, *sorted(min(c, len(rows)) for c in cuts), len(rows)]
    parts = [frame.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    ids, table = cluster_frames(parts, rules)
    whole_events, whole_table = cluster_events(frame, rules)
    assert ids.tolist() == whole_events["event_cluster_id"].tolist()
    pd.testing.assert_frame_equal(table, whole_table)
    pd.testing.assert_frame_equal(table, reference_table(frame, rules))


@settings(max_examples=60, deadline=None)
@given(st.lists(wild_event, max_size=25), st.integers(1, 30))
def test_the_table_made_in_chunks_is_the_whole_table_cut(rows: list[dict[str, Any]], size: int) -> None:
    """A build writes the clusters table a chunk at a time (``Clustering.tables``): cut anywhere, the
    chunks are the rows, order and values of the whole table, and the row ids (bytes) its ids."""
    rules = ClusterRules.load(RULES_FILE)
    frame = pd.DataFrame(rows, columns=list(event("x")))
    ids, found = cluster_stream([frame], rules)
    chunks = list(found.tables(size))
    assert all(len(c) == size for c in chunks[:-1]) and len(found) == sum(map(len, chunks))
    whole_events, whole = cluster_events(frame, rules)
    joined = pd.concat(chunks, ignore_index=True) if chunks else empty_table()
    pd.testing.assert_frame_equal(joined.astype(whole.dtypes.to_dict()), whole)
    assert ids.astype(str).tolist() == whole_events["event_cluster_id"].tolist()


def test_every_row_of_a_repeated_id_gets_the_cluster_of_its_last_row(rules: ClusterRules) -> None:
    first = event("a", latitude=north(500))  # far away: alone, but replaced by the later row
    rows = [first, event("b"), event("a", source="other")]
    ids, table = cluster_frames([pd.DataFrame(rows[:2]), pd.DataFrame(rows[2:])], rules)
    assert len(table) == 1 and ids.tolist() == [table["event_cluster_id"][0]] * 3


def test_a_stronger_merge_later_in_time_decides_an_earlier_one(rules: ClusterRules) -> None:
    """Why clustering is not cut into date windows (see coder/clusters/__init__.py): days 1-4, one day
    apart each; b-c is the strongest pair (ids break the tie), so a-b and c-d would span two days."""
    days = {"e3": 1, "e1": 2, "e2": 3, "e4": 4}  # a, b, c, d
    rows = [event(i, event_date=date(2014, 1, d), article_id=None) for i, d in days.items()]
    assert clusters_of(rows, rules) == {frozenset({"e3"}), frozenset({"e1", "e2"}), frozenset({"e4"})}
    # the first two days alone would have joined a and b
    assert clusters_of(rows[:2], rules) == {frozenset({"e3", "e1"})}
