"""How an event is framed: asserted, negated, hypothetical, threatened, planned or background.

The cues are data (``modality`` and ``background`` in ``seeds/rules/policy.json``, each with a
why); this module only reads them off the parse. The reading starts at the event's trigger and
walks up its head chain, nearest word first, stopping at an attribution verb ("police *said* a
bomb exploded" is asserted). On each word of the chain:

- a cue word among its function-word children ("not", "would", "will", "once") or, above the
  trigger, its own lemma ("threaten", "plan") gives that modality;
- a past-period frame gives ``background``: history and context clauses ("were *once*
  strongholds", "the *site of* a major offensive", "an offensive *in 2004*", "*years ago*",
  "*since* last April, when ...", "has been fighting *for more than a decade*").

Perfect aspect alone is not a background cue: fresh news uses it constantly ("militants have
attacked a checkpoint"); only together with a long period does it describe a state of affairs.
A condition clause ("if talks fail") makes the event hypothetical only when no cue word is
found, because threats and plans usually carry conditions ("threatened to strike if ...").
An event *inside* a condition clause is hypothetical whatever the parser made of its opening
word ("*Wherever* ISIL takes control, it will declare an emirate": the taking is the condition).
An event named as the purpose of what a verb hands over ("providing targeting information *for*
air strikes") is planned: the support is the news, the strikes it serves are not reported.
A phrasal verb is not its base lemma: "*set off* landmines" is an attack, "is *set* to retake" a plan.
A place's relative clause in the present perfect or progressive ("Syria, *where* forces *have
battled*", "*where* forces *are* battling") describes the place's ongoing state: background.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacy.tokens import Token

# Order decides which cue wins when one word carries several (a negated plan is negated).
MODALITY_ORDER = ("negated", "hypothetical", "threatened", "planned", "background")
CUE_DEPS = frozenset({"neg", "aux", "auxpass", "mark", "det", "amod", "advmod", "prt"})
SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})
# Words that make an adverbial clause a condition on the event it modifies (grammar, not tuning).
CONDITIONAL_MARKS = frozenset({"if", "unless", "should", "whether"})
# A relative clause on a place opens with 'where'; present-tense auxiliaries make it a state (grammar).
PLACE_RELATIVE = "where"
PRESENT_AUX_TAGS = frozenset({"VBZ", "VBP"})
# A purpose 'for' on what a verb hands over ('providing targeting information *for* air strikes',
# 'sought approval *for* the offensive'): the event is what the thing is for, not one reported (grammar).
PURPOSE_PREP = "for"
# How an attribution verb ('said') holds what it reports (grammar).
REPORTED_DEPS = frozenset({"ccomp", "parataxis"})
YEAR_RE = re.compile(r"^(?:19|20)\d\d$")
MAX_CHAIN = 50


@dataclass(frozen=True)
class BackgroundFrames:
    """The structural background cues of ``policy.json`` (``background``)."""

    frame_lemmas: frozenset[str]
    period_nouns: frozenset[str]
    year_preps: frozenset[str]
    duration_preps: frozenset[str]
    ago_words: frozenset[str]
    cue_exceptions: frozenset[str]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackgroundFrames:
        return cls(*(frozenset(data[name]["value"]) for name in _BACKGROUND_KEYS))


_BACKGROUND_KEYS = (
    "frame_lemmas",
    "period_nouns",
    "year_preps",
    "duration_preps",
    "ago_words",
    "cue_exceptions",
)


@dataclass(frozen=True)
class ModalityReader:
    """Reads the modality of an event from its trigger token; see the module docstring."""

    cues: dict[str, frozenset[str]]
    transparent: frozenset[str]
    background: BackgroundFrames

    @classmethod
    def from_dict(cls, modality: dict[str, Any], background: dict[str, Any]) -> ModalityReader:
        return cls(
            cues={name: frozenset(modality[name]["value"]) for name in MODALITY_ORDER},
            transparent=frozenset(modality["transparent"]["value"]),
            background=BackgroundFrames.from_dict(background),
        )

    def of(self, trigger: Token) -> str:
        """The framing of the event whose trigger is ``trigger``: nearest cue on its head chain wins."""
        chain = self.frame_chain(trigger)
        for token in chain:
            cue = self.cue(token, own_lemma=token is not trigger) or self._condition_opener(token)
            cue = cue or self._purpose(token)
            if cue is None and self._background_frame(token, own_lemma=token is not trigger):
                cue = "background"
            if cue is not None:
                return cue
        return "hypothetical" if any(_conditional_clause(t) for t in chain) else "asserted"

    def of_main_verb(self, root: Token) -> str:
        """The framing of an event no rule located (the model's): the sentence's main verb, read with
        its own lemma too ('the government *ordered* the military to close the border' is an order)."""
        if root.lemma_.lower() in self.transparent:
            # 'The air force did not carry out any strikes, the ministry said': the reported clause.
            clause = next(
                (c for c in root.children if c.dep_ in REPORTED_DEPS and c.pos_ in ("VERB", "AUX")), None
            )
            return self.of_main_verb(clause) if clause is not None else "asserted"
        return self.cue(root, own_lemma=True) or self.of(root)

    def of_statement(self, verb: Token) -> str:
        """A statement is asserted even with future content ('we will help'), unless its verb is negated."""
        return "negated" if self.cue(verb, own_lemma=False) == "negated" else "asserted"

    def frame_chain(self, trigger: Token) -> list[Token]:
        """The trigger and its governors up to the first attribution verb (which is transparent)."""
        chain = [trigger]
        for token in governors(trigger):
            if token.lemma_.lower() in self.transparent:
                break
            chain.append(token)
        return chain

    def cue(self, token: Token, own_lemma: bool) -> str | None:
        """The modality named by a cue word on ``token`` (its function-word children, its own lemma)."""
        cue_words = [c for c in token.children if c.dep_ in CUE_DEPS]
        # "No bombs exploded": the negation sits on the subject of the trigger verb.
        cue_words += [
            g for c in token.children if c.dep_ in SUBJECT_DEPS for g in c.children if g.dep_ == "det"
        ]
        words = [w for c in cue_words if not self._excepted(c) for w in (c.lower_, c.lemma_.lower())]
        # A phrasal verb means something else than its base: 'set off a bomb' is no plan.
        if own_lemma and not any(c.dep_ == "prt" for c in token.children):
            words.append(token.lemma_.lower())
        for modality in MODALITY_ORDER:
            if any(w in self.cues[modality] for w in words):
                return modality
        return None

    def _condition_opener(self, token: Token) -> str | None:
        """An adverbial clause opening with a condition word is a condition, however it is parsed
        ('*Wherever* ISIL takes control, ...' where 'Wherever' hangs off the subject)."""
        if token.dep_ != "advcl":
            return None
        opener = token.doc[token.left_edge.i]
        return "hypothetical" if opener.lower_ in self.cues["hypothetical"] else None

    def _purpose(self, token: Token) -> str | None:
        """'providing targeting information for air strikes': the strikes are the purpose of what is
        provided, not an event the sentence reports; planned. An attribution word or its object is
        transparent ('took responsibility for the attacks', 'claimed credit for' report the attacks)."""
        if token.lower_ != PURPOSE_PREP or token.dep_ != "prep":
            return None
        noun = token.head
        if noun.pos_ != "NOUN" or noun.dep_ != "dobj":
            return None
        if noun.lemma_.lower() in self.transparent or noun.head.lemma_.lower() in self.transparent:
            return None
        return "planned"

    def _excepted(self, cue_word: Token) -> bool:
        """'once again', 'once more' repeat an event: not the 'once' of history."""
        following = cue_word.nbor(1) if cue_word.i + 1 < len(cue_word.doc) else None
        return following is not None and following.lower_ in self.background.cue_exceptions

    def _background_frame(self, token: Token, own_lemma: bool) -> bool:
        frames = self.background
        if own_lemma and token.lemma_.lower() in frames.frame_lemmas:
            return True  # "the site of a major offensive", "since last April, when ..."
        return _present_place_clause(token) or any(
            self._past_year(child) or self._long_ago(child) or self._long_duration(child)
            for child in token.children
        )

    def _past_year(self, child: Token) -> bool:
        """'an offensive in 2004', 'the 2004 offensive': a year named on the event itself."""
        if child.dep_ in ("nummod", "compound", "npadvmod") and YEAR_RE.match(child.text):
            return True
        if child.dep_ != "prep" or child.lower_ not in self.background.year_preps:
            return False
        # The year must be what the preposition names ('in 2004', 'in May 2004'), not a word
        # deeper down ('in the worst attack since 2014').
        objects = [o for o in child.children if o.dep_ == "pobj"]
        return any(YEAR_RE.match(t.text) for o in objects for t in (o, *o.children))

    def _long_ago(self, child: Token) -> bool:
        """'years ago', 'two decades ago' (not 'two days ago': recent events are news)."""
        if child.lower_ not in self.background.ago_words:
            return False
        return any(t.lemma_.lower() in self.background.period_nouns for t in child.children)

    def _long_duration(self, child: Token) -> bool:
        """'has been fighting for more than a decade': a long-running state, not one event."""
        if child.dep_ != "prep" or child.lower_ not in self.background.duration_preps:
            return False
        # The period must be the object itself: 'for the first time in a year' is today's event.
        return any(
            o.lemma_.lower() in self.background.period_nouns for o in child.children if o.dep_ == "pobj"
        )


def _present_place_clause(token: Token) -> bool:
    """'Syria, where forces are battling' / 'where it has battled forces': a present-perfect or
    progressive relative clause on a place tells what goes on there, not what happened today."""
    if token.dep_ != "relcl":
        return False
    children = list(token.children)
    where = any(c.dep_ == "advmod" and c.lower_ == PLACE_RELATIVE for c in children)
    return where and any(c.dep_ == "aux" and c.tag_ in PRESENT_AUX_TAGS for c in children)


def _conditional_clause(token: Token) -> bool:
    """'..., should officials ask' / 'if talks fail' hanging off the event makes it a consequent."""
    for clause in (c for c in token.children if c.dep_ == "advcl"):
        marks = {c.lower_ for c in clause.children if c.dep_ in ("mark", "aux", "advmod")}
        if marks & CONDITIONAL_MARKS:
            return True
    return False


def governors(token: Token) -> list[Token]:
    """The words above ``token`` in the parse, nearest first."""
    chain: list[Token] = []
    while token.head.i != token.i and len(chain) < MAX_CHAIN:
        token = token.head
        chain.append(token)
    return chain
