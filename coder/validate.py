"""Validate release tables against ``schemas/<table>.json`` (the single source of truth) with GX.

A type pass first gives each column its canonical dtype and names every value not of the declared type
(pandas stores a nullable int column as float, and GX checks a typed column's dtype, not its values);
the GX suite then checks column order, nulls, sets, ranges, uniqueness, regexes and row checks.
GX is imported lazily: it costs seconds. Schema objects and the type pass live in ``coder.schema``.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from coder.errors import ReleaseError
from coder.records import Reject
from coder.schema import (
    ColumnSpec,
    RowCheck,
    TableSchema,
    canonical_column,
    canonical_frame,
    is_null,
    load_schema,
)
from coder.tables import reject_row

# Schema objects are re-exported: callers validate and load schemas through one module.
__all__ = [
    "ChunkValidator",
    "ColumnSpec",
    "Quarantine",
    "RowCheck",
    "TableReport",
    "TableSchema",
    "ValidationReport",
    "Validator",
    "build_suite",
    "canonical_column",
    "canonical_frame",
    "load_schema",
    "merge_table_reports",
    "quarantine",
    "validate_release",
    "validate_table",
    "validate_tables",
]

TYPE_EXPECTATION = "expect_column_values_to_be_of_type"
UNIQUE_EXPECTATION = "expect_column_values_to_be_unique"
SAMPLE_SIZE = 5  # unexpected values quoted per failed expectation
VALUE_CHARS = 200  # a reject keeps this much of an offending value (an article text can be megabytes)


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None = None
    sample: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class RowFailure:
    row: int  # position in the validated DataFrame
    expectation: str
    column: str
    value: str | None


@dataclass
class TableReport:
    table: str
    schema_version: str
    n_rows: int
    outcomes: list[ExpectationOutcome]
    failures: list[RowFailure]
    rejects: list[Reject] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failing_rows(self) -> list[int]:
        return sorted({f.row for f in self.failures})

    @property
    def table_level_failures(self) -> list[ExpectationOutcome]:
        """Failures that name no row (a missing column, a wrong order): no row removal can fix them."""
        return [o for o in self.outcomes if not o.success and (o.error or o.unexpected_count is None)]

    def to_dict(self) -> dict[str, Any]:
        failed = [asdict(o) | {"sample": list(o.sample)} for o in self.outcomes if not o.success]
        return {
            "schema_version": self.schema_version, "rows": self.n_rows, "success": self.success,
            "expectations": len(self.outcomes), "failing_rows": len(self.failing_rows), "failed": failed,
        }  # fmt: skip


@dataclass
class ValidationReport:
    tables: dict[str, TableReport]

    @property
    def success(self) -> bool:
        return all(t.success for t in self.tables.values())

    @property
    def rejects(self) -> list[Reject]:
        return [r for name in sorted(self.tables) for r in self.tables[name].rejects]

    def merge(self, other: ValidationReport) -> ValidationReport:
        """One report over both: a table in both is one table whose rows ``other`` continues."""
        merged = dict(self.tables)
        for name, report in other.tables.items():
            merged[name] = merge_table_reports(merged[name], report) if name in merged else report
        return ValidationReport(merged)

    def to_dict(self) -> dict[str, Any]:
        """The summary kept in a release manifest (deterministic: no times, sorted tables)."""
        return {"success": self.success, "tables": {n: self.tables[n].to_dict() for n in sorted(self.tables)}}

    def to_text(self) -> str:
        lines = [f"validation {'passed' if self.success else 'FAILED'}"]
        for name in sorted(self.tables):
            report = self.tables[name]
            verdict = "ok" if report.success else f"{len(report.failing_rows)} failing row(s)"
            lines.append(f"  {name} (schema {report.schema_version}): {report.n_rows} rows, {verdict}")
            for o in (o for o in report.outcomes if not o.success):
                detail = o.error or f"{o.unexpected_count} unexpected, e.g. {', '.join(o.sample)}"
                lines.append(f"    - {o.expectation} [{o.column or 'table'}]: {detail}")
        return "\n".join(lines)


def merge_table_reports(first: TableReport, second: TableReport) -> TableReport:
    """The report of ``first``'s rows followed by ``second``'s (row numbers of ``second`` shifted)."""
    outcomes = {(o.expectation, o.column): o for o in first.outcomes}
    for o in second.outcomes:
        key = (o.expectation, o.column)
        outcomes[key] = _merge_outcomes(outcomes[key], o) if key in outcomes else o
    shifted = [dataclasses.replace(f, row=f.row + first.n_rows) for f in second.failures]
    return TableReport(
        first.table, first.schema_version, first.n_rows + second.n_rows, list(outcomes.values()),
        first.failures + shifted, first.rejects + second.rejects,
    )  # fmt: skip


def _merge_outcomes(a: ExpectationOutcome, b: ExpectationOutcome) -> ExpectationOutcome:
    counts = [c for c in (a.unexpected_count, b.unexpected_count) if c is not None]
    return ExpectationOutcome(
        a.expectation, a.column, a.success and b.success, sum(counts) if counts else None,
        (a.sample + b.sample)[:SAMPLE_SIZE], a.error or b.error,
    )  # fmt: skip


def build_suite(schema: TableSchema) -> Any:
    """The schema as a GX ``ExpectationSuite`` (named ``<table>-<version>``)."""
    gx = importlib.import_module("great_expectations")
    gxe = gx.expectations
    suite = gx.ExpectationSuite(name=f"{schema.table}-{schema.version}")
    suite.add_expectation(gxe.ExpectTableColumnsToMatchOrderedList(column_list=schema.names))
    for col in schema.columns:
        for expectation in _column_expectations(gxe, col):
            suite.add_expectation(expectation)
    for check in schema.row_checks:
        suite.add_expectation(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=check.right, column_B=check.left, or_equal=check.check == "less_or_equal",
                ignore_row_if="either_value_is_missing",
            )
        )  # fmt: skip
    return suite


def _column_expectations(gxe: Any, col: ColumnSpec) -> Iterable[Any]:
    # No GX type expectation: the type pass has already checked every value (GX would check only the
    # dtype the type pass itself set, at 60% of the suite's run time).
    if not col.nullable:
        yield gxe.ExpectColumnValuesToNotBeNull(column=col.name)
    if col.allowed is not None:
        yield gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.allowed))
    if col.min is not None or col.max is not None:
        yield gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=col.min, max_value=col.max)
    if col.unique:
        yield gxe.ExpectColumnValuesToBeUnique(column=col.name)
    if col.regex is not None:
        yield gxe.ExpectColumnValuesToMatchRegex(column=col.name, regex=col.regex)


class Validator:
    """One ephemeral GX context (no files, no progress bars, no analytics) for many validations."""

    def __init__(self) -> None:
        gx = importlib.import_module("great_expectations")
        base = importlib.import_module("great_expectations.data_context.types.base")
        config = base.DataContextConfig(
            store_backend_defaults=base.InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=base.ProgressBarsConfig(globally=False),
        )
        self._context = gx.get_context(mode="ephemeral", project_config=config)
        self._source = self._context.data_sources.add_pandas("coder")
        self._batches: dict[str, Any] = {}

    def _batch_definition(self, table: str) -> Any:
        if table not in self._batches:
            asset = self._source.add_dataframe_asset(table)
            self._batches[table] = asset.add_batch_definition_whole_dataframe("whole")
        return self._batches[table]

    def validate_table(self, df: pd.DataFrame, schema: TableSchema) -> TableReport:
        frame, type_failures = canonical_frame(df, schema)
        batch = self._batch_definition(schema.table).get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(build_suite(schema), result_format="COMPLETE")
        outcomes, failures = _type_results(df.reset_index(drop=True), type_failures)
        typed = {(f.row, f.column) for f in failures}
        for item in result.results:
            outcome, rows = _parse_result(item)
            outcomes.append(outcome)
            failures += [f for f in rows if (f.row, f.column) not in typed]  # one reject per bad cell
        report = TableReport(schema.table, schema.version, len(frame), outcomes, failures)
        report.rejects = _rejects(frame, schema, failures)
        return report


def _short(value: Any) -> str | None:
    if isinstance(value, np.generic):
        value = value.item()
    return None if is_null(value) else str(value)[:VALUE_CHARS]


def _type_results(df: pd.DataFrame, failed: dict[str, list[int]]) -> tuple[list[Any], list[RowFailure]]:
    outcomes, failures = [], []
    for col, rows in failed.items():
        values = [_short(df[col].iloc[row]) for row in rows]
        outcomes.append(
            ExpectationOutcome(TYPE_EXPECTATION, col, False, len(rows), tuple(map(str, values[:SAMPLE_SIZE])))
        )
        failures += [RowFailure(row, TYPE_EXPECTATION, col, v) for row, v in zip(rows, values, strict=True)]
    return outcomes, failures


def _parse_result(item: Any) -> tuple[ExpectationOutcome, list[RowFailure]]:
    kwargs, name = item.expectation_config.kwargs, item.expectation_config.type
    pair = (kwargs["column_B"], kwargs["column_A"]) if "column_A" in kwargs else None
    column = kwargs.get("column") or ",".join(pair or ())
    result = item.result or {}
    indices = list(result.get("unexpected_index_list") or [])
    values = list(result.get("unexpected_list") or [])
    if pair:  # GX reports (A, B) = (right, left)
        values = [f"{pair[0]}={_short(v[1])}, {pair[1]}={_short(v[0])}" for v in values]
    rows = [RowFailure(int(i), name, column, _short(v)) for i, v in zip(indices, values, strict=False)]
    if name == UNIQUE_EXPECTATION:
        rows = _repeats_only(rows)  # the first row holding an id keeps it; the repeats are the failures
    sample = tuple(str(_short(v)) for v in values[:SAMPLE_SIZE])
    error = _exception_message(item.exception_info)
    return ExpectationOutcome(
        name, column, bool(item.success), result.get("unexpected_count"), sample, error
    ), rows


def _repeats_only(rows: list[RowFailure]) -> list[RowFailure]:
    first: dict[str | None, int] = {}
    for failure in sorted(rows, key=lambda f: f.row):
        first.setdefault(failure.value, failure.row)
    return [f for f in rows if first[f.value] != f.row]


def _exception_message(info: Any) -> str | None:
    """GX puts one dict, or one dict per metric, under exception_info."""
    if not isinstance(info, dict):
        return None
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    messages = [str(e.get("exception_message")) for e in entries if e.get("raised_exception")]
    return "; ".join(messages)[:VALUE_CHARS] if messages else None


def _rejects(frame: pd.DataFrame, schema: TableSchema, failures: list[RowFailure]) -> list[Reject]:
    none = pd.Series([None] * len(frame), dtype=object)
    keys = frame[schema.primary_key] if schema.primary_key in frame.columns else none
    articles = frame["article_id"] if "article_id" in frame.columns else none
    return [
        Reject("validate", schema.table, f"{f.expectation} failed on {f.column}",
               article_id=_short(articles.iloc[f.row]), row_key=_short(keys.iloc[f.row]) or f"row:{f.row}",
               expectation=f.expectation, column=f.column, value=f.value)
        for f in sorted(failures, key=lambda f: (f.row, f.expectation, f.column))
    ]  # fmt: skip


def validate_table(df: pd.DataFrame, schema: TableSchema) -> TableReport:
    """Validate one table (a fresh GX context; use a ``Validator`` to validate many)."""
    return Validator().validate_table(df, schema)


def validate_tables(
    tables: Mapping[str, pd.DataFrame], schemas_dir: Path, validator: Validator | None = None
) -> ValidationReport:
    """Validate every table against its schema (pass a ``Validator`` to reuse its GX context)."""
    run = validator or Validator()
    return ValidationReport(
        {n: run.validate_table(tables[n], load_schema(schemas_dir, n)) for n in sorted(tables)}
    )


class ChunkValidator:
    """Validates tables that arrive in chunks, as if each were one table.

    Rows are numbered across chunks, and unique columns are checked across chunks through a sorted
    array of 64-bit hashes of the values seen (8 bytes a row, not the values themselves). Two
    different ids share a hash with odds of about n^2 / 2^65 (1e-8 for a million rows): the false
    duplicate it would report fails the build loudly, never silently.
    """

    def __init__(self, schemas_dir: Path, validator: Validator | None = None) -> None:
        self._schemas_dir = schemas_dir
        self._validator = validator or Validator()
        self._seen: dict[tuple[str, str], np.ndarray] = {}
        self.report = ValidationReport({})

    def validate(self, table: str, frame: pd.DataFrame) -> TableReport:
        """The chunk's report (its own row numbers); the running ``report`` takes it in."""
        schema = load_schema(self._schemas_dir, table)
        chunk = self._validator.validate_table(frame, schema)
        for column in (c.name for c in schema.columns if c.unique and c.name in frame.columns):
            chunk = self._check_seen(chunk, table, frame[column].reset_index(drop=True), schema)
        self.report = self.report.merge(ValidationReport({table: chunk}))
        return chunk

    def _check_seen(
        self, chunk: TableReport, table: str, values: pd.Series, schema: TableSchema
    ) -> TableReport:
        hashes = pd.util.hash_pandas_object(values.astype(object), index=False).to_numpy()
        seen = self._seen.get((table, str(values.name)), np.empty(0, dtype=np.uint64))
        valid = values.notna().to_numpy()
        known = valid & np.isin(hashes, seen, assume_unique=False)
        self._seen[(table, str(values.name))] = np.union1d(seen, hashes[valid])
        rows = [int(i) for i in np.flatnonzero(known)]
        return _with_repeats(chunk, schema, str(values.name), rows, values) if rows else chunk


