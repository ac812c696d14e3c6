"""Dependency-parse helpers of actor finding: the trigger token, subjects climbed over shared verbs,
prepositional objects, conjuncts, the noun phrase of an actor head, the attribution of a sentence, and
``HeadRules``: what one head is (an actor, a thing, a place, a candidate object), which ``roles`` builds
the initiator's and the target's sides on."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from coder.actors.dictionary import ActorDictionary, ActorEntry, is_title_gap, join_hyphens, tier
from coder.records import Article, Classification, Event, Sentence

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

SUBJECTS = ("nsubj", "csubj")
_CUT_DEPS = frozenset({"relcl", "acl", "appos", "conj", "cc", "punct", "advcl", "parataxis", "prep", "case"})
# Double quote marks: one left open inside a phrase ('This "threat') belongs to a quote around it, not to
# the name. Single quotes are left alone: they double as apostrophes.
_QUOTES = frozenset({'"', "\u201c", "\u201d", "\u00ab", "\u00bb", "``", "''"})


def trigger_from_decision(doc: Doc, sentence: Sentence, decision: Classification) -> Token | None:
    """The highest token of the parse inside the rule's trigger span (article offsets)."""
    if decision.trigger_start is None or decision.trigger_end is None:
        return None
    start, end = decision.trigger_start - sentence.start_char, decision.trigger_end - sentence.start_char
    inside = [t for t in doc if t.idx < end and t.idx + len(t) > start]
    return min(inside, key=lambda t: (len(list(t.ancestors)), t.i)) if inside else None


def first_child(head: Token, deps: tuple[str, ...]) -> Token | None:
    return next((c for c in head.children if c.dep_ in deps), None)


def pobjs(head: Token, preps: Collection[str], deps: tuple[str, ...] = ("prep", "agent")) -> list[Token]:
    return [
        o
        for p in head.children
        if p.dep_ in deps and p.lower_ in preps
        for o in p.children
        if o.dep_ == "pobj"
    ]


def with_conjuncts(tokens: list[Token]) -> list[Token]:
    return [c for t in tokens for c in (t, *t.conjuncts) if c.i >= t.i]


def subject_of(verb: Token) -> Token | None:
    """The initiator of a verb, climbing shared subjects: conjoined verbs, "launched assaults to expel",
    relative clauses ("militants who attacked") and participles ("gunmen attacking a village")."""
    for _ in range(6):
        subject = first_child(verb, SUBJECTS)
        if subject is not None and not _predicative(verb, subject):
            return subject
        if verb.dep_ in ("relcl", "acl") and verb.tag_ != "VBN":
            return verb.head
        if _gerund_of_subject(verb):
            verb = _gerund_host(verb)  # "He took responsibility for firing shells": he fired
            continue
        if verb.dep_ not in ("conj", "xcomp", "advcl", "pcomp") or verb.head is verb:
            return None
        verb = verb.head
    return None


def _gerund_host(gerund: Token) -> Token:
    """The verb a prepositional gerund hangs on, directly or through its object ("took responsibility
    for firing")."""
    host = gerund.head.head
    return host.head if host.dep_ == "dobj" and host.pos_ == "NOUN" else host


def _gerund_of_subject(verb: Token) -> bool:
    """A gerund after a preposition of a verb whose object is no one ("took responsibility for firing",
    "was killed while planting") shares that verb's subject; after a person object ("arrested him for
    firing", "detained suspects for attacking") it is the object's act, so the subject is not climbed to."""
    main = _gerund_host(verb)
    if verb.dep_ != "pcomp" or verb.tag_ != "VBG" or verb.head.dep_ != "prep" or main.pos_ != "VERB":
        return False
    objects = [c for c in main.children if c.dep_ in ("dobj", "dative")]
    return not any(o.pos_ in ("PRON", "PROPN") or o.ent_type_ or o.tag_ == "NNS" for o in objects)


def _predicative(verb: Token, subject: Token) -> bool:
    """A "subject" that is really the complement of an 'as' ("The U.S., which described ISIL as the common
    enemy of Iraq, has stepped up ...": the parser makes 'enemy' the subject of 'stepped'). The sign: an
    'as' mark before it and a comma between it and its verb, which a real subject does not have."""
    marked = any(c.dep_ == "mark" and c.lower_ == "as" and c.i < subject.i for c in verb.children)
    first = min([verb.i, *(c.i for c in verb.children if c.dep_ in ("aux", "auxpass", "neg"))])
    return marked and first > subject.i + 1 and verb.doc[first - 1].text == ","


