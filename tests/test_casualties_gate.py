"""coder.casualties_gate: the part a pattern is gated on, and gated searches finding what ungated ones do."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coder import casualties
from coder.casualties_gate import last_part, top_level_parts
from coder.config import PROJECT_ROOT

RULES = casualties.CasualtyRules.load(PROJECT_ROOT / "seeds" / "rules" / "casualties.json")
UNGATED = dataclasses.replace(
    RULES, patterns=tuple(dataclasses.replace(p, gate=None) for p in RULES.patterns)
)
WORDS = {"COUNT": r"\d+", "DEATH": "killed|dead"}


def test_top_level_parts_mark_quantified_parts_optional() -> None:
    parts = top_level_parts(r"{COUNT}(?: x){0,6}? (?:a|b)? [a-z]+\s*(?:c|d){DEATH}")
    assert parts is not None
    assert [p for p, optional in parts if not optional] == ["{COUNT}", " ", " ", "(?:c|d)", "{DEATH}"]
    assert [p for p, optional in parts if optional] == ["(?: x)", "(?:a|b)", "[a-z]", r"\s"]


def test_top_level_alternatives_have_no_last_part() -> None:
    assert top_level_parts("{COUNT} killed|{COUNT} dead") is None
    assert last_part("{COUNT} killed|{COUNT} dead", WORDS, re.I) is None


def test_gate_is_the_last_mandatory_word_part_of_a_figure_led_pattern() -> None:
    made = last_part("{COUNT} people (?:were )?{DEATH}(?!x)", WORDS, re.I)
    assert made is not None and made.pattern == "(?:killed|dead)" and made.flags & re.I
    assert last_part("{COUNT} people {DEATH}?", WORDS, re.I) is None  # optional: nothing left to gate on
    assert last_part("{DEATH} {COUNT}", WORDS, re.I) is None  # opens on a keyword: fails fast without one


def test_figure_led_rules_are_gated_and_keyword_led_ones_are_not() -> None:
    gated = {p.rule_id for p in RULES.patterns if p.gate is not None}
    assert {"fatal.count_word", "injury.count_word", "fatal.singular", "injury.singular"} <= gated
    assert "fatal.verb_count" not in gated


SENTENCES = [
    "Three soldiers and two civilians were killed and 14 wounded in the attack.",
    "A policeman was shot dead on Monday; two others were injured.",
    "The blast killed 12 people, including 3 children, officials said.",
    "Police said 40 people attended the rally in the capital.",
    "Two KILLED, FIVE HURT IN CLASH",
    "Ahmed, 34, was killed outright while five others lost their lives.",
    "ſeven ſoldiers were kılled near the bridge.",  # non-ASCII text: regex folding decides
]


@pytest.mark.parametrize("text", SENTENCES)
def test_gated_and_ungated_find_agree(text: str) -> None:
    assert RULES.find(text) == UNGATED.find(text)


def test_gated_and_ungated_find_agree_on_gold_sentences() -> None:
    path = PROJECT_ROOT / "seeds" / "gold" / "seed_events.jsonl"
    texts = [json.loads(line)["sentence"] for line in path.read_text().splitlines() if line.strip()]
    assert texts
    assert [RULES.find(t) for t in texts] == [UNGATED.find(t) for t in texts]


SALAD = ["two", "a", "soldier", "were", "killed", "wounded", "Ali", "and", "dead", "13", ","]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(SALAD), max_size=12))
def test_gated_and_ungated_find_agree_on_word_salad(words: list[str]) -> None:
    text = " ".join(words)
    assert RULES.find(text) == UNGATED.find(text)
