"""The actor dictionary: aliases from ``seeds/actors/`` -> canonical actors (validated against
``schemas/actors.schema.json``); conventions in ``seeds/actors/README.md``."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import jsonschema

from coder.config import PROJECT_ROOT
from coder.errors import DataFileError
from coder.records import Article

if TYPE_CHECKING:
    from spacy.tokens import Doc

SCHEMA_PATH = PROJECT_ROOT / "schemas" / "actors.schema.json"
# Abbreviations with inner dots ("U.S.", "U.N.") stay one token; everything else splits on non-letters.
_TOKEN = re.compile(r"(?:[^\W_]\.){2,}|[^\W_]+")
_DROPPED = frozenset({"the"})  # "the" is optional in names ("(the) Islamic State of Iraq and the Levant")
_HINT_CACHE_SIZE = 256
_FIND_CACHE_SIZE = 50_000  # phrases recur: the parse rules ask about the same head several times
# Country names that take "the" after "of" in ACLED actor names.
_THE_COUNTRIES = ("United ", "Central African", "Democratic Republic", "Republic of", "Philippines")


@dataclass(frozen=True)
class ActorEntry:
    """One dictionary entry; a ``name`` containing ``{country}`` is generic until a country fills it."""

    id: str
    name: str
    iso3: str | None
    inter: str | None  # None for media outlets, which are attribution, not actors
    kind: str  # group | organization | person | generic | state | media
    aliases: tuple[str, ...]
    why: str
    generic_name: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    bare_country: bool = False  # a bare country form ("Iraq", "Washington") standing for its government

    @property
    def is_generic(self) -> bool:
        return "{country}" in self.name

    def valid_on(self, on: date | None) -> bool:
        if on is None:
            return True
        return (self.valid_from or date.min) <= on <= (self.valid_to or date.max)

    def for_country(self, iso3: str | None, country: str | None) -> ActorEntry:
        """The generic entry made concrete for a country, or its country-less name when none is known."""
        if not self.is_generic:
            return self
        if iso3 is None or country is None:
            return replace(self, name=self.generic_name or self.name.replace("{country}", "").strip(" ()"))
        return replace(self, name=_country_name(self.name, country), iso3=iso3)


def _country_name(template: str, country: str) -> str:
    # ACLED writes "Military Forces of the United States" but "Civilians (United States)".
    the = "the " if country.startswith(_THE_COUNTRIES) else ""
    return template.replace("of {country}", f"of {the}{{country}}").format(country=country)


@dataclass(frozen=True)
class Hit:
    """A dictionary match inside a text: the entry and the matched character range of that text."""

    entry: ActorEntry
    start: int
    end: int


class _Tokens(NamedTuple):
    """The word tokens of a text as parallel lists: built by comprehensions, not one object per word
    (an article has thousands)."""

    norms: list[str]
    starts: list[int]
    ends: list[int]
    capital: list[bool]
    upper: list[bool]


def _tokens(text: str) -> _Tokens:
    text = text.replace("\u2019", "'")
    found = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    norms = [word.lower().rstrip(".") for word, _, _ in found]
    keep = [
        i
        for i, norm in enumerate(norms)
        if norm not in _DROPPED and not (norm == "s" and found[i][1] > 0 and text[found[i][1] - 1] == "'")
    ]
    return _Tokens(
        [norms[i] for i in keep],
        [found[i][1] for i in keep],
        [found[i][2] for i in keep],
        [found[i][0][0].isupper() for i in keep],
        [found[i][0].isupper() for i in keep],
    )


def normalise(text: str) -> tuple[str, ...]:
    """The lookup key of a name: lower-case word tokens, without 'the' and possessive 's."""
    return tuple(_tokens(text).norms)


