"""Build orchestration: streamed batches, forked local workers, byte-identical releases."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from coder import build, build_tables, pipeline, store, validate
from coder.config import PROJECT_ROOT, Settings
from coder.errors import ConfigError
from coder.records import Article

SEEDS = PROJECT_ROOT / "seeds"


@pytest.fixture(scope="module")
def stages() -> pipeline.Stages:
    return pipeline.Stages.load(Settings())


def _with(stages: pipeline.Stages, **changes: object) -> pipeline.Stages:
    return dataclasses.replace(stages, settings=stages.settings.with_overrides(**changes))


def _release_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.glob("*.parquet"))}


def _release_files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


def test_forked_workers_write_the_same_release_as_one_process(
    stages: pipeline.Stages, tmp_path: Path
) -> None:
    # Two articles a batch: the five seed articles make three batches, so two workers really share them.
    one = _with(stages, batch_size=2, n_process=1, datasets_dir=tmp_path / "one")
    two = _with(stages, batch_size=2, n_process=2, datasets_dir=tmp_path / "two")
    first = build.build_release([SEEDS], "seeds", one.settings, stages=one)
    second = build.build_release([SEEDS], "seeds", two.settings, stages=two)
    assert first.counts == second.counts
    assert first.counts["events"] > 0
    assert _release_bytes(first.release.path) == _release_bytes(second.release.path)


def test_code_inputs_streams_batches_in_input_order(stages: pipeline.Stages) -> None:
    small = _with(stages, batch_size=2)
    results = list(build.code_inputs([SEEDS], small, processes=2))
    assert [len(r.articles) for r in results] == [2, 2, 1]
    ids = [ar.article.article_id for r in results for ar in r.articles]
    expected = [a.article_id for a in pipeline.iter_inputs([SEEDS], small) if isinstance(a, Article)]
    assert ids == expected


def test_batch_rows_cover_every_sentence(stages: pipeline.Stages) -> None:
    batch = [a for a in pipeline.iter_inputs([SEEDS], stages)][:1]
    result = pipeline.code_batch(batch, stages)
    rows = build_tables.batch_rows(result)
    assert len(rows["articles"]) == 1
    assert len(rows["sentences"]) == len(result.articles[0].sentences)
    assert len(rows["events"]) == len(result.articles[0].events)


def test_unknown_engine_is_a_config_error(stages: pipeline.Stages, settings: Settings) -> None:
    with pytest.raises(ConfigError, match="unknown engine"):
        build.build_release([SEEDS], "x", settings, engine="spark", stages=stages)


class _Writer:
    """Collects what StreamedTables writes (events go to a real spill file)."""

    def __init__(self, folder: Path) -> None:
        self.frames: dict[str, list[pd.DataFrame]] = {}
        self.folder = folder

    def spill(self, table: str) -> store.SpillFile:
        schema = validate.load_schema(Settings().schemas_dir, table)
        return store.SpillFile(self.folder / f"{table}.spill.parquet", schema)

    def append(self, table: str, frame: pd.DataFrame) -> None:
        self.frames.setdefault(table, []).append(frame)


def test_streamed_tables_are_validated_in_fixed_chunks(stages: pipeline.Stages, tmp_path: Path) -> None:
    writer, checker = _Writer(tmp_path), validate.ChunkValidator(stages.settings.schemas_dir)
    streamed = build_tables.StreamedTables(writer, checker, stages.settings.schemas_dir)  # type: ignore[arg-type]
    streamed.chunk_rows = {"articles": 2, "sentences": 50, "rejects": 50}
    items = list(pipeline.iter_inputs([SEEDS], stages))
    results = [pipeline.code_batch(items[i : i + 2], stages) for i in range(0, len(items), 2)]
    for result in results:
        streamed.add(result)
    streamed.finish_streamed()
    sizes = [len(f) for f in writer.frames["sentences"] if len(f)]
    assert all(size == 50 for size in sizes[:-1]) and 0 < sizes[-1] <= 50
    assert [len(f) for f in writer.frames["articles"] if len(f)] == [2, 2, 1]
    written = pd.concat(writer.frames["sentences"], ignore_index=True)["sentence_id"].tolist()
    assert written == [s.sentence_id for r in results for ar in r.articles for s in ar.sentences]
    assert checker.report.tables["sentences"].n_rows == len(written)
    spilled = pd.concat(list(streamed.events.frames()), ignore_index=True)["event_id"].tolist()
    assert spilled == [e.event_id for r in results for ar in r.articles for e in ar.events]


def test_release_does_not_depend_on_batch_size(stages: pipeline.Stages, tmp_path: Path) -> None:
    one = _with(stages, batch_size=1, datasets_dir=tmp_path / "one")
    many = _with(stages, batch_size=64, datasets_dir=tmp_path / "many")
    first = build.build_release([SEEDS], "seeds", one.settings, stages=one)
    second = build.build_release([SEEDS], "seeds", many.settings, stages=many)
    assert _release_files(first.release.path) == _release_files(second.release.path)  # the manifest too
    assert list(first.phases.wall) == ["load", "start", "code", "tail", "stop"]


def test_a_rebuild_is_summarised_against_the_previous_release(
    stages: pipeline.Stages, tmp_path: Path
) -> None:
    """The second build of a name compares its written events (read back from disk) with the first."""
    settings = stages.settings.with_overrides(datasets_dir=tmp_path)
    first = build.build_release([SEEDS], "seeds", settings, stages=stages)
    second = build.build_release([SEEDS], "seeds", settings, stages=stages)
    summary = second.release.manifest["compared_to_previous"]
    events = first.counts["events"]
    assert summary == {"compared_to": "seeds/v1", "added": 0, "removed": 0, "changed": 0,
                       "unchanged": events, "changed_by_field": {}}  # fmt: skip
    assert _release_bytes(first.release.path) == _release_bytes(second.release.path)
    assert sorted(p.name for p in second.release.path.iterdir() if p.name.startswith(".")) == []