def _with_repeats(
    chunk: TableReport, schema: TableSchema, column: str, rows: list[int], values: pd.Series
) -> TableReport:
    """The chunk's report with ``rows`` failing uniqueness: their value was seen in an earlier chunk."""
    failed = [RowFailure(row, UNIQUE_EXPECTATION, column, _short(values.iloc[row])) for row in rows]
    outcome = ExpectationOutcome(
        UNIQUE_EXPECTATION, column, False, len(rows), tuple(str(f.value) for f in failed[:SAMPLE_SIZE])
    )
    key = (UNIQUE_EXPECTATION, column)
    outcomes = [o for o in chunk.outcomes if (o.expectation, o.column) != key]
    previous = [o for o in chunk.outcomes if (o.expectation, o.column) == key]
    outcomes.append(_merge_outcomes(previous[0], outcome) if previous else outcome)
    extra = _rejects(pd.DataFrame({column: values}), schema, failed)
    return dataclasses.replace(
        chunk, outcomes=outcomes, failures=chunk.failures + failed, rejects=chunk.rejects + extra
    )


def validate_release(path: Path, schemas_dir: Path) -> ValidationReport:
    """Re-validate the Parquet tables of an existing release (what ``coder validate PATH`` runs)."""
    files = sorted(Path(path).glob("*.parquet"))
    if not files:
        raise ReleaseError("no release tables (*.parquet) found", path=str(path))
    tables = {f.stem: pd.read_parquet(f) for f in files}
    return validate_tables(tables, schemas_dir)


