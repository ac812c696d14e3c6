"""Toponyms without a parse (gazetteer matching of capitalised n-grams) and the article's context."""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from coder.geo.index import Gazetteer, PlaceCandidate, rank_candidates
from coder.geo.names import normalise_name
from coder.geo.rules import GeoRules
from coder.records import Article, Sentence

_WORD_RE = re.compile(r"\w[\w'’-]*")
# "Fallujah", "al-Qaim"; "al_Sham" (an underscore for the hyphen, in some machine-made English)
_CAP = r"(?:[A-Z]|(?:al|el|ad|ar|as|an|az|ash|ez)[-_][A-Z])[\w'’-]*"
_LINE_BREAK_RE = re.compile(r"\n")  # a paragraph ends at a line break, as for dates (dates.py)
# Runs of capitalised words, lower-case articles allowed inside: "Deir ez Zor", "Balad Ruz", "Bab al-Hawa".
_POSSESSIVE_RE = re.compile(r"['’]s$")
_RUN_RE = re.compile(
    rf"(?<![\w'’-]){_CAP}(?:[ -]+(?:(?:al|el|ad|ar|as|an|at|az|ez|ash|de|del|la|le|du)[ -]+)*{_CAP})*"
)


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
    """Longest-first gazetteer matches of capitalised n-grams, left to right (no spaCy, so cheap).

    A match that is only part of a longer capitalised name is dropped: "Nur" of "Nur al-Din Zanki", "Ein"
    of "Ein Tarma", "Sham" of "Tahrir al-Sham" name no place. Words that may stand beside a place name
    (stop names, province and settlement words, demonyms: "Deir Ezzor Governorate", "In Aleppo") do not
    make it longer; in title-case text every word is capitalised, so the test is off there.
    """
    found, title_case = [], None  # title case is read only when a match has a capitalised neighbour
    for run in _RUN_RE.finditer(text):
        words = list(_WORD_RE.finditer(text, run.start(), run.end()))
        i = 0
        while i < len(words):
            hit, width = _longest_hit(text, words, i, gazetteer)
            if hit and not _stands_alone(words, i, width, gazetteer.rules):
                title_case = _title_case(text) if title_case is None else title_case
                hit = hit if title_case else None
            found += [hit] if hit else []
            i += width
    return found


def _title_case(text: str) -> bool:
    words = [w for w in _WORD_RE.findall(text) if w[0].isalpha()]
    return len(words) >= 6 and sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def _stands_alone(words: list[re.Match[str]], i: int, width: int, rules: GeoRules) -> bool:
    """No capitalised neighbour extends the name; a possessive ends one ("Syria's al-Bab")."""
    neighbours = []
    if i > 0 and not _POSSESSIVE_RE.search(words[i - 1].group()):
        neighbours.append(words[i - 1].group())
    if i + width < len(words) and not _POSSESSIVE_RE.search(words[i + width - 1].group()):
        neighbours.append(words[i + width].group())
    return all(normalise_name(w) in rules.beside_name_keys for w in neighbours)


