"""Event rows spilled to disk and streamed back: order kept, chunks fixed, quarantine as a whole table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coder import build_tables, clusters, store, validate
from coder.config import Settings
from coder.records import stable_id

SCHEMAS = Settings().schemas_dir


def _events(n: int, start: int = 0) -> pd.DataFrame:
    rows = [
        {
            "event_id": stable_id("event", i), "event_date": None, "event_type": "armed_clash",
            "article_id": stable_id("article", i // 3), "sentence_id": stable_id("sentence", i),
            "start_char": 0, "end_char": 10, "confidence": 0.9, "coded_by": "rule", "fatalities": i % 4,
            "source": "invented", "modality": "asserted", "injuries": 0, "notes": "invented",
        }
        for i in range(start, start + n)
    ]  # fmt: skip
    columns = validate.load_schema(SCHEMAS, "events").names
    return pd.DataFrame.from_records(rows).reindex(columns=columns)


def _spill(tmp_path: Path) -> store.SpillFile:
    return store.SpillFile(tmp_path / "events.spill", validate.load_schema(SCHEMAS, "events"))


def test_fixed_chunks_recut_any_batching() -> None:
    frames = [pd.DataFrame({"x": range(a, b)}) for a, b in ((0, 3), (3, 4), (4, 11), (11, 11), (11, 12))]
    chunks = list(build_tables.fixed_chunks(frames, 5))
    assert [len(c) for c in chunks] == [5, 5, 2]
    assert pd.concat(chunks)["x"].tolist() == list(range(12))


def test_spill_keeps_order_and_untypeable_frames(tmp_path: Path) -> None:
    spill = _spill(tmp_path)
    bad = _events(2, start=5).astype({"fatalities": object})
    bad.loc[0, "fatalities"] = "many"  # no int64 holds it: kept in memory, in its place
    for frame in (_events(5), bad, _events(3, start=7)):
        spill.append(frame)
    back = pd.concat(list(spill.frames()), ignore_index=True)
    assert back["event_id"].tolist() == _events(10)["event_id"].tolist()
    slim = pd.concat(list(spill.frames(["event_id"])), ignore_index=True)
    assert list(slim.columns) == ["event_id"] and len(slim) == 10
    spill.remove()
    assert not spill.path.exists()


def test_write_events_quarantines_and_recounts(tmp_path: Path) -> None:
    spill = _spill(tmp_path)
    frame = _events(7)
    frame.loc[4, "fatalities"] = -1  # fails the schema's minimum: quarantined
    spill.append(frame)
    checker = validate.ChunkValidator(SCHEMAS)
    columns = validate.load_schema(SCHEMAS, "events").names
    ids = np.array([stable_id("cluster", i) for i in range(7)], dtype=object)
    with store.open_release(tmp_path / "datasets", "x", schemas_dir=SCHEMAS) as writer:
        written = build_tables.write_events(spill, ids, writer, checker, columns, keep=True)
        assert written.rows == 6 and written.kept is not None
        assert written.kept.column("event_cluster_id").tolist() == [ids[i] for i in range(7) if i != 4]
        assert written.kept.rows == 6 and written.kept.spill.path.parent == writer.tmp
        update = written.updates["articles"]
        assert dict(update.values) == {stable_id("article", 1): 2}
        assert checker.report.tables["events"].failing_rows == [4]
        assert not spill.path.exists()


def test_spill_is_never_published(tmp_path: Path) -> None:
    with store.open_release(tmp_path, "x", schemas_dir=SCHEMAS) as writer:
        spill = writer.spill("events")
        spill.append(_events(3))
        assert spill.path.parent == writer.tmp
        release = writer.commit({"events": _events(3)}, {})
    assert sorted(p.name for p in release.path.iterdir()) == ["events.parquet", "manifest.json"]


def test_an_aborted_release_leaves_no_spill(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), store.open_release(tmp_path, "x", schemas_dir=SCHEMAS) as writer:
        writer.spill("events").append(_events(3))
        raise RuntimeError("killed")
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / "x").iterdir())


def test_clusters_table_written_in_chunks_is_the_whole_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = clusters.ClusterRules.load(Settings().rules_dir / "clusters.json")
    _, table = clusters.cluster_events(_events(7), rules)
    written = {}
    for label, size in (("whole", 100), ("chunked", 3), ("empty", 3)):
        monkeypatch.setattr(build_tables, "EVENT_CHUNK_ROWS", size)
        checker = validate.ChunkValidator(SCHEMAS)
        frame = _events(7).iloc[:0] if label == "empty" else _events(7)
        with store.open_release(tmp_path / label, "x", schemas_dir=SCHEMAS) as writer:
            build_tables.write_clusters(clusters.cluster_stream([frame], rules)[1], writer, checker)
            release = writer.commit({}, {})
        written[label] = ((release.path / "clusters.parquet").read_bytes(), checker.report.to_dict())
        if label == "whole":
            back = store.read_table(release.path, "clusters")
            assert back["event_cluster_id"].tolist() == table["event_cluster_id"].tolist()
    assert written["whole"] == written["chunked"]
    assert written["empty"][1]["tables"]["clusters"]["rows"] == 0
