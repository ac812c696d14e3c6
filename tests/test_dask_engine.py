"""The Dask engine writes the same release bytes as the local engine (LocalClusters started here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coder import build, pipeline
from coder.classify.model import ModelStandIn
from coder.config import PROJECT_ROOT, Settings
from coder.errors import ConfigError
from coder.records import Article, Reject

pytest.importorskip("distributed")

from coder import dask_engine

SEEDS = PROJECT_ROOT / "seeds"


@pytest.fixture(scope="module")
def stages() -> pipeline.Stages:
    return pipeline.Stages.load(Settings())


def _release_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def dask_build(tmp_path_factory: pytest.TempPathFactory) -> build.BuildOutcome:
    """A release built on two workers, one article a task, by a driver that loads its own (light) stages."""
    out = tmp_path_factory.mktemp("dask")
    settings = Settings().with_overrides(datasets_dir=out, dask_batch_size=1)
    return build.build_release([SEEDS], "seeds", settings, engine="dask", workers=2)


def test_dask_release_is_byte_identical_to_local(
    dask_build: build.BuildOutcome, stages: pipeline.Stages, tmp_path: Path
) -> None:
    # Local batches of 64 articles against Dask tasks of one: batching never changes a release,
    # and the light driver's manifest records the same versions as a driver that loaded spaCy.
    local = build.build_release(
        [SEEDS], "seeds", stages.settings.with_overrides(datasets_dir=tmp_path), stages=stages
    )
    assert local.counts == dask_build.counts
    assert local.counts["events"] > 0
    assert _release_bytes(local.release.path) == _release_bytes(dask_build.release.path)


def test_dask_build_reports_its_phases(dask_build: build.BuildOutcome) -> None:
    phases = dask_build.phases
    assert list(phases.wall) == ["load", "start", "code", "tail", "stop"]
    assert phases.worker_cpu["start"] > 0  # the workers loaded their stages before coding began
    assert phases.worker_cpu["code"] > 0


def test_driver_stages_leave_spacy_to_the_workers(stages: pipeline.Stages) -> None:
    light = pipeline.Stages.load_for_driver(Settings())
    assert light.nlp.pipe_names == []
    assert isinstance(light.model, ModelStandIn)  # its version read from model.json, no scikit-learn
    assert light.versions() == stages.versions()
    text = "Two bombs exploded in Baghdad."
    article = Article("a1", text, None, None, "none", None, None, "t.txt", None, "0")
    with pytest.raises(ConfigError, match="Dask driver"):
        pipeline.code_batch([article], light)  # the stand-in must never code silently wrong


def test_local_cluster_runs_one_single_threaded_process_per_worker(stages: pipeline.Stages) -> None:
    # Tasks of one article, whose results the driver takes two at a time.
    settings = stages.settings.with_overrides(dask_batch_size=1, batch_size=2)
    with dask_engine.DaskEngine(settings, workers=2) as engine:
        client = engine.client
        assert sorted(client.nthreads().values()) == [1, 1]
        pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids
        # Forked by one fork server, which imported the coder once, rather than spawned by this process.
        servers = set(client.run(os.getppid).values())
        assert len(servers) == 1 and os.getpid() not in servers
        results = list(engine.code([SEEDS], stages))
    assert [len(r.articles) for r in results] == [2, 2, 1]  # in submission order
    ids = [ar.article.article_id for r in results for ar in r.articles]
    assert ids == [a.article_id for a in pipeline.iter_inputs([SEEDS], stages) if isinstance(a, Article)]


def test_unreachable_scheduler_is_a_config_error(stages: pipeline.Stages) -> None:
    with pytest.raises(ConfigError, match="cannot reach dask scheduler"):
        list(dask_engine.code_inputs([SEEDS], stages, scheduler="tcp://127.0.0.1:1"))


def test_empty_batches_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        dask_engine.DaskEngine(Settings().with_overrides(dask_batch_size=0))


def test_last_tasks_are_smaller_so_the_workers_finish_together() -> None:
    rejects = [Reject("ingest", "articles", "empty text", "in.jsonl", line) for line in range(30)]
    batches = list(dask_engine._tapered(iter(rejects), 8, tail=16))
    # The first 8 go out once 24 are read; the 22 left go in tasks a quarter the size.
    assert [len(b) for b in batches] == [8] + [2] * 11
    assert [r for b in batches for r in b] == rejects
    assert [len(b) for b in dask_engine._tapered(iter(rejects[:5]), 8, tail=16)] == [2, 2, 1]
    assert [len(b) for b in dask_engine._tapered(iter(rejects[:3]), 1, tail=2)] == [1, 1, 1]