@dataclass
class ActorDictionary:
    """Aliases -> entries, the country forms used for country hints, media outlets and the policy."""

    entries: tuple[ActorEntry, ...]
    countries: dict[str, str]  # iso3 -> name
    country_forms: dict[tuple[str, ...], str]  # normalised form -> iso3
    policy: dict[str, Any]
    version: str
    _index: dict[tuple[str, ...], list[ActorEntry]] = field(default_factory=dict, repr=False)
    _hints: dict[str, str | None] = field(default_factory=dict, repr=False)
    _found: dict[tuple[str, date | None], Hit | None] = field(default_factory=dict, repr=False)
    # First word of an alias -> the alias lengths (in words) starting with it, longest first: a scan tries
    # only the n-grams that can match, in place of every n-gram up to the longest alias.
    _widths: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    _country_widths: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    # One-word keys written only as acronyms ("CAR", "PKK"): they match upper-case text only, so that "a car
    # bomb" does not name the Central African Republic.
    _acronyms: frozenset[tuple[str, ...]] = field(default_factory=frozenset, repr=False)
    word_sets: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)  # the policy's word lists

    def __post_init__(self) -> None:
        for entry in self.entries:
            for alias in entry.aliases:
                bucket = self._index.setdefault(normalise(alias), [])
                if entry not in bucket:
                    bucket.append(entry)
        self._widths = _widths_by_first_word(self._index)
        self._acronyms = _acronym_keys(a for e in self.entries for a in e.aliases)
        self.word_sets = {
            k: frozenset(v)
            for k, v in self.policy.items()
            if isinstance(v, list) and all(isinstance(w, str) for w in v)
        }
        # Country hints count forms of up to three words (see _count_countries).
        self._country_widths = _widths_by_first_word(k for k in self.country_forms if len(k) <= 3)

    @classmethod
    def load(cls, actors_dir: Path, schema_path: Path = SCHEMA_PATH) -> ActorDictionary:
        """Read and validate every file of ``actors_dir``; a bad line raises DataFileError (file:line)."""
        defs = _read_json(schema_path)["$defs"]
        policy = _validated(
            _read_json(actors_dir / "policy.json"), defs, "policy", actors_dir / "policy.json"
        )
        countries = [r for r, _ in _records(actors_dir / "countries.jsonl", defs, "country")]
        templates = [r for r, _ in _records(actors_dir / "state_templates.jsonl", defs, "state_template")]
        path = actors_dir / "actors.jsonl"
        named = [_entry(r, path, n) for r, n in _records(path, defs, "actor_entry")]
        media = [_media(r) for r, _ in _records(actors_dir / "media_outlets.jsonl", defs, "media_outlet")]
        _check_unique_ids(named, path)
        return cls(
            entries=tuple(named) + tuple(_state_entries(countries, templates)) + tuple(media),
            countries={c["iso3"]: c["name"] for c in countries},
            country_forms={normalise(f): c["iso3"] for c in countries for f in c["forms"]},
            policy=policy,
            version=f"{policy['version']}+{_digest(actors_dir, schema_path)}",
        )

    def lookup(self, text: str, *, on: date | None = None) -> ActorEntry | None:
        """The entry a phrase names (best match inside it), valid on ``on``; None when nothing matches."""
        hit = self.find(text, on=on)
        return hit.entry if hit else None

    def find(self, text: str, *, on: date | None = None) -> Hit | None:
        """Best match in ``text``: named beats generic beats bare country, then longer, then leftmost.

        A generic winner ("security forces") is made concrete by a country named in the same phrase
        ("security forces in Iraq", "the government of Liberia").
        """
        key = (text, on)
        if key not in self._found:
            if len(self._found) >= _FIND_CACHE_SIZE:
                self._found.clear()
            self._found[key] = self._best(text, on)
        return self._found[key]

    def _best(self, text: str, on: date | None) -> Hit | None:
        hits = self._hits(_tokens(text), on)
        if not hits:
            return None
        best = min(hits, key=lambda h: (-tier(h[0].entry), -(h[0].end - h[0].start), h[0].start))[0]
        if best.entry.is_generic:
            country = next((h[0].entry.iso3 for h in hits if h[0].entry.bare_country), None)
            if country is not None:
                best = replace(best, entry=best.entry.for_country(country, self.countries[country]))
        return best

    def _hits(self, tokens: _Tokens, on: date | None) -> list[tuple[Hit, int]]:
        """Every alias match as (hit, first token index), longer matches first, then left to right."""
        found, norms = [], tokens.norms
        for i, n in _candidate_ngrams(norms, self._widths):
            if n == 1 and not tokens.upper[i] and (norms[i],) in self._acronyms:
                continue
            entry = self._pick(tuple(norms[i : i + n]), on)
            if entry is not None:
                found.append((n, i, Hit(entry, tokens.starts[i], tokens.ends[i + n - 1])))
        return [(hit, i) for _, i, hit in sorted(found, key=lambda f: (-f[0], f[1]))]

    def _pick(self, key: tuple[str, ...], on: date | None) -> ActorEntry | None:
        valid = [e for e in self._index.get(key, ()) if e.valid_on(on)]
        # Without a date the current meaning wins: open-ended entries first, then the latest start.
        valid.sort(key=lambda e: (e.valid_to is not None, -(e.valid_from or date.min).toordinal()))
        return valid[0] if valid else None

    def inter_code(self, inter: str | None) -> int | None:
        return None if inter is None else int(self.policy["inter_codes"][inter])

    def country_hint(self, article: Article) -> str | None:
        """The article's dominant country (most mentioned country form, title counted), or None."""
        if article.article_id not in self._hints:
            if len(self._hints) >= _HINT_CACHE_SIZE:
                self._hints.clear()
            self._hints[article.article_id] = self._count_countries(f"{article.title or ''}\n{article.text}")
        return self._hints[article.article_id]

    def _count_countries(self, text: str) -> str | None:
        norms, _, _, capital, upper = _tokens(text)
        counts: Counter[str] = Counter()
        for i, n in _candidate_ngrams(norms, self._country_widths):
            iso3 = self.country_forms.get(tuple(norms[i : i + n]))
            if iso3 is not None and (
                n > 1 or (capital[i] and (upper[i] or (norms[i],) not in self._acronyms))
            ):
                counts[iso3] += 1
        if not counts:
            return None
        iso3, top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        return iso3 if top >= self.policy["country_hint_min_mentions"] else None

    def nearest_named(self, text: str, *, on: date | None, person: bool) -> Hit | None:
        """The last named (capitalised, not generic, not a bare country) match in ``text``: an antecedent."""
        tokens = _tokens(text)
        hits = [(h, i) for h, i in self._hits(tokens, on) if tokens.capital[i] and tier(h.entry) == 2]
        hits = [(h, i) for h, i in hits if h.entry.kind != "media"]
        if person and any(h.entry.kind == "person" for h, _ in hits):
            hits = [(h, i) for h, i in hits if h.entry.kind == "person"]
        return max(hits, key=lambda hi: (hi[0].end, hi[0].end - hi[0].start))[0] if hits else None


