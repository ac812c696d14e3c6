"""Immutable, versioned Parquet releases: the only writer of datasets.

A build opens a release (``open_release``) under the dataset's lock, streams its big tables into it
(``ReleaseWriter.append``: a fixed row group at a time, so memory stays flat in corpus size) and
commits the small whole-set tables with the manifest (``ReleaseWriter.commit``); ``write_release``
does both for tables already in memory. The folder layout and the readers live in ``release_read``
(re-exported here), the Parquet file writing in ``release_files``.

Versions are sequential ("v1", "v2", ...): the order a researcher cites them in is the order
they were built, and no clock is needed. A release appears by one ``os.rename`` of a fully
written, fsync'd folder, so a reader sees a whole release or none. Parquet files are
deterministic: the same rows give the same bytes (fixed compression and row groups, no pandas
metadata, no timestamps), which is what the manifest's sha256 checksums and rebuild checks rely on.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa

from coder.config import Settings
from coder.errors import ReleaseError, ReleaseExists, ReleaseLocked
from coder.release_files import (
    ColumnUpdate,
    SpillFile,
    TableFile,
    arrow_schema_of,
    fsync_dir,
    rewrite_with_update,
    to_arrow,
)
from coder.release_read import (
    LATEST,
    MANIFEST,
    SELF_SHA,
    ReleaseInfo,
    VerifyReport,
    canonical_json,
    check_name,
    check_table,
    list_versions,
    manifest_digest,
    read_dataset,
    read_manifest,
    read_table,
    resolve_release,
    sha256_file,
    verify_release,
    version_number,
    versions,
)
from coder.schema import TableSchema, load_schema

# Typing helpers are re-exported: callers type Arrow tables through the store.
__all__ = [
    "ColumnUpdate",
    "Release",
    "ReleaseInfo",
    "ReleaseWriter",
    "SpillFile",
    "TableSchema",
    "VerifyReport",
    "arrow_schema_of",
    "check_name",
    "check_table",
    "list_versions",
    "open_release",
    "read_dataset",
    "read_manifest",
    "read_table",
    "resolve_release",
    "to_arrow",
    "verify_release",
    "write_release",
]

LOCK = ".lock"
TMP_PREFIX = ".tmp-"
MANIFEST_FORMAT = "coder-release/1"
RESERVED_KEYS = frozenset({"manifest_format", "name", "version", "tables", SELF_SHA})
LOCK_WAIT_S = 30.0  # a second build waits this long for the first, then gives up with ReleaseLocked
LOCK_POLL_S = 0.05


@dataclass(frozen=True)
class Release:
    name: str
    version: str
    path: Path
    manifest: dict[str, Any]


def write_release(
    datasets_dir: Path,
    name: str,
    tables: Mapping[str, pd.DataFrame],
    manifest: Mapping[str, Any],
    *,
    version: str | None = None,
    schemas_dir: Path | None = None,
    lock_wait_s: float = LOCK_WAIT_S,
) -> Release:
    """Write ``tables`` as a new release of dataset ``name``, atomically, and point LATEST at it.

    ``version`` defaults to the next sequential one; an explicit version that exists raises
    ReleaseExists. ``manifest`` (versions, input hashes, validation summary) is stored as given.
    A build that streams its tables uses ``open_release`` instead.
    """
    _check_request(version, manifest)
    schemas = Path(schemas_dir) if schemas_dir is not None else Settings().schemas_dir
    # Typed before the lock is taken: a table that cannot be stored fails without touching the dataset.
    arrow = {table: to_arrow(df, load_schema(schemas, check_table(table))) for table, df in tables.items()}
    with open_release(
        datasets_dir, name, version=version, schemas_dir=schemas, lock_wait_s=lock_wait_s
    ) as writer:
        for table in sorted(arrow):
            writer.append_arrow(table, arrow[table])
        return writer.commit({}, manifest)


def open_release(
    datasets_dir: Path,
    name: str,
    *,
    version: str | None = None,
    schemas_dir: Path | None = None,
    lock_wait_s: float = LOCK_WAIT_S,
) -> ReleaseWriter:
    """Start a new release of dataset ``name``: the dataset's lock is held until commit or abort.

    Use it as a context manager: leaving the block without ``commit`` (an exception) aborts, and a
    killed build leaves only a temp folder that the next build of the dataset removes.
    """
    _check_request(version, {})
    schemas = Path(schemas_dir) if schemas_dir is not None else Settings().schemas_dir
    dataset = Path(datasets_dir) / check_name(name)
    dataset.mkdir(parents=True, exist_ok=True)
    stack = contextlib.ExitStack()
    stack.enter_context(_locked(dataset, lock_wait_s))
    try:
        _remove_stale_tmp(dataset)
        version = version or _next_version(dataset)
        if (dataset / version).exists():
            raise ReleaseExists(
                f"release {version} already exists; releases are never overwritten",
                path=str(dataset / version),
            )
        tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=dataset))
    except BaseException:
        stack.close()
        raise
    return ReleaseWriter(name, version, dataset, tmp, schemas, stack)


def _check_request(version: str | None, manifest: Mapping[str, Any]) -> None:
    if version is not None and not version_number(version):
        raise ReleaseError(f"invalid version {version!r}: expected v1, v2, ...")
    clash = RESERVED_KEYS & set(manifest)
    if clash:
        raise ReleaseError(f"manifest keys {sorted(clash)} are set by the store")


class ReleaseWriter:
    """A release being written: tables stream in (``append``), then one ``commit`` publishes it."""

    def __init__(
        self, name: str, version: str, dataset: Path, tmp: Path, schemas_dir: Path, lock: contextlib.ExitStack
    ) -> None:
        self.name, self.version, self.dataset, self.tmp = name, version, dataset, tmp
        self._schemas_dir = schemas_dir
        self._lock = lock
        self._files: dict[str, TableFile] = {}
        self._spills: list[SpillFile] = []
        self._open = True

    def __enter__(self) -> ReleaseWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()  # after a commit there is nothing left to abort

    def rows(self, table: str) -> int:
        """Rows appended to ``table`` so far (pending rows included)."""
        file = self._files.get(table)
        return file.rows + file.pending_rows if file else 0

    def append(self, table: str, frame: pd.DataFrame) -> None:
        """Add rows to ``table`` (typed by its schema); rows keep the order they are appended in."""
        self._file(table).append(frame)

    def append_arrow(self, table: str, arrow: pa.Table) -> None:
        self._file(table).append_arrow(arrow)

    def spill(self, table: str) -> SpillFile:
        """A temporary file for rows of ``table`` that must wait (inside the release's temp folder, so
        an aborted or killed build leaves none behind); it is deleted before the release is published."""
        if not self._open:
            raise ReleaseError("the release is already committed or aborted", path=str(self.tmp))
        schema = load_schema(self._schemas_dir, check_table(table))
        self._spills.append(SpillFile(self.tmp / f".spill-{table}-{len(self._spills)}.parquet", schema))
        return self._spills[-1]

    def _file(self, table: str) -> TableFile:
        if not self._open:
            raise ReleaseError("the release is already committed or aborted", path=str(self.tmp))
        if table not in self._files:
            schema = load_schema(self._schemas_dir, check_table(table))
            self._files[table] = TableFile(self.tmp / f"{table}.parquet", schema)
        return self._files[table]

    def commit(
        self,
        tables: Mapping[str, pd.DataFrame],
        manifest: Mapping[str, Any],
        updates: Mapping[str, ColumnUpdate] | None = None,
    ) -> Release:
        """Append the last ``tables``, apply ``updates`` to written tables, publish, point LATEST here."""
        _check_request(None, manifest)
        for table in sorted(tables):
            self.append(table, tables[table])
        try:
            for spill in self._spills:
                spill.remove()
            entries = self._close_tables(updates or {})
            body = _write_manifest(self.tmp, entries, dict(manifest), self.name, self.version)
            _publish(self.tmp, self.dataset / self.version)
            _write_latest(self.dataset, self.version)
        finally:
            self.abort()
        return Release(self.name, self.version, self.dataset / self.version, body)

    def _close_tables(self, updates: Mapping[str, ColumnUpdate]) -> dict[str, dict[str, Any]]:
        entries = {}
        for table in sorted(self._files):
            file = self._files[table]
            file.close()
            rows = (
                rewrite_with_update(file.path, file.schema, updates[table]) if table in updates else file.rows
            )
            entries[table] = {
                "file": file.path.name, "rows": rows, "bytes": file.path.stat().st_size,
                "sha256": sha256_file(file.path), "schema_version": file.schema.version,
            }  # fmt: skip
        unknown = sorted(set(updates) - set(self._files))
        if unknown:
            raise ReleaseError(f"updates name tables the release does not have: {unknown}")
        return entries

    def abort(self) -> None:
        """Drop everything written (nothing if the release was published) and release the lock."""
        if not self._open:
            return
        self._open = False
        try:
            for file in self._files.values():
                file.discard()
            for spill in self._spills:
                spill.remove()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)  # gone already when the rename happened
            self._lock.close()


@contextlib.contextmanager
def _locked(dataset: Path, wait_s: float) -> Iterator[None]:
    with open(dataset / LOCK, "a+b") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ReleaseLocked(
                        "another build of this dataset holds the lock", path=str(dataset)
                    ) from None
                time.sleep(LOCK_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove_stale_tmp(dataset: Path) -> None:
    """Under the lock no other build is writing, so every temp folder is left from a killed one."""
    for stale in dataset.glob(f"{TMP_PREFIX}*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)  # a half-written LATEST


def _next_version(dataset: Path) -> str:
    existing = versions(dataset)
    return f"v{(version_number(existing[-1]) or 0) + 1}" if existing else "v1"


def _write_manifest(
    tmp: Path, entries: dict[str, dict[str, Any]], extra: dict[str, Any], name: str, version: str
) -> dict[str, Any]:
    body = {"manifest_format": MANIFEST_FORMAT, "name": name, "version": version, "tables": entries, **extra}
    body = json.loads(canonical_json(body))  # what a reader will see: dates as strings, keys as strings
    body[SELF_SHA] = manifest_digest(body)
    _write_text(tmp / MANIFEST, canonical_json(body) + "\n")
    fsync_dir(tmp)
    return body


def _publish(tmp: Path, final: Path) -> None:
    if final.exists():
        raise ReleaseExists(
            f"release {final.name} already exists; releases are never overwritten", path=str(final)
        )
    try:
        os.rename(tmp, final)
    except OSError as exc:
        raise ReleaseError(f"cannot publish release: {exc}", path=str(final)) from None
    fsync_dir(final.parent)


def _write_latest(dataset: Path, version: str) -> None:
    tmp = dataset / f"{TMP_PREFIX}{LATEST}"
    _write_text(tmp, version + "\n")
    os.replace(tmp, dataset / LATEST)
    fsync_dir(dataset)


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        _flush(handle)


def _flush(handle: IO[Any]) -> None:
    handle.flush()
    os.fsync(handle.fileno())
