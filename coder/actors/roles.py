"""The parse rules of actor finding: which tokens head the initiator's side and the target's side of
an event (subjects, agents, objects, target prepositions, event nouns, purpose and reported clauses).
Normalising a head into an actor is ``extract``'s half."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from coder.actors.parse import SUBJECTS, HeadRules, first_child, pobjs, subject_of, with_conjuncts

if TYPE_CHECKING:
    from spacy.tokens import Token


@dataclass(frozen=True)
class RoleFinder(HeadRules):
    """Role finding for one event: which heads are the initiator's side, the target's side and the
    allies, from the trigger's dependents (subjects, agents, objects, event nouns, clauses)."""

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

    def main_event(self, trigger: Token) -> Token:
        """A trigger inside a background clause ("... launched assaults to expel militants after they seized
        police stations") gives way to the main clause when that clause reports an event of its own: the
        clause opened by a ``background_markers`` word only dates or explains the main event."""
        markers = self.words("background_markers")
        if trigger.dep_ != "advcl" or not any(
            c.dep_ == "mark" and c.lower_ in markers for c in trigger.children
        ):
            return trigger
        verb = trigger.head
        for _ in range(4):
            if self.reports_event(verb) and subject_of(verb) is not None:
                return verb
            if verb.dep_ not in ("advcl", "xcomp", "conj") or verb.head is verb:
                break
            verb = verb.head
        return trigger

    def reports_event(self, verb: Token) -> bool:
        """A verb whose object is an event noun ("launched assaults", "carried out raids")."""
        nouns = self.words("event_nouns")
        return verb.pos_ == "VERB" and any(
            c.dep_ == "dobj" and c.lemma_.lower() in nouns for c in verb.children
        )

    def allies(self, verb: Token, heads: list[Token]) -> list[Token]:
        """Those fighting alongside actor1 (assoc_actor1), never leading and never the target: the agents
        of a backing participle on an actor1 head ("Iraqi forces backed by Sunni tribal militias"), the
        partner of an alliance verb ("joined forces with local tribesmen"), and "alongside X"."""
        backing = self.words("backing_verbs")
        participles = [
            c for h in heads for c in h.children if c.dep_ == "acl" and c.lemma_.lower() in backing
        ]
        found = [a for c in participles for a in pobjs(c, self.words("agent_preps"))]
        if verb.lemma_.lower() in self.words("alliance_verbs"):
            found += pobjs(verb, ("with",))
        return with_conjuncts(found + pobjs(verb, self.words("ally_preps")))

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
        if trigger.lemma_.lower() in self.words("victim_verbs"):
            return self.victim_roles(trigger)
        agents = pobjs(trigger, self.words("agent_preps"))
        patients = [c for c in trigger.children if c.dep_ == "nsubjpass"]
        if not patients and trigger.dep_ == "acl" and trigger.tag_ == "VBN":
            patients = [trigger.head]  # "a camp attacked by militants", "10 soldiers killed in ..."
        if patients or agents:
            # "The rockets were sent by the US to help the government": a thing sent leaves the target
            # to the purpose clause.
            agents = agents or self.clause_agents(trigger)
            return with_conjuncts(agents), self.pick_target(patients) or self.targets(trigger)
        skip = frozenset(a.i for a in self.allies(trigger, []))
        if trigger.lemma_.lower() in self.words("alliance_verbs"):
            # "joined forces with X", "joined hands with X": the object is part of the idiom.
            skip |= {c.i for c in trigger.children if c.dep_ == "dobj"}
        subject, actor2 = subject_of(trigger), self.targets(trigger, skip=skip)
        if subject is not None and {subject.lower_, subject.lemma_.lower()} & self.words("event_nouns"):
            # "An airstrike by coalition jets killed five civilians": the noun carries the initiator;
            # "Fighting between the army and rebels continued": and both sides.
            on_noun = self.noun_roles(subject)
            between = [] if on_noun[0] else with_conjuncts(pobjs(trigger, ["between"]))
            if between:
                # "Clashes erupted between police and protesters": the parser hangs "between" on the verb.
                return between[:1], between[1:2]
            return on_noun[0], actor2 or on_noun[1]
        actor1 = with_conjuncts([subject] if subject is not None else [])
        if len(actor1) > 1 and self.reciprocal(trigger) and not self.acted_on(trigger, actor2):
            # "Army and rebels clashed", "Jordan and Britain agreed to hold exercises": the two sides.
            return actor1[:1], actor1[1:2]
        return actor1, actor2

    def reciprocal(self, verb: Token) -> bool:
        """A verb whose coordinated subjects act on each other: a ``symmetric_verbs`` verb, or one whose
        object is a ``reciprocal_nouns`` noun ("signed an agreement"), itself or in its infinitive."""
        verbs = [verb, *(c for c in verb.children if c.dep_ == "xcomp")]
        verbs += [g for v in verbs[1:] for g in v.children if g.dep_ == "xcomp"]
        nouns = self.words("reciprocal_nouns")
        return any(
            v.lemma_.lower() in self.words("symmetric_verbs")
            or any(c.dep_ == "dobj" and c.lemma_.lower() in nouns for c in v.children)
            for v in verbs
        )

    def acted_on(self, verb: Token, heads: list[Token]) -> bool:
        """Whether a target is the verb's own object ("clashed with rebels"), not one found deeper."""
        own = {o.i for o in self.objects(verb)}
        return any(h.i in own or h.head.i in own for h in heads)

    def clause_agents(self, verb: Token) -> list[Token]:
        """The agent of a passive without 'by', named in its adverbial clause: "Two soldiers were wounded
        when militants attacked their patrol" -> the militants (a person or group, never a thing)."""
        clauses = [c for c in verb.children if c.dep_ == "advcl" and c.pos_ == "VERB"]
        subjects = [s for c in clauses for s in [first_child(c, ("nsubj",))] if s is not None]
        return [s for s in subjects if self.names_actor(s, role=2) or self.could_be_actor(s)][:1]

    def victim_roles(self, verb: Token) -> tuple[list[Token], list[Token]]:
        """ "Three soldiers died when patrols were bombed", "Two died in an attack by militants": the
        subject of a ``victim_verbs`` verb is a target; the clause or event noun beside it has the rest."""
        victims = [s for s in [first_child(verb, SUBJECTS)] if s is not None]
        events = [c for c in verb.children if c.dep_ == "advcl" and c.pos_ == "VERB"]
        nouns = [
            o for o in pobjs(verb, ("in", "during", "after")) if o.lemma_.lower() in self.words("event_nouns")
        ]
        if not events and not nouns:
            return [], self.pick_target(victims)
        actor1, actor2 = self.parse_roles(events[0]) if events else self.noun_roles(nouns[0])
        return actor1, actor2 or self.pick_target(victims)

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
        if not actor2 and noun.dep_ == "dobj" and noun.head.pos_ == "VERB":
            # "stepped up arms supplies to Maliki's government", "launched assaults to expel militants".
            actor2 = self.targets(noun.head, skip=frozenset({noun.i}))
        if not actor2 and noun.dep_ in SUBJECTS and noun.head.pos_ == "VERB":
            actor2 = [c for c in noun.head.children if c.dep_ == "dobj"]
            # "A shipment of missiles arrived in Iraq": the verb of a transfer noun names the recipient.
            actor2 = actor2 or (self.targets(noun.head) if self.transfer else [])
        return with_conjuncts(actor1), with_conjuncts(actor2)

    def targets(self, head: Token, depth: int = 0, skip: frozenset[int] = frozenset()) -> list[Token]:
        """The acted-upon side: named actors among the objects, then actors named inside a non-actor object
        ("responsibility for attacks on X", "accusations by X"), then plain person/group objects, then the
        same inside purpose and reported clauses ("used rockets to quell attacks by X", "said X would...")."""
        objects = [o for o in self.objects(head) if o.i not in skip]
        if self.violent and head.lemma_.lower() in self.words("dispatch_verbs"):
            # "dispatched suicide bombers to attack government targets": those sent are actor1's own.
            sent = {o.i for o in objects if o.dep_ == "dobj"}
            purpose = [c for c in self.clauses(head) if c.dep_ in ("xcomp", "advcl")]
            found = [t for c in purpose for t in self.targets(c, depth + 1, skip | sent)][:1]
            if found:
                return with_conjuncts(found)
        picked = self.pick_target(objects) or self.pick_target([a for o in objects for a in self.aimed_at(o)])
        if picked:
            return picked
        # "claimed responsibility for attacks on X", "protested against violations by X".
        nouns = self.words("event_nouns")
        events = [o for p in head.children if p.dep_ == "prep" for o in p.children if o.dep_ == "pobj"]
        inside = [n for o in events if o.lemma_.lower() in nouns for n in self.nested(o)]
        if inside:
            return with_conjuncts(inside[:1])
        if depth >= 2:
            return []
        for event in (o for o in objects if o.lemma_.lower() in nouns):
            found = self.targets(event, depth + 1)  # "launched an assault to drive rebels from the town"
            if found:
                return found
        for clause in self.clauses(head):
            subject = self.reportedsubject_of(clause)
            if subject is not None:
                # Its own target follows, for when the subject is actor1 again ("the US would help Iraq").
                return with_conjuncts([subject]) + self.targets(clause, depth + 1)
            found = self.targets(clause, depth + 1)
            if found:
                return found
        return []

    def aimed_at(self, thing: Token) -> list[Token]:
        """What a thing is aimed at ("strikes targeting Taliban commanders", "a bomb aimed at pilgrims"):
        the objects of a ``targeting_verbs`` participle on it."""
        verbs = self.words("targeting_verbs")
        return [
            o
            for c in thing.children
            if c.dep_ == "acl" and c.lemma_.lower() in verbs
            for o in self.objects(c)
        ]

    def pick_target(self, objects: list[Token]) -> list[Token]:
        """Named actors first, then actors named inside a non-actor object ("a camp for Congolese
        refugees"), then plain person/group objects; with its conjuncts. A place an actor holds is
        that actor."""
        objects = [self.of_actor(self.holder(o)) for o in objects]
        for picked in (
            [o for o in objects if self.names_actor(o, role=2)],
            [n for o in objects for n in self.nested(o)],
            [o for o in objects if self.could_be_actor(o)],
        ):
            if picked:
                return with_conjuncts(picked[:1])
        return []

    def of_actor(self, thing: Token) -> Token:
        """An abstract noun that is no actor names its actor in its 'of' phrase: "called for the
        withdrawal of Syrian forces", "demanded the release of the hostages". Places ("a region of
        Saudi Arabia") and things keep their own head."""
        if thing.pos_ != "NOUN" or self.is_place_noun(thing) or self.is_thing(thing):
            return thing
        if self.could_be_actor(thing) or self.dictionary.find(thing.text) is not None:
            return thing
        inner = [o for o in pobjs(thing, ("of",)) if self.names_actor(o, role=2) or self.could_be_actor(o)]
        return inner[0] if inner else thing

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
        lemma = head.lemma_.lower()
        if (
            lemma in self.words("reporting_verbs")
            or lemma in self.words("directive_verbs")
            or head.pos_ != "VERB"
        ):
            deps.append("ccomp")
        markers = self.words("background_markers")
        return [
            c
            for c in head.children
            if (c.dep_ in deps or (c.dep_ == "relcl" and any(a.lower_ == "to" for a in c.children)))
            and c.pos_ in ("VERB", "AUX")
            and not any(m.dep_ == "mark" and m.lower_ in markers for m in c.children)
        ]
