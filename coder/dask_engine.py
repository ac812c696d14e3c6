"""Scale-out engine: the same ``pipeline.code_batch`` over batches on dask.distributed.

The driver streams and batches the inputs exactly as the local engine does;
each batch is a task; each worker loads the stages once (a worker plugin keeps
them on the worker object, not in a module global). Results come back in
submission order with a bounded number of batches in flight, so the release is
identical to the local engine's and driver memory stays flat.

Point it at a real cluster with ``coder build ... --engine dask --scheduler
tcp://HOST:8786``: every worker needs this package, its data files and the
spaCy pipeline installed (the same ``make install``), and read access to
nothing else — articles travel with the tasks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from distributed import Client, LocalCluster, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from coder import pipeline
from coder.config import Settings
from coder.errors import ConfigError
from coder.records import Article, Reject

PLUGIN_NAME = "coder-stages"
STAGES_ATTRIBUTE = "coder_stages"


class StagesPlugin(WorkerPlugin):
    """Loads the coder's stages once per worker process."""

    name = PLUGIN_NAME

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def setup(self, worker: Any) -> None:
        setattr(worker, STAGES_ATTRIBUTE, pipeline.Stages.load(self.settings))

    def teardown(self, worker: Any) -> None:
        if hasattr(worker, STAGES_ATTRIBUTE):
            delattr(worker, STAGES_ATTRIBUTE)


def code_batch_on_worker(batch: list[Article | Reject]) -> pipeline.BatchResult:
    stages: pipeline.Stages = getattr(get_worker(), STAGES_ATTRIBUTE)
    return pipeline.code_batch(batch, stages)


def code_inputs(
    inputs: Sequence[Path],
    stages: pipeline.Stages,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    today: date | None = None,
) -> Iterator[pipeline.BatchResult]:
    """Yield coded batches in input order, computed on a Dask cluster."""
    client, cluster = _connect(scheduler, workers)
    try:
        client.register_plugin(StagesPlugin(stages.settings), name=PLUGIN_NAME)
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        items = pipeline.iter_inputs(inputs, stages, today=today)
        batches = pipeline.batched(items, stages.settings.batch_size)
        yield from _ordered(client, batches, in_flight=2 * n_workers)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _ordered(client: Any, batches: Iterator[list[Article | Reject]], in_flight: int) -> Iterator[Any]:
    """Submit batches with a bounded window and yield results in submission order."""
    window: deque[Any] = deque()
    for index, batch in enumerate(batches):
        window.append(client.submit(code_batch_on_worker, batch, key=f"coder-batch-{index}", pure=False))
        if len(window) >= in_flight:
            yield window.popleft().result()
    while window:
        yield window.popleft().result()


def _connect(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except OSError as exc:
            raise ConfigError(f"cannot reach dask scheduler {scheduler}: {exc}") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster
