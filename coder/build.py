"""From input paths to a validated, immutable release.

``pipeline`` codes articles; this module turns its results into the release
tables, validates them (``validate``), and hands them to ``store`` — the only
writer. A build whose articles or sentences fail validation, or whose event
rejects exceed ``Settings.max_reject_share``, raises ``ValidationFailed`` and
writes nothing.
"""

from __future__ import annotations

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


@dataclass
class TableParts:
    """Per-batch DataFrames, concatenated once at the end (columnar, so memory stays modest)."""

    parts: dict[str, list[pd.DataFrame]] = field(default_factory=lambda: {t: [] for t in TABLES})
    input_hashes: dict[str, str] = field(default_factory=dict)

    def add(self, result: pipeline.BatchResult) -> None:
        rows = batch_rows(result)
        for table, table_rows in rows.items():
            if table_rows:
                self.parts[table].append(pd.DataFrame.from_records(table_rows))
        for article_result in result.articles:
            article = article_result.article
            self.input_hashes.setdefault(
                f"{article.input_file}:{article.input_line or 0}", article.input_sha256
            )

    def frames(self, schemas_dir: Path) -> dict[str, pd.DataFrame]:
        """The whole tables; the parts are released as each table is built, so the rows are
        held once, not twice (parts + concatenation), through validation and writing."""
        out = {}
        for table in TABLES:
            columns = validate.load_schema(schemas_dir, table).names
            parts, self.parts[table] = self.parts[table], []
            frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
            del parts
            out[table] = frame.reindex(columns=columns)
        return out


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

    Both engines run the same ``pipeline.code_batch`` over the same batches in
    the same order, so they write identical Parquet.
    """
    stages = stages or pipeline.Stages.load(settings)
    parts = TableParts()
    for result in _results(inputs, stages, engine, scheduler, workers, today):
        parts.add(result)
    frames = parts.frames(settings.schemas_dir)
    frames = pipeline.add_clusters(frames, settings)
    if strict:
        _refuse_rejects(frames["rejects"])
    report = validate.validate_tables(frames, settings.schemas_dir)
    frames, ok, reasons = validate.quarantine(frames, report, settings.max_reject_share)
    if not ok:
        raise ValidationFailed(
            "validation failed; no release written: " + "; ".join(reasons) + "\n" + report.to_text()
        )
    frames = _recount_events(frames)
    manifest = _manifest(inputs, stages, parts, report, frames)
    manifest["compared_to_previous"] = diff.summary_against(_previous(settings, name), frames)
    release = store.write_release(settings.datasets_dir, name, frames, manifest)
    return BuildOutcome(release, report, {t: len(f) for t, f in frames.items()})


def _previous(settings: Settings, name: str) -> Path | None:
    """The dataset's latest release, which the new one is compared to (None for a first build)."""
    try:
        return store.resolve_release(settings.datasets_dir, name, "latest")
    except ReleaseError:
        return None


def _accounting(frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Every input record is coded or rejected: records_read = coded + rejected."""
    rejects = frames["rejects"]
    ingest = rejects[rejects["stage"] == "ingest"] if len(rejects) else rejects
    rejected = int((ingest["severity"] == "error").sum()) if len(ingest) else 0
    warnings = int((ingest["severity"] == "warning").sum()) if len(ingest) else 0
    coded = len(frames["articles"])
    return {"records_read": coded + rejected, "coded": coded, "rejected": rejected, "warnings": warnings}


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


def _schema_versions(schemas_dir: Path, frames: dict[str, pd.DataFrame]) -> dict[str, str]:
    return {table: validate.load_schema(schemas_dir, table).version for table in sorted(frames)}


def _recount_events(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Quarantined events no longer count towards their article's n_events."""
    counts = frames["events"].groupby("article_id").size()
    articles = frames["articles"].copy()
    articles["n_events"] = articles["article_id"].map(counts).fillna(0).astype("int64")
    return frames | {"articles": articles}


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
    parts: TableParts,
    report: validate.ValidationReport,
    frames: dict[str, pd.DataFrame],
) -> dict[str, Any]:
    rejects = frames["rejects"]
    reasons = rejects.groupby("stage").size().to_dict() if len(rejects) else {}
    return {
        "coder_version": __version__,
        "versions": stages.versions() | {"schemas": _schema_versions(stages.settings.schemas_dir, frames)},
        "inputs": [p.name for p in inputs],
        "input_hashes": dict(sorted(parts.input_hashes.items())),
        "accounting": _accounting(frames),
        "rejects_by_stage": {str(k): int(v) for k, v in sorted(reasons.items())},
        "validation": report.to_dict(),
    }
