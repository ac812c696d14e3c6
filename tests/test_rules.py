"""The rule layer: data-file validation, the keyword pre-check, every rule's examples on the real model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import spacy
from hypothesis import given
from hypothesis import strategies as st

from coder.classify.rules import RULES_FILE, RuleSet
from coder.config import PROJECT_ROOT
from coder.errors import ConfigError, DataFileError
from coder.records import Sentence

RULES_DIR = PROJECT_ROOT / "seeds" / "rules"
GOLD_DIR = PROJECT_ROOT / "seeds" / "gold"
RULES = RuleSet.load(RULES_DIR)


def _sentence(text: str, start: int = 0) -> Sentence:
    return Sentence("s1", "a1", 0, start, start + len(text), text)


def _rule_ids(nlp, text: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {m.rule_id for m in RULES.match(nlp(text), _sentence(text))}


def _gold_texts() -> list[str]:
    lines = []
    for name in ("seed_sentences.jsonl", "hard_cases.jsonl"):
        lines += (GOLD_DIR / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def test_version_names_format_and_file_hash() -> None:
    assert RULES.version.startswith("event-rules.v1+")
    assert len(RULES.version.split("+")[1]) == 8


def test_rule_ids_are_versioned_and_unique() -> None:
    ids = [rule.id for rule in RULES.rules]
    assert len(ids) == len(set(ids))
    assert all(rule_id.split(".")[-1].startswith("v") for rule_id in ids)


def _write_rules(tmp_path: Path, lines: list[str]) -> Path:
    (tmp_path / RULES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def _good_line() -> dict:  # type: ignore[type-arg]
    return json.loads((RULES_DIR / RULES_FILE).read_text(encoding="utf-8").splitlines()[0])


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    folder = _write_rules(tmp_path, [json.dumps(_good_line()), "{not json"])
    with pytest.raises(DataFileError) as err:
        RuleSet.load(folder)
    assert err.value.line == 2 and RULES_FILE in str(err.value)


def test_schema_violation_names_the_field(tmp_path: Path) -> None:
    bad = _good_line()
    del bad["why"]
    with pytest.raises(DataFileError, match="why") as err:
        RuleSet.load(_write_rules(tmp_path, [json.dumps(bad)]))
    assert err.value.line == 1


def test_sub_event_type_must_fit_event_type(tmp_path: Path) -> None:
    bad = _good_line() | {"sub_event_type": "Air/drone strike"}  # a bombing rule
    with pytest.raises(DataFileError):
        RuleSet.load(_write_rules(tmp_path, [json.dumps(bad)]))


def test_pattern_spacy_rejects_is_a_data_error(tmp_path: Path) -> None:
    bad = _good_line() | {"patterns": [[{"NOT_AN_ATTR": "x"}]]}
    with pytest.raises(DataFileError, match="spaCy") as err:
        RuleSet.load(_write_rules(tmp_path, [json.dumps(bad)]))
    assert err.value.line == 1


def test_duplicate_ids_rejected(tmp_path: Path) -> None:
    line = json.dumps(_good_line())
    with pytest.raises(DataFileError, match="duplicate"):
        RuleSet.load(_write_rules(tmp_path, [line, line]))


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataFileError):
        RuleSet.load(tmp_path)


def test_version_changes_with_file_content(tmp_path: Path) -> None:
    shutil.copy(RULES_DIR / RULES_FILE, tmp_path / RULES_FILE)
    with (tmp_path / RULES_FILE).open("a", encoding="utf-8") as handle:
        handle.write("\n")
    assert RuleSet.load(tmp_path).version != RULES.version


def test_might_match_is_a_keyword_check() -> None:
    assert RULES.might_match("A CAR BOMB went off")
    assert not RULES.might_match("The talks in Geneva ended on Friday.")


@given(st.text(max_size=80))
def test_might_match_ignores_case(text: str) -> None:
    assert RULES.might_match(text) == RULES.might_match(text.lower())


def test_blank_pipeline_is_refused_not_silently_empty() -> None:
    text = "A roadside bomb went off."
    with pytest.raises(ConfigError, match="lemmatizer"):
        RULES.match(spacy.blank("en")(text), _sentence(text))


@pytest.mark.parametrize("rule", RULES.rules, ids=[rule.id for rule in RULES.rules])
def test_rule_fires_on_its_examples(nlp_full, rule) -> None:  # type: ignore[no-untyped-def]
    for example in rule.examples:
        assert rule.id in _rule_ids(nlp_full, example), example
        assert any(k in example.lower() for k in rule.keywords), f"keywords miss their own example: {example}"


@pytest.mark.parametrize(
    "rule",
    [r for r in RULES.rules if r.counter_examples],
    ids=[r.id for r in RULES.rules if r.counter_examples],
)
def test_rule_silent_on_counter_examples(nlp_full, rule) -> None:  # type: ignore[no-untyped-def]
    for example in rule.counter_examples:
        assert rule.id not in _rule_ids(nlp_full, example), example


def test_trigger_offsets_are_article_offsets(nlp_full) -> None:  # type: ignore[no-untyped-def]
    prefix = "Headline.\n\n"
    text = "Three car bombs exploded in Baghdad."
    article = prefix + text
    matches = RULES.match(nlp_full(text), _sentence(text, start=len(prefix)))
    hit = next(m for m in matches if m.rule_id == "bombing.vehicle_bomb.v1")
    assert article[hit.trigger_start : hit.trigger_end] == "car bombs"


def test_no_rule_fires_without_its_keywords_on_gold(nlp_full) -> None:  # type: ignore[no-untyped-def]
    """The pre-check is lossless on every gold sentence: a rule that fires has a keyword in the text."""
    for doc, text in zip(nlp_full.pipe(_gold_texts()), _gold_texts(), strict=True):
        for match in RULES.match(doc, _sentence(text)):
            rule = RULES.get(match.rule_id)
            assert any(k in text.lower() for k in rule.keywords), (rule.id, text)


def test_matches_are_deterministic(nlp_full) -> None:  # type: ignore[no-untyped-def]
    text = "Rebels shelled the town and then clashed with troops, the army said."
    first = RULES.match(nlp_full(text), _sentence(text))
    assert first == RULES.match(nlp_full(text), _sentence(text))
    assert [m.trigger_start for m in first] == sorted(m.trigger_start for m in first)
