"""schemas/: every table schema is valid, and its columns are exactly what tables.py produces."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coder import clusters, tables
from coder.config import Settings
from coder.errors import DataFileError
from coder.records import (
    EVENT_TYPES,
    MODALITIES,
    Actor,
    Article,
    Casualties,
    Classification,
    Event,
    EventDate,
    Place,
    Reject,
    Sentence,
)
from coder.schema import canonical_column, is_null
from coder.validate import load_schema

SCHEMAS = Settings().schemas_dir
TABLES = ("articles", "sentences", "events", "rejects", "clusters")
ACLED_SUB_EVENTS = {
    "Armed clash", "Government regains territory", "Non-state actor overtakes territory", "Air/drone strike",
    "Suicide bomb", "Shelling/artillery/missile attack", "Remote explosive/landmine/IED", "Grenade",
    "Arms transfer", "Statement",
}  # fmt: skip
ACLED_INTER = {
    "State forces", "Rebel groups", "Political militias", "Identity militias", "Rioters", "Protesters",
    "Civilians", "External/Other forces",
}  # fmt: skip


def _records() -> tuple[Article, Sentence, Classification, Event]:
    text = "Militants attacked Ramadi on Thursday. Two soldiers died."
    article = Article(
        "a1", text, "T", dt.date(2014, 1, 3), "manifest", "Reuters", None, "x.txt", None, "0" * 64
    )
    sentence = Sentence("s1", "a1", 0, 0, 38, text[:38])
    decision = Classification("s1", "armed_clash", "Armed clash", 0.9, "rule:clash.v1", trigger_start=10)
    actor = Actor("Militants", "Militants", None, "Rebel groups", 2, 0, 9, "text")
    place = Place("Ramadi", "Anbar", "Iraq", "IRQ", 33.4, 43.3, 1, "named in sentence")
    event = Event(
        "e1", "a1", "s1", 0, 38, decision, actor, None, None, place,
        EventDate(dt.date(2014, 1, 2), 1, "Thursday", "relative to publication"), Casualties(2, 0), "Reuters",
        text[:38],
    )  # fmt: skip
    return article, sentence, decision, event


@pytest.mark.parametrize("table", TABLES)
def test_schema_files_are_valid(table: str) -> None:
    schema = load_schema(SCHEMAS, table)
    assert schema.table == table
    assert all(len(c.description) >= 3 for c in schema.columns)
    assert schema.primary_key is None or schema.column(schema.primary_key).unique


def test_columns_match_tables_rows_in_order() -> None:
    article, sentence, decision, event = _records()
    rows = {
        "articles": tables.article_row(article, 1, 1),
        "sentences": tables.sentence_row(sentence, decision),
        "events": tables.event_row(event),
        "rejects": tables.reject_row(Reject("ingest", "articles", "empty")),
    }
    for table, row in rows.items():
        schema = load_schema(SCHEMAS, table)
        assert list(row) == [c.name for c in schema.columns if c.required], table


def test_optional_event_cluster_id_is_what_clusters_appends() -> None:
    events = load_schema(SCHEMAS, "events")
    optional = [c.name for c in events.columns if not c.required]
    assert optional == ["event_cluster_id"] == events.names[-1:]
    assert load_schema(SCHEMAS, "clusters").names == list(clusters.CLUSTER_COLUMNS)


def test_allowed_values_follow_records_and_acled() -> None:
    sentences, events = load_schema(SCHEMAS, "sentences"), load_schema(SCHEMAS, "events")
    assert sentences.column("event_type").allowed == EVENT_TYPES
    assert set(events.column("event_type").allowed or ()) == set(EVENT_TYPES) - {"none"}
    assert sentences.column("modality").allowed == MODALITIES
    assert set(events.column("modality").allowed or ()) <= set(MODALITIES)
    for schema in (sentences, events):
        assert set(schema.column("sub_event_type").allowed or ()) == ACLED_SUB_EVENTS
    assert (
        set(events.column("inter1").allowed or ())
        == set(events.column("inter2").allowed or ())
        == ACLED_INTER
    )
    for name in ("iso3", "actor1_iso3", "actor2_iso3", "assoc_actor1_iso3"):
        assert events.column(name).regex == "^[A-Z]{3}$"
    assert (events.column("latitude").min, events.column("latitude").max) == (-90, 90)
    assert (events.column("longitude").min, events.column("longitude").max) == (-180, 180)
    assert events.column("geo_precision").allowed == events.column("time_precision").allowed == (1, 2, 3)


def _write_variant(tmp_path: Path, table: str, change: dict[str, object]) -> Path:
    for name in ("table.schema.json", f"{table}.json"):
        (tmp_path / name).write_text((SCHEMAS / name).read_text(encoding="utf-8"), encoding="utf-8")
    data = json.loads((tmp_path / f"{table}.json").read_text(encoding="utf-8"))
    data.update(change)
    (tmp_path / f"{table}.json").write_text(json.dumps(data), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "change",
    [
        {"version": "one"},
        {"primary_key": "no_such_column"},
        {"table": "sentences"},
        {"columns": [{"name": "x", "type": "string", "nullable": True, "description": "text", "min": 0}]},
        {"columns": [{"name": "x", "type": "int", "nullable": True, "description": "int", "regex": "^1$"}]},
        {
            "columns": [
                {"name": "x", "type": "int", "nullable": False, "required": False, "description": "ab c"}
            ]
        },
        {"columns": [{"name": "x", "type": "uuid", "nullable": True, "description": "what"}]},
        {"row_checks": [{"check": "less_than", "left": "x", "right": "article_id", "why": "unknown x"}]},
    ],
)
def test_malformed_schema_is_a_data_file_error(tmp_path: Path, change: dict[str, object]) -> None:
    with pytest.raises(DataFileError):
        load_schema(_write_variant(tmp_path, "articles", change), "articles")


def test_missing_or_unparseable_schema_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "table.schema.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DataFileError, match="cannot read"):
        load_schema(tmp_path, "events")
    (tmp_path / "events.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"events\.json"):
        load_schema(tmp_path, "events")


def test_an_edited_schema_file_is_read_afresh(tmp_path: Path) -> None:
    """Parsed schemas are kept for the same file contents only."""
    first = load_schema(_write_variant(tmp_path, "articles", {"version": "1.0.0"}), "articles")
    assert load_schema(tmp_path, "articles") is first
    edited = load_schema(_write_variant(tmp_path, "articles", {"version": "9.9.9"}), "articles")
    assert (first.version, edited.version) == ("1.0.0", "9.9.9")


@given(st.lists(st.one_of(st.none(), st.text(max_size=5), st.floats(), st.integers()), max_size=8))
def test_string_columns_take_the_same_values_on_the_fast_path(values: list[object]) -> None:
    series = pd.Series(values, dtype=object)
    column, failed = canonical_column(series, "string")
    expected = [None if is_null(v) else v for v in values]
    assert column.tolist() == [v if isinstance(v, str) or v is None else None for v in expected]
    assert failed == [i for i, v in enumerate(expected) if v is not None and not isinstance(v, str)]
    assert column.dtype == object
