"""Finding actor phrases around the event trigger in the dependency parse, normalised through the
actor dictionary: actor1 initiator, actor2 target, assoc_actor1 fighting alongside."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from coder.actors.dictionary import (
    ActorDictionary,
    ActorEntry,
    clean_text,
    is_title_gap,
    join_hyphens,
    tier,
)
from coder.records import Actor, Article, Classification, Event, EventActors, Sentence

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

_SUBJECTS = ("nsubj", "csubj")
_CUT_DEPS = frozenset({"relcl", "acl", "appos", "conj", "cc", "punct", "advcl", "parataxis", "prep", "case"})


def find_trigger(doc: Doc, dictionary: ActorDictionary) -> Token | None:
    """The event word of a sentence without a classification: the root, unless the root only reports
    a fronted event clause ("Rebels seized the town, police said") or an outlet reports one."""
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None or root.lemma_.lower() not in dictionary.word_sets["reporting_verbs"]:
        return root
    clauses = [c for c in root.children if c.dep_ == "ccomp"]
    fronted = [c for c in clauses if c.i < root.i]
    subject = _first(root, _SUBJECTS)
    if clauses and not fronted and subject is not None and _Finder.is_outlet(subject, dictionary):
        return clauses[0]
    return fronted[0] if fronted else root


def extract_actors(
    doc: Doc,
    sentence: Sentence,
    decision: Classification,
    dictionary: ActorDictionary,
    previous: Event | None,
    article: Article,
) -> EventActors:
    """actor1 (initiator), actor2 (target) and assoc_actor1 (ally of actor1) of the sentence's event."""
    trigger = _trigger_from_decision(doc, sentence, decision) or find_trigger(doc, dictionary)
    if trigger is None:
        return EventActors()
    violent = decision.event_type in dictionary.word_sets["violent_event_types"]
    finder = _Finder(sentence, article, dictionary, previous, dictionary.country_hint(article), violent)
    actor1_heads, actor2_heads = finder.roles(finder.speaker_verb(trigger))
    side1 = [a for a in (finder.actor(t, role=1) for t in actor1_heads) if a is not None]
    side2 = [a for a in (finder.actor(t, role=2) for t in actor2_heads) if a is not None]
    ranked = sorted(side1, key=finder.rank)
    actor1 = ranked[0] if ranked else finder.quote_speaker(decision)
    # An actor does not act on itself: a target that normalises to actor1 gives way to the next one.
    side2 = [a for a in side2 if actor1 is None or a.name != actor1.name or a.matched_by == "text"]
    assoc = ranked[1] if len(ranked) > 1 else None
    return EventActors(actor1=actor1, actor2=side2[0] if side2 else None, assoc_actor1=assoc)


def _trigger_from_decision(doc: Doc, sentence: Sentence, decision: Classification) -> Token | None:
    """The highest token of the parse inside the rule's trigger span (article offsets)."""
    if decision.trigger_start is None or decision.trigger_end is None:
        return None
    start, end = decision.trigger_start - sentence.start_char, decision.trigger_end - sentence.start_char
    inside = [t for t in doc if t.idx < end and t.idx + len(t) > start]
    return min(inside, key=lambda t: (len(list(t.ancestors)), t.i)) if inside else None


def _first(head: Token, deps: tuple[str, ...]) -> Token | None:
    return next((c for c in head.children if c.dep_ in deps), None)


def _pobjs(head: Token, preps: Collection[str], deps: tuple[str, ...] = ("prep", "agent")) -> list[Token]:
    return [
        o
        for p in head.children
        if p.dep_ in deps and p.lower_ in preps
        for o in p.children
        if o.dep_ == "pobj"
    ]


def _with_conjuncts(tokens: list[Token]) -> list[Token]:
    return [c for t in tokens for c in (t, *t.conjuncts) if c.i >= t.i]


def _subject(verb: Token) -> Token | None:
    """The initiator of a verb, climbing shared subjects: conjoined verbs, "launched assaults to expel",
    relative clauses ("militants who attacked") and participles ("gunmen attacking a village")."""
    for _ in range(6):
        subject = _first(verb, _SUBJECTS)
        if subject is not None:
            return subject
        if verb.dep_ in ("relcl", "acl") and verb.tag_ != "VBN":
            return verb.head
        if verb.dep_ not in ("conj", "xcomp", "advcl", "pcomp") or verb.head is verb:
            return None
        verb = verb.head
    return None


