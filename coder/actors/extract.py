"""Finding actor phrases around the event trigger in the dependency parse, normalised through the
actor dictionary: actor1 initiator, actor2 target, assoc_actor1 fighting alongside."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from coder.actors.dictionary import (
    ActorDictionary,
    ActorEntry,
    clean_text,
    tier,
)
from coder.actors.parse import (
    SUBJECTS,
    anaphor_entry,
    attribution_sources,
    first_child,
    phrase,
    saying_verb,
    surname_entry,
    trigger_from_decision,
)
from coder.actors.roles import RoleFinder
from coder.records import Actor, Article, Classification, Event, EventActors, Sentence

_STATE_INTERS = (1, 8)  # State forces, External/Other forces: ACLED codebook inter codes

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token


def find_trigger(doc: Doc, dictionary: ActorDictionary) -> Token | None:
    """The event word of a sentence without a classification: the root, unless the root only reports
    a fronted event clause ("Rebels seized the town, police said") or an outlet reports one."""
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None or root.lemma_.lower() not in dictionary.word_sets["reporting_verbs"]:
        return root
    clauses = [c for c in root.children if c.dep_ == "ccomp"]
    fronted = [c for c in clauses if c.i < root.i]
    subject = first_child(root, SUBJECTS)
    if clauses and not fronted and subject is not None and RoleFinder.is_outlet(subject, dictionary):
        return clauses[0]
    return fronted[0] if fronted else root


def extract_actors(
    doc: Doc,
    sentence: Sentence,
    decision: Classification,
    dictionary: ActorDictionary,
    previous: Event | None,
    article: Article,
    *,
    previous_speaker: Actor | None = None,
) -> EventActors:
    """actor1 (initiator), actor2 (target) and assoc_actor1 (ally of actor1) of the sentence's event.
    ``previous_speaker`` is ``attribution_speaker`` of the previous event's sentence: who "he said" is
    when that sentence was coded as an event rather than a statement."""
    sets, kind = dictionary.word_sets, decision.event_type
    statement = kind in sets["statement_event_types"]
    trigger = trigger_from_decision(doc, sentence, decision) or find_trigger(doc, dictionary)
    if trigger is None:
        return EventActors()
    violent, transfer = kind in sets["violent_event_types"], kind in sets["transfer_event_types"]
    hint = dictionary.country_hint(article)
    finder = _Finder(sentence, article, dictionary, previous, hint, violent, transfer, None, previous_speaker)
    verb = finder.speaker_verb(finder.main_event(trigger))
    actor1_heads, actor2_heads = finder.roles(verb)
    side1, actor2_heads = _sides(finder, verb, actor1_heads, actor2_heads, statement=statement)
    side2 = finder.side(actor2_heads, role=2)
    ranked = sorted(side1, key=finder.rank)
    actor1 = ranked[0] if ranked else finder.quote_speaker(decision)
    # An actor does not act on itself: a target that normalises to actor1 gives way to the next one.
    side2 = [a for a in side2 if actor1 is None or a.name != actor1.name or a.matched_by == "text"]
    if statement and actor1 is not None and actor1.inter_code in _STATE_INTERS:
        # "He said the U.S. is providing assistance to Iraqi authorities": the speaker's own state acts
        # in the reported clause; the target is what it acts on.
        side2 = [a for a in side2 if a.iso3 != actor1.iso3 or a.inter_code not in _STATE_INTERS]
    # Allies fight: a statement has none; one outside the dictionary must at least be a person or group.
    heads = [] if statement else finder.allies(verb, actor1_heads)
    heads = [t for t in heads if finder.names_actor(t) or finder.could_be_actor(t, role=2)]
    allies = [a for a in finder.side(heads, role=1) if a not in ranked[:1]]
    assoc = ranked[1] if len(ranked) > 1 else (allies[0] if allies else None)
    return EventActors(actor1=actor1, actor2=side2[0] if side2 else None, assoc_actor1=assoc)


def attribution_speaker(
    doc: Doc,
    sentence: Sentence,
    dictionary: ActorDictionary,
    previous: Event | None,
    article: Article,
    *,
    previous_speaker: Actor | None = None,
    own_event: Event | None = None,
) -> Actor | None:
    """Who a sentence is attributed to ("..., X said", "according to X"), whatever its event type, as a
    statement would code its speaker; None for an outlet ("the station said" is not a "he") or no one.
    The next sentence's "he said" refers to this speaker even when this sentence became an event row.
    ``own_event``: the row this sentence became, coded with the same ``previous`` and ``previous_speaker``;
    a statement whose trigger is the saying verb already holds its speaker as actor1."""
    hint = dictionary.country_hint(article)
    finder = _Finder(sentence, article, dictionary, previous, hint, previous_speaker=previous_speaker)
    verb = saying_verb(doc, dictionary)
    if verb is not None:
        subject = first_child(finder.speaker_verb(verb), SUBJECTS)
        if subject is None or finder.is_media(subject):
            return None
        at = sentence.start_char + verb.idx
        said = Classification(
            sentence.sentence_id, "statement", None, 1.0, "attribution", "asserted", at, at + len(verb)
        )
        if own_event is not None and _same_actor_inputs(own_event.classification, said):
            return own_event.actor1
        return extract_actors(
            doc, sentence, said, dictionary, previous, article, previous_speaker=previous_speaker
        ).actor1
    sources = [o for o in attribution_sources(doc, dictionary) if not finder.is_media(o)]
    return finder.actor(sources[0], role=1) if sources else None


def _same_actor_inputs(coded: Classification, said: Classification) -> bool:
    """``extract_actors`` reads of a decision only its event type and trigger span."""
    return (coded.event_type, coded.trigger_start, coded.trigger_end) == (
        said.event_type,
        said.trigger_start,
        said.trigger_end,
    )


def _sides(
    finder: _Finder, verb: Token, actor1_heads: list[Token], actor2_heads: list[Token], *, statement: bool
) -> tuple[list[Actor], list[Token]]:
    """actor1's side, and actor2's heads. A speaker who names no state ("spokesman Army Colonel X",
    "spokesman John Smith") speaks for the state institution named around him (his employer), which
    is then the speaker, not the target."""
    side1 = finder.side(actor1_heads, role=1)
    employer, token = finder.employer(verb, actor1_heads) if statement else (None, None)
    if employer is None or token is None:
        return side1, actor2_heads
    speakers = [
        finder.for_employer(a, employer) for a in finder.side(actor1_heads, role=1, employer=employer)
    ]
    if speakers == side1:
        return side1, actor2_heads
    return speakers, [t for t in actor2_heads if t.i != token.i]


@dataclass(frozen=True)
class _Finder(RoleFinder):
    """Actor finding for one event: the parse rules of ``RoleFinder``, and normalising their heads into
    actors (dictionary, appositions, pronouns and anaphors, speakers' employers)."""

    previous_speaker: Actor | None = None  # who the previous event's sentence is attributed to

    def side(self, heads: list[Token], *, role: int, employer: ActorEntry | None = None) -> list[Actor]:
        finder = replace(self, speaker_country=employer.iso3) if employer else self
        return [a for a in (finder.actor(t, role=role) for t in heads) if a is not None]

    def employer(self, verb: Token, speakers: list[Token]) -> tuple[ActorEntry | None, Token | None]:
        """The state institution named around a speaker: "a spokesman for the Pentagon", "The Pentagon
        is ..., spokesman X told reporters"; its entry and its token."""
        if verb.lemma_.lower() not in self.words("reporting_verbs"):
            return None, None
        near = [o for s in speakers for p in s.children if p.dep_ == "prep" for o in p.children]
        near += [s for c in verb.children if c.dep_ == "ccomp" for s in [first_child(c, SUBJECTS)] if s]
        for token in near:
            hit = self.dictionary.find(self.text_of(token), on=self.article.published)
            entry = hit.entry if hit is not None else None
            if entry is None or entry.is_generic or entry.bare_country or not entry.iso3:
                continue
            if entry.inter in self.words("speaker_institution_inters"):
                return entry, token
        return None, None

    def for_employer(self, speaker: Actor, employer: ActorEntry) -> Actor:
        """A speaker outside the dictionary titled as a spokesperson ("spokesman John Smith") is his
        employer, with his own words and offsets."""
        words = set(speaker.text.lower().split())
        if speaker.matched_by != "text" or not words & self.words("spokesperson_nouns"):
            return speaker
        actor = self.from_entry(speaker.text, speaker.start_char or 0, employer, f"employer:{employer.id}")
        return replace(actor, end_char=speaker.end_char)

    def actor(self, head: Token, *, role: int) -> Actor | None:
        if head.lower_ in self.policy["pronouns"]:
            return self.resolve_pronoun(head, role=role)
        if self.is_thing(head):
            return None
        span, on = phrase(head, self.dictionary), self.article.published
        start = self.sentence.start_char + span.start_char
        hit = self.dictionary.find(self.bare_alias(span) or span.text, on=on)
        for named in self.namings(head):
            # "The militants, members of ISIL", "a group called ISIL": a named apposition refines the head.
            refined = self.dictionary.find(phrase(named, self.dictionary).text, on=on)
            if refined is not None and tier(refined.entry) > max(0, tier(hit.entry) if hit else 0):
                hit = refined
        if hit is None:
            before, on = self.text_before(), self.article.published
            entry = anaphor_entry(head, span, before, self.dictionary, on) or surname_entry(
                head, before, self.dictionary, on
            )
            if entry is not None:
                return self.from_entry(span.text, start, entry, "coreference:article")
        if hit is None and self.could_be_actor(head, role=role):
            text = clean_text(span.text)
            return Actor(text, text, None, None, None, start, start + len(span.text), "text")
        if hit is None:
            return None
        return self.from_entry(span.text, start, hit.entry, f"dictionary:{hit.entry.id}")

    def namings(self, head: Token) -> list[Token]:
        """Appositions and names given by a naming participle ("a group called X", "known as X")."""
        out = [c for c in head.children if c.dep_ == "appos"]
        for acl in (
            c for c in head.children if c.dep_ == "acl" and c.lemma_.lower() in self.words("naming_verbs")
        ):
            out += [c for c in acl.children if c.dep_ in ("oprd", "attr", "dobj", "appos")]
            out += [o for p in acl.children if p.dep_ == "prep" for o in p.children if o.dep_ == "pobj"]
        return out

    def bare_alias(self, span: Span) -> str | None:
        """ "forces" or "the official" alone stand for the state's own (policy ``bare_nouns``)."""
        words = [t for t in span if t.dep_ not in ("det", "poss", "punct")]
        if len(words) != 1:
            return None
        alias: str | None = self.policy["bare_nouns"].get(words[0].lower_)
        return alias

    def text_before(self) -> str:
        first = max(0, self.sentence.start_char - self.policy["coreference_window_chars"])
        return self.article.text[first : self.sentence.start_char]

    def from_entry(self, text: str, start: int, entry: ActorEntry, matched_by: str) -> Actor:
        if entry.is_generic:
            iso3 = self.speaker_country or self.country
            entry = entry.for_country(iso3, self.dictionary.countries.get(iso3 or ""))
        inter = entry.inter
        abroad = self.country and entry.iso3 and entry.iso3 != self.country
        if self.policy["external_state_forces"] and inter == "State forces" and abroad:
            inter = "External/Other forces"
        code = self.dictionary.inter_code(inter)
        return Actor(text, entry.name, entry.iso3, inter, code, start, start + len(text), matched_by)

    def resolve_pronoun(self, pronoun: Token, *, role: int) -> Actor | None:
        """The previous event's actor (adjacent sentence), else the nearest named group; "I" in a quote is
        only ever the adjacent previous speaker."""
        kind = self.policy["pronouns"][pronoun.lower_]
        start = self.sentence.start_char + pronoun.idx
        if kind == "unresolved":
            return None
        if kind == "relative":
            return self.actor(pronoun.head.head, role=role) if pronoun.head.dep_ == "relcl" else None
        previous = self.previous
        if previous is not None and self.adjacent(previous):
            antecedent = self.antecedent(previous, pronoun, kind, role=role)
            if antecedent is not None:
                # The antecedent's own words and span (article offsets) tell the analyst who "we" is.
                return replace(antecedent, matched_by=f"coreference:{previous.sentence_id}")
        if kind == "speaker":
            return None
        hit = self.dictionary.nearest_named(
            self.text_before(), on=self.article.published, person=kind == "person"
        )
        if hit is None or (kind == "person") != (hit.entry.kind == "person"):
            return None
        return self.from_entry(pronoun.text, start, hit.entry, "coreference:article")

    def adjacent(self, previous: Event) -> bool:
        return not self.article.text[previous.end_char : self.sentence.start_char].strip()

    def antecedent(self, previous: Event, pronoun: Token, kind: str, *, role: int) -> Actor | None:
        """Who a pronoun of this sentence is in the adjacent previous event. A subject is its actor1; a
        speaker ("he said", "I") or a subject the event has no actor1 for is who that sentence is
        attributed to: its speaker, also when it was coded as an event ("Exchanges shifted to the
        suburbs, a professor said. "It has ended," he said.")."""
        said = previous.classification.event_type in self.words("statement_event_types")
        if role == 2 and kind != "speaker":
            # "Tribesmen are engaging them," X said: a third-person object is never the speaker.
            return previous.actor2 or (None if said else previous.actor1)
        speaker = previous.actor1 if said else self.previous_speaker
        speaking = pronoun.dep_ in SUBJECTS and pronoun.head.lemma_.lower() in self.words("reporting_verbs")
        if kind == "speaker" or speaking:
            return speaker or previous.actor1
        return previous.actor1 or speaker

    def quote_speaker(self, decision: Classification) -> Actor | None:
        """A statement without a speaker of its own continues the adjacent previous sentence's quote
        ("This is their fight, but we're going to help them."): the same speaker, at his own offsets,
        also when that sentence was coded as an event ('"They attacked at dawn," the colonel said.')."""
        previous = self.previous
        if decision.event_type != "statement" or previous is None or not self.adjacent(previous):
            return None
        said = previous.classification.event_type == "statement"
        speaker = previous.actor1 if said else self.previous_speaker
        return replace(speaker, matched_by=f"coreference:{previous.sentence_id}") if speaker else None

    def rank(self, actor: Actor) -> tuple[int, int]:
        order = self.policy["primary_inter_order"]
        return (order.index(actor.inter) if actor.inter in order else len(order)), actor.start_char or 0
