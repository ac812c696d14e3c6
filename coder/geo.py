"""Toponyms -> places, offline, through a ``Gazetteer`` interface (the index: ``scripts/build_gazetteer.py``).

Names match on a normalised key (no diacritics, Arabic article or final ``h``), failing that on a looser
spelling key: Fallujah / Falluja / Al Fallujah meet. Every rule is data in ``seeds/places/rules.json``.
ACLED precision: 1 the named town, 2 near / part of it, 3 province (at its capital) or country only.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from spacy.lang.en.stop_words import STOP_WORDS  # "More", "Nor", "Same" also name villages somewhere

from coder.errors import DataFileError
from coder.records import Article, Place, Sentence

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span

# Article tokens dropped from keys: "Al Fallujah" == "Fallujah", "Deir ez Zor" == "Deir Zor".
_ARTICLES = frozenset({"al", "el", "ar", "as", "ad", "an", "at", "az", "ash", "ath", "adh", "ed", "es", "ez"})
_APOSTROPHES = re.compile("['’‘`ʿʾ´]")  # transliteration marks vanish: "Dar'a" == "Dara"
_LOOSE_SUBS = (("ou", "u"), ("oo", "u"), ("ee", "i"), ("q", "k"), ("ei", "ay"), ("dh", "d"), ("gh", "g"))
INDEX_FILES = ("places.parquet", "names.parquet", "meta.json")
CURATED_FILES = ("supplements.jsonl", "aliases.jsonl")
_REPEATED = ["kind", "country", "iso3", "admin1", "seat"]  # dictionary-decoded: a fraction of the memory


def normalise_name(text: str) -> str:
    """The exact matching key of a place name."""
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c)
    )
    tokens = re.sub(r"[\W_]+", " ", _APOSTROPHES.sub("", folded)).split()
    if len(tokens) > 1:
        tokens = [t for t in tokens if t not in _ARTICLES] or tokens
    # Transliterations differ by a final h ("Fallujah"/"Falluja"); dropping it merges them.
    return " ".join(re.sub(r"([aeiou])h$", r"\1", t) if len(t) > 3 else t for t in tokens)


def loose_key(key: str) -> str:
    """A spelling-tolerant key: doubled letters, ou/u, q/k and similar variants collapse."""
    loose = re.sub(r"(\w)\1+", r"\1", key)
    for old, new in _LOOSE_SUBS:
        loose = loose.replace(old, new)
    return "~" + loose.replace(" ", "")


def key_hash(key: str) -> int:
    """A stable 48-bit hash (``hash`` is salted per process): small under delta encoding, and with ~1.1M
    keys an unknown name hits one by accident about 4 times in a billion lookups."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=6).digest(), "little")


@dataclass(frozen=True)
class PlaceCandidate:
    """One gazetteer entry a name may refer to (field order = the index's column order)."""

    gazetteer_id: str
    name: str
    kind: str  # "country", "admin1", "city" or "local" (a curated neighbourhood or village)
    country: str | None
    iso3: str | None
    admin1: str | None
    latitude: float
    longitude: float
    population: int
    importance: int  # country 5, national capital 4, admin1 3, provincial seat 2, other 1
    seat: str | None = None  # for a country or admin1, its capital, whose coordinates it carries