@dataclass(frozen=True)
class _Finder:
    """Actor finding for one event: the parse rules, with the article's context and the dictionary."""

    sentence: Sentence
    article: Article
    dictionary: ActorDictionary
    previous: Event | None
    country: str | None  # the article's dominant country (ISO3), for generic actors
    violent: bool = False  # a place after on/at/into is then where, not whom

    @property
    def policy(self) -> dict[str, Any]:
        return self.dictionary.policy

    def words(self, name: str) -> frozenset[str]:
        """A word list of the policy as a set (membership is asked thousands of times per article)."""
        return self.dictionary.word_sets[name]

    @staticmethod
    def is_outlet(head: Token, dictionary: ActorDictionary) -> bool:
        hit = dictionary.find(_phrase(head, dictionary).text)
        return hit is not None and hit.entry.kind == "media"

    def speaker_verb(self, verb: Token) -> Token:
        """For a saying verb whose subject is an outlet, the nested saying verb ("the Post reported that
        Kerry said ..."), so that the speaker, not the outlet, is actor1."""
        saying = self.words("reporting_verbs")
        while verb.lemma_.lower() in saying:
            subject = _first(verb, _SUBJECTS)
            nested = [c for c in verb.children if c.dep_ == "ccomp" and c.lemma_.lower() in saying]
            if subject is None or not nested or not self.is_outlet(subject, self.dictionary):
                break
            verb = nested[0]
        return verb

    def roles(self, trigger: Token) -> tuple[list[Token], list[Token]]:
        """Heads of the actor1 side and of the actor2 side."""
        if trigger.pos_ in ("NOUN", "PROPN"):
            return self.noun_roles(trigger)
        agents = _pobjs(trigger, self.words("agent_preps"))
        patients = [c for c in trigger.children if c.dep_ == "nsubjpass"]
        if patients or agents:
            return _with_conjuncts(agents), _with_conjuncts(patients)
        subject, actor2 = _subject(trigger), self.targets(trigger)
        if subject is not None and subject.lemma_.lower() in self.words("event_nouns"):
            # "An airstrike by coalition jets killed five civilians": the noun carries the initiator.
            return self.noun_roles(subject)[0], actor2
        actor1 = _with_conjuncts([subject] if subject is not None else [])
        if not actor2 and len(actor1) > 1 and trigger.lemma_.lower() in self.words("symmetric_verbs"):
            return actor1[:1], actor1[1:2]
        return actor1, actor2

    def noun_roles(self, noun: Token) -> tuple[list[Token], list[Token]]:
        """Event nouns: "airstrikes by X", "X's attack on Y", "clashes between X and Y"."""
        between = _with_conjuncts(_pobjs(noun, ["between"]))
        if between:
            return between[:1], between[1:2]
        actor1 = _pobjs(noun, self.words("agent_preps")) or [c for c in noun.children if c.dep_ == "poss"]
        modifiers = [c for c in noun.children if c.dep_ in ("amod", "compound") and self.names_actor(c)]
        actor1 = actor1 or modifiers
        if not actor1 and noun.dep_ in ("dobj", "attr") and noun.head.pos_ in ("VERB", "AUX"):
            actor1 = [s for s in [_subject(noun.head)] if s is not None]
        actor2 = self.targets(noun)
        if not actor2 and noun.dep_ in _SUBJECTS and noun.head.pos_ == "VERB":
            actor2 = [c for c in noun.head.children if c.dep_ == "dobj"]
        return _with_conjuncts(actor1), _with_conjuncts(actor2)

    def targets(self, head: Token, depth: int = 0) -> list[Token]:
        """The acted-upon side: named actors among the objects, then actors named inside a non-actor object
        ("responsibility for attacks on X", "accusations by X"), then plain person/group objects, then the
        same inside purpose and reported clauses ("used rockets to quell attacks by X", "said X would...")."""
        objects = self.objects(head)
        for picked in (
            [o for o in objects if self.names_actor(o, role=2)],
            [n for o in objects for n in self.nested(o)],
            [o for o in objects if self.could_be_actor(o)],
        ):
            if picked:
                return _with_conjuncts(picked[:1])
        if depth >= 2:
            return []
        for clause in self.clauses(head):
            subject = self.reported_subject(clause)
            if subject is not None:
                # Its own target follows, for when the subject is actor1 again ("the US would help Iraq").
                return _with_conjuncts([subject]) + self.targets(clause, depth + 1)
            found = self.targets(clause, depth + 1)
            if found:
                return found
        return []

    def objects(self, head: Token) -> list[Token]:
        """Dative, direct object and objects of target prepositions, without places of violent events,
        times, and the audience of a saying verb ("told reporters")."""
        saying = head.lemma_.lower() in self.words("reporting_verbs")
        candidates = [c for c in head.children if c.dep_ in ("dative", "dobj")]
        for prep in (c for c in head.children if c.dep_ in ("prep", "dative")):
            if prep.lower_ in self.words("target_preps"):
                candidates += [o for o in prep.children if o.dep_ == "pobj" and self.not_a_place(o, prep)]
        return [
            c
            for c in candidates
            if c.ent_type_ not in ("DATE", "TIME")
            and not (
                saying and ({c.lower_, c.lemma_.lower()} & self.words("audience_nouns") or self.is_media(c))
            )
        ]

    def not_a_place(self, token: Token, prep: Token) -> bool:
        if prep.lower_ in ("against", "with", "to") or token.ent_type_ not in self.words(
            "location_entity_labels"
        ):
            return True
        # "called on Syria" addresses a state; "strikes on Damascus" (a violent event) hit a place.
        return (
            not self.violent and token.ent_type_ not in ("DATE", "TIME") and self.names_actor(token, role=2)
        )

    def nested(self, head: Token, depth: int = 0) -> list[Token]:
        """Named actors inside a thing: its possessor and the objects of its prepositions, two levels deep."""
        inner = [c for c in head.children if c.dep_ == "poss"]
        inner += [
            o for p in head.children if p.dep_ in ("prep", "agent") for o in p.children if o.dep_ == "pobj"
        ]
        for token in inner:
            if self.names_actor(token, role=2):
                return [token]
            found = self.nested(token, depth + 1) if depth < 1 else []
            if found:
                return found
        return []

    def reported_subject(self, clause: Token) -> Token | None:
        """The subject of a reported clause is what a statement is about ("said NATO would ...")."""
        subject = _first(clause, _SUBJECTS)
        if clause.dep_ != "ccomp" or subject is None or subject.lower_ in self.policy["pronouns"]:
            return None
        if self.names_actor(subject, role=2):
            return subject
        place = subject.ent_type_ in self.words("location_entity_labels")
        return subject if self.could_be_actor(subject) and not place else None

    def clauses(self, head: Token) -> list[Token]:
        """Clauses that may hold the target: purpose clauses of light verbs, reported clauses of saying."""
        deps = ["xcomp", "advcl", "acl"]
        if head.lemma_.lower() in self.words("reporting_verbs") or head.pos_ != "VERB":
            deps.append("ccomp")
        return [c for c in head.children if c.dep_ in deps and c.pos_ in ("VERB", "AUX")]

    def is_media(self, token: Token) -> bool:
        return _Finder.is_outlet(token, self.dictionary)

    def could_be_actor(self, token: Token, *, role: int = 2) -> bool:
        """A target outside the dictionary counts only when it is a named person, group or state, or headed
        by a person/group noun ("responsibility", "details" are not); a subject unless it is a thing."""
        lemma = token.lemma_.lower()
        if self.is_thing(token) or lemma in self.words("event_nouns"):
            return False
        if role == 1:
            return True
        named = token.ent_type_ in self.words("actor_entity_labels") or token.pos_ == "PROPN"
        return named or lemma in self.words("actor_nouns") or token.lower_ in self.words("actor_nouns")

    def is_thing(self, token: Token) -> bool:
        """Instruments, quantifiers, negated and non-referential heads ("No group", "Some", "There")."""
        words = {token.lower_, token.lemma_.lower()}
        if words & self.words("non_referential") or token.is_punct:
            return True
        if any(c.dep_ == "det" and c.lower_ == "no" for c in token.children):
            return True
        return bool(words & self.words("instrument_nouns")) and not self.dictionary.find(self.text_of(token))

    def names_actor(self, token: Token, *, role: int = 1) -> bool:
        if token.lower_ in self.policy["pronouns"]:
            return self.policy["pronouns"][token.lower_] not in ("unresolved", "speaker")
        hit = self.dictionary.find(self.text_of(token))
        return hit is not None and not (role == 2 and hit.entry.kind == "media") and not self.is_thing(token)

    def text_of(self, token: Token) -> str:
        return _phrase(token, self.dictionary).text

    def actor(self, head: Token, *, role: int) -> Actor | None:
        if head.lower_ in self.policy["pronouns"]:
            return self.resolve_pronoun(head, role=role)
        if self.is_thing(head):
            return None
        span, on = _phrase(head, self.dictionary), self.article.published
        start = self.sentence.start_char + span.start_char
        hit = self.dictionary.find(self.bare_alias(span) or span.text, on=on)
        for named in self.namings(head):
            # "The militants, members of ISIL", "a group called ISIL": a named apposition refines the head.
            refined = self.dictionary.find(_phrase(named, self.dictionary).text, on=on)
            if refined is not None and tier(refined.entry) > max(0, tier(hit.entry) if hit else 0):
                hit = refined
        if hit is None:
            entry = self.anaphor(span, head) or self.surname(head)
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

    def anaphor(self, span: Span, head: Token) -> ActorEntry | None:
        """ "the group" refers back to the last named group before the sentence."""
        definite = any(c.dep_ == "det" and c.lower_ in ("the", "this", "that") for c in head.children)
        if head.lemma_.lower() not in self.words("anaphoric_nouns") or not definite or len(span) > 3:
            return None
        hit = self.dictionary.nearest_named(self.text_before(), on=self.article.published, person=False)
        return hit.entry if hit is not None and hit.entry.kind in ("group", "organization") else None

    def surname(self, head: Token) -> ActorEntry | None:
        """A person named by surname only is the one introduced earlier with a title: right before the
        full name ("U.S. ambassador to Iraq Ryan Crocker") or in an apposition ("Crocker, a former ...")."""
        if head.ent_type_ != "PERSON" or not head.text[:1].isupper():
            return None
        text, window = self.text_before(), self.policy["surname_window_chars"]
        at = text.find(f" {head.text}")
        while at >= 0:
            end = at + 1 + len(head.text)
            before = text[max(0, at - window) : at + 1]
            after = text[end : end + window].split(",")[1] if text[end : end + 1] == "," else ""
            for chunk, leading in ((before, True), (after, False)):
                hit = self.dictionary.find(chunk, on=self.article.published)
                titled = hit is not None and (not leading or is_title_gap(chunk[hit.end :]))
                if hit is not None and titled and tier(hit.entry) > 0 and hit.entry.kind != "media":
                    return hit.entry
            at = text.find(f" {head.text}", end)
        return None

    def text_before(self) -> str:
        first = max(0, self.sentence.start_char - self.policy["coreference_window_chars"])
        return self.article.text[first : self.sentence.start_char]

    def from_entry(self, text: str, start: int, entry: ActorEntry, matched_by: str) -> Actor:
        if entry.is_generic:
            entry = entry.for_country(self.country, self.dictionary.countries.get(self.country or ""))
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
        if (
            previous is not None
            and not self.article.text[previous.end_char : self.sentence.start_char].strip()
        ):
            antecedent = (
                (previous.actor2 or previous.actor1) if role == 2 and kind != "speaker" else previous.actor1
            )
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

    def quote_speaker(self, decision: Classification) -> Actor | None:
        """A statement without a speaker of its own continues the adjacent previous statement's quote
        ("This is their fight, but we're going to help them."): the same speaker, at his own offsets."""
        previous = self.previous
        if decision.event_type != "statement" or previous is None or previous.actor1 is None:
            return None
        adjacent = not self.article.text[previous.end_char : self.sentence.start_char].strip()
        ok = adjacent and previous.classification.event_type == "statement"
        return replace(previous.actor1, matched_by=f"coreference:{previous.sentence_id}") if ok else None

    def rank(self, actor: Actor) -> tuple[int, int]:
        order = self.policy["primary_inter_order"]
        return (order.index(actor.inter) if actor.inter in order else len(order)), actor.start_char or 0


def _phrase(head: Token, dictionary: ActorDictionary) -> Span:
    """The noun phrase of an actor head without clauses, appositions, conjuncts or place phrases;
    'of'/'from' phrases stay because they name the group ("militants from ISIL")."""
    sources, keep = dictionary.word_sets["source_preps"], [head]
    for child in head.children:
        if child.dep_ not in _CUT_DEPS:
            keep.extend(child.subtree)
        elif child.dep_ == "prep" and child.lower_ in sources:
            keep.extend(
                [child, *(t for o in child.children if o.dep_ == "pobj" for t in _phrase(o, dictionary))]
            )
    doc, start, end = head.doc, min(t.i for t in keep), max(t.i for t in keep) + 1
    if end < len(doc) and doc[end].dep_ == "prep" and doc[end].lower_ in sources:
        # The parser often hangs "from ISIL" on the verb ("battled militants from ISIL").
        objects = [o for o in doc[end].children if o.dep_ == "pobj"]
        end = _phrase(objects[0], dictionary).end if objects else end
    start, end = join_hyphens(doc, start, end)
    while end - start > 1 and doc[start].is_punct:
        start += 1
    return doc[start:end]
