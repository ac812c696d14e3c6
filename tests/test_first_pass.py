"""The cheap first pass (coder.classify.first_pass) on its own, with invented sentences."""

from __future__ import annotations

from coder.classify.first_pass import ParseCues, argmax, model_may_code, needs_parse, top_event
from coder.classify.rules import RuleSet
from coder.config import PROJECT_ROOT

RULES = RuleSet.load(PROJECT_ROOT / "seeds" / "rules")
THRESHOLDS = {"parse_if_none_below": 0.4, "none": 0.4, "min_event_probability": 0.3}
CUES = ParseCues.from_words(["we", "we're", "i"], ["killed", "wounded"])


def _never(event_type: str, precision: float, scores: dict[str, float]) -> bool:
    return False


def _always(event_type: str, precision: float, scores: dict[str, float]) -> bool:
    return True


def test_cues_read_first_person_and_tolls() -> None:
    assert CUES.first_person_runs == frozenset({"we", "i"})
    assert CUES.in_text("We're leaving.") and CUES.in_text("Three were killed.")
    assert CUES.in_text("Then I left.") and not CUES.in_text("WE ARE HERE")
    assert not CUES.in_text("Oil output rose.")


def test_model_may_code_needs_low_none_and_a_strong_event() -> None:
    assert model_may_code({"none": 0.2, "bombing": 0.6}, THRESHOLDS)
    assert not model_may_code({"none": 0.5, "bombing": 0.5}, THRESHOLDS)
    assert not model_may_code({"none": 0.3, "bombing": 0.2, "statement": 0.2}, THRESHOLDS)


def test_needs_parse_asks_the_policy_about_rules() -> None:
    sure = {"none": 0.99, "bombing": 0.01}
    text = "A car bomb went off."
    kwargs = {"thresholds": THRESHOLDS, "cues": CUES}
    assert needs_parse(text, sure, RULES, may_accept=_always, **kwargs)  # type: ignore[arg-type]
    assert not needs_parse(text, sure, RULES, may_accept=_never, **kwargs)  # type: ignore[arg-type]
    assert needs_parse("“Oil rose,” he said.", sure, RULES, may_accept=_never, **kwargs)  # type: ignore[arg-type]


def test_argmax_and_top_event_are_deterministic() -> None:
    assert argmax({"b": 0.5, "a": 0.5}) == "a" and argmax({}) is None
    assert top_event({"none": 0.9, "statement": 0.1}) == ("statement", 0.1)
    assert top_event({"none": 1.0}) is None