def _acronym_keys(aliases: Iterable[str]) -> frozenset[tuple[str, ...]]:
    """One-word keys every alias of which is written in capitals ("CAR", "U.S."), never as a word."""
    caps: dict[tuple[str, ...], bool] = {}
    for alias in aliases:
        key = normalise(alias)
        if len(key) == 1:
            caps[key] = caps.get(key, True) and alias.isupper()
    return frozenset(k for k, only_caps in caps.items() if only_caps)


def _widths_by_first_word(keys: Iterable[tuple[str, ...]]) -> dict[str, tuple[int, ...]]:
    widths: dict[str, set[int]] = {}
    for key in keys:
        if key:
            widths.setdefault(key[0], set()).add(len(key))
    return {first: tuple(sorted(ns, reverse=True)) for first, ns in widths.items()}


def _candidate_ngrams(norms: list[str], widths: dict[str, tuple[int, ...]]) -> Iterator[tuple[int, int]]:
    """(start index, width) of every n-gram whose first word starts a key of that width."""
    for i, norm in enumerate(norms):
        for n in widths.get(norm, ()):
            if i + n <= len(norms):
                yield i, n


def tier(entry: ActorEntry) -> int:
    return 0 if entry.bare_country else 1 if entry.is_generic else 2


def _read_json(path: Path, line: int | None = None, text: str | None = None) -> Any:
    """JSON of a file (or of one line of it), failing with the file and line."""
    try:
        return json.loads(path.read_text(encoding="utf-8") if text is None else text)
    except FileNotFoundError:
        raise DataFileError("actor dictionary file is missing", path=str(path)) from None
    except json.JSONDecodeError as exc:
        raise DataFileError(f"invalid JSON: {exc.msg}", path=str(path), line=line or exc.lineno) from None
    except UnicodeDecodeError as exc:
        raise DataFileError(f"not UTF-8 text ({exc.reason}); save it as UTF-8", path=str(path)) from None


