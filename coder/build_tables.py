"""The tables of one build as its batches arrive: streamed, spilled, and finished in flat memory.

``StreamedTables`` turns each coded batch into table rows, validates the big tables — articles (with
their text), sentences, rejects — in chunks of fixed row counts (``CHUNK_ROWS``: a validation call has
a fixed cost, and fixed cuts keep the release independent of the engine's batch size) and streams
them into the open release. Event rows cannot be written yet: clustering needs every event, and each
row carries its cluster id. Rather than keep them (~30 a seed-length article, 40 columns) in memory,
they go to a spill file in the release's temp folder (gone with an aborted release). At the end
``cluster`` reads back only the columns clustering looks at (``clusters.INPUT_COLUMNS``), and
``write_events`` streams the full rows back in fixed chunks: each gets its cluster ids, is validated
(``ChunkValidator``: the chunks are one table to it), loses its failing rows (quarantine, as a
whole-table validation would remove them) and is written; on a rebuild the written rows also go to a
second spill, which the summary against the previous release reads a column at a time (``SpillColumns``,
``diff.summary_against``) instead of holding them. The clusters table is validated and
written in chunks too, before the event rows, so neither it nor validation's copies of it are held
while the events stream.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coder import clusters, pipeline, store, tables, validate
from coder.config import Settings
from coder.errors import StrictModeRejects, ValidationFailed

TABLES = ("articles", "sentences", "events", "rejects")
STREAMED = ("articles", "sentences", "rejects")  # written as they come; events wait for clustering
# Rows a streamed table is validated and written in: a validation call costs ~0.4 CPU s however few
# its rows, so per-batch calls would cost more than coding small batches; chunks this size hold a
# few MB (an articles row carries its text) and cost ~1% of coding them.
CHUNK_ROWS = {"articles": 250, "sentences": 10_000, "rejects": 10_000}


@dataclass
class StreamedTables:
    """The tables of one build as its batches arrive: big ones streamed, events spilled, rejects tallied."""

    writer: store.ReleaseWriter
    checker: validate.ChunkValidator
    schemas_dir: Path
    strict: bool = False
    input_hashes: dict[str, str] = field(default_factory=dict)
    tally: Counter[str] = field(default_factory=Counter)
    chunk_rows: dict[str, int] = field(default_factory=lambda: dict(CHUNK_ROWS))
    pending: dict[str, list[pd.DataFrame]] = field(default_factory=lambda: {t: [] for t in STREAMED})
    schemas: dict[str, validate.TableSchema] = field(default_factory=dict)
    events: store.SpillFile = field(init=False)  # rows wait here for clustering (see write_events)

    def __post_init__(self) -> None:
        self.events = self.writer.spill("events")

    def add(self, result: pipeline.BatchResult) -> None:
        frames = {t: self._frame(t, rows) for t, rows in batch_rows(result).items() if rows}
        if self.strict and "rejects" in frames:
            _refuse_rejects(frames["rejects"])
        for table in (t for t in STREAMED if t in frames):
            self.pending[table].append(frames[table])
            self._flush(table, final=False)
        self.tally.update(reject_counts(frames.get("rejects")))
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

    def finish_streamed(self) -> None:
        """Write what is pending; a streamed table that got no rows is still validated (and written) empty."""
        for table in STREAMED:
            self._flush(table, final=True)
            if table not in self.checker.report.tables:
                self.checker.validate(table, pd.DataFrame(columns=self.columns(table)))
            self.writer.append(table, pd.DataFrame(columns=self.columns(table)))


def reject_counts(rejects: pd.DataFrame | None) -> Counter[str]:
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


def _refuse_rejects(rejects: pd.DataFrame) -> None:
    errors = rejects[rejects["severity"] == "error"] if len(rejects) else rejects
    if len(errors):
        first = errors.iloc[0]
        where = f"{first['input_file']}:{first['input_line']}" if first["input_line"] else first["input_file"]
        raise StrictModeRejects(
            f"--strict: {len(errors)} input(s) rejected; first: {where}: {first['reason']}"
        )


# Event rows validated and written at a time: a validation call has a fixed cost (~0.4 CPU s), and a
# chunk this size holds ~15 MB of rows (with GX's copies, a few times that).
EVENT_CHUNK_ROWS = 20_000


@dataclass
class EventsWritten:
    """What the release's other parts need to know of the events written."""

    updates: dict[str, store.ColumnUpdate]  # n_events of articles that lost quarantined events
    rows: int  # event rows written (after quarantine)
    kept: SpillColumns | None = None  # the written rows, when asked for (a diff against a release)


