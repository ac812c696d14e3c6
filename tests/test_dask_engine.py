"""The Dask engine writes the same Parquet bytes as the local engine (LocalCluster started here)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from coder import build, pipeline
from coder.config import PROJECT_ROOT, Settings
from coder.errors import ConfigError

pytest.importorskip("distributed")

from coder import dask_engine

SEEDS = PROJECT_ROOT / "seeds"


@pytest.fixture(scope="module")
def stages() -> pipeline.Stages:
    return pipeline.Stages.load(Settings())


def _release_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.glob("*.parquet"))}


def test_dask_release_is_byte_identical_to_local(stages: pipeline.Stages, tmp_path: Path) -> None:
    # Two articles a batch, so the five seeds make three tasks spread over two workers.
    settings = stages.settings.with_overrides(batch_size=2, datasets_dir=tmp_path)
    small = dataclasses.replace(stages, settings=settings)
    local = build.build_release([SEEDS], "local", settings, stages=small)
    dask = build.build_release([SEEDS], "dask", settings, engine="dask", workers=2, stages=small)
    assert local.counts == dask.counts
    assert _release_bytes(local.release.path) == _release_bytes(dask.release.path)


def test_unreachable_scheduler_is_a_config_error(stages: pipeline.Stages) -> None:
    with pytest.raises(ConfigError, match="cannot reach dask scheduler"):
        list(dask_engine.code_inputs([SEEDS], stages, scheduler="tcp://127.0.0.1:1"))
