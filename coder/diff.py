"""What changed between two releases: events added, removed and changed field by field.

Events are matched one key at a time, most specific first, and only where a key is unique on
both sides (an ambiguous key is never guessed): ``event_id`` (same article, sentence and type),
then ``(article_id, sentence_id)`` (the same sentence re-typed, which changes the id), then
``(article_id, start_char, end_char)`` (the same span after sentence ids moved). What is left
unmatched is added or removed. Row counts of every table and the manifests' versions are
compared too, so ``coder diff A B`` answers "what did this rebuild change?".
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from coder import store
from coder.errors import IntegrityError, ReleaseError

TABLES: tuple[str, ...] = ("articles", "sentences", "events", "clusters", "rejects")
MATCH_KEYS: tuple[tuple[str, ...], ...] = (
    ("event_id",),
    ("article_id", "sentence_id"),
    ("article_id", "start_char", "end_char"),
)
# Columns that identify a row rather than describe it: a change there is reported by matched_by.
IDENTITY_COLUMNS = frozenset({"event_id"})
SUMMARY_COLUMNS: tuple[str, ...] = ("event_id", "event_type", "event_date", "location", "notes")
FLOAT_TOLERANCE = 1e-9  # coordinates/confidences written by the same code path compare equal
KEY_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(c for key in MATCH_KEYS for c in key))
KeyColumns = dict[str, list[Any]]  # column -> its values in row order


class EventColumns(Protocol):
    """Event rows read a column at a time, so that a summary never holds whole rows of a big release."""

    @property
    def columns(self) -> list[str]: ...

    @property
    def rows(self) -> int: ...

    def column(self, name: str) -> Iterable[Any]: ...


@dataclass(frozen=True)
class FrameColumns:
    """``EventColumns`` of rows already in memory."""

    frame: pd.DataFrame

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    @property
    def rows(self) -> int:
        return len(self.frame)

    def column(self, name: str) -> Iterable[Any]:
        return self.frame[name]


@dataclass(frozen=True)
class ReleaseColumns:
    """``EventColumns`` of a release's events file, a column at a time, typed as ``store.read_table``
    types it (nullable ints and bools, dates as ``datetime.date``)."""

    release: Path

    @property
    def columns(self) -> list[str]:
        return list(self._read(pq.read_schema).names)

    @property
    def rows(self) -> int:
        return int(self._read(pq.read_metadata).num_rows)

    def column(self, name: str) -> Iterable[Any]:
        return store.read_table(self.release, "events", columns=[name])[name]

    def _read(self, reader: Callable[[Path], Any]) -> Any:
        entry = store.read_manifest(self.release)["tables"].get("events")
        if entry is None:
            raise ReleaseError("release has no events table", path=str(self.release))
        try:
            return reader(self.release / entry["file"])
        except (OSError, pa.ArrowException) as exc:
            raise IntegrityError(f"events cannot be read: {exc}", path=str(self.release)) from None


def _values(source: EventColumns, name: str) -> list[Any]:
    """A column's values as ``DataFrame.to_dict(orient="records")`` gives them (numpy scalars boxed)."""
    return [v.item() if isinstance(v, np.generic) else v for v in source.column(name)]


