"""Scale-out engine: the same ``pipeline.code_batch`` over batches on dask.distributed.

The driver streams and batches the inputs exactly as the local engine does, but it never
loads the spaCy pipeline nor the event-type model, nor imports scikit-learn
(``Stages.load_for_driver``: stand-ins carry their versions): each worker loads the stages once,
through a worker plugin that keeps them on the worker object, not in a module global, and
the engine waits for every worker's plugin before the first batch goes out, so start-up is
a phase of its own. A LocalCluster forks its workers from a fork server that imports the coder
once, so each worker's start costs its stages' load (~3 CPU s), not ~9 (imports, then load); a
build spawns that server first (``start_fork_server``), so its imports overlap the driver's load.
Batches are small (``Settings.dask_batch_size`` articles), and the corpus's last ones smaller
still, so every worker stays busy to the end; results come back in submission order with a
bounded number of batches in flight, so the release is identical to the local engine's and
driver memory stays flat.

Point it at a real cluster with ``coder build ... --engine dask --scheduler
tcp://HOST:8786``: every worker needs this package, its data files and the
spaCy pipeline installed (the same ``make install``), and read access to
nothing else — articles travel with the tasks.
"""

from __future__ import annotations

import multiprocessing.forkserver
import os
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any

import dask
from distributed import Client, LocalCluster, get_worker
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.utils import get_mp_context

from coder import pipeline
from coder.config import Settings
from coder.errors import ConfigError
from coder.records import Article, Reject

PLUGIN_NAME = "coder-stages"
STAGES_ATTRIBUTE = "coder_stages"
# Batches in flight per worker: one being coded and two queued, so a worker never waits on the
# driver while it validates and writes a chunk; results held on the driver stay bounded.
IN_FLIGHT_PER_WORKER = 3
# A LocalCluster shares the machine with its driver: with dask's defaults (a 20 ms event-loop tick, a
# stack profiler sampling the running task every 10 ms, system and memory monitors) each idle process
# burns ~4% of a core, ~0.5% with these. Coding needs none of them; a real cluster keeps its own config.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    # Workers fork from one server process that has already imported the coder (spaCy, scikit-learn,
    # pandas: ~5 CPU s a process), instead of each importing them afresh (``spawn``, dask's default):
    # on a small machine the workers' imports compete with each other and with the driver at start-up.
    "distributed.worker.multiprocessing-method": "forkserver",
}
# Imported once, by the fork server, before it forks any worker: what every worker imports anyway
# (the driver itself imports none of ``LAZY_MODULES``).
FORKSERVER_PRELOAD = ["distributed", "coder.pipeline", *pipeline.LAZY_MODULES]
# The corpus's last articles go out in tasks this many times smaller than the others: when the inputs
# run out, one worker would otherwise sit idle while another finishes a whole task (~4 CPU s at 8 articles).
TAPER = 4


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


def start_fork_server(scheduler: str | None) -> None:
    """Spawn a LocalCluster's fork server now, so that it imports the coder (the longest step of a start)
    while this process loads its own stages and starts the scheduler; a LocalCluster would spawn it only
    once its scheduler and nannies were up. Nothing to do with a ``scheduler`` or a server running."""
    if scheduler:
        return
    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        context = get_mp_context()
        # What a nanny sets just before it starts a worker: glibc and BLAS read them as a process starts,
        # and a forked worker starts from the server's environment (the nanny sets them in this process).
        os.environ.update(
            {k: str(v) for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()}
        )
    # dask sets its own preload list on first use; ours replaces it (a running server keeps its own).
    context.set_forkserver_preload(FORKSERVER_PRELOAD)
    multiprocessing.forkserver.ensure_running()


def code_batch_on_worker(batch: list[Article | Reject]) -> pipeline.BatchResult:
    stages: pipeline.Stages = getattr(get_worker(), STAGES_ATTRIBUTE)
    return pipeline.code_batch(batch, stages)