@dataclass(frozen=True)
class SpillColumns:
    """Written event rows, kept on disk rather than in memory and read back a column at a time (a
    ``diff.EventColumns``: what the summary against the previous release reads)."""

    spill: store.SpillFile
    columns: list[str]

    @property
    def rows(self) -> int:
        return self.spill.rows

    def column(self, name: str) -> pd.Series:
        parts = [frame[name] for frame in self.spill.frames([name])]
        return pd.concat(parts, ignore_index=True) if parts else pd.Series([], dtype=object)


def cluster(
    spill: store.SpillFile, columns: list[str], settings: Settings
) -> tuple[np.ndarray, clusters.Clustering]:
    """Cluster ids of the spilled rows (in their order, ASCII bytes) and the clusters, from the columns
    clustering reads only, a spilled row group at a time (``clusters.cluster_stream``)."""
    wanted = [c for c in columns if c in clusters.INPUT_COLUMNS]
    rules = clusters.ClusterRules.load(settings.rules_dir / "clusters.json")
    return clusters.cluster_stream((f.reindex(columns=wanted) for f in spill.frames(wanted)), rules)


def write_clusters(
    found: clusters.Clustering, writer: store.ReleaseWriter, checker: validate.ChunkValidator
) -> None:
    """Validate and write the clusters table in chunks, each made when it is written (a row is ~1 KB
    of Python objects, and validation copies what it checks). A failing chunk is not removed: the
    report fails the build, as a whole-table validation would (clusters are not quarantinable)."""
    for chunk in found.tables(EVENT_CHUNK_ROWS):
        checker.validate("clusters", chunk)
        writer.append("clusters", chunk)
    if not len(found):
        checker.validate("clusters", clusters.empty_table())
    writer.append("clusters", clusters.empty_table())


def fixed_chunks(frames: Iterable[pd.DataFrame], size: int) -> Iterator[pd.DataFrame]:
    """The rows of ``frames`` in order, re-cut into frames of ``size`` rows (the last may be shorter)."""
    pending: list[pd.DataFrame] = []
    n_pending = 0
    for frame in frames:
        pending.append(frame)
        n_pending += len(frame)
        while n_pending >= size:
            joined = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
            yield joined.iloc[:size].reset_index(drop=True)
            rest = joined.iloc[size:].reset_index(drop=True)
            pending, n_pending = ([rest], len(rest)) if len(rest) else ([], 0)
    if n_pending:
        yield pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0].reset_index(drop=True)


@dataclass
class _Recount:
    """Events per article before quarantine, and those quarantine removed."""

    before: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)

    def add(self, articles: pd.Series, failing: np.ndarray) -> None:
        present = articles.notna().to_numpy()
        self.before.update(map(str, articles[present]))
        self.removed.update(map(str, articles[present & failing]))

    def updates(self) -> dict[str, store.ColumnUpdate]:
        changed = {a: self.before[a] - n for a, n in sorted(self.removed.items()) if n}
        return {"articles": store.ColumnUpdate("article_id", "n_events", changed)} if changed else {}


def write_events(
    spill: store.SpillFile,
    cluster_ids: np.ndarray,
    writer: store.ReleaseWriter,
    checker: validate.ChunkValidator,
    columns: list[str],
    *,
    keep: bool = False,
) -> EventsWritten:
    """Stream the spilled rows into the release's events table: cluster ids, validation, quarantine.
    With ``keep`` the written rows also go to a second spill (removed when the release is committed)."""
    recount, start, written = _Recount(), 0, 0
    kept = SpillColumns(writer.spill("events"), list(columns)) if keep else None
    for chunk in fixed_chunks(spill.frames(), EVENT_CHUNK_ROWS):
        chunk = chunk.reindex(columns=columns)
        chunk["event_cluster_id"] = cluster_ids[start : start + len(chunk)].astype(str).astype(object)
        start += len(chunk)
        failing = np.zeros(len(chunk), dtype=bool)
        failing[checker.validate("events", chunk).failing_rows] = True
        recount.add(chunk["article_id"], failing)
        clean = chunk[~failing].reset_index(drop=True)
        writer.append("events", clean)
        written += len(clean)
        if kept is not None:
            kept.spill.append(clean)
    if not start:  # no events: the table is still validated, and written empty
        checker.validate("events", pd.DataFrame(columns=columns))
    writer.append("events", pd.DataFrame(columns=columns))
    spill.remove()
    return EventsWritten(recount.updates(), written, kept)
