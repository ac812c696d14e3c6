"""Immutable, versioned Parquet releases: the only writer of datasets.

Layout of ``datasets_dir/<name>/``::

    .lock            flock'd while a build writes, so two builds of one dataset cannot interleave
    .tmp-*           a release being written (removed by the next build if a build was killed)
    v1/ v2/ ...      releases: <table>.parquet + manifest.json, never overwritten
    LATEST           the newest complete release's version, replaced atomically

Versions are sequential ("v1", "v2", ...): the order a researcher cites them in is the order
they were built, and no clock is needed. A release appears by one ``os.rename`` of a fully
written, fsync'd folder, so a reader sees a whole release or none. Parquet files are
deterministic: the same rows give the same bytes (fixed compression, no pandas metadata,
no timestamps), which is what the manifest's sha256 checksums and rebuild checks rely on.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from coder.config import Settings
from coder.errors import IntegrityError, ReleaseError, ReleaseExists, ReleaseLocked
from coder.validate import TableSchema, load_schema

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
VERSION_PATTERN = re.compile(r"^v([1-9][0-9]*)$")
TABLE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
FILE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.parquet$")  # a manifest cannot point outside its release
MANIFEST = "manifest.json"
LATEST = "LATEST"
LOCK = ".lock"
TMP_PREFIX = ".tmp-"
MANIFEST_FORMAT = "coder-release/1"
# The manifest's own checksum (over its canonical JSON without this key): an edited manifest is caught.
SELF_SHA = "manifest_sha256"
RESERVED_KEYS = frozenset({"manifest_format", "name", "version", "tables", SELF_SHA})
ARROW_TYPES = {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "date": pa.date32(),
               "bool": pa.bool_()}  # fmt: skip
# Fixed writer options: part of the byte-for-byte determinism of a release.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 9,
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": 100_000,
    "data_page_version": "1.0",
}
LOCK_WAIT_S = 30.0  # a second build waits this long for the first, then gives up with ReleaseLocked
LOCK_POLL_S = 0.05


@dataclass(frozen=True)
class Release:
    name: str
    version: str
    path: Path
    manifest: dict[str, Any]


@dataclass(frozen=True)
class ReleaseInfo:
    name: str
    version: str
    path: Path
    rows: dict[str, int]
    latest: bool

    def to_text(self) -> str:
        rows = ", ".join(f"{n} {table}" for table, n in self.rows.items())
        return f"{self.name} {self.version}{' (latest)' if self.latest else ''}: {rows}"


@dataclass
class VerifyReport:
    path: Path
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_text(self) -> str:
        if self.ok:
            return f"{self.path}: ok (every file matches the manifest)"
        return "\n".join(
            [f"{self.path}: {len(self.problems)} problem(s)", *(f"  - {p}" for p in self.problems)]
        )

    def raise_if_failed(self) -> None:
        if self.problems:
            raise IntegrityError("; ".join(self.problems), path=str(self.path))


def check_name(name: str) -> str:
    """A dataset name that cannot leave ``datasets_dir`` (no separators, no leading dot)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ReleaseError(f"invalid dataset name {name!r}: use letters, digits, '.', '_', '-' (max 64)")
    return name


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
    """
    if version is not None and not _version_number(version):
        raise ReleaseError(f"invalid version {version!r}: expected v1, v2, ...")
    clash = RESERVED_KEYS & set(manifest)
    if clash:
        raise ReleaseError(f"manifest keys {sorted(clash)} are set by the store")
    schemas = Path(schemas_dir) if schemas_dir is not None else Settings().schemas_dir
    arrow = {table: to_arrow(df, load_schema(schemas, check_table(table))) for table, df in tables.items()}
    dataset = Path(datasets_dir) / check_name(name)
    dataset.mkdir(parents=True, exist_ok=True)
    with _locked(dataset, lock_wait_s):
        _remove_stale_tmp(dataset)
        version = version or _next_version(dataset)
        tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=dataset))
        try:
            body = _write_tables(tmp, arrow, dict(manifest), name, version)
            _publish(tmp, dataset / version)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # only left when the rename did not happen
        _write_latest(dataset, version)
    return Release(name, version, dataset / version, body)


def check_table(table: str) -> str:
    if not TABLE_PATTERN.fullmatch(table):
        raise ReleaseError(f"invalid table name {table!r}")
    return table


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
    try:
        array = pa.Array.from_pandas(df[spec.name], type=spec.type)  # refuses lossy casts (1.5 -> int)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise ReleaseError(f"column {spec.name!r} cannot be stored as {spec.type}: {exc}") from None
    if not spec.nullable and array.null_count:
        raise ReleaseError(f"column {spec.name!r} has {array.null_count} null(s) but is not nullable")
    return array


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


def _version_number(version: str) -> int | None:
    match = VERSION_PATTERN.fullmatch(version)
    return int(match.group(1)) if match else None


def _versions(dataset: Path) -> list[str]:
    found = (
        [p.name for p in dataset.iterdir() if p.is_dir() and _version_number(p.name)]
        if dataset.is_dir()
        else []
    )
    return sorted(found, key=lambda v: _version_number(v) or 0)


def _next_version(dataset: Path) -> str:
    existing = _versions(dataset)
    return f"v{(_version_number(existing[-1]) or 0) + 1}" if existing else "v1"


def _write_tables(
    tmp: Path, arrow: dict[str, pa.Table], extra: dict[str, Any], name: str, version: str
) -> dict[str, Any]:
    entries = {}
    for table in sorted(arrow):
        path = tmp / f"{table}.parquet"
        pq.write_table(arrow[table], path, **PARQUET_OPTIONS)
        _fsync_file(path)
        meta = arrow[table].schema.metadata
        entries[table] = {
            "file": path.name, "rows": arrow[table].num_rows, "bytes": path.stat().st_size,
            "sha256": _sha256(path), "schema_version": meta[b"coder.schema_version"].decode(),
        }  # fmt: skip
    body = {"manifest_format": MANIFEST_FORMAT, "name": name, "version": version, "tables": entries, **extra}
    body = json.loads(_canonical(body))  # what a reader will see: dates as strings, keys as strings
    body[SELF_SHA] = _manifest_digest(body)
    _write_text(tmp / MANIFEST, _canonical(body) + "\n")
    _fsync_dir(tmp)
    return body


def _canonical(body: Mapping[str, Any]) -> str:
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _manifest_digest(body: Mapping[str, Any]) -> str:
    unsigned = {k: v for k, v in body.items() if k != SELF_SHA}
    return hashlib.sha256(_canonical(unsigned).encode("utf-8")).hexdigest()


def _publish(tmp: Path, final: Path) -> None:
    if final.exists():
        raise ReleaseExists(
            f"release {final.name} already exists; releases are never overwritten", path=str(final)
        )
    try:
        os.rename(tmp, final)
    except OSError as exc:
        raise ReleaseError(f"cannot publish release: {exc}", path=str(final)) from None
    _fsync_dir(final.parent)


def _write_latest(dataset: Path, version: str) -> None:
    tmp = dataset / f"{TMP_PREFIX}{LATEST}"
    _write_text(tmp, version + "\n")
    os.replace(tmp, dataset / LATEST)
    _fsync_dir(dataset)


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        _flush(handle)


def _flush(handle: IO[Any]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename or new entry durable: the directory itself must reach the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(release_path: Path) -> dict[str, Any]:
    path = Path(release_path) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReleaseError("not a release: manifest.json is missing", path=str(release_path)) from None
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"manifest.json cannot be read: {exc}", path=str(path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("tables"), dict):
        raise IntegrityError("manifest.json has no 'tables' object", path=str(path))
    for table, entry in data["tables"].items():
        if not isinstance(entry, dict) or not FILE_PATTERN.fullmatch(str(entry.get("file"))):
            raise IntegrityError(
                f"manifest entry of table {table!r} names no plain .parquet file", path=str(path)
            )
    return data


def list_versions(datasets_dir: Path, name: str) -> list[ReleaseInfo]:
    """Every release of a dataset, oldest first."""
    dataset = Path(datasets_dir) / check_name(name)
    latest = _read_latest(dataset)
    infos = []
    for version in _versions(dataset):
        tables = read_manifest(dataset / version)["tables"]
        rows = {t: int(entry.get("rows", 0)) for t, entry in sorted(tables.items())}
        infos.append(ReleaseInfo(name, version, dataset / version, rows, version == latest))
    return infos


def _read_latest(dataset: Path) -> str | None:
    try:
        version = (dataset / LATEST).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return version if _version_number(version) else None


def resolve_release(datasets_dir: Path, name: str, version: str = "latest") -> Path:
    """The folder of a release; "latest" follows LATEST (or the highest version if LATEST is absent)."""
    dataset = Path(datasets_dir) / check_name(name)
    if version == "latest":
        versions = _versions(dataset)
        chosen = _read_latest(dataset) or (versions[-1] if versions else None)
        if chosen is None:
            raise ReleaseError(f"dataset {name!r} has no release", path=str(dataset))
        version = chosen
    if not _version_number(version):
        raise ReleaseError(f"invalid version {version!r}: expected 'latest' or v1, v2, ...")
    path = dataset / version
    if not path.is_dir():
        raise ReleaseError(f"release {name} {version} not found", path=str(path))
    return path


def read_table(release_path: Path, table: str) -> pd.DataFrame:
    """A table of a release: ints as Int64 and bools as boolean (nullable), dates as datetime.date."""
    entry = read_manifest(release_path)["tables"].get(check_table(table))
    if entry is None:
        raise ReleaseError(f"release has no table {table!r}", path=str(release_path))
    try:
        arrow = pq.read_table(Path(release_path) / entry["file"])
    except (OSError, pa.ArrowException) as exc:
        raise IntegrityError(f"{table} cannot be read: {exc}", path=str(release_path)) from None
    return arrow.to_pandas(types_mapper=_pandas_type, date_as_object=True)


def _pandas_type(arrow_type: pa.DataType) -> Any:
    """Nullable pandas dtypes, so an int column with a null stays an int column."""
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


def read_dataset(
    name: str, version: str = "latest", table: str = "events", datasets_dir: Path | None = None
) -> pd.DataFrame:
    """A table of a release by dataset name (``datasets_dir`` defaults to the configured one)."""
    folder = Path(datasets_dir) if datasets_dir is not None else Settings.from_env().datasets_dir
    return read_table(resolve_release(folder, name, version), table)


def verify_release(path: Path) -> VerifyReport:
    """Compare a release's files with its manifest: missing, extra, truncated or altered files."""
    report = VerifyReport(Path(path))
    try:
        manifest = read_manifest(path)
    except ReleaseError as exc:
        report.problems.append(exc.message)
        return report
    if SELF_SHA in manifest and manifest[SELF_SHA] != _manifest_digest(manifest):
        report.problems.append("manifest.json: content differs from its own checksum (manifest edited)")
    tables = manifest["tables"]
    expected = {str(entry.get("file")): entry for entry in tables.values()}
    present = {p.name for p in Path(path).iterdir() if p.name != MANIFEST}
    report.problems += [f"missing file {f}" for f in sorted(set(expected) - present)]
    report.problems += [f"unexpected file {f}" for f in sorted(present - set(expected))]
    for file in sorted(set(expected) & present):
        report.problems += _check_file(Path(path) / file, expected[file])
    return report


def _check_file(path: Path, entry: Mapping[str, Any]) -> list[str]:
    size = path.stat().st_size
    if "bytes" in entry and size != entry["bytes"]:
        return [f"{path.name}: {size} bytes, manifest says {entry['bytes']} (truncated or replaced)"]
    if _sha256(path) != entry.get("sha256"):
        return [f"{path.name}: sha256 differs from the manifest (file altered)"]
    return []
