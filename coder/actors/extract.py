"""Finding actor phrases around the event trigger in the dependency parse, normalised through the
actor dictionary: actor1 initiator, actor2 target, assoc_actor1 fighting alongside."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from coder.actors.dictionary import ActorDictionary, ActorEntry, tier
from coder.records import Actor, Article, Classification, Event, EventActors, Sentence

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

_SUBJECTS = ("nsubj", "csubj", "expl")
_CUT_DEPS = frozenset({"relcl", "acl", "appos", "conj", "cc", "punct", "advcl", "parataxis", "prep", "case"})


def find_trigger(doc: Doc, dictionary: ActorDictionary) -> Token | None:
    """The event word of a sentence without a classification: the root, unless the root only reports
    a fronted event clause ("Rebels seized the town, police said") or an outlet reports one."""
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None or root.lemma_.lower() not in dictionary.policy["reporting_verbs"]:
        return root
    clauses = [c for c in root.children if c.dep_ == "ccomp"]
    fronted = [c for c in clauses if c.i < root.i]
    subject = _first(root, _SUBJECTS)
    if clauses and not fronted and subject is not None and _Finder.is_media(subject, dictionary):
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
    finder = _Finder(sentence, article, dictionary, previous, dictionary.country_hint(article))
    actor1_heads, actor2_heads = finder.roles(finder.speaker_verb(trigger))
    side1 = [a for a in (finder.actor(t, role=1) for t in actor1_heads) if a is not None]
    side2 = [a for a in (finder.actor(t, role=2) for t in actor2_heads) if a is not None]
    ranked = sorted(side1, key=finder.rank)
    assoc = ranked[1] if len(ranked) > 1 else None
    return EventActors(
        actor1=ranked[0] if ranked else None, actor2=side2[0] if side2 else None, assoc_actor1=assoc
    )


def _trigger_from_decision(doc: Doc, sentence: Sentence, decision: Classification) -> Token | None:
    """The highest token of the parse inside the rule's trigger span (article offsets)."""
    if decision.trigger_start is None or decision.trigger_end is None:
        return None
    start, end = decision.trigger_start - sentence.start_char, decision.trigger_end - sentence.start_char
    inside = [t for t in doc if t.idx < end and t.idx + len(t) > start]
    return min(inside, key=lambda t: (len(list(t.ancestors)), t.i)) if inside else None


def _first(head: Token, deps: tuple[str, ...]) -> Token | None:
    return next((c for c in head.children if c.dep_ in deps), None)


def _pobjs(head: Token, preps: list[str], deps: tuple[str, ...] = ("prep", "agent")) -> list[Token]:
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


def _clean(text: str) -> str:
    words = text.replace("\u2019", "'").split()
    while len(words) > 1 and words[0].lower() in ("the", "a", "an", "some", "several"):
        words = words[1:]
    return " ".join(words).strip(" ,;:'\"")