def phrase(head: Token, dictionary: ActorDictionary) -> Span:
    """The noun phrase of an actor head without clauses, appositions, conjuncts or place phrases;
    'of'/'from' phrases stay because they name the group ("militants from ISIL")."""
    sources, keep = dictionary.word_sets["source_preps"], [head]
    for child in head.children:
        if child.dep_ not in _CUT_DEPS:
            keep.extend(child.subtree)
        elif child.dep_ == "prep" and child.lower_ in sources:
            keep.extend(
                [child, *(t for o in child.children if o.dep_ == "pobj" for t in phrase(o, dictionary))]
            )
    doc, start, end = head.doc, min(t.i for t in keep), max(t.i for t in keep) + 1
    if (
        end < len(doc)
        and doc[end].dep_ == "prep"
        and doc[end].lower_ in sources
        and doc[end].head.pos_ == "VERB"
    ):
        # The parser often hangs "from ISIL" on the verb ("battled militants from ISIL"); a place or a
        # country there is where they came from ("expel militants from two towns"), not their name.
        objects = [o for o in doc[end].children if o.dep_ == "pobj"]
        named = [o for o in objects[:1] if _names_group(phrase(o, dictionary).text, dictionary)]
        end = phrase(named[0], dictionary).end if named else end
    start, end = _closed_quotes(doc, *join_hyphens(doc, start, end), head.i)
    while end - start > 1 and doc[start].is_punct:
        start += 1
    return doc[start:end]


def _names_group(text: str, dictionary: ActorDictionary) -> bool:
    hit = dictionary.find(text)
    return hit is not None and tier(hit.entry) > 0 and hit.entry.kind != "media"


def _closed_quotes(doc: Doc, start: int, end: int, head: int) -> tuple[int, int]:
    """The span without a quote mark it does not close ('This "threat," ...' -> 'threat'): an open
    quote before the head moves the start past it, one after the head ends the span before it."""
    marks = [i for i in range(start, end) if doc[i].text in _QUOTES]
    if len(marks) % 2 == 0:
        return start, end
    before = [i for i in marks if i < head]
    if before:
        return before[-1] + 1, end
    return start, marks[-1]


def anaphor_entry(
    head: Token, span: Span, before: str, dictionary: ActorDictionary, on: date | None
) -> ActorEntry | None:
    """ "the group" refers back to the last named group in ``before`` (the text before the sentence)."""
    definite = any(c.dep_ == "det" and c.lower_ in ("the", "this", "that") for c in head.children)
    if head.lemma_.lower() not in dictionary.word_sets["anaphoric_nouns"] or not definite or len(span) > 3:
        return None
    hit = dictionary.nearest_named(before, on=on, person=False)
    return hit.entry if hit is not None and hit.entry.kind in ("group", "organization") else None


def surname_entry(
    head: Token, before: str, dictionary: ActorDictionary, on: date | None
) -> ActorEntry | None:
    """A person named by surname only is the one introduced earlier with a title: right before the
    full name ("U.S. ambassador to Iraq Ryan Crocker") or in an apposition ("Crocker, a former ...")."""
    if head.ent_type_ != "PERSON" or not head.text[:1].isupper():
        return None
    window = dictionary.policy["surname_window_chars"]
    at = before.find(f" {head.text}")
    while at >= 0:
        end = at + 1 + len(head.text)
        leading = before[max(0, at - window) : at + 1]
        after = before[end : end + window].split(",")[1] if before[end : end + 1] == "," else ""
        for chunk, is_leading in ((leading, True), (after, False)):
            hit = dictionary.find(chunk, on=on)
            titled = hit is not None and (not is_leading or is_title_gap(chunk[hit.end :]))
            if hit is not None and titled and tier(hit.entry) > 0 and hit.entry.kind != "media":
                return hit.entry
        at = before.find(f" {head.text}", end)
    return None


