"""The Parquet files of a release: Arrow types from the schemas, fixed writer options, fixed row groups.

Only ``store`` uses this module (it is the only writer of datasets). A table is written as a stream:
frames are appended as they are coded and leave memory once their row group is written. Row groups
hold a fixed number of rows per table, cut from the appended rows regardless of how they were chunked,
so the same rows in the same order give the same bytes however the build batched them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from coder.errors import ReleaseError
from coder.schema import TableSchema

ARROW_TYPES = {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "date": pa.date32(),
               "bool": pa.bool_()}  # fmt: skip
# Fixed writer options: part of the byte-for-byte determinism of a release.
WRITER_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 9,
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_version": "1.0",
}
# Rows per row group. The pending rows of a group are what a streamed table holds in memory: articles
# carry their full text (several KB each), so their groups are small; narrow tables compress better in
# larger groups. Events and clusters stay at 20,000 rows: a 100,000-row group of events held ~100 MB until
# it filled, so a 20,000-article tail grew with the corpus. Changing a figure changes the bytes of every
# release (not its rows).
ROW_GROUP_ROWS: Mapping[str, int] = {
    "articles": 1_000,
    "sentences": 20_000,
    "events": 20_000,
    "clusters": 20_000,
}
DEFAULT_ROW_GROUP_ROWS = 100_000


def to_arrow(df: pd.DataFrame, schema: TableSchema) -> pa.Table:
    """The table with the schema's column order and Arrow types; rows in the order given."""
    arrow_schema = arrow_schema_of(schema)
    present = [c for c in df.columns if c in schema.names]
    unknown = sorted(set(map(str, df.columns)) - set(schema.names))
    missing = [c.name for c in schema.columns if c.required and c.name not in df.columns]
    if (unknown or missing) and not (len(df) == 0 and not present):
        raise ReleaseError(
            f"{schema.table}: columns differ from its schema: missing {missing}, unknown {unknown}"
        )
    arrays = [_column_array(df, f) for f in arrow_schema]
    return pa.Table.from_arrays(arrays, schema=arrow_schema)


def arrow_schema_of(schema: TableSchema) -> pa.Schema:
    fields = [
        pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable, metadata={"description": c.description})
        for c in schema.columns
    ]
    return pa.schema(fields, metadata={"coder.table": schema.table, "coder.schema_version": schema.version})


def _column_array(df: pd.DataFrame, spec: pa.Field) -> pa.Array:
    if spec.name not in df.columns:
        return pa.nulls(len(df), type=spec.type)  # an optional column no stage added, or an empty table
    if df[spec.name].isna().all():
        # An empty or all-null column carries no values, only pandas' guess of a dtype (often float64),
        # which Arrow will not cast to a date or string type.
        array = pa.nulls(len(df), type=spec.type)
        if not spec.nullable and array.null_count:
            raise ReleaseError(f"column {spec.name!r} has {array.null_count} null(s) but is not nullable")
        return array
    try:
        array = pa.Array.from_pandas(df[spec.name], type=spec.type)  # refuses lossy casts (1.5 -> int)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise ReleaseError(f"column {spec.name!r} cannot be stored as {spec.type}: {exc}") from None
    if not spec.nullable and array.null_count:
        raise ReleaseError(f"column {spec.name!r} has {array.null_count} null(s) but is not nullable")
    return array


@dataclass(frozen=True)
class ColumnUpdate:
    """New values of one column for the rows whose ``key`` is in ``values`` (others keep theirs)."""

    key: str
    column: str
    values: Mapping[Any, Any]