@dataclass(frozen=True)
class _Finder:
    """Actor finding for one event: the parse rules, with the article's context and the dictionary."""

    sentence: Sentence
    article: Article
    dictionary: ActorDictionary
    previous: Event | None
    country: str | None  # the article's dominant country (ISO3), for generic actors

    @property
    def policy(self) -> dict[str, Any]:
        return self.dictionary.policy

    @staticmethod
    def is_media(head: Token, dictionary: ActorDictionary) -> bool:
        hit = dictionary.find(_phrase(head, dictionary).text)
        return hit is not None and hit.entry.kind == "media"

    def speaker_verb(self, verb: Token) -> Token:
        """For a saying verb whose subject is an outlet, the nested saying verb ("the Post reported that
        Kerry said ..."), so that the speaker, not the outlet, is actor1."""
        saying = self.policy["reporting_verbs"]
        while verb.lemma_.lower() in saying:
            subject = _first(verb, _SUBJECTS)
            nested = [c for c in verb.children if c.dep_ == "ccomp" and c.lemma_.lower() in saying]
            if subject is None or not nested or not self.is_media(subject, self.dictionary):
                break
            verb = nested[0]
        return verb

    def roles(self, trigger: Token) -> tuple[list[Token], list[Token]]:
        """Heads of the actor1 side and of the actor2 side."""
        if trigger.pos_ in ("NOUN", "PROPN"):
            return self.noun_roles(trigger)
        agents = _pobjs(trigger, self.policy["agent_preps"])
        patients = [c for c in trigger.children if c.dep_ == "nsubjpass"]
        if patients or agents:
            return _with_conjuncts(agents), _with_conjuncts(patients)
        subject, actor2 = _subject(trigger), self.targets(trigger)
        if subject is not None and subject.lemma_.lower() in self.policy["event_nouns"]:
            # "An airstrike by coalition jets killed five civilians": the noun carries the initiator.
            return self.noun_roles(subject)[0], actor2
        actor1 = _with_conjuncts([subject] if subject is not None else [])
        if not actor2 and len(actor1) > 1 and trigger.lemma_.lower() in self.policy["symmetric_verbs"]:
            return actor1[:1], actor1[1:2]
        return actor1, actor2

    def noun_roles(self, noun: Token) -> tuple[list[Token], list[Token]]:
        """Event nouns: "airstrikes by X", "X's attack on Y", "clashes between X and Y"."""
        between = _with_conjuncts(_pobjs(noun, ["between"]))
        if between:
            return between[:1], between[1:2]
        actor1 = _pobjs(noun, self.policy["agent_preps"]) or [c for c in noun.children if c.dep_ == "poss"]
        modifiers = [c for c in noun.children if c.dep_ in ("amod", "compound") and self.names_actor(c)]
        actor1 = actor1 or modifiers
        if not actor1 and noun.dep_ in ("dobj", "attr") and noun.head.pos_ in ("VERB", "AUX"):
            actor1 = [s for s in [_subject(noun.head)] if s is not None]
        actor2 = self.targets(noun)
        if not actor2 and noun.dep_ in _SUBJECTS and noun.head.pos_ == "VERB":
            actor2 = [c for c in noun.head.children if c.dep_ == "dobj"]
        return _with_conjuncts(actor1), _with_conjuncts(actor2)

    def targets(self, head: Token, depth: int = 0) -> list[Token]:
        """The acted-upon side: dative, direct object, then target prepositions; recognised actors first."""
        candidates = [c for c in head.children if c.dep_ in ("dative", "dobj")]
        for prep in (c for c in head.children if c.dep_ in ("prep", "dative")):
            place_ok = prep.lower_ in ("against", "with", "to")
            if prep.lower_ in self.policy["target_preps"]:
                objects = [o for o in prep.children if o.dep_ == "pobj"]
                candidates += [
                    o for o in objects if place_ok or o.ent_type_ not in self.policy["location_entity_labels"]
                ]
        candidates = [c for c in candidates if c.ent_type_ not in ("DATE", "TIME")]
        known = [c for c in candidates if self.names_actor(c)]
        if not known and depth < 2:
            # "launched assaults to expel militants": the light verb's purpose clause holds the target.
            for clause in (
                c for c in head.children if c.dep_ in ("xcomp", "advcl", "acl") and c.pos_ == "VERB"
            ):
                known = known or self.targets(clause, depth + 1)
        return _with_conjuncts((known or [c for c in candidates if self.could_be_actor(c)])[:1])

    def could_be_actor(self, token: Token) -> bool:
        """Unknown objects count as actors only when named or plural ("patrols", "villagers"):
        "responsibility" and "their move" are not actors."""
        if token.lemma_.lower() in self.policy["event_nouns"]:
            return False
        return (
            token.ent_type_ in self.policy["actor_entity_labels"]
            or token.pos_ == "PROPN"
            or token.tag_ == "NNS"
        )

    def names_actor(self, token: Token) -> bool:
        phrase = _phrase(token, self.dictionary).text
        return token.lower_ in self.policy["pronouns"] or self.dictionary.find(phrase) is not None

    def actor(self, head: Token, *, role: int) -> Actor | None:
        if head.lower_ in self.policy["pronouns"]:
            return self.resolve_pronoun(head, role=role)
        span, on = _phrase(head, self.dictionary), self.article.published
        hit = self.dictionary.find(span.text, on=on)
        for appos in (c for c in head.children if c.dep_ == "appos"):
            # "The militants, members of ISIL, ...": a named apposition refines a generic head.
            refined = self.dictionary.find(_phrase(appos, self.dictionary).text, on=on)
            if refined is not None and (hit is None or (tier(refined.entry) > tier(hit.entry))):
                hit = refined
        start = self.sentence.start_char + span.start_char
        if hit is None:
            return Actor(
                _clean(span.text), _clean(span.text), None, None, None, start, start + len(span.text), "text"
            )
        return self.from_entry(span.text, start, hit.entry, f"dictionary:{hit.entry.id}")

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
        """The previous event's actor (adjacent sentence), else the nearest named group."""
        kind = self.policy["pronouns"][pronoun.lower_]
        start, end = (
            self.sentence.start_char + pronoun.idx,
            self.sentence.start_char + pronoun.idx + len(pronoun),
        )
        if kind == "relative":
            return self.actor(pronoun.head.head, role=role) if pronoun.head.dep_ == "relcl" else None
        previous = self.previous
        if (
            previous is not None
            and not self.article.text[previous.end_char : self.sentence.start_char].strip()
        ):
            antecedent = (previous.actor2 or previous.actor1) if role == 2 else previous.actor1
            if antecedent is not None:
                by = f"coreference:{previous.sentence_id}"
                return replace(antecedent, text=pronoun.text, start_char=start, end_char=end, matched_by=by)
        first = max(0, self.sentence.start_char - self.policy["coreference_window_chars"])
        before = self.article.text[first : self.sentence.start_char]
        hit = self.dictionary.nearest_named(before, on=self.article.published, person=kind == "person")
        if hit is None or (kind == "person") != (hit.entry.kind == "person"):
            return None
        return self.from_entry(pronoun.text, start, hit.entry, "coreference:article")

    def rank(self, actor: Actor) -> tuple[int, int]:
        order = self.policy["primary_inter_order"]
        return (order.index(actor.inter) if actor.inter in order else len(order)), actor.start_char or 0


def _phrase(head: Token, dictionary: ActorDictionary) -> Span:
    """The noun phrase of an actor head without clauses, appositions, conjuncts or place phrases;
    'of'/'from' phrases stay because they name the group ("militants from ISIL")."""
    sources, keep = dictionary.policy["source_preps"], [head]
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
    while end - start > 1 and doc[start].is_punct:
        start += 1
    return doc[start:end]
