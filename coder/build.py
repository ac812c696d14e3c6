"""From input paths to a validated, immutable release, in memory flat in corpus size.

``pipeline`` codes articles batch by batch; this module turns each batch into table rows, validates
them (``validate.ChunkValidator``) and streams the big tables — articles (with their text),
sentences, rejects — into the release ``store`` keeps open under the dataset's lock. Event rows wait
for clustering, which needs the whole set, in a spill file inside the release (``build_tables``);
the tail clusters them, then validates, quarantines and writes them in chunks, and the release is
committed. A build whose articles, sentences or rejects fail validation, or whose event rejects
exceed ``Settings.max_reject_share``, raises ``ValidationFailed`` and leaves no release.

The streamed tables are validated and written in chunks of fixed row counts (``CHUNK_ROWS``), not
per batch: a validation call has a fixed cost, and fixed cuts keep the release independent of the
engine's batch size. ``BuildOutcome.phases`` times the build's phases (see ``Phases``).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import pandas as pd

from coder import __version__, diff, local_pool, pipeline, store, validate
from coder.build_tables import (
    TABLES,
    StreamedTables,
    cluster,
    reject_counts,
    write_clusters,
    write_events,
)
from coder.config import Settings
from coder.errors import ConfigError, ReleaseError, ValidationFailed


@dataclass
class Phases:
    """Wall and CPU seconds of a build's phases, for benchmarks (never in the manifest: not deterministic).

    ``load``: the driver's stages and validator (a Dask cluster starts meanwhile) · ``start``: waiting for
    the engine's workers, each with its stages · ``code``: coding, chunk validation, streamed writes ·
    ``tail``: clustering, event validation, commit (the engine shuts down meanwhile) · ``stop``: waiting
    for the shutdown. ``cpu`` is this process's (with a LocalCluster, its scheduler too); ``worker_cpu``
    the engine's worker processes'.
    """

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    worker_cpu: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, name: str, workers: Callable[[], float] | None = None) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        worker = workers() if workers else 0.0
        yield  # an exception leaves the phase unrecorded
        self.wall[name] = round(time.perf_counter() - wall, 3)
        self.cpu[name] = round(time.process_time() - cpu, 3)
        self.worker_cpu[name] = round((workers() if workers else 0.0) - worker, 3)

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {"wall_s": self.wall, "cpu_s": self.cpu, "worker_cpu_s": self.worker_cpu}


@dataclass
class BuildOutcome:
    release: store.Release
    report: validate.ValidationReport
    counts: dict[str, int]
    phases: Phases = field(default_factory=Phases)


class Engine(Protocol):
    """What ``build_release`` needs of an engine (``LocalEngine``, ``dask_engine.DaskEngine``)."""

    def code(
        self, inputs: Sequence[Path], stages: pipeline.Stages, *, today: date | None = None
    ) -> Iterator[pipeline.BatchResult]: ...

    def worker_cpu_seconds(self) -> float: ...

    def close(self) -> None: ...


def code_inputs(
    inputs: Sequence[Path],
    stages: pipeline.Stages,
    *,
    today: date | None = None,
    processes: int = 1,
) -> Iterator[pipeline.BatchResult]:
    """Stream coded batches from input paths, in input order (the local engine).

    With ``processes`` > 1 whole batches are coded in forked worker processes: the parse
    is only part of the cost (rules, actors, geo and dates are Python), so parallel
    batches scale where a parallel ``nlp.pipe`` alone would not.
    """
    items = pipeline.iter_inputs(inputs, stages, today=today)
    batches = pipeline.batched(items, stages.settings.batch_size)
    if processes <= 1:
        yield from (pipeline.code_batch(batch, stages) for batch in batches)
        return
    with local_pool.ForkedWorkers(pipeline.code_batch, stages, processes) as workers:
        yield from workers.map_ordered(batches)


def _children_cpu_seconds() -> float:
    times = os.times()
    return times.children_user + times.children_system


@dataclass
class LocalEngine:
    """Batches coded in this process, or in ``processes`` forked workers sharing its stages."""

    processes: int = 1
    cpu_before: float = field(default_factory=_children_cpu_seconds)

    def code(
        self, inputs: Sequence[Path], stages: pipeline.Stages, *, today: date | None = None
    ) -> Iterator[pipeline.BatchResult]:
        return code_inputs(inputs, stages, today=today, processes=self.processes)

    def worker_cpu_seconds(self) -> float:
        """CPU of the forked workers that have ended: they end with the coding phase."""
        return _children_cpu_seconds() - self.cpu_before

    def close(self) -> None:
        return None


ENGINES = ("local", "dask")


def build_release(
    inputs: Sequence[Path],
    name: str,
    settings: Settings,
    *,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int = 2,
    strict: bool = False,
    today: date | None = None,
    stages: pipeline.Stages | None = None,
) -> BuildOutcome:
    """Code ``inputs`` with the chosen engine and write release ``name``.

    Every engine runs the same ``pipeline.code_batch`` over batches of the same articles in the same
    order, and streamed rows and row groups are cut at fixed row counts, so every engine writes
    identical Parquet whatever its batch size. A Dask driver codes nothing: it loads no spaCy pipeline.
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; use 'local' or 'dask'")
    phases = Phases()
    with _Background(engine, scheduler, workers, stages.settings if stages else settings) as background:
        with phases.timed("load"):
            loader = pipeline.Stages.load_for_driver if engine == "dask" else pipeline.Stages.load
            stages = stages or loader(settings)
            checker = validate.ChunkValidator(settings.schemas_dir)
        with phases.timed("start"):
            running = background.engine()
        phases.worker_cpu["start"] = round(running.worker_cpu_seconds(), 3)
        with store.open_release(settings.datasets_dir, name, schemas_dir=settings.schemas_dir) as writer:
            previous = _previous(settings, name)
            streamed = StreamedTables(writer, checker, settings.schemas_dir, strict)
            with phases.timed("code", running.worker_cpu_seconds):
                for result in running.code(inputs, stages, today=today):
                    streamed.add(result)
                streamed.finish_streamed()
            background.close()
            with phases.timed("tail"):
                outcome = _commit(streamed, inputs, stages, previous)
        with phases.timed("stop"):
            background.wait()
    outcome.phases = phases
    return outcome