class DaskEngine:
    """A client whose workers have all loaded the stages; use as a context manager.

    Entering connects (or starts a ``LocalCluster`` of ``workers`` single-threaded processes:
    parsing and rule matching are CPU-bound Python, so threads would share one GIL) and returns
    once every worker's plugin has loaded the stages.
    """

    def __init__(self, settings: Settings, *, scheduler: str | None = None, workers: int = 2) -> None:
        if settings.dask_batch_size < 1 or workers < 1:
            raise ConfigError("CODER_DASK_BATCH_SIZE and --workers must be at least 1")
        self.settings = settings
        self.scheduler = scheduler
        self.workers = workers
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> DaskEngine:
        return self.start()

    def start(self) -> DaskEngine:
        """Connect and wait until every worker has loaded the stages (call ``close`` when done)."""
        self._client, self._cluster = _connect(self.scheduler, self.workers)
        try:
            # Blocks until setup has run on every worker: a failing load raises here.
            self._client.register_plugin(StagesPlugin(self.settings), name=PLUGIN_NAME)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise ConfigError("the Dask engine is not started")
        return self._client

    @property
    def n_workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def code(
        self, inputs: Sequence[Path], stages: pipeline.Stages, *, today: date | None = None
    ) -> Iterator[pipeline.BatchResult]:
        """Yield coded batches in input order (``stages`` may be the driver's light stages).

        Tasks stay small (``dask_batch_size`` articles) so the workers finish together, but the driver
        takes their results ``Settings.batch_size`` articles at a time, like the local engine's batches:
        turning a batch into table rows costs the driver about the same per call whatever its size."""
        items = pipeline.iter_inputs(inputs, stages, today=today)
        size, workers = self.settings.dask_batch_size, self.n_workers
        batches = _tapered(items, size, tail=size * workers)
        results = _ordered(self.client, batches, in_flight=IN_FLIGHT_PER_WORKER * workers)
        yield from _joined(results, max(1, self.settings.batch_size // self.settings.dask_batch_size))

    def worker_cpu_seconds(self) -> float:
        """CPU seconds the worker processes have used so far (for timing the phases of a build)."""
        return float(sum(self.client.run(time.process_time).values()))


def code_inputs(
    inputs: Sequence[Path],
    stages: pipeline.Stages,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    today: date | None = None,
) -> Iterator[pipeline.BatchResult]:
    """Yield coded batches in input order, computed on a Dask cluster."""
    with DaskEngine(stages.settings, scheduler=scheduler, workers=workers) as engine:
        yield from engine.code(inputs, stages, today=today)


def _tapered(items: Iterable[Article | Reject], size: int, tail: int) -> Iterator[list[Article | Reject]]:
    """Batches of ``size`` items, except the last ``tail`` to ``tail + size - 1`` (read ahead), which go in
    batches ``TAPER`` times smaller so that the workers finish together (batching never changes a release)."""
    ahead: deque[Article | Reject] = deque()
    for item in items:
        ahead.append(item)
        if len(ahead) == tail + size:
            yield [ahead.popleft() for _ in range(size)]
    small = max(1, size // TAPER)
    while ahead:
        yield [ahead.popleft() for _ in range(min(small, len(ahead)))]


def _ordered(client: Any, batches: Iterator[list[Article | Reject]], in_flight: int) -> Iterator[Any]:
    """Submit batches with a bounded window and yield results in submission order."""
    build = uuid.uuid4().hex[:12]  # keys unique per build: two builds may share a cluster
    window: deque[Any] = deque()
    for index, batch in enumerate(batches):
        key = f"coder-batch-{build}-{index}"
        window.append(client.submit(code_batch_on_worker, batch, key=key, pure=False))
        if len(window) >= in_flight:
            yield window.popleft().result()
    while window:
        yield window.popleft().result()


def _joined(results: Iterator[pipeline.BatchResult], size: int) -> Iterator[pipeline.BatchResult]:
    """Every ``size`` consecutive results as one, articles and rejects each kept in input order."""
    while group := list(islice(results, size)):
        yield pipeline.BatchResult(
            articles=[a for result in group for a in result.articles],
            rejects=[r for result in group for r in result.rejects],
        )


def _connect(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except OSError as exc:
            raise ConfigError(f"cannot reach dask scheduler {scheduler}: {exc}") from None
    start_fork_server(scheduler)
    with dask.config.set(LOCAL_CLUSTER_CONFIG):  # read once, as the scheduler and the workers start
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # Its HTTP routes on a free local port: two builds on one machine do not fight over 8787.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        )
        return Client(cluster), cluster
