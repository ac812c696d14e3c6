"""Reading releases: the folder layout, manifests, tables, and the integrity check.

Layout of ``datasets_dir/<name>/``::

    .lock            flock'd while a build writes, so two builds of one dataset cannot interleave
    .tmp-*           a release being written (removed by the next build if a build was killed)
    v1/ v2/ ...      releases: <table>.parquet + manifest.json, never overwritten
    LATEST           the newest complete release's version, replaced atomically

Nothing here writes: ``store`` is the only writer of datasets and re-exports these readers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from coder.config import Settings
from coder.errors import IntegrityError, ReleaseError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
VERSION_PATTERN = re.compile(r"^v([1-9][0-9]*)$")
TABLE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
FILE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.parquet$")  # a manifest cannot point outside its release
MANIFEST = "manifest.json"
LATEST = "LATEST"
# The manifest's own checksum (over its canonical JSON without this key): an edited manifest is caught.
SELF_SHA = "manifest_sha256"


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


def check_table(table: str) -> str:
    if not TABLE_PATTERN.fullmatch(table):
        raise ReleaseError(f"invalid table name {table!r}")
    return table


def version_number(version: str) -> int | None:
    match = VERSION_PATTERN.fullmatch(version)
    return int(match.group(1)) if match else None


def versions(dataset: Path) -> list[str]:
    found = (
        [p.name for p in dataset.iterdir() if p.is_dir() and version_number(p.name)]
        if dataset.is_dir()
        else []
    )
    return sorted(found, key=lambda v: version_number(v) or 0)


def canonical_json(body: Mapping[str, Any]) -> str:
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def manifest_digest(body: Mapping[str, Any]) -> str:
    unsigned = {k: v for k, v in body.items() if k != SELF_SHA}
    return hashlib.sha256(canonical_json(unsigned).encode("utf-8")).hexdigest()


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
    latest = read_latest(dataset)
    infos = []
    for version in versions(dataset):
        tables = read_manifest(dataset / version)["tables"]
        rows = {t: int(entry.get("rows", 0)) for t, entry in sorted(tables.items())}
        infos.append(ReleaseInfo(name, version, dataset / version, rows, version == latest))
    return infos


def read_latest(dataset: Path) -> str | None:
    try:
        version = (dataset / LATEST).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return version if version_number(version) else None


def resolve_release(datasets_dir: Path, name: str, version: str | None = "latest") -> Path:
    """The folder of a release; "latest" (or None) follows LATEST, else the highest version."""
    dataset = Path(datasets_dir) / check_name(name)
    if version is None or version == "latest":
        found = versions(dataset)
        chosen = read_latest(dataset) or (found[-1] if found else None)
        if chosen is None:
            raise ReleaseError(f"dataset {name!r} has no release", path=str(dataset))
        version = chosen
    if not isinstance(version, str) or not version_number(version):
        raise ReleaseError(f"invalid version {version!r}: expected 'latest' or v1, v2, ...")
    path = dataset / version
    if not path.is_dir():
        raise ReleaseError(f"release {name} {version} not found", path=str(path))
    return path


def read_table(release_path: Path, table: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A table of a release (only ``columns`` when given): ints as Int64 and bools as boolean
    (nullable), dates as datetime.date."""
    entry = read_manifest(release_path)["tables"].get(check_table(table))
    if entry is None:
        raise ReleaseError(f"release has no table {table!r}", path=str(release_path))
    try:
        selected = None if columns is None else list(columns)
        arrow = pq.read_table(Path(release_path) / entry["file"], columns=selected)
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
    name: str, version: str | None = "latest", table: str = "events", datasets_dir: Path | None = None
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
    if SELF_SHA in manifest and manifest[SELF_SHA] != manifest_digest(manifest):
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
    if sha256_file(path) != entry.get("sha256"):
        return [f"{path.name}: sha256 differs from the manifest (file altered)"]
    return []


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