class Quarantine(NamedTuple):
    tables: dict[str, pd.DataFrame]  # failing event rows removed, their rejects added to "rejects"
    ok: bool  # False: the build must fail and write no release
    reasons: list[str]


QUARANTINABLE = ("events",)  # an event row can go; articles/sentences rows are evidence other rows point to


def quarantine(
    tables: Mapping[str, pd.DataFrame], report: ValidationReport, max_reject_share: float
) -> Quarantine:
    """Remove failing event rows into the rejects table; decide whether the build may be released."""
    clean = dict(tables)
    reasons: list[str] = []
    for name, table_report in sorted(report.tables.items()):
        if table_report.success:
            continue
        reasons += _verdict(table_report, max_reject_share)
        if name in QUARANTINABLE and name in clean:
            keep = ~clean[name].reset_index(drop=True).index.isin(table_report.failing_rows)
            clean[name] = clean[name].reset_index(drop=True)[keep].reset_index(drop=True)
    clean["rejects"] = _with_rejects(tables.get("rejects"), report.rejects)
    return Quarantine(clean, not reasons, reasons)


def _verdict(report: TableReport, max_share: float) -> list[str]:
    if report.table not in QUARANTINABLE:
        return [f"{report.table}: {len(report.failing_rows)} failing row(s); only events can be quarantined"]
    if report.table_level_failures:
        names = ", ".join(sorted({o.expectation for o in report.table_level_failures}))
        return [f"{report.table}: table-level failure(s) no row removal can fix: {names}"]
    share = len(report.failing_rows) / report.n_rows if report.n_rows else 0.0
    if share > max_share:
        return [f"{report.table}: {share:.1%} of rows failed validation, above the allowed {max_share:.1%}"]
    return []


def _with_rejects(existing: pd.DataFrame | None, rejects: list[Reject]) -> pd.DataFrame:
    new = pd.DataFrame([reject_row(r) for r in rejects], columns=list(reject_row(Reject("", "", ""))))
    parts = [frame for frame in (existing, new) if frame is not None and not frame.empty]
    return pd.concat(parts, ignore_index=True) if len(parts) == 2 else (parts[0] if parts else new)
