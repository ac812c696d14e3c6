"""The cheap first pass: which sentences need the spaCy parse at all.

Parsing is the costly step of coding. A sentence is parsed only where the parse can change the
coding; every other sentence is coded none without it (``decide.skipped``). The parse is needed
when any of these holds, each checked on the raw text and the model's scores:

- quoted speech (``quoted_speech``): a quote continues a speaker's statement;
- a possible model event: P(none) below the ``none`` threshold (or ``parse_if_none_below``) and
  the top event type at ``min_event_probability`` (``model_may_code``);
- a rule the policy would accept whose needed words are all in the text (``RuleSet.candidates``);
- a cue word (``ParseCues``): a first-person word (a running quote) or a toll word (the aftermath
  of the event before it).

The thresholds and words are the policy's (``seeds/rules/policy.json``); ``decide.Policy``
calls ``needs_parse`` with them, so the gate and the decision can never disagree on a threshold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coder.classify.rules import RuleSet

# Letter runs of the lowercased text: the words a cheap check can see without the tokenizer.
WORD_RUN = re.compile(r"[^\W\d_]+")
OPENING_QUOTES = '“"«'
CLOSING_QUOTES = '”"»'

# (event_type, precision, scores) -> would the policy accept a rule of this type and precision?
Acceptance = Callable[[str, float, dict[str, float]], bool]


@dataclass(frozen=True)
class ParseCues:
    """Words that make a sentence worth parsing whatever the rules say: a running quote speaks in
    the first person ('we'); an aftermath sentence ('At least 19 were killed.') names the toll."""

    first_person_runs: frozenset[str]
    toll_words: frozenset[str]

    @classmethod
    def from_words(cls, first_person: Iterable[str], toll_words: Iterable[str]) -> ParseCues:
        # "we're" is the tokens "we" + "'re" to spaCy: its first letter run is the word the parse sees.
        return cls(
            first_person_runs=frozenset(WORD_RUN.findall(w.lower())[0] for w in first_person),
            toll_words=frozenset(toll_words),
        )

    def in_text(self, text: str) -> bool:
        """A toll word, or a first-person word read as the running-quote check reads it ('US' the
        country is not 'us'; 'I' is the one first-person word written in capitals)."""
        for run in WORD_RUN.findall(text):
            w = run.lower()
            if w in self.toll_words or (w in self.first_person_runs and (run == "I" or not run.isupper())):
                return True
        return False


def needs_parse(
    text: str,
    scores: dict[str, float],
    rules: RuleSet,
    *,
    thresholds: dict[str, float],
    cues: ParseCues,
    may_accept: Acceptance,
) -> bool:
    """False only when the parse cannot change the coding: the policy would say none anyway."""
    cheap = "none" not in scores or quoted_speech(text) or model_may_code(scores, thresholds)
    if cheap or cues.in_text(text):
        return True
    return any(may_accept(r.event_type, r.precision, scores) for r in rules.candidates(text))


def model_may_code(scores: dict[str, float], thresholds: dict[str, float]) -> bool:
    """Could the model's choice (or the model beating a quote) code an event here?"""
    top = top_event(scores)
    ceiling = max(thresholds["parse_if_none_below"], thresholds["none"])
    floor = thresholds.get("min_event_probability", 0.0)
    return top is not None and float(scores["none"]) < ceiling and top[1] >= floor


def quoted_speech(text: str) -> bool:
    """Does the sentence open with a quote mark, or leave a quote open or closed (a quote that runs
    over several sentences: the speaker is named in another one)?"""
    body = text.strip()
    if not body:
        return False
    if body[0] in OPENING_QUOTES:
        return True
    straight = body.count('"')
    curly_open, curly_close = body.count("“") + body.count("«"), body.count("”") + body.count("»")
    return straight % 2 == 1 or curly_open != curly_close


def argmax(scores: dict[str, float]) -> str | None:
    """The most likely label; ties go to the alphabetically first (deterministic)."""
    if not scores:
        return None
    return max(sorted(scores), key=lambda label: scores[label])


def top_event(scores: dict[str, float]) -> tuple[str, float] | None:
    """The most likely label other than none, with its probability."""
    events = {k: float(v) for k, v in scores.items() if k != "none"}
    label = argmax(events)
    return (label, events[label]) if label is not None else None
