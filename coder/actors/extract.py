"""Finding actor phrases around the event trigger in the dependency parse, normalised through the
actor dictionary: actor1 initiator, actor2 target, assoc_actor1 fighting alongside."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from coder.actors.dictionary import (
    ActorDictionary,
    ActorEntry,
    clean_text,
    tier,
)
from coder.actors.parse import (
    SUBJECTS,
    anaphor_entry,
    first_child,
    phrase,
    pobjs,
    subject_of,
    surname_entry,
    trigger_from_decision,
    with_conjuncts,
)
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
    sets, kind = dictionary.word_sets, decision.event_type
    statement = kind in sets["statement_event_types"]
    trigger = trigger_from_decision(doc, sentence, decision) or find_trigger(doc, dictionary)
    if trigger is None:
        return EventActors()
    violent, transfer = kind in sets["violent_event_types"], kind in sets["transfer_event_types"]
    finder = _Finder(
        sentence, article, dictionary, previous, dictionary.country_hint(article), violent, transfer
    )
    verb = finder.speaker_verb(trigger)
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
    assoc = ranked[1] if len(ranked) > 1 else None
    return EventActors(actor1=actor1, actor2=side2[0] if side2 else None, assoc_actor1=assoc)


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
class _Finder:
    """Actor finding for one event: the parse rules, with the article's context and the dictionary."""

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

    def speaker_verb(self, verb: Token) -> Token:
        """For a saying verb whose subject is an outlet, the nested saying verb ("the Post reported that
        Kerry said ..."), so that the speaker, not the outlet, is actor1."""
        saying = self.words("reporting_verbs")
        while verb.lemma_.lower() in saying:
            subject = first_child(verb, SUBJECTS)
            nested = [c for c in verb.children if c.dep_ == "ccomp" and c.lemma_.lower() in saying]
            if subject is None or not nested or not self.is_outlet(subject, self.dictionary):
                break
            verb = nested[0]
        return verb

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

    def roles(self, trigger: Token) -> tuple[list[Token], list[Token]]:
        """Heads of the actor1 side and of the actor2 side; a transfer without a named sender takes
        the one after 'from' ("weapons from Iran arrived")."""
        actor1, actor2 = self.parse_roles(trigger)
        if self.transfer and not any(self.names_actor(t) for t in actor1):
            heads = [trigger, *(c for c in trigger.children if c.dep_ in (*SUBJECTS, "nsubjpass"))]
            senders = [o for h in heads for o in pobjs(h, self.words("transfer_sender_preps"))]
            actor1 = with_conjuncts([o for o in senders if self.names_actor(o)][:1]) or actor1
        return actor1, actor2

    def parse_roles(self, trigger: Token) -> tuple[list[Token], list[Token]]:
        """Heads of the actor1 side and of the actor2 side, from the trigger's own dependents."""
        if trigger.pos_ in ("NOUN", "PROPN"):
            return self.noun_roles(trigger)
        agents = pobjs(trigger, self.words("agent_preps"))
        patients = [c for c in trigger.children if c.dep_ == "nsubjpass"]
        if patients or agents:
            return with_conjuncts(agents), with_conjuncts(patients)
        subject, actor2 = subject_of(trigger), self.targets(trigger)
        if subject is not None and subject.lemma_.lower() in self.words("event_nouns"):
            # "An airstrike by coalition jets killed five civilians": the noun carries the initiator.
            return self.noun_roles(subject)[0], actor2
        actor1 = with_conjuncts([subject] if subject is not None else [])
        if not actor2 and len(actor1) > 1 and trigger.lemma_.lower() in self.words("symmetric_verbs"):
            return actor1[:1], actor1[1:2]
        return actor1, actor2

    def noun_roles(self, noun: Token) -> tuple[list[Token], list[Token]]:
        """Event nouns: "airstrikes by X", "X's attack on Y", "clashes between X and Y"."""
        between = with_conjuncts(pobjs(noun, ["between"]))
        if between:
            return between[:1], between[1:2]
        actor1 = pobjs(noun, self.words("agent_preps")) or [c for c in noun.children if c.dep_ == "poss"]
        modifiers = [c for c in noun.children if c.dep_ in ("amod", "compound") and self.names_actor(c)]
        actor1 = actor1 or modifiers
        if not actor1 and noun.dep_ in ("dobj", "attr") and noun.head.pos_ in ("VERB", "AUX"):
            actor1 = [s for s in [subject_of(noun.head)] if s is not None]
        actor2 = self.targets(noun)
        if not actor2 and noun.dep_ in SUBJECTS and noun.head.pos_ == "VERB":
            actor2 = [c for c in noun.head.children if c.dep_ == "dobj"]
            # "A shipment of missiles arrived in Iraq": the verb of a transfer noun names the recipient.
            actor2 = actor2 or (self.targets(noun.head) if self.transfer else [])
        return with_conjuncts(actor1), with_conjuncts(actor2)

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
                return with_conjuncts(picked[:1])
        if depth >= 2:
            return []
        for clause in self.clauses(head):
            subject = self.reportedsubject_of(clause)
            if subject is not None:
                # Its own target follows, for when the subject is actor1 again ("the US would help Iraq").
                return with_conjuncts([subject]) + self.targets(clause, depth + 1)
            found = self.targets(clause, depth + 1)
            if found:
                return found
        return []

    def objects(self, head: Token) -> list[Token]:
        """Dative, direct object and objects of target prepositions, without places of violent events,
        times, and the audience of a saying verb ("told reporters")."""
        saying = head.lemma_.lower() in self.words("reporting_verbs")
        candidates = [c for c in head.children if c.dep_ in ("dative", "dobj") and not self.is_goods(c)]
        for prep in (c for c in head.children if c.dep_ in ("prep", "dative")):
            pobj = [o for o in prep.children if o.dep_ == "pobj"]
            if prep.lower_ in self.words("target_preps"):
                candidates += [o for o in pobj if self.not_a_place(o, prep)]
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

    def reportedsubject_of(self, clause: Token) -> Token | None:
        """The subject of a reported clause is what a statement is about ("said NATO would ...")."""
        subject = first_child(clause, SUBJECTS)
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
        return phrase(token, self.dictionary).text

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
        if (
            previous is not None
            and not self.article.text[previous.end_char : self.sentence.start_char].strip()
        ):
            antecedent = previous.actor1
            if role == 2 and kind != "speaker":
                # "Tribesmen are engaging them," X said: a third-person object is never the speaker.
                said = previous.classification.event_type in self.words("statement_event_types")
                antecedent = previous.actor2 or (None if said else previous.actor1)
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