def _records(path: Path, defs: dict[str, Any], kind: str) -> list[tuple[Any, int]]:
    """The validated records of a JSONL file, with their line numbers."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataFileError("actor dictionary file is missing", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise DataFileError(f"not UTF-8 text ({exc.reason}); save it as UTF-8", path=str(path)) from None
    rows = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    return [(_validated(_read_json(path, n, line), defs, kind, path, n), n) for n, line in rows]


def _validated(record: Any, defs: dict[str, Any], kind: str, path: Path, line: int | None = None) -> Any:
    schema = {"$ref": f"#/$defs/{kind}", "$defs": defs}
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(record))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "record"
        raise DataFileError(f"{where}: {error.message}", path=str(path), line=line)
    return record


def _entry(raw: dict[str, Any], path: Path, line: int) -> ActorEntry:
    start, end = (date.fromisoformat(raw[k]) if k in raw else None for k in ("valid_from", "valid_to"))
    if start and end and end < start:
        raise DataFileError(f"valid_to {end} is before valid_from {start}", path=str(path), line=line)
    fields: dict[str, Any] = {
        k: raw.get(k) for k in ("id", "name", "iso3", "inter", "kind", "why", "generic_name")
    }
    return ActorEntry(**fields, aliases=tuple(raw["aliases"]), valid_from=start, valid_to=end)


def _media(raw: dict[str, Any]) -> ActorEntry:
    # Outlets are entries too, so that "the Washington Post" matches as media before "Washington" as a state.
    return replace(_entry(raw, Path(), 0), id="media." + "_".join(normalise(raw["name"])), kind="media")


def _check_unique_ids(entries: list[ActorEntry], path: Path) -> None:
    seen = Counter(e.id for e in entries)
    duplicates = sorted(k for k, n in seen.items() if n > 1)
    if duplicates:
        raise DataFileError(f"duplicate entry ids: {', '.join(duplicates)}", path=str(path))


def _state_entries(countries: list[dict[str, Any]], templates: list[dict[str, Any]]) -> list[ActorEntry]:
    """'<country form> <suffix>' aliases for every country and state template ("Iraqi troops");
    an empty suffix makes the bare-country entry ("Iraq", "Baghdad"), which ranks below every other match."""
    out = []
    for country, template, bare in ((c, t, b) for c in countries for t in templates for b in (False, True)):
        suffixes = [s for s in template["suffixes"] if (s == "") == bare]
        aliases = tuple(f"{form} {suffix}".strip() for form in country["forms"] for suffix in suffixes)
        key = f"state.{template['id']}.{country['iso3']}" + (".bare" if bare else "")
        name = _country_name(template["name"], country["name"])
        if aliases:
            entry = ActorEntry(
                key, name, country["iso3"], template["inter"], "state", aliases, template["why"]
            )
            out.append(replace(entry, bare_country=bare))
    return out


def _digest(actors_dir: Path, schema_path: Path) -> str:
    sha = hashlib.sha256()
    for path in [*sorted(actors_dir.glob("*.json*")), schema_path]:
        sha.update(path.name.encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()[:10]


# --- text helpers shared with the parse rules --------------------------------------------------------

_HYPHENS = frozenset({"-", "\u2010", "\u2011"})


def is_title_gap(gap: str) -> bool:
    return len(gap.split()) <= 4 and not any(mark in gap for mark in ',;:"\u201c\u201d()')


def join_hyphens(doc: Doc, start: int, end: int) -> tuple[int, int]:
    """Grow a span over hyphen-joined words: the tokenizer splits "al-Maliki" and "al-Qaeda-linked",
    and the parser may pick "al" as the head."""
    while end + 1 < len(doc) and doc[end].text in _HYPHENS and not doc[end - 1].whitespace_:
        if doc[end].whitespace_:
            break
        end += 2
    while start >= 2 and doc[start - 1].text in _HYPHENS and not doc[start - 1].whitespace_:
        if doc[start - 2].whitespace_:
            break
        start -= 2
    return start, end


def clean_text(text: str) -> str:
    words = text.replace("\u2019", "'").split()
    while len(words) > 1 and words[0].lower() in ("the", "a", "an", "some", "several"):
        words = words[1:]
    return " ".join(words).strip(" ,;:'\"")
