"""From input paths to a validated, immutable release, in memory flat in corpus size.

``pipeline`` codes articles batch by batch; this module turns each batch into table rows, validates
them (``validate.ChunkValidator``) and streams the big tables — articles (with their text),
sentences, rejects — into the release ``store`` keeps open under the dataset's lock. Only the event
rows are kept until the end: clustering needs the whole set. Events and clusters are then validated
as whole tables, failing event rows are quarantined, and the release is committed. A build whose
articles, sentences or rejects fail validation, or whose event rejects exceed
``Settings.max_reject_share``, raises ``ValidationFailed`` and leaves no release.

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
from typing import Any, Protocol

import pandas as pd

from coder import __version__, diff, local_pool, pipeline, store, tables, validate
from coder.config import Settings
from coder.errors import ConfigError, ReleaseError, StrictModeRejects, ValidationFailed

TABLES = ("articles", "sentences", "events", "rejects")
STREAMED = ("articles", "sentences", "rejects")  # written as they come; events wait for clustering
# Rows a streamed table is validated and written in: a validation call costs ~0.4 CPU s however few
# its rows, so per-batch calls would cost more than coding small batches; chunks this size hold a
# few MB (an articles row carries its text) and cost ~1% of coding them.
CHUNK_ROWS = {"articles": 250, "sentences": 10_000, "rejects": 10_000}


@dataclass
class StreamedTables:
    """The tables of one build as its batches arrive: big ones streamed, events kept, rejects tallied."""

    writer: store.ReleaseWriter
    checker: validate.ChunkValidator
    schemas_dir: Path
    strict: bool = False
    events: list[pd.DataFrame] = field(default_factory=list)
    input_hashes: dict[str, str] = field(default_factory=dict)
    tally: Counter[str] = field(default_factory=Counter)
    chunk_rows: dict[str, int] = field(default_factory=lambda: dict(CHUNK_ROWS))
    pending: dict[str, list[pd.DataFrame]] = field(default_factory=lambda: {t: [] for t in STREAMED})
    schemas: dict[str, validate.TableSchema] = field(default_factory=dict)

    def add(self, result: pipeline.BatchResult) -> None:
        frames = {t: self._frame(t, rows) for t, rows in batch_rows(result).items() if rows}
        if self.strict and "rejects" in frames:
            _refuse_rejects(frames["rejects"])
        for table in (t for t in STREAMED if t in frames):
            self.pending[table].append(frames[table])
            self._flush(table, final=False)
        self.tally.update(_reject_counts(frames.get("rejects")))
        self.tally["coded"] += len(frames.get("articles", ()))
        if "events" in frames:
            self.events.append(frames["events"])
        for article_result in result.articles:
            article = article_result.article
            self.input_hashes.setdefault(
                f"{article.input_file}:{article.input_line or 0}", article.input_sha256
            )

    def _flush(self, table: str, *, final: bool) -> None:
        """Validate and write the pending rows in whole chunks (at the end, the remainder too)."""
        parts, size = self.pending[table], self.chunk_rows[table]
        n_rows = sum(len(part) for part in parts)
        if not n_rows or (n_rows < size and not final):
            return
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
        cut = n_rows if final else n_rows - n_rows % size
        for start in range(0, cut, size):
            chunk = frame.iloc[start : min(start + size, cut)].reset_index(drop=True)
            self._check(table, chunk)
            self.writer.append(table, chunk)
        self.pending[table] = [frame.iloc[cut:].reset_index(drop=True)] if cut < n_rows else []

    def _frame(self, table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
        return pd.DataFrame.from_records(rows).reindex(columns=self.columns(table))

    def schema(self, table: str) -> validate.TableSchema:
        """Each schema is read once a build: reading one checks it against its meta-schema (~0.4 s)."""
        if table not in self.schemas:
            self.schemas[table] = validate.load_schema(self.schemas_dir, table)
        return self.schemas[table]

    def columns(self, table: str) -> list[str]:
        return self.schema(table).names

    def _check(self, table: str, frame: pd.DataFrame) -> None:
        """Rows other rows point to cannot be quarantined: a failing chunk ends the build here."""
        if not self.checker.validate(table, frame).success:
            raise ValidationFailed(
                f"validation failed; no release written: {table} rows fail validation\n"
                + self.checker.report.to_text()
            )

    def all_events(self) -> pd.DataFrame:
        parts, self.events = self.events, []
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        return frame.reindex(columns=self.columns("events"))

    def finish_streamed(self) -> None:
        """Write what is pending; a streamed table that got no rows is still validated (and written) empty."""
        for table in STREAMED:
            self._flush(table, final=True)
            if table not in self.checker.report.tables:
                self.checker.validate(table, pd.DataFrame(columns=self.columns(table)))
            self.writer.append(table, pd.DataFrame(columns=self.columns(table)))


def _reject_counts(rejects: pd.DataFrame | None) -> Counter[str]:
    """Per-stage reject counts, and the ingest errors and warnings the input accounting needs."""
    counts: Counter[str] = Counter()
    if rejects is None or not len(rejects):
        return counts
    counts.update(f"stage:{stage}" for stage in rejects["stage"])
    ingest = rejects[rejects["stage"] == "ingest"]
    counts["rejected"] += int((ingest["severity"] == "error").sum())
    counts["warnings"] += int((ingest["severity"] == "warning").sum())
    return counts


def batch_rows(result: pipeline.BatchResult) -> dict[str, list[dict[str, Any]]]:
    """The table rows of one coded batch."""
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    for ar in result.articles:
        rows["articles"].append(tables.article_row(ar.article, len(ar.sentences), len(ar.events)))
        rows["sentences"].extend(
            tables.sentence_row(s, c) for s, c in zip(ar.sentences, ar.classifications, strict=True)
        )
        rows["events"].extend(tables.event_row(e) for e in ar.events)
        rows["rejects"].extend(tables.reject_row(r) for r in ar.rejects)
    rows["rejects"].extend(tables.reject_row(r) for r in result.rejects)
    return rows


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
    """Cluster, validate and quarantine the events, then publish the release with its manifest."""
    settings = stages.settings
    events = streamed.all_events()
    whole = pipeline.add_clusters({"events": events}, settings)
    for table in ("events", "clusters"):
        streamed.checker.validate(table, whole[table])
    report = streamed.checker.report
    clean, ok, reasons = validate.quarantine(whole, report, settings.max_reject_share)
    if not ok:
        raise ValidationFailed(
            "validation failed; no release written: " + "; ".join(reasons) + "\n" + report.to_text()
        )
    streamed.tally.update(_reject_counts(clean["rejects"]))
    manifest = _manifest(inputs, stages, streamed, report)
    manifest["compared_to_previous"] = diff.summary_against(previous, {"events": clean["events"]})
    updates = _event_recount(whole["events"], clean["events"])
    release = streamed.writer.commit(clean, manifest, updates)
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
    try:
        from coder import dask_engine
    except ModuleNotFoundError:
        raise ConfigError("--engine dask needs dask.distributed: pip install 'coder[dask]'") from None
    return dask_engine.DaskEngine(settings, scheduler=scheduler, workers=workers).start()


def _schema_versions(streamed: StreamedTables, table_names: Iterable[str]) -> dict[str, str]:
    return {table: streamed.schema(table).version for table in sorted(table_names)}


def _event_recount(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, store.ColumnUpdate]:
    """Quarantined events no longer count towards their article's n_events (articles already written)."""
    old = before.groupby("article_id").size()
    new = after.groupby("article_id").size()
    changed = {str(a): int(new.get(a, 0)) for a, n in old.items() if int(new.get(a, 0)) != int(n)}
    return {"articles": store.ColumnUpdate("article_id", "n_events", changed)} if changed else {}


def _refuse_rejects(rejects: pd.DataFrame) -> None:
    errors = rejects[rejects["severity"] == "error"] if len(rejects) else rejects
    if len(errors):
        first = errors.iloc[0]
        where = f"{first['input_file']}:{first['input_line']}" if first["input_line"] else first["input_file"]
        raise StrictModeRejects(
            f"--strict: {len(errors)} input(s) rejected; first: {where}: {first['reason']}"
        )


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
