"""Dependency-parse helpers of actor finding: the trigger token, subjects climbed over shared verbs,
prepositional objects, conjuncts and the noun phrase of an actor head."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import TYPE_CHECKING

from coder.actors.dictionary import ActorDictionary, ActorEntry, is_title_gap, join_hyphens, tier
from coder.records import Classification, Sentence

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
