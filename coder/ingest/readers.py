"""Readers: folders of .txt/.html (+ manifest.csv), .jsonl and .csv -> candidates or Rejects, streamed."""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from coder.config import Settings
from coder.errors import InputError
from coder.ingest.boilerplate import BoilerplateRules
from coder.ingest.text import Unusable, check_text, decode
from coder.records import Reject

ARTICLE_SUFFIXES = (".txt", ".html", ".htm")
RECORD_FIELDS = ("id", "text", "title", "published", "source", "url")
MANIFEST_FIELDS = ("file", "source", "published", "title", "url")
# A UTF-8 character takes at most 4 bytes: a file over 4x the character limit is too long
# before it is decoded, so a 50 MB line is refused without reading it as text.
_BYTES_PER_CHAR = 4
_SAFE_ID = re.compile(r"[\w][\w.:@+\-]{0,199}")
_UNSAFE_STEM = re.compile(r"[\x00-\x1f\x7f/\\]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class Candidate:
    """A record read and decoded, before the checks that make it an Article."""

    input_file: str
    input_line: int | None
    sha256: str
    article_id: str
    text: str
    encoding: str = "utf-8"
    html: bool = False
    meta: dict[str, str] = field(default_factory=dict)  # title, published, source, url
    meta_from: str = "none"  # where published came from: "manifest", "record" or "none"
    infer_title: bool = False


def read_input(path: Path, settings: Settings, rules: BoilerplateRules) -> Iterator[Candidate | Reject]:
    name = path.absolute().name
    suffix = path.suffix.lower()
    if path.is_dir():
        yield from _read_folder(path, name, settings, rules)
    elif suffix == ".jsonl":
        yield from _read_jsonl(path, name, settings, rules)
    elif suffix == ".csv":
        yield from _read_csv(path, name, settings, rules)
    else:
        yield _read_file(path, name, None, settings, rules)


def reject(reason: str, input_file: str, line: int | None = None, **more: Any) -> Reject:
    return Reject(
        stage="ingest", table="articles", reason=reason, input_file=input_file, input_line=line, **more
    )


def _read_folder(
    folder: Path, prefix: str, settings: Settings, rules: BoilerplateRules
) -> Iterator[Candidate | Reject]:
    with os.scandir(folder) as entries:
        names = sorted(
            e.name
            for e in entries
            if e.is_file() and e.name.lower().endswith(ARTICLE_SUFFIXES) and e.name[0] != "."
        )
    manifest: dict[str, dict[str, str]] = {}
    if (folder / "manifest.csv").is_file():
        for item in _read_manifest(folder / "manifest.csv", f"{prefix}/manifest.csv", set(names)):
            if isinstance(item, Reject):
                yield item
            else:
                manifest[item["file"]] = item
    for name in names:
        yield _read_file(folder / name, f"{prefix}/{name}", manifest.get(name), settings, rules)


def _read_manifest(path: Path, rel: str, present: set[str]) -> Iterator[dict[str, str] | Reject]:
    for line, row in _csv_rows(path, rel, required=("file",)):
        if isinstance(row, Reject):
            yield row
        elif row["file"] not in present:
            yield reject(
                f"manifest names {row['file']!r}, which is not in the folder; add it or drop the row",
                rel,
                line,
            )
        else:
            yield {k: value for k in MANIFEST_FIELDS if (value := (row.get(k) or "").strip())}


def _read_file(
    path: Path, rel: str, manifest: dict[str, str] | None, settings: Settings, rules: BoilerplateRules
) -> Candidate | Reject:
    try:
        if path.stat().st_size > settings.max_article_chars * _BYTES_PER_CHAR:
            raise Unusable(too_long(path.stat().st_size, settings, unit="bytes"))
        raw = path.read_bytes()
        if _UNSAFE_STEM.search(path.stem):
            raise Unusable("file name has control characters; rename the file")
        decoded = decode(raw, rules.decoding)
    except OSError as exc:
        return reject(f"cannot read file: {exc.strerror}", rel)
    except Unusable as exc:
        return reject(str(exc), rel, article_id=path.stem)
    return Candidate(
        input_file=rel,
        input_line=None,
        sha256=hashlib.sha256(raw).hexdigest(),
        article_id=path.stem,
        text=decoded.text,
        encoding=decoded.encoding,
        html=path.suffix.lower() in (".html", ".htm"),
        meta=manifest or {},
        meta_from="manifest" if manifest else "none",
        infer_title=path.suffix.lower() == ".txt",
    )


def too_long(size: int, settings: Settings, unit: str = "characters") -> str:
    return (
        f"article is {size} {unit}, over max_article_chars={settings.max_article_chars}; "
        "split it into separate articles"
    )


def _read_jsonl(
    path: Path, rel: str, settings: Settings, rules: BoilerplateRules
) -> Iterator[Candidate | Reject]:
    limit = settings.max_article_chars * _BYTES_PER_CHAR
    with path.open("rb") as handle:
        for line, (raw, size) in enumerate(_bounded_lines(handle, limit), start=1):
            if size > limit:
                yield reject(too_long(size, settings, unit="bytes"), rel, line)
            elif raw.strip():
                yield _jsonl_record(raw, rel, line, rules)


def _bounded_lines(handle: IO[bytes], limit: int) -> Iterator[tuple[bytes, int]]:
    """Lines with their byte size; a line over ``limit`` is skipped in blocks, never held whole.

    A 50 MB (or 5 GB) single line then costs one block of memory, not its own size.
    """
    while raw := handle.readline(limit + 1):
        if len(raw) > limit and not raw.endswith(b"\n"):
            yield b"", _skip_rest_of_line(handle, len(raw))
        else:
            yield raw, len(raw)


def _skip_rest_of_line(handle: IO[bytes], size: int) -> int:
    while rest := handle.readline(1 << 20):
        size += len(rest)
        if rest.endswith(b"\n"):
            break
    return size


def _jsonl_record(raw: bytes, rel: str, line: int, rules: BoilerplateRules) -> Candidate | Reject:
    try:
        try:
            record = json.loads(raw.removeprefix(codecs.BOM_UTF8).decode("utf-8"))
        except UnicodeDecodeError:
            raise Unusable("line is not valid UTF-8; re-save the file as UTF-8") from None
        except json.JSONDecodeError as exc:
            raise Unusable(
                f"malformed JSON ({exc.msg.removesuffix(' at')}, column {exc.colno}); fix or remove the line"
            ) from None
        return _record_candidate(record, rel, line, hashlib.sha256(raw).hexdigest(), rules)
    except Unusable as exc:
        return reject(str(exc), rel, line)


def _record_candidate(record: object, rel: str, line: int, sha: str, rules: BoilerplateRules) -> Candidate:
    if not isinstance(record, dict):
        raise Unusable("record is not a JSON object with 'id' and 'text'")
    article_id = _record_id(record.get("id"))
    text = record.get("text")
    if not isinstance(text, str):
        raise Unusable(f"record {article_id!r} has no 'text' string")
    meta = {}
    for key in ("title", "published", "source", "url"):
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise Unusable(f"record {article_id!r}: {key!r} must be a string")
        if value and value.strip():
            meta[key] = value.strip()
    check_text(text, rules.decoding)
    return Candidate(rel, line, sha, article_id, text, meta=meta, meta_from="record")


def _record_id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise Unusable("record has no 'id'; give every record a unique id")
    if not _SAFE_ID.fullmatch(value):
        raise Unusable(f"id {value[:80]!r} is not safe: use letters, digits and . _ : @ + - (up to 200)")
    return value


def _read_csv(
    path: Path, rel: str, settings: Settings, rules: BoilerplateRules
) -> Iterator[Candidate | Reject]:
    # The csv module's field limit is process-wide; raising it to the article limit lets a long
    # article reach the length check (and its clear reason) instead of a csv.Error.
    csv.field_size_limit(max(csv.field_size_limit(), settings.max_article_chars * _BYTES_PER_CHAR))
    for line, row in _csv_rows(path, rel, required=("id", "text")):
        if isinstance(row, Reject):
            yield row
            continue
        try:
            record = {k: v for k, v in row.items() if k in RECORD_FIELDS}
            yield _record_candidate(record, rel, line, row["_raw"], rules)
        except Unusable as exc:
            yield reject(str(exc), rel, line)


class _LineTap:
    """Iterates a file's lines for csv.reader and keeps the raw lines of the current record."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.source = iter(lines)
        self.taken: list[str] = []

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self.source)
        self.taken.append(line)
        return line


def _csv_rows(
    path: Path, rel: str, required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str] | Reject]]:
    """Rows as dicts (plus "_raw": sha256 of the record's bytes), or a Reject per malformed row."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        tap = _LineTap(handle)
        reader = csv.reader(tap, strict=True)
        header = [h.strip() for h in next(reader, [])]
        missing = [name for name in required if name not in header]
        if missing:
            raise InputError(
                f"CSV header lacks column(s) {', '.join(missing)}; the first row must name the columns",
                path=rel,
                line=1,
            )
        while True:
            line, tap.taken = reader.line_num + 1, []
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield (
                    line,
                    reject(
                        f"malformed CSV row ({exc}); fix its quoting or split an over-long field", rel, line
                    ),
                )
                continue
            if fields:  # a blank line is not a record
                yield line, _csv_row(header, fields, tap.taken, rel, line)


def _csv_row(
    header: list[str], fields: list[str], raw: list[str], rel: str, line: int
) -> dict[str, str] | Reject:
    if len(fields) != len(header):
        return reject(f"row has {len(fields)} fields, the header has {len(header)}; fix the row", rel, line)
    if any(_SURROGATE.search(value) for value in fields):
        return reject("row is not valid UTF-8; re-save the file as UTF-8", rel, line)
    row = dict(zip(header, fields, strict=True))
    row["_raw"] = hashlib.sha256("".join(raw).encode("utf-8", "surrogateescape")).hexdigest()
    return row
