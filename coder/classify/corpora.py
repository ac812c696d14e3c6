"""Readers for the labelled corpora and their mapping onto our six event types.

The corpora (PLOVER GSR, ConfliBERT cameo_class and SATP, RAMS) are read in
place from a folder given by the caller and never copied. Every mapping
decision lives in ``seeds/corpora/label_mapping.json`` with a "why"; this
module only applies it. Held-out splits are deterministic: a corpus's own test
split where it has one, otherwise a stratified share chosen by a seeded hash.
A second, *sealed* split (``SealedSplit``, ``seeds/corpora/sealed_split.json``) is carved
from the training portions by a hash of each record id with its own salt: it was cut after the
rules, mapping and thresholds were written, and nobody reads its errors, so its figures are a
test that no design decision has seen.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from coder.config import PROJECT_ROOT
from coder.errors import DataFileError, InputError
from coder.records import EVENT_TYPES, MODALITIES
from coder.schema import check_data_file

TRAIN = "train"
HELDOUT = "heldout"
SEALED = "sealed"
DROP = "drop"
REFINE_PREFIX = "refine:"
# SATP incidents run to several sentences; the first names the incident, the rest add detail.
_FIRST_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")
_SATP_MAX_WORDS = 60


@dataclass(frozen=True)
class LabelledText:
    """One training or held-out sentence with its mapped type and where it came from."""

    text: str
    event_type: str
    source: str  # corpus name, or "own" for the hand-written sentences
    split: str  # TRAIN, HELDOUT or SEALED
    origin: str  # corpus record id, unique within the source
    rule: str  # the mapping key (and refinement) that produced the label
    # How the sentence frames its event, as in the gold files; None (corpus records) = asserted.
    # The model learns event_type alone; modality only changes how a held-out copy is scored.
    modality: str | None = None


@dataclass(frozen=True)
class RawItem:
    """A corpus record before mapping: its text, label keys (most specific first) and split hint."""

    text: str
    keys: tuple[str, ...]
    origin: str
    split: str | None  # None: assign by the seeded stratified share


@dataclass(frozen=True)
class _Entry:
    key: str
    to: str
    otherwise: str | None


class LabelMapping:
    """The label mapping data file, compiled: corpus keys -> type, drop, or keyword refinement."""

    def __init__(self, data: dict[str, Any], path: Path | None = None) -> None:
        self.path = path
        self.version: str = data["version"]
        self.keyword_sets = {
            name: tuple(re.compile(p, re.IGNORECASE) for p in spec["patterns"])
            for name, spec in data["keyword_sets"].items()
        }
        self.refinements: dict[str, dict[str, Any]] = data["refinements"]
        self.guard_sets: tuple[str, ...] = tuple(data["none_guard"]["sets"])
        self.corpora: dict[str, dict[str, Any]] = data["corpora"]
        self._entries = {
            name: [_Entry(e["key"], e["to"], e.get("otherwise")) for e in spec["entries"]]
            for name, spec in data["corpora"].items()
        }

    @classmethod
    def load(cls, path: Path) -> LabelMapping:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataFileError(f"cannot read label mapping: {exc}", path=str(path)) from exc
        try:
            mapping = cls(data, path)
        except (KeyError, TypeError, re.error) as exc:
            raise DataFileError(f"malformed label mapping: {exc!r}", path=str(path)) from exc
        mapping.check()
        return mapping

    def check(self) -> None:
        """Every target and refinement named in an entry must exist."""
        for corpus, entries in self._entries.items():
            for entry in entries:
                targets = [entry.to, entry.otherwise or DROP]
                for target in targets:
                    self._check_target(corpus, entry.key, target)

    def _check_target(self, corpus: str, key: str, target: str) -> None:
        if target.startswith(REFINE_PREFIX):
            name = target.removeprefix(REFINE_PREFIX)
            spec = self.refinements.get(name)
            if spec is None or any(s not in self.keyword_sets for s in spec["order"]):
                raise DataFileError(
                    f"{corpus} entry {key!r}: unknown refinement {name!r}", path=str(self.path)
                )
        elif target != DROP and target not in EVENT_TYPES:
            raise DataFileError(f"{corpus} entry {key!r}: unknown target {target!r}", path=str(self.path))

    def heldout_share(self, corpus: str) -> float:
        return float(self.corpora[corpus].get("heldout_share", 0.25))

    def matches(self, set_name: str, text: str) -> bool:
        return any(p.search(text) for p in self.keyword_sets[set_name])

    def map(self, corpus: str, keys: Iterable[str], text: str) -> tuple[str, str]:
        """(event type or "drop", rule that decided it) for a record's keys, most specific first."""
        entry = self._lookup(corpus, tuple(keys))
        if entry is None:
            return DROP, f"{corpus}:unmapped"
        label, how = self._apply(entry, text)
        if label == "none" and any(self.matches(s, text) for s in self.guard_sets):
            return DROP, f"{corpus}:{entry.key}:none_guard"
        return label, f"{corpus}:{entry.key}{how}"

    def _lookup(self, corpus: str, keys: tuple[str, ...]) -> _Entry | None:
        by_key = {e.key: e for e in self._entries.get(corpus, [])}
        for key in keys:
            if key in by_key:
                return by_key[key]
        return by_key.get("*")

    def _apply(self, entry: _Entry, text: str) -> tuple[str, str]:
        if not entry.to.startswith(REFINE_PREFIX):
            return entry.to, ""
        name = entry.to.removeprefix(REFINE_PREFIX)
        spec = self.refinements[name]
        for set_name in spec["order"]:
            if self.matches(set_name, text):
                return self._refined(set_name, text), f"->{set_name}"
        return entry.otherwise or spec["otherwise"], "->otherwise"

    def _refined(self, set_name: str, text: str) -> str:
        # The arms set names equipment; whether it moved between parties is the exclusion's and the
        # transfer set's question: named weapons that did not visibly change hands are not guessed.
        if set_name == "arms":
            if self.matches("arms_exclusion", text):
                return "none"
            return "arms_transfer" if self.matches("transfer", text) else DROP
        if set_name == "speech":
            return "statement"
        return set_name