@dataclass(frozen=True)
class GeoRules:
    """The data of ``seeds/places/rules.json``."""

    version: str
    entity_labels: frozenset[str]
    relative_before: tuple[tuple[str, re.Pattern[str]], ...]  # (cue id, pattern)
    relative_after: tuple[tuple[str, re.Pattern[str]], ...]
    province_words: frozenset[str]
    settlement_words: frozenset[str]
    stop_keys: frozenset[str]
    demonyms: dict[str, str]
    context_min_population: int
    max_ngram: int
    min_name_length: int
    inherit_min_precision: int
    country_only: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> GeoRules:
        data = _read_json(path)
        try:
            return cls(
                version=str(data["version"]), entity_labels=frozenset(data["entity_labels"]),
                relative_before=_cues(data["relative_before"]), relative_after=_cues(data["relative_after"]),
                province_words=frozenset(w.casefold() for w in data["province_words"]),
                settlement_words=frozenset(w.casefold() for w in data["settlement_words"]),
                stop_keys=frozenset(normalise_name(n) for n in [*data["stop_names"], *STOP_WORDS]),
                demonyms={normalise_name(k): v for k, v in data["demonyms"].items()},
                context_min_population=int(data["context_min_population"]), max_ngram=int(data["max_ngram"]),
                min_name_length=int(data["min_name_length"]),
                inherit_min_precision=int(data["inherit_min_precision"]),
                country_only=dict(data["country_only"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise DataFileError(f"malformed place rules ({exc!r})", path=str(path)) from None


def _cues(items: list[dict[str, str]]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((c["id"], re.compile(c["pattern"], re.IGNORECASE)) for c in items)


class Gazetteer(Protocol):
    """What the coder needs from a gazetteer: candidates for a name, a country's entry, version, rules."""

    version: str
    rules: GeoRules

    def lookup(self, name: str, *, country_iso3: str | None = None) -> list[PlaceCandidate]: ...

    def country(self, iso3: str) -> PlaceCandidate | None: ...


def rank_candidates(cands: list[PlaceCandidate], country_iso3: str | None) -> list[PlaceCandidate]:
    """Country in context first, then administrative importance, then population (then id, for determinism).

    A province listed beside its own capital under the same name ("Kirkuk", "Idlib") ranks below the town:
    news means the town unless it says "province" (``resolve_place`` reads that cue).
    """
    unique = list({c.gazetteer_id: c for c in cands}.values())
    seats = {(c.iso3, c.admin1, c.name) for c in unique if c.kind == "city"}

    def rank(c: PlaceCandidate) -> tuple[bool, int, int, str]:
        importance = 1 if c.kind == "admin1" and (c.iso3, c.admin1, c.seat) in seats else c.importance
        return c.iso3 != country_iso3, -importance, -c.population, c.gazetteer_id

    return sorted(unique, key=rank)


def inputs_digest(places_dir: Path) -> str:
    """Hash of the curated files built into the index, so a stale index is caught at load."""
    digest = hashlib.sha256()
    for path in (places_dir / name for name in CURATED_FILES):
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:16]


class OfflineGazetteer:
    """Place columns (Arrow) and sorted name-key hashes -> rows (NumPy): binary search, and a candidate is
    built only on a hit, so loading is quick and memory a few tens of megabytes."""

    max_candidates = 25

    def __init__(self, columns: list[Any], hashes: np.ndarray, rows: np.ndarray, rules: GeoRules, built: str):
        self._columns, self._hashes, self._rows = columns, hashes, rows
        rows_of_countries = pc.indices_nonzero(pc.equal(columns[2], "country")).to_pylist()
        self._countries = {columns[4][i].as_py(): i for i in rows_of_countries}
        self.rules = rules
        self.version = f"{built}+{rules.version}"

    @classmethod
    def load(cls, gazetteer_dir: Path, places_dir: Path) -> OfflineGazetteer:
        missing = [name for name in INDEX_FILES if not (gazetteer_dir / name).is_file()]
        if missing:
            raise DataFileError(
                f"gazetteer index missing ({', '.join(missing)}); build it with `make gazetteer` "
                "(scripts/build_gazetteer.py)", path=str(gazetteer_dir),
            )  # fmt: skip
        meta = _read_json(gazetteer_dir / "meta.json")
        if meta.get("inputs_sha256") != inputs_digest(places_dir):
            raise DataFileError(
                f"gazetteer index was built from other curated files than {places_dir}; rebuild it with "
                "`make gazetteer` (scripts/build_gazetteer.py)", path=str(gazetteer_dir),
            )  # fmt: skip
        try:
            places = pq.read_table(
                gazetteer_dir / "places.parquet", read_dictionary=_REPEATED
            ).combine_chunks()
            names = pq.read_table(gazetteer_dir / "names.parquet").combine_chunks()
            columns = [places[f.name].chunk(0) for f in fields(PlaceCandidate)]
            hashes, rows = names["key"].to_numpy(), names["row"].to_numpy()
        except (OSError, ValueError, KeyError) as exc:
            raise DataFileError(f"gazetteer index unreadable ({exc!r})", path=str(gazetteer_dir)) from None
        return cls(columns, hashes, rows, GeoRules.load(places_dir / "rules.json"), str(meta.get("version")))

    def lookup(self, name: str, *, country_iso3: str | None = None) -> list[PlaceCandidate]:
        exact = normalise_name(name)
        found = (self._find(exact) or self._find(loose_key(exact))) if exact else []
        return rank_candidates(found, country_iso3)[: self.max_candidates]

    def country(self, iso3: str) -> PlaceCandidate | None:
        row = self._countries.get(iso3)
        return None if row is None else self._candidate(row)

    def _find(self, key: str) -> list[PlaceCandidate]:
        target = key_hash(key)
        lo, hi = np.searchsorted(self._hashes, [target, target + 1])
        return [self._candidate(int(r)) for r in self._rows[lo:hi]]

    def _candidate(self, row: int) -> PlaceCandidate:
        return PlaceCandidate(*(column[row].as_py() for column in self._columns))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataFileError(f"cannot read ({exc})", path=str(path)) from None
    return data if isinstance(data, dict) else {}  # a non-object fails later as "malformed", with the path


# --- toponyms without a parse: the article context, and the fallback of resolve_place ---

_WORD_RE = re.compile(r"\w[\w'’-]*")
_CAP = r"(?:[A-Z]|(?:al|el|ad|ar|as|an|az|ash|ez)-[A-Z])[\w'’-]*"  # "Fallujah", "al-Qaim"
# Runs of capitalised words, lower-case articles allowed inside: "Deir ez Zor", "Balad Ruz", "Bab al-Hawa".
_RUN_RE = re.compile(rf"{_CAP}(?:[ -]+(?:(?:al|el|ad|ar|as|an|at|az|ez|ash|de|del|la|le|du)[ -]+)*{_CAP})*")


@dataclass(frozen=True)
class Mention:
    """A toponym and the place chosen for it (offsets into the article, or into the text searched)."""

    text: str
    start: int
    end: int
    place: PlaceCandidate
    candidates: tuple[PlaceCandidate, ...] = ()
    relative: str | None = None  # the id of the relative-phrase cue that fired, if any
    locative: bool = True  # the object of "in", "at", "near", ...


def find_toponyms(text: str, gazetteer: Gazetteer) -> list[Mention]:
    """Longest-first gazetteer matches of capitalised n-grams, left to right (no spaCy, so cheap)."""
    found = []
    for run in _RUN_RE.finditer(text):
        words = list(_WORD_RE.finditer(text, run.start(), run.end()))
        i = 0
        while i < len(words):
            hit, width = _longest_hit(text, words, i, gazetteer)
            found += [hit] if hit else []
            i += width
    return found


def _longest_hit(text: str, words: list[re.Match[str]], i: int, gz: Gazetteer) -> tuple[Mention | None, int]:
    rules = gz.rules
    for n in range(min(rules.max_ngram, len(words) - i), 0, -1):
        start = words[i].start()
        phrase = re.sub(r"['’]s$", "", text[start : words[i + n - 1].end()])
        key = normalise_name(phrase)
        if len(key) < rules.min_name_length or key in rules.stop_keys or key in rules.demonyms:
            continue
        if candidates := gz.lookup(phrase):
            return Mention(phrase, start, start + len(phrase), candidates[0], tuple(candidates)), n
    return None, 1


# --- the article's context ---


@dataclass(frozen=True)
class ArticleContext:
    """The article's dominant country and main place, for disambiguation and inheritance.

    ``main`` is the first mention of the most-mentioned town (else province) in the dominant country, in
    article offsets (-1 when it is in the title only).
    """

    country_iso3: str | None = None
    country_place: PlaceCandidate | None = None
    main: Mention | None = None
    mentions: tuple[tuple[str, int], ...] = ()  # (gazetteer id, count), most mentioned first


def article_context(article: Article, sentences: list[Sentence], gazetteer: Gazetteer) -> ArticleContext:
    """Toponyms of title + codable sentences by gazetteer matching; dominant country by votes; main place."""
    rules, hits, evidence = gazetteer.rules, [], []  # evidence: (article offset, iso3 or None)
    for offset, text in _context_texts(article, sentences):
        for hit in find_toponyms(text, gazetteer):
            hits.append(replace(hit, start=offset + hit.start if offset >= 0 else -1))
            evidence.append((offset + hit.start, _country_evidence(hit.place, rules)))
        # Demonyms ("Iraqi forces") are the commonest country evidence in conflict news.
        keys = [(w.start(), normalise_name(w.group())) for w in _WORD_RE.finditer(text)]
        evidence += [(offset + at, rules.demonyms.get(k) or rules.demonyms.get(k[:-1])) for at, k in keys]
    votes = Counter(iso3 for _, iso3 in sorted(evidence, key=lambda e: e[0]) if iso3)  # ties: first seen
    if not votes:
        return ArticleContext()
    return _main_place(votes.most_common(1)[0][0], hits, gazetteer)


def _context_texts(article: Article, sentences: list[Sentence]) -> list[tuple[int, str]]:
    title = [(-1, article.title)] if article.title else []
    codable = [(s.start_char, s.text) for s in sentences if s.boilerplate is None]
    return title + (codable or [(0, article.text)])


def _plausible(top: PlaceCandidate, context: ArticleContext, rules: GeoRules) -> bool:
    """A small village abroad, named in an article about another country, is more likely an unknown local."""
    return context.country_iso3 in (None, top.iso3) or _country_evidence(top, rules) is not None


def _country_evidence(top: PlaceCandidate, rules: GeoRules) -> str | None:
    """Only entries unlikely to be accidental matches (small villages called "Police") vote for a country."""
    if top.kind in ("country", "admin1", "local") or top.population >= rules.context_min_population:
        return top.iso3
    return None


def _main_place(iso3: str, hits: list[Mention], gazetteer: Gazetteer) -> ArticleContext:
    counts: Counter[str] = Counter()
    first: dict[str, Mention] = {}
    country_place = gazetteer.country(iso3)
    for hit in hits:
        top = rank_candidates(list(hit.candidates), iso3)[0]
        if top.iso3 == iso3 and top.kind != "country":
            counts[top.gazetteer_id] += 1
            first.setdefault(top.gazetteer_id, replace(hit, place=top, end=hit.start + len(hit.text)))
    ranked = sorted(counts, key=lambda g: (first[g].place.kind == "admin1", -counts[g]))
    main = first[ranked[0]] if ranked else None
    return ArticleContext(iso3, country_place, main, tuple((g, counts[g]) for g in ranked))


# --- the place of one sentence ---

_LOCATIVE = frozenset({"in", "at", "near", "outside", "inside", "into", "across", "around", "on", "of"})
# A neighbourhood is more specific than its town ("Baghdad's Shaab district"), a town than a province.
_LEVEL = {"local": 0, "city": 1, "admin1": 2, "country": 3}


def resolve_place(
    doc: Doc, sentence: Sentence, context: ArticleContext, gazetteer: Gazetteer
) -> Place | None:
    """The event's place: a toponym of the sentence (spaCy entities, else gazetteer matches) or the article's.

    Among several toponyms one in the article's country wins, then the most specific; a town that only
    locates another ("Balad Ruz, 70 km north-east of Baghdad") gives way to it; then "in X"; then the first.
    """
    rules = gazetteer.rules
    ents = [e for e in doc.ents if e.label_ in rules.entity_labels]
    mentions = [m for e in ents if (m := _mention(e, sentence, context, gazetteer))]
    if all(m.place.kind == "country" for m in mentions):  # spaCy often misses a town it has never seen
        mentions += _ngram_mentions(sentence, context, gazetteer)
    if not mentions:
        return _inherit(context, rules, "inherited from article")
    anchored = any(m.relative is None and m.place.kind in ("city", "local") for m in mentions)
    home = context.country_iso3

    def rank(m: Mention) -> tuple[bool, int, bool, bool]:
        return (
            home not in (None, m.place.iso3),
            _LEVEL[m.place.kind],
            bool(m.relative) and anchored,
            not m.locative,
        )

    best = min(mentions, key=rank)
    country_only = best.place.kind == "country" and rules.country_only["inherit_when_in_article_country"]
    if country_only and context.main is not None and context.main.place.iso3 == best.place.iso3:
        return _inherit(context, rules, "inherited from article (sentence names only the country)")
    return _to_place(best, rules)


def _mention(ent: Span, sentence: Sentence, context: ArticleContext, gazetteer: Gazetteer) -> Mention | None:
    rules, doc = gazetteer.rules, ent.doc
    # "X province", "province of X"
    around = [doc[i].lower_ for i in (ent.end, ent.start - 2) if 0 <= i < len(doc)]
    province = any(w in rules.province_words for w in around + [t.lower_ for t in ent])
    dropped = rules.province_words | rules.settlement_words | {"the", "'s", "’s"}
    kept = [t for t in ent if t.lower_ not in dropped]
    name = doc[kept[0].i : kept[-1].i + 1].text if kept else ""
    if not kept or normalise_name(name) in rules.stop_keys:
        return None
    candidates = gazetteer.lookup(name, country_iso3=context.country_iso3)
    if province:
        candidates = [c for c in candidates if c.kind == "admin1"] or candidates
    if not candidates or not _plausible(candidates[0], context, rules):
        return None
    cue = _relative_cue(sentence.text, ent.start_char, ent.end_char, rules)
    start = sentence.start_char + ent.start_char
    return Mention(ent.text, start, start + len(ent.text), candidates[0], (), cue, _is_locative(ent))


def _is_locative(ent: Span) -> bool:
    """Whether the mention is the object of a locative preposition ("in X", "in the city of X")."""
    doc, i = ent.doc, ent.start - 1
    while i > 0 and doc[i].lower_ in {"the", "city", "town", "village", "province", "capital", "of"}:
        if doc[i].lower_ == "of" and doc[i - 1].lower_ not in {"city", "town", "village", "province"}:
            return True
        i -= 1
    return i >= 0 and doc[i].lower_ in _LOCATIVE


def _relative_cue(text: str, start: int, end: int, rules: GeoRules) -> str | None:
    before, after = text[max(0, start - 80) : start], text[end : end + 40]
    hits = [cue for cue, pattern in rules.relative_before if pattern.search(before)]
    hits += [cue for cue, pattern in rules.relative_after if pattern.search(after)]
    return hits[0] if hits else None


def _ngram_mentions(sentence: Sentence, context: ArticleContext, gazetteer: Gazetteer) -> list[Mention]:
    """Gazetteer matches when spaCy found no town: in the article's country, or unlikely to be accidents."""
    found = []
    for hit in find_toponyms(sentence.text, gazetteer):
        top = rank_candidates(list(hit.candidates), context.country_iso3)[0]
        if top.iso3 == context.country_iso3 or _country_evidence(top, gazetteer.rules):  # see _plausible
            cue = _relative_cue(sentence.text, hit.start, hit.end, gazetteer.rules)
            at = sentence.start_char + hit.start
            found.append(replace(hit, start=at, end=at + len(hit.text), place=top, relative=cue))
    return found


def _to_place(m: Mention, rules: GeoRules) -> Place:
    p, where = m.place, (m.place.name, m.place.admin1)
    if p.kind == "country":
        where, precision, why = (p.name, None), int(rules.country_only["precision"]), "country only (capital)"
    elif p.kind == "admin1":
        where, precision, why = (p.seat or p.name, p.admin1), 3, "province only (provincial capital)"
    else:
        precision = 2 if m.relative else 1
        why = f"near named place ({m.relative})" if m.relative else "named in sentence"
    return Place(
        location=where[0], admin1=where[1], country=p.country, iso3=p.iso3, latitude=p.latitude,
        longitude=p.longitude, geo_precision=precision, geo_reason=why, place_text=m.text,
        start_char=m.start if m.start >= 0 else None, end_char=m.end if m.start >= 0 else None,
        gazetteer_id=p.gazetteer_id,
    )  # fmt: skip


def _inherit(context: ArticleContext, rules: GeoRules, reason: str) -> Place | None:
    """The article's main place (else its country), never more precise than ``inherit_min_precision``."""
    mention, country = context.main, context.country_place
    if mention is None and country is not None:
        mention = Mention(country.name, -1, -1, country)
    if mention is None:
        return None
    place = _to_place(replace(mention, relative=None), rules)
    why = reason if mention.place.kind in ("city", "local") else f"{reason}; {place.geo_reason}"
    return replace(place, geo_precision=max(place.geo_precision, rules.inherit_min_precision), geo_reason=why)
