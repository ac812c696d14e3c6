"""validate.py: the GX suite catches each kind of violation, names the rows, and the quarantine policy."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coder import store, tables
from coder.config import Settings
from coder.errors import ReleaseError
from coder.records import Article, Casualties, Classification, Event, EventDate, Place, Reject, Sentence
from coder.validate import (
    TYPE_EXPECTATION,
    UNIQUE_EXPECTATION,
    ChunkValidator,
    ValidationReport,
    Validator,
    canonical_column,
    load_schema,
    quarantine,
    validate_release,
    validate_tables,
)

SCHEMAS = Settings().schemas_dir
TEXT = "Militants attacked Ramadi on Thursday. Two soldiers died in the clash."


@pytest.fixture(scope="module")
def validator() -> Validator:
    """One GX context for the module: importing and starting GX costs seconds."""
    return Validator()


def _event(i: int) -> Event:
    decision = Classification(f"s{i}", "armed_clash", "Armed clash", 0.9, "rule:clash.v1")
    place = Place("Ramadi", "Anbar", "Iraq", "IRQ", 33.42, 43.3, 1, "named in sentence")
    when = EventDate(dt.date(2014, 1, 2), 1, "Thursday", "relative to publication")
    return Event(f"e{i}", "a1", f"s{i}", 0, 38, decision, None, None, None, place, when, Casualties(2, 1),
                 "Reuters", TEXT[:38])  # fmt: skip


def good_tables(n_events: int = 20) -> dict[str, pd.DataFrame]:
    article = Article(
        "a1", TEXT, "T", dt.date(2014, 1, 3), "manifest", "Reuters", None, "x.txt", None, "0" * 64
    )
    sentence = Sentence("s0", "a1", 0, 0, 38, TEXT[:38])
    decision = Classification("s0", "none", None, 0.1, "model:sgd-1", modality="asserted")
    return {
        "articles": pd.DataFrame([tables.article_row(article, 1, n_events)]),
        "sentences": pd.DataFrame([tables.sentence_row(sentence, decision)]),
        "events": pd.DataFrame([tables.event_row(_event(i)) for i in range(n_events)]),
        "rejects": pd.DataFrame([tables.reject_row(Reject("ingest", "articles", "empty input", "y.txt", 3))]),
    }


def _events_with(column: str, rows: dict[int, Any], n: int = 20) -> pd.DataFrame:
    frame = good_tables(n)["events"]
    frame[column] = frame[column].astype(object)
    for row, value in rows.items():
        frame.at[row, column] = value
    return frame


def _failures(report: Any, expectation: str, column: str) -> list[int]:
    return sorted(f.row for f in report.failures if f.expectation == expectation and f.column == column)


def test_good_tables_pass(validator: Validator) -> None:
    report = validate_tables(good_tables(), SCHEMAS, validator)
    assert report.success, report.to_text()
    assert report.rejects == []
    assert json.loads(json.dumps(report.to_dict())) == report.to_dict()


# Each kind of violation in its own rows of one table, so one validation covers them all.
VIOLATIONS: list[tuple[str, dict[int, Any], str]] = [
    ("notes", {3: None}, "expect_column_values_to_not_be_null"),
    ("event_type", {2: "riot", 5: "none"}, "expect_column_values_to_be_in_set"),
    ("inter1", {4: "Militias"}, "expect_column_values_to_be_in_set"),
    ("latitude", {1: 91.0, 6: -90.5}, "expect_column_values_to_be_between"),
    ("fatalities", {7: -1}, "expect_column_values_to_be_between"),
    ("confidence", {10: 1.01}, "expect_column_values_to_be_between"),
    ("iso3", {12: "iq", 19: "IRQX"}, "expect_column_values_to_match_regex"),
    ("geo_precision", {18: 4}, "expect_column_values_to_be_in_set"),
    ("injuries", {14: "19", 15: 2.5, 16: True}, TYPE_EXPECTATION),
    ("event_date", {13: "2014-01-02", 17: pd.Timestamp("2014-01-02 10:00")}, TYPE_EXPECTATION),
    ("event_id", {9: "e1", 11: "e1"}, "expect_column_values_to_be_unique"),  # e1 itself is row 1: kept
    ("start_char", {0: 38, 8: 50}, "expect_column_pair_values_a_to_be_greater_than_b"),
]


@pytest.fixture(scope="module")
def broken(validator: Validator) -> Any:
    frame = good_tables(20)["events"]
    for column, rows, _ in VIOLATIONS:
        frame[column] = frame[column].astype(object)
        for row, value in rows.items():
            frame.at[row, column] = value
    return validator.validate_table(frame, load_schema(SCHEMAS, "events"))


@pytest.mark.parametrize(("column", "bad", "expectation"), VIOLATIONS, ids=[v[0] for v in VIOLATIONS])
def test_each_violation_names_its_rows(
    broken: Any, column: str, bad: dict[int, Any], expectation: str
) -> None:
    where = "start_char,end_char" if expectation.startswith("expect_column_pair") else column
    assert _failures(broken, expectation, where) == sorted(bad)
    rejects = [r for r in broken.rejects if r.expectation == expectation and r.column == where]
    keys = {r.row_key for r in rejects}
    assert keys == ({"e1"} if column == "event_id" else {f"e{i}" for i in bad})
    assert all(r.stage == "validate" and r.table == "events" and r.article_id == "a1" for r in rejects)


def test_every_broken_row_and_only_those_fail(broken: Any) -> None:
    assert not broken.success
    assert broken.failing_rows == sorted({row for _, rows, _ in VIOLATIONS for row in rows})
    assert not broken.table_level_failures
    pair = next(f for f in broken.failures if f.column == "start_char,end_char")
    assert pair.value == "start_char=38, end_char=38"


def test_nullable_ints_stored_as_float_are_accepted(validator: Validator) -> None:
    frame = good_tables()["events"]
    frame["time_precision"] = [None, *range(1, 4)] * 5  # pandas makes this float64
    assert frame["time_precision"].dtype == np.float64
    assert validator.validate_table(frame, load_schema(SCHEMAS, "events")).success


def test_missing_or_reordered_column_is_table_level(validator: Validator) -> None:
    schema = load_schema(SCHEMAS, "events")
    for frame in (good_tables()["events"].drop(columns=["notes"]), good_tables()["events"].iloc[:, ::-1]):
        report = validator.validate_table(frame, schema)
        assert not report.success
        assert report.table_level_failures
        assert not quarantine({"events": frame}, ValidationReport({"events": report}), 1.0).ok


def test_optional_column_may_be_absent_or_present(validator: Validator) -> None:
    schema = load_schema(SCHEMAS, "events")
    frame = good_tables()["events"]
    assert validator.validate_table(frame, schema).success
    frame["event_cluster_id"] = "c1"
    assert validator.validate_table(frame, schema).success


def _report(validator: Validator, frames: dict[str, pd.DataFrame]) -> Any:
    return validate_tables(frames, SCHEMAS, validator)


def test_quarantine_moves_failing_events_to_rejects(validator: Validator) -> None:
    frames = good_tables(40)
    frames["events"] = _events_with("confidence", {5: 2.0}, n=40)
    result = quarantine(frames, _report(validator, frames), max_reject_share=0.05)
    assert result.ok, result.reasons
    assert len(result.tables["events"]) == 39
    assert "e5" not in set(result.tables["events"]["event_id"])
    rejects = result.tables["rejects"]
    assert list(rejects["stage"]) == ["ingest", "validate"]
    assert rejects.iloc[1]["row_key"] == "e5"
    assert validate_tables(result.tables, SCHEMAS, validator).success


def test_quarantine_fails_above_the_share(validator: Validator) -> None:
    frames = good_tables(20)
    frames["events"] = _events_with("fatalities", {1: -1, 2: -2})
    result = quarantine(frames, _report(validator, frames), max_reject_share=0.05)
    assert not result.ok
    assert "10.0%" in result.reasons[0]


def test_quarantine_never_drops_article_or_sentence_rows(validator: Validator) -> None:
    frames = good_tables()
    frames["sentences"].loc[0, "end_char"] = 0
    result = quarantine(frames, _report(validator, frames), max_reject_share=1.0)
    assert not result.ok
    assert "sentences" in result.reasons[0]


def test_text_report_names_table_expectation_and_value(validator: Validator) -> None:
    frames = {"events": _events_with("iso3", {2: "iq"})}
    text = _report(validator, frames).to_text()
    assert "FAILED" in text and "expect_column_values_to_match_regex [iso3]" in text and "iq" in text


def test_validate_release_reads_parquet(validator: Validator, tmp_path: Path) -> None:
    release = store.write_release(tmp_path, "demo", good_tables(), {})
    report = validate_release(release.path, SCHEMAS)
    assert report.success, report.to_text()
    assert sorted(report.tables) == ["articles", "events", "rejects", "sentences"]
    with pytest.raises(ReleaseError):
        validate_release(tmp_path / "nowhere", SCHEMAS)


KIND_VALUES = {
    "int": st.one_of(st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False)),
    "string": st.one_of(st.text(max_size=5), st.integers()),
    "date": st.one_of(st.dates(), st.text(max_size=3)),
    "bool": st.one_of(st.booleans(), st.integers(0, 1)),
    "float": st.one_of(st.floats(allow_nan=False), st.booleans(), st.text(max_size=2)),
}


def _of_type(kind: str, value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return {
        "int": number and float(value).is_integer() and -(2**63) <= int(value) < 2**63,
        "float": number,
        "string": isinstance(value, str),
        "date": isinstance(value, dt.date),
        "bool": isinstance(value, bool),
    }[kind]


@settings(max_examples=60, deadline=None)
@given(data=st.data(), kind=st.sampled_from(sorted(KIND_VALUES)))
def test_type_pass_flags_exactly_the_values_of_another_type(data: st.DataObject, kind: str) -> None:
    values = data.draw(st.lists(st.one_of(st.none(), KIND_VALUES[kind]), max_size=12))
    out, failed = canonical_column(pd.Series(values, dtype=object), kind)
    assert failed == [i for i, v in enumerate(values) if v is not None and not _of_type(kind, v)]
    assert out.isna().tolist() == [v is None or i in failed for i, v in enumerate(values)]


def test_chunks_report_like_the_whole_table(validator: Validator) -> None:
    events = good_tables(30)["events"]
    chunks = ChunkValidator(SCHEMAS, validator)
    for start in (0, 10, 20):
        chunks.validate("events", events.iloc[start : start + 10])
    whole = validate_tables({"events": events}, SCHEMAS, validator)
    assert chunks.report.to_dict() == whole.to_dict()


def test_an_id_repeated_in_a_later_chunk_fails_uniqueness_at_its_row(validator: Validator) -> None:
    events = good_tables(30)["events"]
    events.loc[25, "event_id"] = events.loc[3, "event_id"]
    events.loc[28, "confidence"] = 7.0  # out of range: a row failure GX finds inside the last chunk
    chunks = ChunkValidator(SCHEMAS, validator)
    for start in (0, 10, 20):
        chunks.validate("events", events.iloc[start : start + 10])
    whole = validate_tables({"events": events}, SCHEMAS, validator)
    merged = chunks.report.tables["events"]
    assert not merged.success
    assert _failures(merged, UNIQUE_EXPECTATION, "event_id") == [25]
    assert merged.failing_rows == whole.tables["events"].failing_rows
    assert [r.row_key for r in merged.rejects if r.expectation == UNIQUE_EXPECTATION] == ["e3"]