def read_plover(corpora_dir: Path) -> Iterator[RawItem]:
    path = corpora_dir / "plover_gsr" / "PLOVER_GSR_CAMEO.json"
    for record in _read_json(path):
        text = record.get("text")
        if not text:
            continue
        event, mode = record.get("event", ""), record.get("mode") or ""
        keys = (f"{event}/{mode}", event) if mode else (event,)
        yield RawItem(text.strip(), keys, record["id"], None)


def read_conflibert(corpora_dir: Path) -> Iterator[RawItem]:
    folder = corpora_dir / "conflibert" / "cameo_class"
    for split, name in ((TRAIN, "train.tsv"), (HELDOUT, "test.tsv")):
        for line_no, row in _read_tsv(folder / name):
            if len(row) >= 2 and row[0].strip():
                yield RawItem(row[0].strip(), (row[1].strip(),), f"{name}:{line_no}", split)


def read_satp(corpora_dir: Path) -> Iterator[RawItem]:
    folder = corpora_dir / "conflibert" / "satp_relevant"
    for split, name in ((TRAIN, "train.tsv"), (TRAIN, "dev.tsv"), (HELDOUT, "test.tsv")):
        for line_no, row in _read_tsv(folder / name):
            if len(row) == 5 and row[0].strip():
                yield RawItem(
                    first_sentence(row[0]), ("".join(f.strip() for f in row[1:]),), f"{name}:{line_no}", split
                )


def first_sentence(text: str) -> str:
    """The first sentence of an incident description, capped for unpunctuated ones."""
    head = _FIRST_SENTENCE.split(text.strip(), maxsplit=1)[0]
    words = head.split()
    return " ".join(words[:_SATP_MAX_WORDS])


def read_rams(corpora_dir: Path) -> Iterator[RawItem]:
    path = corpora_dir / "rams" / "dev.jsonlines"
    for line_no, record in _read_jsonl(path):
        start, _end, types = record["evt_triggers"][0]
        sentence = _sentence_of(record["sentences"], start)
        aida = types[0][0]
        yield RawItem(detokenize(sentence), _prefixes(aida), record.get("doc_key", f"line{line_no}"), None)


def _sentence_of(sentences: list[list[str]], token: int) -> list[str]:
    offset = 0
    for sentence in sentences:
        if offset <= token < offset + len(sentence):
            return sentence
        offset += len(sentence)
    raise InputError(f"trigger token {token} outside its document")


def _prefixes(aida: str) -> tuple[str, ...]:
    parts = aida.split(".")
    return (*(".".join(parts[:n]) for n in range(len(parts), 0, -1)), "")


_DETOK = (
    (re.compile(r" ([.,;:!?%)\]}’”]|'s\b|n't\b|'re\b|'ve\b|'ll\b|'d\b)"), r"\1"),
    (re.compile(r"([(\[{“‘$]) "), r"\1"),
    (re.compile(r" ([-–/]) "), r"\1"),
)


def detokenize(tokens: list[str]) -> str:
    """Rejoin RAMS tokens into plain text, close to how the news wrote it."""
    text = " ".join(tokens)
    for pattern, repl in _DETOK:
        text = pattern.sub(repl, text)
    return text