def saying_verb(doc: Doc, dictionary: ActorDictionary) -> Token | None:
    """The attribution of a sentence ("..., police said", "He told reporters ..."): the highest verb of
    saying with a subject; a saying verb inside a reported clause ranks below the one reporting it."""
    saying = dictionary.word_sets["reporting_verbs"]
    verbs = [
        t
        for t in doc
        if t.pos_ == "VERB" and t.lemma_.lower() in saying and first_child(t, SUBJECTS) is not None
    ]
    return min(verbs, key=lambda t: (len(list(t.ancestors)), t.i)) if verbs else None


def attribution_sources(doc: Doc, dictionary: ActorDictionary) -> list[Token]:
    """Those a sentence is attributed to by a phrase ("according to X"): policy ``attribution_markers``
    maps the marker word to the preposition that introduces the source."""
    markers: dict[str, str] = dictionary.policy["attribution_markers"]
    return [o for t in doc if t.lower_ in markers for o in pobjs(t, (markers[t.lower_],))]


@dataclass(frozen=True)
class HeadRules:
    """What one head of the parse is, for one event: an actor, a thing, a place, a candidate object;
    with the article's context and the dictionary. ``RoleFinder`` builds the roles on these."""

    sentence: Sentence
    article: Article
    dictionary: ActorDictionary
    previous: Event | None
    country: str | None  # the article's dominant country (ISO3), for generic actors
    violent: bool = False  # a place after on/at/into is then where, not whom
    transfer: bool = False  # a state after to/in/into is the recipient, after from the sender
    speaker_country: str | None = None  # the speaker's employer's country, for a generic speaker

    @property
    def policy(self) -> dict[str, Any]:
        return self.dictionary.policy

    def words(self, name: str) -> frozenset[str]:
        """A word list of the policy as a set (membership is asked thousands of times per article)."""
        return self.dictionary.word_sets[name]

    @staticmethod
    def is_outlet(head: Token, dictionary: ActorDictionary) -> bool:
        hit = dictionary.find(phrase(head, dictionary).text)
        return hit is not None and hit.entry.kind == "media"

    def holder(self, thing: Token) -> Token:
        """Who holds a ``held_nouns`` place: "rebel positions", "the militants' positions", "positions
        of the army", "a police checkpoint", "a checkpoint manned by soldiers"; who holds a place noun:
        "villages held by the rebels", "recaptured the town from IS fighters". The place itself when no
        actor is named on it."""
        held, place = thing.lemma_.lower() in self.words("held_nouns"), self.is_place_noun(thing)
        if not held and not place:
            return thing
        acl = [c for c in thing.children if c.dep_ == "acl" and c.tag_ == "VBN"]
        owners = [a for c in acl for a in pobjs(c, self.words("agent_preps"))]
        if held:
            owners += [c for c in thing.children if c.dep_ in ("poss", "compound", "amod") and c.i < thing.i]
            owners += pobjs(thing, ("of",))
        elif thing.dep_ == "dobj":
            owners += pobjs(thing.head, ("from",)) + pobjs(thing, ("from",))
        # "Fallujah's police headquarters": a town named on it is where, not who.
        owners = [o for o in owners if o.ent_type_ not in self.words("location_entity_labels")]
        return next((o for o in owners if self.names_actor(o, role=2) or self.could_be_actor(o)), thing)

    def objects(self, head: Token) -> list[Token]:
        """Dative, direct object and objects of target prepositions, without places of violent events,
        times, and the audience of a saying verb ("told reporters")."""
        saying = head.lemma_.lower() in self.words("reporting_verbs")
        appeal = saying or head.lemma_.lower() in self.words("directive_verbs")
        # A dative "to" (ADP) is not itself an object: its pobj is read with the target prepositions.
        candidates = [
            c
            for c in head.children
            if c.dep_ in ("dative", "dobj") and c.pos_ != "ADP" and not self.is_goods(c)
        ]
        # "killed up to 16 advisers": the parser reads the quantity "up to" as a particle and a preposition.
        ups = [c for c in head.children if c.dep_ == "prt" and c.lower_ == "up"]
        counted = [o for u in ups for o in pobjs(u, ("to",)) if any(c.dep_ == "nummod" for c in o.children)]
        candidates += counted
        for prep in (c for c in head.children if c.dep_ in ("prep", "dative")):
            pobj = [o for o in prep.children if o.dep_ == "pobj"]
            if prep.lower_ in self.words("target_preps"):
                candidates += [o for o in pobj if self.not_a_place(o, prep)]
            elif appeal and prep.lower_ in self.words("appeal_preps"):
                candidates += pobj  # "called for sanctions against X": what is called for names the target
            elif self.transfer and prep.lower_ in self.words("transfer_recipient_preps"):
                candidates += [o for o in pobj if self.names_actor(o, role=2)]
        return [
            c
            for c in candidates
            if c.ent_type_ not in ("DATE", "TIME")
            and not (
                saying and ({c.lower_, c.lemma_.lower()} & self.words("audience_nouns") or self.is_media(c))
            )
        ]

    def is_goods(self, token: Token) -> bool:
        """What a transfer moves ("delivered fighter jets to ...") is not its recipient."""
        words = {token.lower_, token.lemma_.lower()}
        return self.transfer and token.dep_ == "dobj" and bool(words & self.words("instrument_nouns"))

    def not_a_place(self, token: Token, prep: Token) -> bool:
        place = token.ent_type_ in self.words("location_entity_labels")
        if prep.lower_ in ("against", "with", "to") or not (place or self.is_place_noun(token)):
            return True
        # "called on Syria" addresses a state; "strikes on Damascus" (a violent event) hit a place.
        return (
            not self.violent and token.ent_type_ not in ("DATE", "TIME") and self.names_actor(token, role=2)
        )

    def is_place_noun(self, token: Token) -> bool:
        """ "a region of Saudi Arabia", "the outskirts of Fallujah": a place named by a common noun."""
        return token.pos_ == "NOUN" and token.lemma_.lower() in self.words("place_nouns")

    def nested(self, head: Token, depth: int = 0) -> list[Token]:
        """Named actors inside a thing: its possessor, the objects of its prepositions and the agent of a
        participle on it ("crimes committed by X"), two levels deep."""
        inner = [c for c in head.children if c.dep_ == "poss"]
        inner += [
            o for p in head.children if p.dep_ in ("prep", "agent") for o in p.children if o.dep_ == "pobj"
        ]
        acl = [c for c in head.children if c.dep_ == "acl" and c.tag_ == "VBN"]
        inner += [a for c in acl for a in pobjs(c, self.words("agent_preps"))]
        for token in inner:
            if self.names_actor(token, role=2):
                return [token]
            found = self.nested(token, depth + 1) if depth < 1 else []
            if found:
                return found
        return []

    def is_media(self, token: Token) -> bool:
        return HeadRules.is_outlet(token, self.dictionary)

    def could_be_actor(self, token: Token, *, role: int = 2) -> bool:
        """A target outside the dictionary counts only when it is a named person, group or state, or headed
        by a person/group noun ("responsibility", "details" are not); a subject unless it is a thing."""
        lemma = token.lemma_.lower()
        if self.is_thing(token) or lemma in self.words("event_nouns"):
            return False
        if role == 1:
            return True
        named = token.ent_type_ in self.words("actor_entity_labels") or token.pos_ == "PROPN"
        return (
            named
            or lemma in self.words("actor_nouns")
            or token.lower_ in self.words("actor_nouns")
            or self.of_a_people(token)
        )

    def of_a_people(self, token: Token) -> bool:
        """ "Russian civilian advisers", "Palestinian homes": a plural common noun (not a place) with a
        nationality modifier stands for those people; singular ones are mostly abstract ("Sunni anger")."""
        modifiers = (c for c in token.children if c.dep_ in ("amod", "compound") and c.i < token.i)
        nationality = any(c.ent_type_ == "NORP" for c in modifiers)
        return nationality and token.tag_ == "NNS" and not self.is_place_noun(token)

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
        if role == 2 and {token.lower_, token.lemma_.lower()} & self.event_or_thing_nouns:
            # "a new military offensive", "military aid": whose event or thing it is, not whom it hits.
            return False
        hit = self.dictionary.find(self.text_of(token))
        return hit is not None and not (role == 2 and hit.entry.kind == "media") and not self.is_thing(token)

    @property
    def event_or_thing_nouns(self) -> frozenset[str]:
        return self.words("event_nouns") | self.words("instrument_nouns")

    def text_of(self, token: Token) -> str:
        return phrase(token, self.dictionary).text