class _Background:
    """A Dask engine starts in a thread while the driver loads its own stages, and shuts down in it while
    the driver finishes the release: both are seconds spent waiting on other processes. The local
    engine starts and stops in place (it forks its workers: better from a process with one thread)."""

    def __init__(self, engine: str, scheduler: str | None, workers: int, settings: Settings) -> None:
        if engine == "dask":
            # A LocalCluster's fork server imports the coder for seconds before any worker can start: spawn
            # it before this process's own load (and its thread's scheduler start) compete for the GIL.
            _dask_engine().start_fork_server(scheduler)
        self._pool = None if engine == "local" else ThreadPoolExecutor(max_workers=1)
        self._starting = self._run(_start_engine, engine, scheduler, workers, settings)
        self._closing: Future[None] | None = None

    def _run(self, work: Callable[..., Any], *args: Any) -> Future[Any]:
        if self._pool is not None:
            return self._pool.submit(work, *args)
        done: Future[Any] = Future()
        try:
            done.set_result(work(*args))
        except Exception as exc:  # kept for .result(), as a thread's would be
            done.set_exception(exc)
        return done

    def __enter__(self) -> _Background:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if kind is None:
            self.wait()

    def engine(self) -> Engine:
        engine: Engine = self._starting.result()
        return engine

    def close(self) -> None:
        """Start shutting the engine down (once); a failed start has nothing to close."""
        if self._closing is None and self._starting.exception() is None:
            self._closing = self._run(self._starting.result().close)

    def wait(self) -> None:
        """Wait for the shutdown; its error, if any, is raised here."""
        if self._closing is not None:
            self._closing.result()


def _commit(
    streamed: StreamedTables, inputs: Sequence[Path], stages: pipeline.Stages, previous: Path | None
) -> BuildOutcome:
    """Cluster, validate, quarantine and write the events, then publish the release with its manifest."""
    settings, columns, checker = stages.settings, streamed.columns("events"), streamed.checker
    cluster_ids, clusters_table = cluster(streamed.events, columns, settings)
    write_clusters(clusters_table, streamed.writer, checker)
    del clusters_table
    written = write_events(
        streamed.events, cluster_ids, streamed.writer, checker, columns, keep=previous is not None
    )
    del cluster_ids
    report = checker.report
    clean, ok, reasons = validate.quarantine({}, report, settings.max_reject_share)
    if not ok:
        raise ValidationFailed(
            "validation failed; no release written: " + "; ".join(reasons) + "\n" + report.to_text()
        )
    streamed.tally.update(reject_counts(clean["rejects"]))
    manifest = _manifest(inputs, stages, streamed, report)
    # Without a previous release the summary only counts the events: rows with no columns will do.
    events = written.kept if written.kept is not None else pd.DataFrame(index=pd.RangeIndex(written.rows))
    manifest["compared_to_previous"] = diff.summary_against(previous, {"events": events})
    release = streamed.writer.commit({"rejects": clean["rejects"]}, manifest, written.updates)
    counts = {t: int(entry["rows"]) for t, entry in release.manifest["tables"].items()}
    return BuildOutcome(release, report, counts)


def _previous(settings: Settings, name: str) -> Path | None:
    """The dataset's latest release, which the new one is compared to (None for a first build)."""
    try:
        return store.resolve_release(settings.datasets_dir, name, "latest")
    except ReleaseError:
        return None


def _accounting(tally: Counter[str]) -> dict[str, int]:
    """Every input record is coded or rejected: records_read = coded + rejected."""
    coded, rejected = tally["coded"], tally["rejected"]
    return {
        "records_read": coded + rejected,
        "coded": coded,
        "rejected": rejected,
        "warnings": tally["warnings"],
    }


def _start_engine(engine: str, scheduler: str | None, workers: int, settings: Settings) -> Engine:
    if engine == "local":
        return LocalEngine(settings.n_process)
    engine_class = _dask_engine().DaskEngine
    started: Engine = engine_class(settings, scheduler=scheduler, workers=workers).start()
    return started


def _dask_engine() -> ModuleType:
    try:
        from coder import dask_engine
    except ModuleNotFoundError:
        raise ConfigError("--engine dask needs dask.distributed: pip install 'coder[dask]'") from None
    return dask_engine


def _schema_versions(streamed: StreamedTables, table_names: Iterable[str]) -> dict[str, str]:
    return {table: streamed.schema(table).version for table in sorted(table_names)}


def _manifest(
    inputs: Sequence[Path],
    stages: pipeline.Stages,
    streamed: StreamedTables,
    report: validate.ValidationReport,
) -> dict[str, Any]:
    by_stage = {k.removeprefix("stage:"): v for k, v in streamed.tally.items() if k.startswith("stage:")}
    return {
        "coder_version": __version__,
        "versions": stages.versions() | {"schemas": _schema_versions(streamed, [*TABLES, "clusters"])},
        "inputs": [p.name for p in inputs],
        "input_hashes": dict(sorted(streamed.input_hashes.items())),
        "accounting": _accounting(streamed.tally),
        "rejects_by_stage": {str(k): int(v) for k, v in sorted(by_stage.items())},
        "validation": report.to_dict(),
    }