READERS = {
    "plover_gsr": read_plover,
    "conflibert_cameo": read_conflibert,
    "satp": read_satp,
    "rams": read_rams,
}


def load_corpora(corpora_dir: Path, mapping: LabelMapping, *, seed: int = 13) -> list[LabelledText]:
    """Every mapped sentence of every corpus, with its split; dropped records are left out."""
    if not corpora_dir.is_dir():
        raise InputError("corpora folder not found", path=str(corpora_dir))
    items: list[LabelledText] = []
    for corpus, reader in READERS.items():
        mapped = [_map_item(corpus, raw, mapping) for raw in reader(corpora_dir)]
        kept = [item for item in mapped if item.event_type != DROP]
        items.extend(assign_splits(kept, mapping.heldout_share(corpus), seed=seed))
    return items


def _map_item(corpus: str, raw: RawItem, mapping: LabelMapping) -> LabelledText:
    label, rule = mapping.map(corpus, raw.keys, raw.text)
    return LabelledText(raw.text, label, corpus, raw.split or "", raw.origin, rule)


def assign_splits(items: list[LabelledText], share: float, *, seed: int) -> list[LabelledText]:
    """Give items without a split a stratified, seeded held-out share (per label, by hash order)."""
    by_label: dict[str, list[LabelledText]] = defaultdict(list)
    for item in items:
        if not item.split:
            by_label[item.event_type].append(item)
    heldout: set[tuple[str, str]] = set()
    for group in by_label.values():
        ranked = sorted(group, key=lambda it: _rank(seed, it.source, it.origin))
        heldout.update((it.source, it.origin) for it in ranked[: round(len(ranked) * share)])
    return [
        replace(it, split=HELDOUT if (it.source, it.origin) in heldout else TRAIN) if not it.split else it
        for it in items
    ]


def _rank(seed: int, source: str, origin: str) -> str:
    return hashlib.sha256(f"{seed}:{source}:{origin}".encode()).hexdigest()


SEALED_SCHEMA = PROJECT_ROOT / "schemas" / "sealed_split.schema.json"


@dataclass(frozen=True)
class SealedSplit:
    """The sealed split's data file: a salt, a share and the corpora it is carved from.

    A training record is sealed when the hash of (salt, corpus, record id), read as a number in
    [0, 1), is below ``share``: membership depends on the record alone (adding records elsewhere
    moves nothing), and no one chose which records fall in it.
    """

    version: str
    salt: str
    share: float
    sources: frozenset[str]

    @classmethod
    def load(cls, path: Path) -> SealedSplit:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataFileError(f"cannot read sealed split: {exc}", path=str(path)) from exc
        check_data_file(data, SEALED_SCHEMA, str(path))  # a salt, 0 < share < 0.5, sources and a why
        return cls(data["version"], data["salt"], float(data["share"]), frozenset(data["sources"]))

    def seal(self, items: list[LabelledText]) -> list[LabelledText]:
        """The same items, with the training records that fall in the sealed share marked SEALED."""
        return [replace(it, split=SEALED) if self.is_sealed(it) else it for it in items]

    def is_sealed(self, item: LabelledText) -> bool:
        if item.split != TRAIN or item.source not in self.sources:
            return False
        digest = hashlib.sha256(f"{self.salt}:{item.source}:{item.origin}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.share


def read_own_sentences(path: Path) -> list[LabelledText]:
    """Hand-written labelled sentences ({"text","event_type","why"} and an optional "modality" a
    line); splits assigned later."""
    items = []
    for line_no, record in _read_jsonl(path):
        text, label, modality = record.get("text"), record.get("event_type"), record.get("modality")
        if not isinstance(text, str) or not text.strip() or label not in EVENT_TYPES or not record.get("why"):
            raise DataFileError(
                "needs non-empty text, a known event_type and a why", path=str(path), line=line_no
            )
        if modality is not None and modality not in MODALITIES:
            raise DataFileError(f"unknown modality {modality!r}", path=str(path), line=line_no)
        items.append(
            LabelledText(
                text.strip(), label, "own", "", f"{path.name}:{line_no}", f"own:{path.name}", modality
            )
        )
    return items


def _read_json(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read corpus file: {exc}", path=str(path)) from exc
    if not isinstance(data, list):
        raise InputError("expected a JSON list of records", path=str(path))
    return data


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc}", path=str(path)) from exc
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", path=str(path), line=line_no) from exc
        if not isinstance(record, dict):
            raise InputError("expected a JSON object", path=str(path), line=line_no)
        yield line_no, record


def _read_tsv(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            yield from enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1)
    except OSError as exc:
        raise InputError(f"cannot read corpus file: {exc}", path=str(path)) from exc
