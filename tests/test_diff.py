"""Release diffs over hand-built release folders (Parquet written here only as a fixture)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coder.diff import ReleaseColumns, ReleaseDiff, diff_releases, summary_against
from coder.errors import ReleaseError


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_id": event_id,
        "article_id": "art1",
        "sentence_id": f"s-{event_id}",
        "start_char": 100 * sum(map(ord, event_id)),
        "end_char": 100 * sum(map(ord, event_id)) + 50,
        "event_type": "airstrike",
        "event_date": date(2014, 1, 2),
        "location": "Ramadi",
        "latitude": 33.4258,
        "fatalities": 0,
        "notes": f"Sentence of {event_id}.",
    }
    return row | fields


def release(root: Path, version: str, events: list[dict[str, Any]], rejects: int = 0) -> Path:
    folder = root / "seeds" / version
    folder.mkdir(parents=True)
    pd.DataFrame(events, columns=list(event("x"))).to_parquet(folder / "events.parquet")
    pd.DataFrame({"reason": ["bad"] * rejects}).to_parquet(folder / "rejects.parquet")
    tables = {t: {"file": f"{t}.parquet"} for t in ("events", "rejects")}
    manifest = {"name": "seeds", "version": version, "tables": tables}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_identical_releases_have_an_empty_diff(tmp_path: Path) -> None:
    rows = [event("a"), event("b", sentence_id="s2")]
    diff = diff_releases(release(tmp_path, "v1", rows), release(tmp_path, "v2", rows))
    assert diff.is_empty
    assert diff.unchanged == 2
    assert "0 added, 0 removed, 0 changed, 2 unchanged" in diff.to_text()


def test_added_removed_and_changed_fields_are_reported(tmp_path: Path) -> None:
    old = [event("a"), event("b", fatalities=3), event("gone")]
    new = [event("a"), event("b", fatalities=5, location="Fallujah"), event("new")]
    diff = diff_releases(release(tmp_path, "v1", old), release(tmp_path, "v2", new))
    assert [r["event_id"] for r in diff.added] == ["new"]
    assert [r["event_id"] for r in diff.removed] == ["gone"]
    (change,) = diff.changed
    assert change.matched_by == "event_id"
    assert {(f.column, f.old, f.new) for f in change.changes} == {
        ("fatalities", 3, 5),
        ("location", "Ramadi", "Fallujah"),
    }
    assert diff.field_counts == {"fatalities": 1, "location": 1}
    assert (diff.version_a, diff.version_b) == ("v1", "v2")


def test_a_retyped_sentence_is_a_change_not_an_add_and_a_remove(tmp_path: Path) -> None:
    same = {"sentence_id": "s1", "start_char": 0, "end_char": 9, "notes": "A bomb."}
    old = [event("a1", event_type="airstrike", **same)]
    new = [event("b1", event_type="bombing", **same)]
    diff = diff_releases(release(tmp_path, "v1", old), release(tmp_path, "v2", new))
    assert not diff.added and not diff.removed
    (change,) = diff.changed
    assert (change.event_id_a, change.event_id_b, change.matched_by) == ("a1", "b1", "article_id+sentence_id")
    assert [(f.column, f.old, f.new) for f in change.changes] == [("event_type", "airstrike", "bombing")]


def test_ambiguous_secondary_keys_are_not_guessed(tmp_path: Path) -> None:
    """Two new events on the same sentence: neither is matched to the old one by sentence."""
    old = [event("a1", sentence_id="s1", start_char=3)]
    new = [event("b1", sentence_id="s1", start_char=5), event("b2", sentence_id="s1", start_char=7)]
    diff = diff_releases(release(tmp_path, "v1", old), release(tmp_path, "v2", new))
    assert len(diff.removed) == 1 and len(diff.added) == 2 and not diff.changed


def test_row_counts_and_json_round_trip(tmp_path: Path) -> None:
    a = release(tmp_path, "v1", [event("a")], rejects=2)
    b = release(tmp_path, "v2", [event("a", event_date=date(2014, 1, 3))], rejects=0)
    data = json.loads(diff_releases(a, b).to_json())
    assert data["row_counts"]["rejects"] == {"a": 2, "b": 0}
    assert data["row_counts"]["articles"] == {"a": None, "b": None}
    fields = data["events"]["changed"][0]["fields"]
    assert fields == {"event_date": {"old": "2014-01-02", "new": "2014-01-03"}}
    assert "rejects: 2 -> 0" in diff_releases(a, b).to_text()


def test_missing_release_is_a_release_error(tmp_path: Path) -> None:
    a = release(tmp_path, "v1", [event("a")])
    with pytest.raises(ReleaseError, match="not found"):
        diff_releases(a, tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReleaseError, match=r"manifest\.json is missing"):
        diff_releases(a, tmp_path / "empty")


def test_text_summary_is_capped(tmp_path: Path) -> None:
    new = [event(f"e{i}", sentence_id=f"s{i}") for i in range(30)]
    text = diff_releases(release(tmp_path, "v1", []), release(tmp_path, "v2", new)).to_text(max_items=5)
    assert "30 added" in text and "... and 25 more" in text


def test_summary_against_the_previous_release_counts_events_for_the_manifest(tmp_path: Path) -> None:
    previous = release(tmp_path, "v1", [event("a"), event("b", fatalities=3), event("gone")])
    tables = {"events": pd.DataFrame([event("a"), event("b", fatalities=5), event("new"), event("new2")])}
    summary = summary_against(previous, tables)
    assert summary == {
        "compared_to": "seeds/v1",
        "added": 2,
        "removed": 1,
        "changed": 1,
        "unchanged": 1,
        "changed_by_field": {"fatalities": 1},
    }
    json.dumps(summary)  # goes into manifest.json as is
    first = summary_against(None, tables)
    assert (first["compared_to"], first["added"], first["removed"]) == (None, 4, 0)


def test_summary_against_a_folder_that_is_not_a_release_is_a_release_error(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError):
        summary_against(tmp_path, {"events": pd.DataFrame([event("a")])})


def test_summary_reads_the_new_events_a_column_at_a_time_as_from_a_frame(tmp_path: Path) -> None:
    """A build hands the summary its written rows as columns read back from disk, not as a frame."""
    previous = release(tmp_path, "v1", [event("a"), event("b", fatalities=3), event("c", start_char=1)])
    new = [event("a", event_type="bombing"), event("b2", sentence_id="s-b", fatalities=None), event("d")]
    on_disk = ReleaseColumns(release(tmp_path, "v2", new))
    from_frame = summary_against(previous, {"events": pd.DataFrame(new, columns=list(event("x")))})
    assert summary_against(previous, {"events": on_disk}) == from_frame
    assert (from_frame["added"], from_frame["removed"], from_frame["changed"]) == (1, 1, 2)
    moved = {"start_char": 1, "end_char": 1, "notes": 1}  # b2's span and text are b's only by id
    assert from_frame["changed_by_field"] == dict(
        sorted(({"event_type": 1, "fatalities": 1} | moved).items())
    )


ids = st.lists(st.sampled_from([f"e{i}" for i in range(8)]), unique=True, max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids, ids)
def test_every_event_is_accounted_for_once(tmp_path_factory: pytest.TempPathFactory, a: Any, b: Any) -> None:
    root = tmp_path_factory.mktemp("r")
    old = [event(i, sentence_id=f"s-{i}") for i in a]
    new = [event(i, sentence_id=f"s-{i}", fatalities=1) for i in b]
    diff: ReleaseDiff = diff_releases(release(root, "v1", old), release(root, "v2", new))
    matched = len(diff.changed) + diff.unchanged
    assert matched + len(diff.removed) == len(old)
    assert matched + len(diff.added) == len(new)
    assert {r["event_id"] for r in diff.added} == set(b) - set(a)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids, ids, st.sets(st.integers(0, 7)))
def test_summary_counts_as_the_full_diff_does(
    tmp_path_factory: pytest.TempPathFactory, a: Any, b: Any, moved: set[int]
) -> None:
    """The manifest's column-at-a-time summary and ``coder diff``'s row-wise diff agree."""
    root = tmp_path_factory.mktemp("s")
    old = [event(i, sentence_id=f"s-{i}") for i in a]
    new = [
        event(f"{i}'" if n in moved else i, sentence_id=f"s-{i}", fatalities=n % 2) for n, i in enumerate(b)
    ]
    first, second = release(root, "v1", old), release(root, "v2", new)
    diff = diff_releases(first, second)
    summary = summary_against(first, {"events": ReleaseColumns(second)})
    counts = (len(diff.added), len(diff.removed), len(diff.changed), diff.unchanged, diff.field_counts)
    assert counts == tuple(
        summary[k] for k in ("added", "removed", "changed", "unchanged", "changed_by_field")
    )
