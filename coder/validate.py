"""Validate release tables against ``schemas/<table>.json`` (the single source of truth) with GX.

A type pass first gives each column its canonical dtype and names every value not of the declared type
(pandas stores a nullable int column as float, and GX checks a typed column's dtype, not its values);
the GX suite then checks column order, nulls, sets, ranges, uniqueness, regexes and row checks.
GX is imported lazily: it costs seconds, and ``coder.store`` reads schemas from here.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import numpy as np
import pandas as pd

from coder.errors import DataFileError, ReleaseError
from coder.records import Reject
from coder.tables import reject_row

META_SCHEMA = "table.schema.json"
TYPE_EXPECTATION = "expect_column_values_to_be_of_type"
UNIQUE_EXPECTATION = "expect_column_values_to_be_unique"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what a Parquet int64 column can hold
SAMPLE_SIZE = 5  # unexpected values quoted per failed expectation
VALUE_CHARS = 200  # a reject keeps this much of an offending value (an article text can be megabytes)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    nullable: bool
    description: str
    unique: bool = False
    required: bool = True
    allowed: tuple[str | int, ...] | None = None
    min: float | None = None
    max: float | None = None
    regex: str | None = None


@dataclass(frozen=True)
class RowCheck:
    check: str  # "less_than" or "less_or_equal"
    left: str
    right: str


@dataclass(frozen=True)
class TableSchema:
    table: str
    version: str
    primary_key: str | None
    columns: tuple[ColumnSpec, ...]
    row_checks: tuple[RowCheck, ...] = ()

    @property
    def names(self) -> list[str]:  # in file order: the table's column order
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


def load_schema(schemas_dir: Path, table: str) -> TableSchema:
    """Read ``schemas_dir/<table>.json``, checked against ``table.schema.json`` and for consistency."""
    path = Path(schemas_dir) / f"{table}.json"
    data, meta = _read_json(path), _read_json(Path(schemas_dir) / META_SCHEMA)
    try:
        jsonschema.validate(data, meta)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise DataFileError(f"schema file invalid at '{where}': {exc.message}", path=str(path)) from None
    schema = _schema_from_dict(data)
    _check_consistency(schema, path)
    if schema.table != table:
        raise DataFileError(f"declares table {schema.table!r}, expected {table!r}", path=str(path))
    return schema


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataFileError(f"cannot read schema file: {exc}", path=str(path)) from None


def _schema_from_dict(data: dict[str, Any]) -> TableSchema:
    columns = []
    for col in data["columns"]:
        fields: dict[str, Any] = {k: v for k, v in col.items() if k != "why"}
        fields["allowed"] = tuple(col["allowed"]) if "allowed" in col else None
        columns.append(ColumnSpec(**fields))
    checks = tuple(RowCheck(r["check"], r["left"], r["right"]) for r in data["row_checks"])
    return TableSchema(data["table"], data["version"], data["primary_key"], tuple(columns), checks)


def _check_consistency(schema: TableSchema, path: Path) -> None:
    """What JSON Schema cannot say: column names are unique and referenced columns exist."""
    problems = [f"duplicate column {n!r}" for n in set(schema.names) if schema.names.count(n) > 1]
    refs = [schema.primary_key] if schema.primary_key else []
    refs += [name for check in schema.row_checks for name in (check.left, check.right)]
    problems += [f"unknown column {n!r} referenced" for n in refs if n not in schema.names]
    if problems:
        raise DataFileError("; ".join(sorted(problems)), path=str(path))


def _convert(kind: str, v: Any) -> Any:
    """``v`` as the Python value of a ``kind`` column; TypeError when it is not one."""
    number = isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
    if kind == "int" and number and float(v).is_integer() and INT64_MIN <= int(v) <= INT64_MAX:
        return int(v)
    if kind == "float" and number:
        return float(v)
    if (kind == "string" and isinstance(v, str)) or (kind == "bool" and isinstance(v, bool | np.bool_)):
        return v if kind == "string" else bool(v)
    if kind == "date" and isinstance(v, dt.datetime):  # also pd.Timestamp: a time of day would be lost
        if v.time() == dt.time(0) and v.tzinfo is None:
            return v.date()
    elif kind == "date" and isinstance(v, dt.date):
        return v
    raise TypeError(kind)


_DTYPES = {"int": "Int64", "float": "float64", "bool": "boolean", "string": object, "date": object}


def _is_null(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def canonical_column(series: pd.Series, kind: str) -> tuple[pd.Series, list[int]]:
    """The column in its canonical dtype (failing values become null) and the positions not of ``kind``.

    Integral floats pass as ints: pandas stores a nullable int column as float."""
    values: list[Any] = []
    failed: list[int] = []
    for pos, value in enumerate(series.tolist()):
        try:
            values.append(None if _is_null(value) else _convert(kind, value))
        except (TypeError, ValueError, OverflowError):
            failed.append(pos)
            values.append(None)
    return pd.Series(values, index=series.index, dtype=_DTYPES[kind], name=series.name), failed


def canonical_frame(df: pd.DataFrame, schema: TableSchema) -> tuple[pd.DataFrame, dict[str, list[int]]]:
    """Schema columns in canonical dtypes (optional columns added as nulls) and the type failures."""
    frame = df.reset_index(drop=True)
    missing_optional = [c.name for c in schema.columns if not c.required and c.name not in frame.columns]
    present = [n for n in schema.names if n in frame.columns]
    if missing_optional and list(frame.columns) == present:
        frame = frame.reindex(columns=[n for n in schema.names if n in present or n in missing_optional])
    failures: dict[str, list[int]] = {}
    data = {}
    for name in frame.columns:
        if name in schema.names:
            data[name], failed = canonical_column(frame[name], schema.column(name).type)
            if failed:
                failures[name] = failed
        else:
            data[name] = frame[name]
    return pd.DataFrame(data, index=frame.index, columns=frame.columns), failures


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
    return None if _is_null(value) else str(value)[:VALUE_CHARS]


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
