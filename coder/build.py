"""From input paths to a validated, immutable release, in memory flat in corpus size.

``pipeline`` codes articles batch by batch; this module turns each batch into table rows, validates
them (``validate.ChunkValidator``) and streams the big tables — articles (with their text),
sentences, rejects — into the release ``store`` keeps open under the dataset's lock. Only the event
rows are kept until the end: clustering needs the whole set. Events and clusters are then validated
as whole tables, failing event rows are quarantined, and the release is committed. A build whose
articles, sentences or rejects fail validation, or whose event rejects exceed
``Settings.max_reject_share``, raises ``ValidationFailed`` and leaves no release.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from coder import __version__, diff, local_pool, pipeline, store, tables, validate
from coder.config import Settings
from coder.errors import ConfigError, ReleaseError, StrictModeRejects, ValidationFailed

TABLES = ("articles", "sentences", "events", "rejects")
STREAMED = ("articles", "sentences", "rejects")  # written as they come; events wait for clustering


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

    def add(self, result: pipeline.BatchResult) -> None:
        frames = {t: self._frame(t, rows) for t, rows in batch_rows(result).items() if rows}
        if self.strict and "rejects" in frames:
            _refuse_rejects(frames["rejects"])
        for table in (t for t in STREAMED if t in frames):
            self._check(table, frames[table])
            self.writer.append(table, frames[table])
        self.tally.update(_reject_counts(frames.get("rejects")))
        self.tally["coded"] += len(frames.get("articles", ()))
        if "events" in frames:
            self.events.append(frames["events"])
        for article_result in result.articles:
            article = article_result.article
            self.input_hashes.setdefault(
                f"{article.input_file}:{article.input_line or 0}", article.input_sha256
            )

    def _frame(self, table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
        return pd.DataFrame.from_records(rows).reindex(columns=self.columns(table))

    def columns(self, table: str) -> list[str]:
        return validate.load_schema(self.schemas_dir, table).names

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
        """A streamed table that got no rows is still validated (and written) as an empty table."""
        for table in STREAMED:
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
class BuildOutcome:
    release: store.Release
    report: validate.ValidationReport
    counts: dict[str, int]


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

    Every engine runs the same ``pipeline.code_batch`` over the same batches in the same order, and
    the store cuts fixed row groups from the rows, so every engine writes identical Parquet.
    """
    stages = stages or pipeline.Stages.load(settings)
    with store.open_release(settings.datasets_dir, name, schemas_dir=settings.schemas_dir) as writer:
        previous = _previous(settings, name)
        streamed = StreamedTables(
            writer, validate.ChunkValidator(settings.schemas_dir), settings.schemas_dir, strict
        )
        for result in _results(inputs, stages, engine, scheduler, workers, today):
            streamed.add(result)
        streamed.finish_streamed()
        return _commit(streamed, inputs, stages, previous)


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


def _results(
    inputs: Sequence[Path],
    stages: pipeline.Stages,
    engine: str,
    scheduler: str | None,
    workers: int,
    today: date | None,
) -> Iterable[pipeline.BatchResult]:
    if engine == "local":
        return code_inputs(inputs, stages, today=today, processes=stages.settings.n_process)
    if engine == "dask":
        try:
            from coder import dask_engine
        except ModuleNotFoundError:
            raise ConfigError("--engine dask needs dask.distributed: pip install 'coder[dask]'") from None
        return dask_engine.code_inputs(inputs, stages, scheduler=scheduler, workers=workers, today=today)
    raise ConfigError(f"unknown engine {engine!r}; use 'local' or 'dask'")


def _schema_versions(schemas_dir: Path, table_names: Iterable[str]) -> dict[str, str]:
    return {table: validate.load_schema(schemas_dir, table).version for table in sorted(table_names)}


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
        "versions": stages.versions()
        | {"schemas": _schema_versions(stages.settings.schemas_dir, [*TABLES, "clusters"])},
        "inputs": [p.name for p in inputs],
        "input_hashes": dict(sorted(streamed.input_hashes.items())),
        "accounting": _accounting(streamed.tally),
        "rejects_by_stage": {str(k): int(v) for k, v in sorted(by_stage.items())},
        "validation": report.to_dict(),
    }
