"""Build orchestration: streamed batches, forked local workers, byte-identical releases."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from coder import build, pipeline
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
    rows = build.batch_rows(result)
    assert len(rows["articles"]) == 1
    assert len(rows["sentences"]) == len(result.articles[0].sentences)
    assert len(rows["events"]) == len(result.articles[0].events)


def test_unknown_engine_is_a_config_error(stages: pipeline.Stages, settings: Settings) -> None:
    with pytest.raises(ConfigError, match="unknown engine"):
        build.build_release([SEEDS], "x", settings, engine="spark", stages=stages)
