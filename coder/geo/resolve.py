"""The place of one sentence: its toponyms (spaCy entities, else gazetteer matches) or the article's.

ACLED precision: 1 the named town, 2 near / part of it, 3 province (at its capital) or country only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from coder.geo.context import ArticleContext, Mention, country_evidence, event_context, plausible
from coder.geo.index import Gazetteer, PlaceCandidate, rank_candidates
from coder.geo.names import loose_key, normalise_name
from coder.geo.rules import GeoRules
from coder.records import Place, Sentence

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span

_LOCATIVE = frozenset({"in", "at", "near", "outside", "inside", "into", "across", "around", "on", "of"})
_BEFORE_NAME = frozenset({"the", "city", "town", "village", "province", "capital", "of"})
_DIRECTIONAL = frozenset(
    {"northern", "southern", "eastern", "western", "central", "northeastern", "northwestern", "southeastern"}
    | {"southwestern", "north-eastern", "north-western", "south-eastern", "south-western"}
)
# A neighbourhood is more specific than its town ("Baghdad's Shaab district"), a town than a region (an area
# named in news, "Eastern Ghouta"), a region than a province.
_LEVEL = {"local": 0, "city": 1, "region": 2, "admin1": 3, "country": 4}


def resolve_place(
    doc: Doc,
    sentence: Sentence,
    context: ArticleContext,
    gazetteer: Gazetteer,
    *,
    trigger: tuple[int, int] | None = None,
    actor_countries: Sequence[tuple[str, str | None]] = (),
) -> Place | None:
    """The event's place: a toponym of the sentence (spaCy entities, else gazetteer matches) or the article's.

    ``trigger`` (article offsets of the event's trigger) lets the place governing the event win: "shelling
    of Homs ... clashes in Hama" codes the clashes at Hama. Among several toponyms one in the article's
    country wins, then one attached to the trigger ("in/on/at X" on it or its verb), then the most specific;
    a town that only locates another ("Balad Ruz, 70 km north-east of Baghdad") gives way to it; then
    "in X"; then the one nearest the trigger (else the first). A province or country chosen so gives way to
    a town named in it, and a place chosen with a locating cue to the place named just before it ("Marea
    countryside north of Aleppo": ``_located_by``).

    ``actor_countries`` ((role, iso3) of the event's actors) give the event a country when the article
    evidences none (``event_context``); with no place left, the event is coded at that country.
    """
    rules, context = gazetteer.rules, event_context(context, actor_countries, gazetteer)
    ents = [e for e in doc.ents if e.label_ in rules.entity_labels]
    mentions = [m for e in ents if (m := _mention(e, sentence, context, gazetteer))]
    # spaCy often misses a town it has never seen, or tags it ORG/PERSON ("strikes on Al-Mayadin").
    mentions += _unparsed_mentions(mentions, sentence, context, gazetteer)
    if not mentions:
        earlier = _from_paragraph(sentence, context, gazetteer)
        return earlier or _inherit(context, rules, "inherited from article")
    best = _choose(mentions, context, _TriggerLinks(doc, sentence.start_char, trigger))
    best = _located_by(best, mentions, sentence, rules) or best
    country_only = best.place.kind == "country" and rules.country_only["inherit_when_in_article_country"]
    if country_only and context.main is not None and context.main.place.iso3 == best.place.iso3:
        earlier = _from_paragraph(sentence, context, gazetteer, "sentence names only the country")
        return earlier or _inherit(context, rules, "inherited from article (sentence names only the country)")
    return _to_place(best, rules)


def _choose(mentions: list[Mention], context: ArticleContext, links: _TriggerLinks) -> Mention:
    anchored = any(m.relative is None and m.place.kind in ("city", "local") for m in mentions)
    home = context.country_iso3

    def rank(m: Mention) -> tuple[bool, bool, int, bool, bool, int]:
        return (
            home not in (None, m.place.iso3),
            not links.attached(m),
            _level(m),
            bool(m.relative) and anchored,
            not m.locative,
            links.distance(m),
        )

    best = min(mentions, key=rank)
    inside = [m for m in mentions if _LEVEL[m.place.kind] < _LEVEL[best.place.kind] and _within(m, best)]
    return min(inside, key=rank) if inside else best


def _located_by(y: Mention, mentions: list[Mention], sentence: Sentence, rules: GeoRules) -> Mention | None:
    """The place that ``y`` only locates, when ``y`` carries a locating cue: the nearest place named just
    before it, with no clause or list break between them, in ``y``'s province or near it ("Marea
    countryside north of Aleppo", "Balad Ruz, 70 km north-east of Baghdad")."""
    loc = rules.locating
    if y.relative not in loc.cues:
        return None
    before = [m for m in mentions if 0 <= m.end <= y.start]
    x = max(before, key=lambda m: m.end, default=None)  # the nearest: a farther one is not "just before"
    if x is None or x.place.kind in ("admin1", "country") or not _just_before(x, y, sentence, rules):
        return None
    same_province = x.place.iso3 == y.place.iso3 and x.place.admin1 == y.place.admin1
    return x if same_province or _km(x.place, y.place) <= loc.max_km else None


def _just_before(x: Mention, y: Mention, sentence: Sentence, rules: GeoRules) -> bool:
    """Whether ``x`` is named just before ``y``, with no clause or list break between them."""
    gap = sentence.text[x.end - sentence.start_char : y.start - sentence.start_char]
    loc = rules.locating
    return x.end <= y.start and len(gap) <= loc.max_gap_chars and not loc.gap_breaks.search(gap)


def _km(a: PlaceCandidate, b: PlaceCandidate) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _level(m: Mention) -> int:
    """How specific a mention is; a town's countryside, outskirts or surroundings is an area about as wide as
    a named region ("Jabal al-Akrad ... the countryside of Hama")."""
    return _LEVEL["region"] if m.relative and m.place.kind == "city" else _LEVEL[m.place.kind]


def _within(inner: Mention, outer: Mention) -> bool:
    """Whether ``inner`` lies in ``outer`` (a country, a province, or a region, taken as its province): "in
    Idlib province ... in Ariha", "Douma in Eastern Ghouta"."""
    same_country = inner.place.iso3 == outer.place.iso3
    return same_country and (outer.place.kind == "country" or inner.place.admin1 == outer.place.admin1)


class _TriggerLinks:
    """How a mention relates to the event trigger in the parse (no trigger, or no parse: nothing attaches).

    A place is attached when it modifies the trigger itself ("the Aleppo bombing") or a locative preposition
    joins it to the trigger or to the trigger's head ("airstrike on Aleppo", "clashes erupted in Hama",
    "airstrike kills five in Idlib").
    """

    max_hops = 4  # place -> "in" -> verb, or place -> noun -> "on" -> trigger

    def __init__(self, doc: Doc | None, sentence_start: int, trigger: tuple[int, int] | None):
        self._doc, self._offset = doc, sentence_start
        span = None if trigger is None or doc is None else self._span(*trigger)
        self._trigger = trigger
        tokens = list(span) if span is not None and span.doc.has_annotation("DEP") else []
        self._own = {t.i for t in tokens}
        self._anchors = self._own | {t.head.i for t in tokens}

    def _span(self, start: int, end: int) -> Span | None:
        if self._doc is None:
            return None
        return self._doc.char_span(start - self._offset, end - self._offset, alignment_mode="expand")

    def attached(self, m: Mention) -> bool:
        span = self._span(m.start, m.end) if self._anchors and m.start >= 0 else None
        if span is None:
            return False
        token, through_preposition = span.root, False
        for hop in range(self.max_hops):
            if token.head.i == token.i:
                return False
            token = token.head
            if token.i in self._anchors and (through_preposition or (hop == 0 and token.i in self._own)):
                return True
            if through_preposition:  # the preposition hangs on another word: the place locates that
                return False
            through_preposition = token.lower_ in _LOCATIVE
        return False

    def distance(self, m: Mention) -> int:
        if self._trigger is None or m.start < 0:
            return 0
        start, end = self._trigger
        return max(start - m.end, m.start - end, 0)


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
    if not candidates or not plausible(candidates[0], context, rules):
        return None
    cue = _relative_cue(sentence.text, ent.start_char, ent.end_char, rules)
    start = sentence.start_char + ent.start_char
    return Mention(ent.text, start, start + len(ent.text), candidates[0], (), cue, _is_locative(ent))


def _is_locative(ent: Span) -> bool:
    """Whether the mention is the object of a locative preposition ("in X", "in the city of X", "in western
    X")."""
    doc, i = ent.doc, ent.start - 1
    while i > 0 and (doc[i].lower_ in _BEFORE_NAME or doc[i].lower_ in _DIRECTIONAL):
        if doc[i].lower_ == "of" and doc[i - 1].lower_ not in {"city", "town", "village", "province"}:
            return True
        i -= 1
    return i >= 0 and doc[i].lower_ in _LOCATIVE


def _relative_cue(text: str, start: int, end: int, rules: GeoRules) -> str | None:
    before, after = text[max(0, start - 80) : start], text[end : end + 40]
    hits = [cue for cue, pattern in rules.relative_before if pattern.search(before)]
    hits += [cue for cue, pattern in rules.relative_after if pattern.search(after)]
    return hits[0] if hits else None


def _unparsed_mentions(
    mentions: list[Mention], sentence: Sentence, context: ArticleContext, gazetteer: Gazetteer
) -> list[Mention]:
    """Gazetteer matches outside the entity mentions: all of them when the entities name only countries,
    else those in the article's country marked as places (``_marked_as_place``)."""
    found = _ngram_mentions(sentence, context, gazetteer)
    if all(m.place.kind == "country" for m in mentions):
        return found
    home = context.country_iso3
    return [
        m
        for m in found
        if m.place.iso3 == home
        and (
            _marked_as_place(sentence, m, gazetteer.rules) or _located(m, mentions, sentence, gazetteer.rules)
        )
        and not _overlaps(m, mentions)
    ]


def _located(m: Mention, mentions: list[Mention], sentence: Sentence, rules: GeoRules) -> bool:
    """Named just before a place with a locating cue, as a place is ("hit Saraqeb, east of Idlib")."""
    return any(y.relative in rules.locating.cues and _just_before(m, y, sentence, rules) for y in mentions)


def _overlaps(m: Mention, others: list[Mention]) -> bool:
    return any(m.start < o.end and o.start < m.end for o in others)


def _marked_as_place(sentence: Sentence, m: Mention, rules: GeoRules) -> bool:
    """After a locative preposition ("on Al-Mayadin"), or before a settlement or province word
    ("Tabqa city"; "countryside" is no such word)."""
    before = sentence.text[: m.start - sentence.start_char].split()
    after = _next_word(sentence.text, m.end - sentence.start_char)
    locative = bool(before) and before[-1].casefold() in _LOCATIVE
    return locative or after in rules.settlement_words or after in rules.province_words


def _next_word(text: str, end: int) -> str:
    words = text[end:].split(maxsplit=1)
    return words[0].strip(",;:.()").casefold() if words else ""


def _ngram_mentions(sentence: Sentence, context: ArticleContext, gazetteer: Gazetteer) -> list[Mention]:
    """Gazetteer matches when spaCy found no town: in the article's country, or unlikely to be accidents."""
    found, rules = [], gazetteer.rules
    for hit in context.toponyms(sentence, gazetteer):
        ranked = rank_candidates(list(hit.candidates), context.country_iso3)
        if _next_word(sentence.text, hit.end) in rules.province_words:  # "Al-Raqqah province"
            ranked = [c for c in ranked if c.kind == "admin1"] or ranked
        top, at = ranked[0], sentence.start_char + hit.start
        mention = replace(hit, start=at, end=at + len(hit.text), place=top)
        if (
            top.iso3 == context.country_iso3
            or country_evidence(top, rules)
            or _named_place(sentence, mention, context, rules)
        ):
            cue = _relative_cue(sentence.text, hit.start, hit.end, rules)
            found.append(replace(mention, relative=cue))
    return found


def _named_place(sentence: Sentence, m: Mention, context: ArticleContext, rules: GeoRules) -> bool:
    """With no country known (the actors' country is not the article's), a small place counts when the text
    marks it as a place ("in al-Sukhnah") and names it by its own name, not by one of the alternate names
    that tie many villages to common words."""
    known = context.country_iso3 is not None and not context.from_actors
    if known or not _marked_as_place(sentence, m, rules):
        return False
    return loose_key(normalise_name(m.text)) == loose_key(normalise_name(m.place.name))


def _to_place(m: Mention, rules: GeoRules) -> Place:
    p, where = m.place, (m.place.name, m.place.admin1)
    if p.kind == "country":
        where, precision, why = (p.name, None), int(rules.country_only["precision"]), "country only (capital)"
    elif p.kind == "admin1":
        where, precision, why = (p.seat or p.name, p.admin1), 3, "province only (provincial capital)"
    elif p.kind == "region":
        precision, why = 2, "region (at its centre)"  # ACLED: part of a named area, no town said
    else:
        precision = 2 if m.relative else 1
        why = f"near named place ({m.relative})" if m.relative else "named in sentence"
    return Place(
        location=where[0], admin1=where[1], country=p.country, iso3=p.iso3, latitude=p.latitude,
        longitude=p.longitude, geo_precision=precision, geo_reason=why, place_text=m.text,
        start_char=m.start if m.start >= 0 else None, end_char=m.end if m.start >= 0 else None,
        gazetteer_id=p.gazetteer_id,
    )  # fmt: skip


ACTORS_REASON = "country of the event's actors"
PARAGRAPH_REASON = "inherited from an earlier sentence of the paragraph"


def _from_paragraph(
    sentence: Sentence, context: ArticleContext, gazetteer: Gazetteer, why: str | None = None
) -> Place | None:
    """The place of the nearest earlier sentence of the paragraph that names one in the article's country
    ("The army raided a camp in Hawija. In clashes that followed, hundreds were killed."): a paragraph goes
    on with its story, so its place is nearer than the article's main place. A country alone is no place
    here (the article's main place is more specific), and a place abroad locates a digression."""
    home = context.country_iso3
    for earlier in context.earlier_in_paragraph(sentence) if home is not None else []:
        found = _ngram_mentions(earlier, context, gazetteer)
        mentions = [
            m for m in found if m.place.iso3 == home and _clearly_a_place(earlier, m, gazetteer.rules)
        ]
        if mentions:
            best = _choose(mentions, context, _TriggerLinks(None, earlier.start_char, None))
            place = _to_place(best, gazetteer.rules)
            reason = f"{PARAGRAPH_REASON} ({why})" if why else PARAGRAPH_REASON
            precision = max(place.geo_precision, gazetteer.rules.inherit_min_precision)
            return replace(place, geo_precision=precision, geo_reason=f"{reason}; {place.geo_reason}")
    return None


def _clearly_a_place(sentence: Sentence, m: Mention, rules: GeoRules) -> bool:
    """A town or province, and without a parse of its sentence a small place must be marked as one ("in
    Hawija"): capitalised words match villages somewhere ("Temple", "Liberty")."""
    if m.place.kind == "country":
        return False
    return _marked_as_place(sentence, m, rules) or country_evidence(m.place, rules) is not None


def _inherit(context: ArticleContext, rules: GeoRules, reason: str) -> Place | None:
    """The article's main place (else its country), never more precise than ``inherit_min_precision``."""
    mention, country = context.main, context.country_place
    if mention is None and country is not None:
        mention = Mention(country.name, -1, -1, country)
        reason = ACTORS_REASON if context.from_actors else reason
    if mention is None:
        return None
    place = _to_place(replace(mention, relative=None), rules)
    why = reason if mention.place.kind in ("city", "local") else f"{reason}; {place.geo_reason}"
    return replace(place, geo_precision=max(place.geo_precision, rules.inherit_min_precision), geo_reason=why)
