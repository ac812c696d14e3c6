"""Hypothesis over ingest and the whole pipeline on random input (issue 5).

Invariants: nothing raises; every input record comes out as exactly one Article or one error Reject
(warnings come in addition); sentence and event offsets point into the article text. The stages are
loaded once per module and the number of examples is bounded, so this stays a short test.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from coder import ingest, pipeline
from coder.config import Settings
from coder.records import Article, Reject

TODAY = date(2026, 1, 1)
WORDS = (
    "rebels", "attacked", "soldiers", "killed", "an", "airstrike", "hit", "Aleppo", "on", "Monday", "the",
    "army", "said", "bomb", "exploded", "in", "Baghdad", "3", "people", "Mr.", "Dr.", "U.S.", "Jan.", ".",
    ",", "\n\n", "“", "”", "—", "é", "police", "clashed", "with", "protesters", "weapons", "delivered",
)  # fmt: skip
# Prose-like text from conflict words (so sentences reach the parser and the event builders) mixed with
# arbitrary unicode (control characters, surrogates excluded by JSON, combining marks, RTL, emoji).
prose = st.lists(st.sampled_from(WORDS), min_size=0, max_size=60).map(" ".join)
texts = st.one_of(prose, st.text(max_size=300), st.tuples(prose, st.text(max_size=40)).map("".join))
published = st.one_of(st.none(), st.dates().map(date.isoformat), st.text(max_size=12))


@pytest.fixture(scope="module")
def stages() -> Iterator[pipeline.Stages]:
    with tempfile.TemporaryDirectory() as tmp:
        yield pipeline.Stages.load(Settings().with_overrides(datasets_dir=Path(tmp)))


def _write_jsonl(folder: Path, records: list[dict[str, object]]) -> Path:
    path = folder / "in.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps({k: v for k, v in record.items() if v is not None}) + "\n")
    return path


def _accounted(items: list[Article | Reject], n_inputs: int) -> list[Article]:
    articles = [item for item in items if isinstance(item, Article)]
    errors = [item for item in items if isinstance(item, Reject) and item.severity == "error"]
    assert len(articles) + len(errors) == n_inputs
    assert all(r.reason and r.input_file for r in errors)  # every reject says why and where
    return articles


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(st.binary(max_size=400), max_size=6))
def test_ingest_accounts_for_every_file_of_random_bytes(files: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for i, data in enumerate(files):
            (folder / f"f{i}.txt").write_bytes(data)
        items = list(ingest.iter_articles([folder], Settings(), today=TODAY))
    for article in _accounted(items, len(files)):
        assert article.text.strip()
        assert all(0 <= s.start <= s.end <= len(article.text) for s in article.boilerplate)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.one_of(st.binary(max_size=120), st.text(max_size=120).map(str.encode)), max_size=8))
def test_ingest_accounts_for_every_random_jsonl_line(lines: list[bytes]) -> None:
    records = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        path.write_bytes(b"".join(r + b"\n" for r in records))
        items = list(ingest.iter_articles([path], Settings(), today=TODAY))
    with_content = sum(1 for r in records if r.strip())  # blank lines are not records
    _accounted(items, with_content)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(
        st.fixed_dictionaries({"text": texts, "published": published, "title": st.one_of(st.none(), prose)}),
        min_size=1, max_size=5,
    )
)  # fmt: skip
@example(
    records=[
        {
            "text": "Rebels attacked soldiers in Aleppo on Monday, killing 3 people.",
            "published": "2024-01-02",
            "title": None,
        }
    ]
)  # an event, so the event offsets are checked at least once
def test_whole_pipeline_on_random_text(stages: pipeline.Stages, records: list[dict[str, object]]) -> None:
    numbered = [{"id": f"r{i}", **record} for i, record in enumerate(records)]
    with tempfile.TemporaryDirectory() as tmp:
        path = _write_jsonl(Path(tmp), numbered)
        items = list(pipeline.iter_inputs([path], stages, today=TODAY))
    _accounted(items, len(records))
    result = pipeline.code_batch(items, stages)
    assert len(result.articles) + sum(r.severity == "error" for r in result.rejects) == len(records)
    for coded in result.articles:
        text = coded.article.text
        for sentence in coded.sentences:
            assert text[sentence.start_char : sentence.end_char] == sentence.text
        assert len(coded.classifications) == len(coded.sentences)
        for event in coded.events:
            assert 0 <= event.start_char < event.end_char <= len(text)
            assert event.article_id == coded.article.article_id