class TableFile:
    """One table's Parquet file, written row group by row group as frames are appended."""

    def __init__(self, path: Path, schema: TableSchema) -> None:
        self.path = path
        self.schema = schema
        self.arrow_schema = arrow_schema_of(schema)
        self.rows = 0
        self._group_rows = ROW_GROUP_ROWS.get(schema.table, DEFAULT_ROW_GROUP_ROWS)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(path, self.arrow_schema, **WRITER_OPTIONS)

    @property
    def pending_rows(self) -> int:
        """Rows appended but not yet written (less than one row group)."""
        return self._pending_rows

    def append(self, frame: pd.DataFrame) -> None:
        self.append_arrow(to_arrow(frame, self.schema))

    def append_arrow(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        while self._pending_rows >= self._group_rows:
            self._write_group(self._group_rows)

    def _write_group(self, n_rows: int) -> None:
        pending = pa.concat_tables(self._pending) if self._pending else self.arrow_schema.empty_table()
        # Contiguous arrays: page boundaries then depend on the rows only, never on how they were chunked.
        group = pending.slice(0, n_rows).combine_chunks()
        self._require_open().write_table(group, row_group_size=max(n_rows, 1))
        rest = pending.slice(n_rows)
        self._pending, self._pending_rows = ([rest], rest.num_rows) if rest.num_rows else ([], 0)
        self.rows += n_rows

    def _require_open(self) -> pq.ParquetWriter:
        if self._writer is None:
            raise ReleaseError(f"table {self.schema.table} is already closed", path=str(self.path))
        return self._writer

    def close(self) -> None:
        """Write the last (partial) row group, the footer, and make the file durable."""
        if self._writer is None:
            return
        if self._pending_rows or not self.rows:  # an empty table still gets its one empty row group
            self._write_group(self._pending_rows)
        self._writer.close()
        self._writer = None
        fsync_file(self.path)

    def discard(self) -> None:
        """Close without caring about the content (the release is being aborted)."""
        writer, self._writer, self._pending = self._writer, None, []
        if writer is not None:
            writer.close()


# A spill file is read back once and deleted: fast compression, and groups big enough to read quickly.
SPILL_OPTIONS: dict[str, Any] = {"compression": "lz4"}
SPILL_GROUP_ROWS = 20_000


class SpillFile:
    """Rows kept on disk, in the order appended, until the build reads them back (then deleted).

    Every column is nullable here: a null where the schema forbids one is validation's to reject
    later, not the spill's. A frame whose values the schema's types cannot hold at all (a type the
    type pass will name) stays in memory as it is, in its place in the order: such rows come only from
    a bug, and validation quarantines them as it would have without the spill.
    """

    def __init__(self, path: Path, schema: TableSchema) -> None:
        self.path = path
        nullable = tuple(dataclasses.replace(c, nullable=True) for c in schema.columns)
        self.schema = dataclasses.replace(schema, columns=nullable)
        self.rows = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._segments: list[int | pd.DataFrame] = []  # a row group's number, or a frame kept in memory
        self._groups = 0
        self._writer: pq.ParquetWriter | None = None

    def append(self, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        self.rows += len(frame)
        try:
            table = to_arrow(frame, self.schema)
        except ReleaseError:
            self._write_pending()
            self._segments.append(frame.reset_index(drop=True))
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= SPILL_GROUP_ROWS:
            self._write_pending()

    def _write_pending(self) -> None:
        if not self._pending_rows:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, arrow_schema_of(self.schema), **SPILL_OPTIONS)
        self._writer.write_table(pa.concat_tables(self._pending), row_group_size=self._pending_rows)
        self._pending, self._pending_rows = [], 0
        self._segments.append(self._groups)
        self._groups += 1

    def frames(self, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """The rows as appended, a row group (or kept frame) at a time; ``columns`` only, if given."""
        self._write_pending()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        source = pq.ParquetFile(self.path) if self._groups else None
        try:
            for segment in self._segments:
                if isinstance(segment, pd.DataFrame):
                    yield segment if columns is None else segment.reindex(columns=list(columns))
                elif source is not None:
                    cols = None if columns is None else list(columns)
                    yield source.read_row_group(segment, columns=cols).to_pandas()
        finally:
            if source is not None:
                source.close()

    def remove(self) -> None:
        """Delete the file (the rows are gone)."""
        writer, self._writer, self._pending, self._segments = self._writer, None, [], []
        if writer is not None:
            writer.close()
        self.path.unlink(missing_ok=True)


def rewrite_with_update(path: Path, schema: TableSchema, update: ColumnUpdate) -> int:
    """Rewrite a closed table file with ``update`` applied, one row group at a time; the rows written."""
    source = pq.ParquetFile(path)
    target = TableFile(path.with_name(path.name + ".rewrite"), schema)
    try:
        for group in range(source.num_row_groups):
            target.append_arrow(_updated(source.read_row_group(group), update))
        target.close()
    finally:
        source.close()
        target.discard()
    os.replace(target.path, path)
    return target.rows


def _updated(table: pa.Table, update: ColumnUpdate) -> pa.Table:
    keys = table.column(update.key).to_pylist()
    old = table.column(update.column).to_pylist()
    new = [update.values.get(k, v) for k, v in zip(keys, old, strict=True)]
    index = table.schema.get_field_index(update.column)
    field = table.schema.field(index)
    return table.set_column(index, field, pa.array(new, type=field.type))


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Make a rename or new entry durable: the directory itself must reach the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
