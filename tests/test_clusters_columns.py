"""Event columns: an ``Event`` read back from the columns is the one its row parses to."""

from __future__ import annotations

import math
from dataclasses import astuple, fields, replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coder.clusters import ClusterRules
from coder.clusters.columns import EventColumns, Interner, missing, narrow, parse_stream
from coder.clusters.rules import Event
from coder.config import PROJECT_ROOT
from coder.errors import DataFileError

RULES = ClusterRules.load(PROJECT_ROOT / "seeds" / "rules" / "clusters.json")
EVENT_COLUMNS = [f.name for f in fields(Event)]


def as_row(e: Event) -> dict[str, Any]:
    """An events-table row that parses to ``e`` (its flags from reasons the rules call strong)."""
    actors = sorted(e.actors)[:3] + [None] * (3 - min(len(e.actors), 3))
    return {
        "event_id": e.event_id,
        "event_type": e.event_type,
        "article_id": e.article_id,
        "source": e.source,
        "event_date": None if e.day is None else pd.Timestamp.fromordinal(e.day),
        "time_precision": e.time_precision,
        "latitude": e.lat,
        "longitude": e.lon,
        "geo_precision": e.geo_precision,
        "iso3": e.iso3,
        "actor1": actors[0],
        "actor2": actors[1],
        "assoc_actor1": actors[2],
        "confidence": e.confidence,
        "fatalities": e.fatalities if e.fatalities is not None else 0,
        "fatalities_text": None if e.fatalities is None else str(e.fatalities),
        "geo_reason": RULES.strong_place_reasons[0] if e.place_from_sentence else None,
        "date_reason": _date_reason(e),
        "location": e.location,
    }


def _date_reason(e: Event) -> str | None:
    if e.date_is_publication:
        return RULES.publication_date_reasons[0]
    return RULES.strong_date_reasons[0] if e.date_from_sentence else None


text = st.text(max_size=12)
small = st.none() | st.integers(-3, 400)
actor = st.text(alphabet="abcxyz ", min_size=1, max_size=6).map(lambda s: "n" + s.strip())
events = st.builds(
    lambda i, kind, art, src, day, tp, point, gp, iso, names, conf, fat, place, dated, pub, where: Event(
        event_id=i,
        event_type=kind,
        article_id=art,
        source=src,
        day=day,
        time_precision=tp,
        lat=None if point is None else point[0],
        lon=None if point is None else point[1],
        geo_precision=gp,
        iso3=iso,
        actors=frozenset(names),
        confidence=conf,
        fatalities=fat,
        place_from_sentence=place and kind not in RULES.place_weak_types,
        date_from_sentence=dated and not pub and day is not None,
        date_is_publication=pub,
        location=where,
    ),
    text,
    st.sampled_from(["airstrike", "bombing", "statement", "x"]),
    st.none() | text,
    st.none() | text,
    st.none() | st.integers(700_000, 800_000),
    small,
    st.none() | st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    small,
    st.none() | st.sampled_from(["IRQ", "SYR", ""]),
    st.lists(actor, max_size=3, unique=True),
    st.floats(0, 1),
    st.none() | st.integers(0, 10**6),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.none() | text,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(events, max_size=20, unique_by=lambda e: e.event_id), st.integers(1, 5))
def test_events_round_trip_through_the_columns(chosen: list[Event], pieces: int) -> None:
    """Event -> row -> columns (in pieces) -> Event: the same values, sorted by id."""
    rows = [as_row(e) for e in chosen]
    frame = pd.DataFrame(rows, columns=list(as_row(chosen[0])) if chosen else ["event_id", "event_type"])
    cuts = np.array_split(np.arange(len(frame)), pieces)
    found, positions = parse_stream([frame.iloc[c] for c in cuts], RULES)
    expected = [values(e) for e in sorted(chosen, key=lambda e: e.event_id)]
    assert [values(e) for e in found] == expected
    assert [found[int(p)].event_id for p in positions] == [e.event_id for e in chosen]
    assert [values(found[n]) for n in range(len(found))] == expected


def values(e: Event) -> tuple[Any, ...]:
    """An event's values; the location column is passed on as read (pandas may read a None as NaN)."""
    return astuple(replace(e, location=None if missing(e.location) else e.location))


def test_a_repeated_id_keeps_its_last_row_and_every_row_finds_it() -> None:
    rows = [{"event_id": "b", "event_type": "x"}, {"event_id": "a", "event_type": "y"}]
    found, positions = parse_stream(
        [pd.DataFrame(rows), pd.DataFrame([rows[0] | {"event_type": "z"}])], RULES
    )
    assert [(e.event_id, e.event_type) for e in found] == [("a", "y"), ("b", "z")]
    assert positions.tolist() == [1, 0, 1]


def test_ids_that_bytes_cannot_hold_stay_text() -> None:
    rows = [{"event_id": i, "event_type": "x"} for i in ("é", "a\0", "a", "b")]
    found, _ = parse_stream([pd.DataFrame(rows[2:]), pd.DataFrame(rows[:2])], RULES)
    assert found.ids.dtype == object and [e.event_id for e in found] == sorted(r["event_id"] for r in rows)


def test_integers_are_stored_in_the_narrowest_type_with_a_missing_marker() -> None:
    low = np.iinfo(np.int64).min
    assert narrow(np.array([1, 3, low])).dtype == np.int8
    assert narrow(np.array([700_000, low])).dtype == np.int32
    assert narrow(np.array([-128, 1])).dtype == np.int16  # -128 is int8's missing marker
    assert narrow(np.array([low, 5])).tolist() == [np.iinfo(np.int8).min, 5]


def test_interner_shares_equal_values_of_one_type_only() -> None:
    table = Interner()
    assert table.codes(["a", "a", 1, 1.0, None, None]).tolist() == [0, 0, 1, 2, 3, 3]
    assert table.code([1]) != table.code([1])  # unhashable: a code each


def test_missing_values_and_a_half_point() -> None:
    row = {"event_id": "a", "event_type": "x", "latitude": 1.0, "longitude": math.nan, "confidence": None}
    (event,) = parse_stream([pd.DataFrame([row])], RULES)[0]
    assert (event.lat, event.lon, event.point, event.confidence, event.day) == (None, None, None, 0.0, None)


def test_no_frames_give_no_events() -> None:
    found, positions = parse_stream([], RULES)
    assert isinstance(found, EventColumns) and len(found) == 0 and len(positions) == 0 and list(found) == []


def test_a_frame_without_required_columns_is_refused() -> None:
    with pytest.raises(DataFileError, match="event_type"):
        parse_stream([pd.DataFrame([{"event_id": "a"}])], RULES)