def _longest_hit(text: str, words: list[re.Match[str]], i: int, gz: Gazetteer) -> tuple[Mention | None, int]:
    rules = gz.rules
    for n in range(min(rules.max_ngram, len(words) - i), 0, -1):
        start = words[i].start()
        phrase = _POSSESSIVE_RE.sub("", text[start : words[i + n - 1].end()])
        key = normalise_name(phrase)
        if len(key) < rules.min_name_length or key in rules.stop_keys or key in rules.demonyms:
            continue
        if candidates := gz.lookup(phrase):
            return Mention(phrase, start, start + len(phrase), candidates[0], tuple(candidates)), n
    return None, 1


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
    votes: int = 0  # the evidence (toponyms, demonyms) for ``country_iso3``
    from_actors: bool = False  # ``country_iso3`` is the country of the event's actors (``event_context``)
    paragraph_starts: tuple[int, ...] = ()  # article offsets just after each line break
    # ``find_toponyms`` of each text scanned, by (article offset, text): the sentence's own place reuses it.
    scanned: Mapping[tuple[int, str], tuple[Mention, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def toponyms(self, sentence: Sentence, gazetteer: Gazetteer) -> list[Mention]:
        """``find_toponyms`` of a sentence (offsets into it), from the article scan when it was read there."""
        known = self.scanned.get((sentence.start_char, sentence.text))
        return list(known) if known is not None else find_toponyms(sentence.text, gazetteer)

    def earlier_in_paragraph(self, sentence: Sentence) -> list[Sentence]:
        """The scanned sentences before ``sentence`` in its paragraph (no line break between), nearest
        first."""
        at = bisect.bisect_right(self.paragraph_starts, sentence.start_char)
        start = self.paragraph_starts[at - 1] if at else 0
        earlier = sorted((k for k in self.scanned if start <= k[0] < sentence.start_char), reverse=True)
        return [Sentence("", sentence.article_id, -1, s, s + len(text), text) for s, text in earlier]


def article_context(article: Article, sentences: list[Sentence], gazetteer: Gazetteer) -> ArticleContext:
    """Toponyms of title + codable sentences by gazetteer matching; dominant country by votes; main place."""
    rules, hits, evidence = gazetteer.rules, [], []  # evidence: (article offset, iso3 or None)
    scanned: dict[tuple[int, str], tuple[Mention, ...]] = {}
    demonyms: dict[str, str | None] = {}  # word -> country: an article repeats most of its words
    for offset, text in _context_texts(article, sentences):
        scanned[offset, text] = found = tuple(find_toponyms(text, gazetteer))
        for hit in found:
            hits.append(replace(hit, start=offset + hit.start if offset >= 0 else -1))
            evidence.append((offset + hit.start, country_evidence(hit.place, rules)))
        evidence += _demonym_evidence(text, offset, rules, demonyms)
    # Words without evidence are dropped before the (stable) sort: same order, a fraction of the items.
    ranked = sorted((e for e in evidence if e[1]), key=lambda e: e[0])
    votes = Counter(iso3 for _, iso3 in ranked if iso3)  # ties: first seen
    paragraphs = tuple(m.end() for m in _LINE_BREAK_RE.finditer(article.text))
    if not votes:
        return ArticleContext(scanned=scanned, paragraph_starts=paragraphs)
    iso3, count = votes.most_common(1)[0]
    main = _main_place(iso3, hits, gazetteer)
    return replace(main, votes=count, scanned=scanned, paragraph_starts=paragraphs)


def _demonym_evidence(
    text: str, offset: int, rules: GeoRules, memo: dict[str, str | None]
) -> list[tuple[int, str]]:
    """Demonyms ("Iraqi forces") are the commonest country evidence in conflict news."""
    found = []
    for match in _WORD_RE.finditer(text):
        word = match.group()
        if word not in memo:
            key = normalise_name(word)
            memo[word] = rules.demonyms.get(key) or rules.demonyms.get(key[:-1])
        if iso3 := memo[word]:
            found.append((offset + match.start(), iso3))
    return found


def _context_texts(article: Article, sentences: list[Sentence]) -> list[tuple[int, str]]:
    title = [(-1, article.title)] if article.title else []
    codable = [(s.start_char, s.text) for s in sentences if s.boilerplate is None]
    return title + (codable or [(0, article.text)])


def event_context(
    context: ArticleContext, actor_countries: Sequence[tuple[str, str | None]], gazetteer: Gazetteer
) -> ArticleContext:
    """The context of one event: the article's, unless its country rests on little evidence (a headline, a
    short report) that none of the event's actors shares, while an actor's country is known; then the
    actors' country (the first of ``actor_country.roles`` that has one), with no main place (the article's
    lies in the other country)."""
    rules = gazetteer.rules.actor_country
    known = {role: iso3 for role, iso3 in actor_countries if iso3}
    if not known or context.country_iso3 in known.values() or context.votes > rules["max_context_votes"]:
        return context
    iso3 = next((known[r] for r in rules["roles"] if r in known), None)
    country = gazetteer.country(iso3) if iso3 else None
    if country is None:
        return context
    return replace(
        context, country_iso3=iso3, country_place=country, main=None, mentions=(), from_actors=True
    )


def plausible(top: PlaceCandidate, context: ArticleContext, rules: GeoRules) -> bool:
    """A small village abroad, named in an article about another country, is more likely an unknown local;
    the country of the event's actors alone does not say so (an actor abroad, a misread actor)."""
    home = None if context.from_actors else context.country_iso3
    return home in (None, top.iso3) or country_evidence(top, rules) is not None


def country_evidence(top: PlaceCandidate, rules: GeoRules) -> str | None:
    """Only entries unlikely to be accidental matches (small villages called "Police") vote for a country."""
    if top.kind in ("country", "admin1", "local", "region") or top.population >= rules.context_min_population:
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
