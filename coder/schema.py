"""Table schemas (``schemas/<table>.json``, the single source of truth) as typed objects, and the type pass.

Leaf-level: ``store`` reads schemas from here to type its Arrow columns, and ``validate`` builds its
great-expectations suite from them. A type pass gives each column its canonical dtype and names every
value not of the declared type (pandas stores a nullable int column as float, and GX checks a typed
column's dtype, not its values).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd

from coder.errors import DataFileError

META_SCHEMA = "table.schema.json"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what a Parquet int64 column can hold


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
    path, meta = Path(schemas_dir) / f"{table}.json", Path(schemas_dir) / META_SCHEMA
    return _parsed_schema(str(path), str(meta), table, _read_text(path), _read_text(meta))


# A build asks for each schema once per table per batch, and the JSON Schema check is ~50 ms:
# the parsed schema (frozen) is kept for the same file contents, so an edited file is read afresh.
@functools.lru_cache(maxsize=64)
def _parsed_schema(path: str, meta_path: str, table: str, text: str, meta_text: str) -> TableSchema:
    data, meta = _json(text, path), _json(meta_text, meta_path)
    try:
        jsonschema.validate(data, meta)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise DataFileError(f"schema file invalid at '{where}': {exc.message}", path=path) from None
    schema = _schema_from_dict(data)
    _check_consistency(schema, Path(path))
    if schema.table != table:
        raise DataFileError(f"declares table {schema.table!r}, expected {table!r}", path=path)
    return schema


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise DataFileError(f"cannot read schema file: {exc}", path=str(path)) from None


def _json(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DataFileError(f"cannot read schema file: {exc}", path=path) from None


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


def is_null(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def canonical_column(series: pd.Series, kind: str) -> tuple[pd.Series, list[int]]:
    """The column in its canonical dtype (failing values become null) and the positions not of ``kind``.

    Integral floats pass as ints: pandas stores a nullable int column as float."""
    raw = series.tolist()
    if kind == "string" and all(value is None or type(value) is str for value in raw):
        return pd.Series(raw, index=series.index, dtype=object, name=series.name), []  # the common case
    values: list[Any] = []
    failed: list[int] = []
    for pos, value in enumerate(raw):
        try:
            values.append(None if is_null(value) else _convert(kind, value))
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


def check_data_file(data: Any, schema_path: Path, where: str | None) -> None:
    """A curated data file's parsed content against its schema in schemas/ (first error by path)."""
    try:
        schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataFileError(f"schema unusable: {exc}", path=str(schema_path)) from exc
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        at = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise DataFileError(f"{at}: {errors[0].message} (schema {Path(schema_path).name})", path=where)
