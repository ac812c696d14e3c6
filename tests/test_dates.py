"""coder.dates: phrases against the publication date, event vs report time, gold seed cases."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st

from coder import dates
from coder.config import PROJECT_ROOT
from coder.errors import DataFileError
from coder.records import Article, Sentence

RULES_PATH = PROJECT_ROOT / "seeds" / "rules" / "dates.json"
GOLD_PATH = PROJECT_ROOT / "seeds" / "gold" / "seed_events.jsonl"
BLANK = spacy.blank("en")
RULES = dates.DateRules.load(RULES_PATH)


def _inputs(text: str, published: date | None, prefix: str = "") -> tuple[Sentence, Article]:
    body = prefix + text
    article = Article(
        "a1", body, None, published, "manifest" if published else "none", None, None, "f.txt", None, ""
    )
    sentence = Sentence("s1", "a1", 0, len(prefix), len(body), text)
    return sentence, article


def _resolve(text: str, published: date | None, nlp: Any = BLANK, prefix: str = "") -> Any:
    sentence, article = _inputs(text, published, prefix)
    return dates.resolve_date(nlp(text), sentence, article, RULES)


def test_rules_file_matches_its_schema() -> None:
    schema = json.loads((PROJECT_ROOT / "schemas" / "dates_rules.schema.json").read_text())
    jsonschema.validate(json.loads(RULES_PATH.read_text()), schema)


def test_malformed_rules_raise_data_file_error(tmp_path: Path) -> None:
    bad = tmp_path / "dates.json"
    bad.write_text('{"version": "dates.rules.v1"}')
    with pytest.raises(DataFileError, match=r"dates\.json"):
        dates.DateRules.load(bad)


FRI = date(2014, 1, 3)  # a Friday


@pytest.mark.parametrize(
    ("text", "published", "expected", "precision"),
    [
        ("Clashes erupted today in Ramadi.", FRI, date(2014, 1, 3), 1),
        ("Clashes erupted yesterday in Ramadi.", FRI, date(2014, 1, 2), 1),
        ("A bomb exploded on Thursday evening.", FRI, date(2014, 1, 2), 1),
        ("A bomb exploded on Friday.", FRI, date(2014, 1, 3), 1),  # the publication weekday is that day
        ("A bomb exploded on Saturday.", FRI, date(2013, 12, 28), 1),
        ("A bomb exploded last Friday.", FRI, date(2013, 12, 27), 1),  # 'last' excludes the publication day
        ("Troops arrived on Jan. 1 in Fallujah.", FRI, date(2014, 1, 1), 1),
        ("Troops arrived on Dec 30 in Fallujah.", FRI, date(2013, 12, 30), 1),  # most recent past one
        ("The raid was on January 5, 2014.", date(2014, 2, 1), date(2014, 1, 5), 1),
        ("The raid was on 5 January 2014.", date(2014, 2, 1), date(2014, 1, 5), 1),
        ("The raid was on 2014-01-05.", date(2014, 2, 1), date(2014, 1, 5), 1),
        ("Gunmen attacked two days ago.", FRI, date(2014, 1, 1), 1),
        ("Gunmen attacked last week.", FRI, date(2013, 12, 26), 2),
        ("Gunmen attacked earlier this week.", FRI, date(2014, 1, 1), 2),
        ("Gunmen attacked earlier this month.", date(2014, 1, 21), date(2014, 1, 11), 2),
        ("Gunmen attacked last month.", FRI, date(2013, 12, 16), 3),
        ("Gunmen attacked last April.", date(2013, 12, 27), date(2013, 4, 15), 3),
        ("Gunmen attacked last April.", date(2014, 4, 20), date(2013, 4, 15), 3),  # strictly before
        ("Gunmen attacked in November.", FRI, date(2013, 11, 15), 3),
        ("Gunmen attacked in January.", date(2014, 1, 20), date(2014, 1, 10), 3),  # clipped to publication
        ("Gunmen attacked in March 2012.", FRI, date(2012, 3, 16), 3),
        ("Bombs hit churches on Christmas Day.", FRI, date(2013, 12, 25), 1),
    ],
)
def test_phrases_resolve_against_publication(
    text: str, published: date, expected: date, precision: int
) -> None:
    when = _resolve(text, published)
    assert (when.event_date, when.time_precision) == (expected, precision)
    assert when.date_text and when.date_text in text


def test_published_on_the_named_weekday_is_that_day() -> None:
    # the DW article was published on Sunday 2014-01-05 and says "on Sunday"
    assert _resolve("Three car bombs exploded on Sunday.", date(2014, 1, 5)).event_date == date(2014, 1, 5)
    assert _resolve("Three car bombs exploded on Sunday.", date(2014, 1, 6)).event_date == date(2014, 1, 5)


def test_modal_may_and_verb_march_are_not_months() -> None:
    when = _resolve("Protesters may march on the capital.", FRI)
    assert when.date_reason == RULES.no_date_reason and when.date_text is None


def test_no_date_falls_back_to_publication_at_week_precision() -> None:
    when = _resolve("A bomb exploded in Baghdad.", FRI)
    assert (when.event_date, when.time_precision, when.date_text) == (FRI, RULES.no_date_precision, None)


def test_no_publication_date() -> None:
    assert _resolve("A bomb exploded yesterday in Baghdad.", None) is None
    explicit = _resolve("A bomb exploded on January 5, 2014 in Baghdad.", None)
    assert explicit.event_date == date(2014, 1, 5)


def test_anaphoric_phrase_uses_earlier_date_of_paragraph() -> None:
    prefix = "Last April, the army raided a camp in Hawija. "
    when = _resolve(
        "In clashes over the next two days, hundreds more were killed.", date(2013, 12, 27), prefix=prefix
    )
    assert (when.event_date.year, when.event_date.month, when.time_precision) == (2013, 4, 3)
    alone = _resolve("In clashes over the next two days, hundreds more were killed.", date(2013, 12, 27))
    assert alone.date_reason == RULES.no_date_reason


def test_anchor_is_not_taken_from_another_paragraph() -> None:
    prefix = "Last April, the army raided a camp in Hawija.\n"
    when = _resolve("The next day, protesters gathered.", date(2013, 12, 27), prefix=prefix)
    assert when.date_reason == RULES.no_date_reason


def _previous_event(article: Article, first: str, event_type: str = "armed_clash") -> Any:
    """The event coded from ``first`` (the article's opening sentence), as the pipeline hands it on."""
    sentence = Sentence("s0", "a1", 0, 0, len(first), first)
    when = dates.resolve_date(BLANK(first), sentence, article, RULES)
    kind = SimpleNamespace(event_type=event_type)
    return SimpleNamespace(start_char=0, end_char=len(first), when=when, classification=kind)


@pytest.mark.parametrize(
    ("between", "second", "inherits"),
    [
        (" ", "A second bomb exploded nearby.", True),  # no date of its own, right after: same story
        (" ", "A second bomb exploded nearby yesterday.", False),  # its own date wins
        ("\n", "A second bomb exploded nearby.", False),  # another paragraph
        (" Markets were busy. ", "A second bomb exploded nearby.", False),  # not directly after
    ],
)
def test_undated_event_sentence_inherits_the_previous_event_date(
    between: str, second: str, inherits: bool
) -> None:
    first = "Gunmen attacked a checkpoint on Monday."
    body = first + between + second
    article = Article("a1", body, None, FRI, "manifest", None, None, "f.txt", None, "")
    previous = _previous_event(article, first)
    assert previous.when.event_date == date(2013, 12, 30)
    sentence = Sentence("s1", "a1", 1, len(body) - len(second), len(body), second)
    when = dates.resolve_date(BLANK(second), sentence, article, RULES, previous=previous)
    assert (when.date_reason == dates.INHERITED_REASON) is inherits
    assert not inherits or (when.event_date, when.time_precision) == (date(2013, 12, 30), 1)


def test_publication_fallback_and_report_dates_are_not_inherited() -> None:
    first, second = "Gunmen attacked a checkpoint.", "A second bomb exploded nearby."
    body = f"{first} {second}"
    article = Article("a1", body, None, FRI, "manifest", None, None, "f.txt", None, "")
    previous = _previous_event(article, first)
    assert previous.when.date_text is None  # the publication fallback
    sentence = Sentence("s1", "a1", 1, len(first) + 1, len(body), second)
    when = dates.resolve_date(BLANK(second), sentence, article, RULES, previous=previous)
    assert when.date_reason == RULES.no_date_reason
    report = replace(previous.when, date_text="today", date_reason=RULES.report_time_reason)
    reported = SimpleNamespace(**{**vars(previous), "when": report})
    assert dates.resolve_date(BLANK(second), sentence, article, RULES, previous=reported).date_reason == (
        RULES.no_date_reason
    )


def test_a_statement_date_is_not_inherited() -> None:
    first, second = "The governor said on Monday that talks failed.", "A bomb exploded nearby."
    body = f"{first} {second}"
    article = Article("a1", body, None, FRI, "manifest", None, None, "f.txt", None, "")
    sentence = Sentence("s1", "a1", 1, len(first) + 1, len(body), second)
    for event_type, inherits in (("statement", False), ("bombing", True)):
        previous = _previous_event(article, first, event_type)
        when = dates.resolve_date(BLANK(second), sentence, article, RULES, previous=previous)
        assert (when.date_reason == dates.INHERITED_REASON) is inherits, event_type


def test_explicit_date_outranks_relative_phrase() -> None:
    when = _resolve("Police said the attack two days ago, on 5 January 2014, killed three.", date(2014, 1, 9))
    assert when.event_date == date(2014, 1, 5)


# --- event time vs report time: needs the dependency parse -------------------------------------


def test_today_on_reporting_verb_is_report_time(nlp_full: Any) -> None:
    text = "At least 32 people have been killed in the latest clashes in Anbar, Arabiya said today."
    when = _resolve(text, FRI, nlp_full)
    assert when.event_date == FRI and when.time_precision == 2
    assert when.date_reason == RULES.report_time_reason and when.date_text == "today"


def test_today_on_event_verb_is_event_time(nlp_full: Any) -> None:
    text = "Tribesmen battled militants in Ramadi today, the state television station said."
    when = _resolve(text, FRI, nlp_full)
    assert (when.event_date, when.time_precision) == (FRI, 1)


def test_report_date_bounds_the_event(nlp_full: Any) -> None:
    # only the report is dated: the event is on or before Monday, known to the week
    when = _resolve(
        "Police said on Monday that gunmen had attacked a checkpoint.", date(2014, 1, 9), nlp_full
    )
    assert when.event_date == date(2014, 1, 6) and when.time_precision == 2


def test_claimed_lives_is_not_a_reporting_verb(nlp_full: Any) -> None:
    text = "In Baghdad on Sunday, three car bombs claimed at least 15 lives."
    when = _resolve(text, date(2014, 1, 5), nlp_full)
    assert (when.event_date, when.time_precision) == (date(2014, 1, 5), 1)


# --- properties -----------------------------------------------------------------------------------

PAST_PHRASES = [
    "yesterday",
    "today",
    "on Monday",
    "on Sunday",
    "last Saturday",
    "Thursday evening",
    "last week",
    "earlier this week",
    "last month",
    "earlier this month",
    "last April",
    "in November",
    "in recent days",
    "three days ago",
    "two weeks ago",
    "over the weekend",
    "on Jan. 1",
    "on 5 March",
    "on December 31",
]


@settings(max_examples=150, deadline=None)
@given(published=st.dates(date(1990, 1, 1), date(2030, 12, 31)), phrase=st.sampled_from(PAST_PHRASES))
def test_past_relative_phrases_never_after_publication(published: date, phrase: str) -> None:
    when = _resolve(f"Gunmen attacked the town {phrase}.", published)
    assert when is not None and when.event_date <= published
    assert when.time_precision in (1, 2, 3)
    assert when.event_date >= published - timedelta(days=400)


@settings(max_examples=100, deadline=None)
@given(
    published=st.dates(date(1990, 1, 1), date(2030, 12, 31)), weekday=st.integers(0, 6), last=st.booleans()
)
def test_weekday_arithmetic(published: date, weekday: int, last: bool) -> None:
    name = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][weekday]
    when = _resolve(f"Gunmen attacked {'last' if last else 'on'} {name}.", published)
    assert when.event_date.weekday() == weekday
    gap = (published - when.event_date).days
    assert (1 <= gap <= 7) if last else (0 <= gap <= 6)


# --- gold seed cases -------------------------------------------------------------------------------


def _gold_cases() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in GOLD_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if "event_date" in r]


def test_gold_file_matches_its_schema() -> None:
    schema = json.loads((PROJECT_ROOT / "schemas" / "seed_events.schema.json").read_text())
    for line in GOLD_PATH.read_text(encoding="utf-8").splitlines():
        jsonschema.validate(json.loads(line), schema)


@pytest.mark.parametrize("case", _gold_cases(), ids=lambda c: c["id"])
def test_gold_seed_dates(case: dict[str, Any], nlp_full: Any) -> None:
    text = (PROJECT_ROOT / "seeds" / case["file"]).read_text(encoding="utf-8")
    start = text.index(case["sentence"])
    article = Article(
        "a", text, None, date.fromisoformat(case["published"]), "manifest", None, None, "f", None, ""
    )
    sentence = Sentence("s", "a", 0, start, start + len(case["sentence"]), case["sentence"])
    when = dates.resolve_date(nlp_full(sentence.text), sentence, article, RULES)
    assert when is not None
    assert (when.event_date.isoformat(), when.time_precision) == (
        case["event_date"],
        case["time_precision"],
    ), case["why"]
