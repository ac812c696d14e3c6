"""Tests for coder.classify.evaluate: gold reading errors and metric arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coder.classify.evaluate import read_gold, score
from coder.errors import InputError
from coder.records import EVENT_TYPES


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_gold_keeps_extra_fields(tmp_path: Path) -> None:
    record = {"id": "a", "text": "Jets bombed the town.", "event_type": "airstrike", "why": "aircraft"}
    items = read_gold(_write(tmp_path / "g.jsonl", [json.dumps(record), ""]))
    assert [(i.id, i.event_type) for i in items] == [("a", "airstrike")]
    assert items[0].extra == {"why": "aircraft"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"id": "b", "text": "x"}', "event_type"),
        ('{"id": "b", "text": "x", "event_type": "riot"}', "unknown event_type"),
    ],
)
def test_read_gold_names_the_bad_line(tmp_path: Path, line: str, message: str) -> None:
    good = json.dumps({"id": "a", "text": "t", "event_type": "none"})
    with pytest.raises(InputError, match=message) as info:
        read_gold(_write(tmp_path / "g.jsonl", [good, line]))
    assert info.value.line == 2
    assert "g.jsonl:2" in str(info.value)


def test_read_gold_rejects_duplicate_ids(tmp_path: Path) -> None:
    line = json.dumps({"id": "a", "text": "t", "event_type": "none"})
    with pytest.raises(InputError, match="duplicate id"):
        read_gold(_write(tmp_path / "g.jsonl", [line, line]))


def test_missing_gold_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_gold(tmp_path / "absent.jsonl")


def test_score_hand_computed() -> None:
    gold = ["bombing", "bombing", "airstrike", "none"]
    pred = ["bombing", "airstrike", "airstrike", "none"]
    report = score(gold, pred, ids=["1", "2", "3", "4"], texts=["a", "b", "c", "d"])
    bombing, airstrike = report.per_type["bombing"], report.per_type["airstrike"]
    assert (bombing.precision, bombing.recall, bombing.support) == (1.0, 0.5, 2)
    assert (airstrike.precision, airstrike.recall) == (0.5, 1.0)
    assert bombing.f1 == pytest.approx(2 / 3)
    # macro over the three types present: (2/3 + 2/3 + 1) / 3
    assert report.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert report.accuracy == 0.75
    assert [(e.id, e.gold, e.predicted) for e in report.errors] == [("2", "bombing", "airstrike")]
    row = EVENT_TYPES.index("bombing")
    assert report.confusion[row][EVENT_TYPES.index("airstrike")] == 1


def test_score_rejects_mismatched_lengths_and_unknown_labels() -> None:
    with pytest.raises(ValueError, match="same length"):
        score(["none"], [])
    with pytest.raises(ValueError, match="labels outside"):
        score(["riot"], ["none"])


def test_report_text_and_json() -> None:
    report = score(["statement", "none"], ["none", "none"], ids=["x", "y"], texts=["He said.", "Rain."])
    text = report.to_text()
    assert "macro-F1" in text and "statement" in text and "x: gold=statement predicted=none" in text
    data = report.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["confusion"]["rows"] == "gold"
    assert data["per_type"]["statement"]["support"] == 1


label = st.sampled_from(EVENT_TYPES)


@given(st.lists(st.tuples(label, label), max_size=60))
def test_score_invariants(pairs: list[tuple[str, str]]) -> None:
    gold = [g for g, _ in pairs]
    pred = [p for _, p in pairs]
    report = score(gold, pred)
    assert sum(map(sum, report.confusion)) == len(pairs)
    assert len(report.errors) == sum(g != p for g, p in pairs)
    for name, s in report.per_type.items():
        assert s.support == gold.count(name)
        assert 0.0 <= s.precision <= 1.0 and 0.0 <= s.recall <= 1.0 and 0.0 <= s.f1 <= 1.0
    assert 0.0 <= report.macro_f1 <= 1.0
    if pairs and gold == pred:
        assert report.macro_f1 == 1.0 and report.accuracy == 1.0