@dataclass(frozen=True)
class FieldChange:
    column: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ChangedEvent:
    event_id_a: str
    event_id_b: str
    matched_by: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class ReleaseDiff:
    """The difference from release ``a`` (old) to release ``b`` (new)."""

    a: str
    b: str
    version_a: str | None
    version_b: str | None
    row_counts: dict[str, tuple[int | None, int | None]]
    columns_added: tuple[str, ...]
    columns_removed: tuple[str, ...]
    added: tuple[dict[str, Any], ...]
    removed: tuple[dict[str, Any], ...]
    changed: tuple[ChangedEvent, ...]
    unchanged: int
    field_counts: dict[str, int] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        same_counts = all(x == y for x, y in self.row_counts.values())
        return same_counts and not (
            self.added or self.removed or self.changed or self.columns_added or self.columns_removed
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (dates as ISO strings, missing values as null)."""
        return {
            "a": self.a,
            "b": self.b,
            "version_a": self.version_a,
            "version_b": self.version_b,
            "row_counts": {t: {"a": x, "b": y} for t, (x, y) in self.row_counts.items()},
            "columns_added": list(self.columns_added),
            "columns_removed": list(self.columns_removed),
            "events": {
                "added": [_jsonable_row(r) for r in self.added],
                "removed": [_jsonable_row(r) for r in self.removed],
                "changed": [_changed_dict(c) for c in self.changed],
                "unchanged": self.unchanged,
                "changed_by_field": dict(self.field_counts),
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, sort_keys=False)

    def to_text(self, max_items: int = 20) -> str:
        """A readable summary; lists at most ``max_items`` events per section."""
        lines = [f"diff {self.a} ({self.version_a or '?'}) -> {self.b} ({self.version_b or '?'})"]
        lines += [f"  {t}: {_fmt(x)} -> {_fmt(y)}" for t, (x, y) in self.row_counts.items()]
        if self.columns_added or self.columns_removed:
            lines.append(f"  event columns +{list(self.columns_added)} -{list(self.columns_removed)}")
        lines.append(
            f"events: {len(self.added)} added, {len(self.removed)} removed, "
            f"{len(self.changed)} changed, {self.unchanged} unchanged"
        )
        if self.field_counts:
            counts = ", ".join(f"{c} {n}" for c, n in self.field_counts.items())
            lines.append(f"changed fields: {counts}")
        lines += _section("added", [_summary(r) for r in self.added], max_items)
        lines += _section("removed", [_summary(r) for r in self.removed], max_items)
        lines += _section("changed", [_changed_line(c) for c in self.changed], max_items)
        return "\n".join(lines)


def _fmt(count: int | None) -> str:
    return "absent" if count is None else str(count)


def _section(title: str, items: list[str], max_items: int) -> list[str]:
    if not items:
        return []
    more = [f"  ... and {len(items) - max_items} more"] if len(items) > max_items else []
    return [f"{title}:", *(f"  {item}" for item in items[:max_items]), *more]


def _summary(row: dict[str, Any]) -> str:
    parts = [str(_jsonable(row.get(c))) for c in SUMMARY_COLUMNS if c != "notes" and row.get(c) is not None]
    notes = str(row.get("notes") or "")
    return " | ".join(parts) + (f' | "{notes[:80]}"' if notes else "")


def _changed_line(change: ChangedEvent) -> str:
    fields = "; ".join(f"{f.column}: {_jsonable(f.old)!r} -> {_jsonable(f.new)!r}" for f in change.changes)
    ids = (
        change.event_id_a
        if change.event_id_a == change.event_id_b
        else f"{change.event_id_a}->{change.event_id_b}"
    )
    return f"{ids} (by {change.matched_by}) {fields}"


def _jsonable(value: Any) -> Any:
    if _missing(value):
        return None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _jsonable_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in row.items()}


def _changed_dict(change: ChangedEvent) -> dict[str, Any]:
    return {
        "event_id_a": change.event_id_a,
        "event_id_b": change.event_id_b,
        "matched_by": change.matched_by,
        "fields": {f.column: {"old": _jsonable(f.old), "new": _jsonable(f.new)} for f in change.changes},
    }


def _missing(value: Any) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _same(old: Any, new: Any) -> bool:
    if _missing(old) or _missing(new):
        return _missing(old) and _missing(new)
    if isinstance(old, float | int) and isinstance(new, float | int):
        return math.isclose(float(old), float(new), rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    return bool(_jsonable(old) == _jsonable(new))


def _read_table(release: Path, table: str) -> pd.DataFrame | None:
    """A table through the store (checked against the manifest); None when the release lacks it."""
    if table not in store.read_manifest(release)["tables"]:
        return None
    return store.read_table(release, table)


def _version(release: Path) -> str:
    """The manifest's version, else the folder name (releases live in datasets/<name>/<version>/)."""
    version = store.read_manifest(release).get("version")
    return str(version) if version is not None else release.name


def _label(release: Path) -> str:
    """``<name>/<version>`` of a release, as the manifest says (folder names as a fallback)."""
    manifest = store.read_manifest(release)
    return f"{manifest.get('name') or release.parent.name}/{manifest.get('version') or release.name}"


def _unique_positions(
    keys: KeyColumns, key: Sequence[str], positions: list[int]
) -> dict[tuple[Any, ...], int]:
    """Key -> row position among ``positions``, for keys that occur once there and have no missing part."""
    values = [tuple(_jsonable(keys[c][i]) for c in key) for i in positions]
    counts = Counter(values)
    return {k: i for i, k in zip(positions, values, strict=True) if counts[k] == 1 and None not in k}


def _match_keys(old: KeyColumns, n_old: int, new: KeyColumns, n_new: int) -> list[tuple[int, int, str]]:
    """(old position, new position, key name) for every matched pair; each row matched at most once."""
    pairs: list[tuple[int, int, str]] = []
    left, right = list(range(n_old)), list(range(n_new))
    for key in MATCH_KEYS:
        old_index, new_index = _unique_positions(old, key, left), _unique_positions(new, key, right)
        name = "+".join(key)
        found = [
            (old_index[k], new_index[k], name) for k in sorted(set(old_index) & set(new_index), key=repr)
        ]
        pairs += found
        gone_old, gone_new = {i for i, _, _ in found}, {j for _, j, _ in found}
        left, right = [i for i in left if i not in gone_old], [j for j in right if j not in gone_new]
    return pairs


def _match(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    """``_match_keys`` of whole rows (``diff_releases`` lists them, so it holds them anyway)."""
    return _match_keys(_row_keys(old), len(old), _row_keys(new), len(new))


def _row_keys(rows: list[dict[str, Any]]) -> KeyColumns:
    return {c: [r.get(c) for r in rows] for c in KEY_COLUMNS}


def _changes(old: dict[str, Any], new: dict[str, Any], columns: Sequence[str]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(c, old.get(c), new.get(c))
        for c in columns
        if c not in IDENTITY_COLUMNS and not _same(old.get(c), new.get(c))
    )


def _event_rows(release: Path) -> tuple[list[dict[str, Any]], list[str]]:
    table = _read_table(release, "events")
    if table is None:
        raise ReleaseError("release has no events table", path=str(release))
    return _rows(table)


def _rows(table: pd.DataFrame) -> tuple[list[dict[str, Any]], list[str]]:
    table = table.sort_values("event_id", kind="stable") if "event_id" in table.columns else table
    return table.to_dict(orient="records"), list(table.columns)


def _compare_events(
    old: list[dict[str, Any]], new: list[dict[str, Any]], shared: Sequence[str]
) -> tuple[list[tuple[int, int, str]], list[ChangedEvent]]:
    """Matched pairs and, among them, the events whose shared columns differ."""
    pairs = _match(old, new)
    changed = [
        ChangedEvent(str(old[i].get("event_id")), str(new[j].get("event_id")), key, found)
        for i, j, key in pairs
        if (found := _changes(old[i], new[j], shared))
    ]
    return pairs, sorted(changed, key=lambda c: (c.event_id_a, c.event_id_b))


def _row_counts(a: Path, b: Path) -> dict[str, tuple[int | None, int | None]]:
    counts: dict[str, tuple[int | None, int | None]] = {}
    for table in TABLES:
        x, y = _read_table(a, table), _read_table(b, table)
        counts[table] = (None if x is None else len(x), None if y is None else len(y))
    return counts


def diff_releases(a: Path, b: Path) -> ReleaseDiff:
    """Compare release folder ``a`` (old) with ``b`` (new); a missing folder is a ``ReleaseError``."""
    a, b = Path(a), Path(b)
    for release in (a, b):
        if not release.is_dir():
            raise ReleaseError("release folder not found", path=str(release))
    old, old_cols = _event_rows(a)
    new, new_cols = _event_rows(b)
    pairs, changed = _compare_events(old, new, [c for c in new_cols if c in old_cols])
    matched_old, matched_new = {i for i, _, _ in pairs}, {j for _, j, _ in pairs}
    return ReleaseDiff(
        a=str(a),
        b=str(b),
        version_a=_version(a),
        version_b=_version(b),
        row_counts=_row_counts(a, b),
        columns_added=tuple(c for c in new_cols if c not in old_cols),
        columns_removed=tuple(c for c in old_cols if c not in new_cols),
        added=tuple(r for j, r in enumerate(new) if j not in matched_new),
        removed=tuple(r for i, r in enumerate(old) if i not in matched_old),
        changed=tuple(changed),
        unchanged=len(pairs) - len(changed),
        field_counts=dict(sorted(Counter(f.column for c in changed for f in c.changes).items())),
    )


def summary_against(
    previous_release: Path | None, tables: Mapping[str, pd.DataFrame | EventColumns]
) -> dict[str, Any]:
    """Event counts of a new build's ``tables`` against the previous release, for the new manifest.

    ``{"compared_to": "<name>/<version>" | None, "added", "removed", "changed", "unchanged",
    "changed_by_field"}``; with no previous release every event counts as added. Events are matched
    as in ``diff_releases``; the ``event_cluster_id`` column is compared like any other. Neither side
    is held as rows: the match reads the key columns, then each compared column is read (from the
    previous release's file, and from ``tables["events"]``) and compared on the matched pairs alone.
    """
    given = tables.get("events", pd.DataFrame())
    new = FrameColumns(given) if isinstance(given, pd.DataFrame) else given
    if previous_release is None:
        return {"compared_to": None, "added": new.rows, "removed": 0, "changed": 0, "unchanged": 0,
                "changed_by_field": {}}  # fmt: skip
    old = ReleaseColumns(Path(previous_release))
    n_old, n_new, old_cols = old.rows, new.rows, old.columns
    pairs = _match_keys(_keys(old, n_old), n_old, _keys(new, n_new), n_new)
    changed, field_counts = _changed_pairs(old, new, [c for c in new.columns if c in old_cols], pairs)
    return {
        "compared_to": _label(Path(previous_release)),
        "added": n_new - len(pairs),
        "removed": n_old - len(pairs),
        "changed": len(changed),
        "unchanged": len(pairs) - len(changed),
        "changed_by_field": dict(sorted(field_counts.items())),
    }


def _keys(source: EventColumns, rows: int) -> KeyColumns:
    """The match keys' columns (all missing where the table lacks one, as ``row.get`` gives)."""
    return {c: _values(source, c) if c in source.columns else [None] * rows for c in KEY_COLUMNS}


def _changed_pairs(
    old: EventColumns, new: EventColumns, shared: Sequence[str], pairs: list[tuple[int, int, str]]
) -> tuple[set[int], Counter[str]]:
    """Pairs (by position in ``pairs``) with a differing shared column, and changes per column; one
    column of each side is read at a time."""
    changed: set[int] = set()
    counts: Counter[str] = Counter()
    for column in (c for c in shared if c not in IDENTITY_COLUMNS):
        before, after = _values(old, column), _values(new, column)
        differ = [p for p, (i, j, _) in enumerate(pairs) if not _same(before[i], after[j])]
        if differ:
            counts[column] = len(differ)
            changed.update(differ)
    return changed, counts
