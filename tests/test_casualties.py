"""coder.casualties: ACLED fatality rules, injuries kept apart, non-counts ignored, gold seed cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st

from coder import casualties
from coder.config import PROJECT_ROOT
from coder.errors import DataFileError
from coder.records import Casualties, Sentence

RULES_PATH = PROJECT_ROOT / "seeds" / "rules" / "casualties.json"
GOLD_PATH = PROJECT_ROOT / "seeds" / "gold" / "seed_events.jsonl"
BLANK = spacy.blank("en")
RULES = casualties.CasualtyRules.load(RULES_PATH)


def _count(text: str, nlp: Any = BLANK) -> Casualties:
    sentence = Sentence("s1", "a1", 0, 0, len(text), text)
    return casualties.count_casualties(nlp(text), sentence, RULES)


def test_rules_file_matches_its_schema() -> None:
    schema = json.loads((PROJECT_ROOT / "schemas" / "casualties_rules.schema.json").read_text())
    jsonschema.validate(json.loads(RULES_PATH.read_text()), schema)


def test_malformed_rules_raise_data_file_error(tmp_path: Path) -> None:
    bad = tmp_path / "casualties.json"
    bad.write_text("{not json")
    with pytest.raises(DataFileError, match=r"casualties\.json"):
        casualties.CasualtyRules.load(bad)


@pytest.mark.parametrize(
    ("text", "killed", "wounded"),
    [
        ("At least 19 were killed and 37 wounded.", 19, 37),
        ("A bomb exploded, killing four people and wounding six.", 4, 6),
        (
            "Gunmen killed four people and wounded six.",
            4,
            6,
        ),  # 'four' is bound to 'killed', never to 'wounded'
        ("And three soldiers died when patrols were bombed.", 3, 0),
        ("Three car bombs claimed at least 15 lives and wounded more than 25 people.", 15, 25),
        ("The fighting left at least 34 people dead on Sunday.", 34, 0),
        ("In an ambush, it killed some 18 Iraqi military personnel.", 18, 0),
        ("The raid left at least 42 people dead and 153 wounded.", 42, 153),
        ("Hundreds more were killed.", 100, 0),
        ("Dozens of people were killed.", 12, 0),
        ("A dozen civilians were killed.", 12, 0),
        ("Gunmen killed dozens of villagers and wounded scores.", 12, 20),
        ("Between 10 and 15 people were killed.", 10, 0),
        ("Police said 10 to 15 people were killed.", 10, 0),
        ("Twenty-five people died and two hundred were injured.", 25, 200),
        ("The death toll rose to 18.", 18, 0),
        ("The bombing killed 1,204 people.", 1204, 0),
        ("Bombs killed at least 38 on Wednesday, including 24 who died at mass.", 38, 0),  # subset dropped
        (
            "A suicide bomber killed 30 people, the deadliest attack this year.",
            30,
            0,
        ),  # weak marker, other clause
        ("Clashes erupted in Ramadi.", 0, 0),
        # ACLED counts a singular victim as one fatality (or injury)
        ("A soldier was killed in the attack.", 1, 0),
        ("A civilian died of his wounds.", 1, 0),
        ("An elderly man was shot dead at a checkpoint.", 1, 0),
        ("The strike killed a civilian and wounded a child.", 1, 1),
        ("A child was wounded by shrapnel.", 0, 1),
        ("A gunman killed three soldiers.", 3, 0),  # the active subject is no victim
    ],
)
def test_counts(text: str, killed: int, wounded: int) -> None:
    result = _count(text)
    assert (result.fatalities, result.injuries) == (killed, wounded)
    for value, span in ((result.fatalities, result.fatalities_text), (result.injuries, result.injuries_text)):
        assert (span is None) == (value == 0)
        assert span is None or span in text


@pytest.mark.parametrize(
    "text",
    [
        "A shipment of 75 Hellfire missiles arrived in Iraq last week.",
        "The heaviest fighting was in Fallujah, 60 kilometres west of Baghdad.",
        "Output increased by 100,000 barrels a day.",
        "He claims to have 1 million members.",
        "The 2007 surge killed militants.",
        "Police said they were killed two days ago.",
        "Three car bombs killed civilians.",
        "It fired six mortar shells that killed civilians.",
        "With 2013 proving the bloodiest year, 7,818 civilians were killed last year.",
        "Where 4,489 Americans were killed and 51,778 wounded in action almost 11 years ago.",
        "Over 8,000 Iraqis have lost their lives over the last year.",
        "The UN said last year saw the highest annual death toll, with 7,818 civilians killed.",
        "Rescuers saved 15 lives.",
        "A gunman killed people in the market.",  # "a" before no victim noun, active voice
        "A man who killed his wife was arrested.",
        "A report said the soldier was killed.",  # no article bound to the victim
    ],
)
def test_non_fatality_numbers_and_aggregates_are_not_counted(text: str) -> None:
    assert _count(text) == Casualties(0, 0)


def test_vague_values_come_from_data() -> None:
    assert RULES.value("dozens") == 12 and RULES.value("hundreds") == 100 and RULES.value("a dozen") == 12
    assert RULES.value("twenty-five") == 25 and RULES.value("two thousand") == 2000
    assert RULES.value("1.5 million") == 1_500_000 and RULES.value("8,868") == 8868


def test_blank_and_full_pipelines_agree(nlp_full: Any) -> None:
    text = "Also, a bomb stuck onto a public minibus exploded, killing four people and wounding six."
    assert _count(text, nlp_full) == _count(text)


# --- victim groups: sum distinct groups, lowest of rival figures, subsets never added ---------------


@pytest.mark.parametrize(
    ("text", "killed", "wounded"),
    [
        ("A soldier was killed and 5 civilians died in the shelling.", 6, 0),
        ("3 soldiers and 2 civilians were killed near the border.", 5, 0),
        ("Four rebels and two farmers were killed in the raid.", 6, 0),
        ("The ambush killed 7 policemen and 4 bystanders.", 11, 0),
        ("The mortar fire killed three marines and two children on Friday.", 5, 0),
        ("Two herders and one trader were killed in the valley.", 3, 0),  # unlisted nouns joined by "and"
        ("Nine fighters died in the morning while four more were killed at dusk.", 13, 0),
        ("A nurse was wounded and 6 pupils were injured.", 0, 7),
        # rival figures for the same toll or the same group: the lowest
        ("At least 10 people were killed, but police put the death toll at 12.", 10, 0),
        ("Eight soldiers were killed, and the army later said 6 troops died.", 6, 0),
        # subsets are never added
        ("The strike killed 5 people, including 2 children.", 5, 0),
        ("Eleven villagers were killed, among them 4 women.", 11, 0),
        ("Nine miners died, of whom 3 were foreigners.", 9, 0),
        ("At least seven people including four guards were killed in the blast.", 7, 0),
        # a whole toll at least the groups' sum may include them
        ("The blast killed 10 people, 3 soldiers and 7 civilians.", 10, 0),
        ("Three soldiers were among eight people injured by the mine.", 0, 8),
        # a second figure with its own verb is not the death verb's object
        ("Gunmen killed 5 people and 3 were wounded.", 5, 3),
        ("Troops killed 3 insurgents and 2 smugglers were arrested.", 3, 0),
        # a figure after a month name is a day, not a toll; a clock time counts no one
        ("Gunmen on March 8 killed two guards in the town.", 2, 0),
        ("Three people were injured at around 10 45 am on the road.", 0, 3),
        ("A trader named Ali Khan 40 was shot dead in the market.", 1, 0),  # an age: one named victim
        # the figure before an active death verb is the killers; its object is counted
        ("A squad of around 30 armed men killed a farmer in the village.", 1, 0),
        ("2 gunmen killed 3 soldiers at the post.", 3, 0),
        # one named person is a group of their own
        ("A man was killed and 4 civilians died.", 5, 0),
    ],
)
def test_victim_groups(text: str, killed: int, wounded: int) -> None:
    result = _count(text)
    assert (result.fatalities, result.injuries) == (killed, wounded)
    assert all(span is None or span in text for span in (result.fatalities_text, result.injuries_text))


# --- ages after names are no tolls; each named victim counts one ------------------------------------


@pytest.mark.parametrize(
    ("text", "killed", "wounded"),
    [
        ("Samson 54 and Ramesh Singh 42 were killed in the attack.", 2, 0),
        ("Samson (54) and Ramesh Singh (42) were shot dead by Maoists.", 2, 0),
        ("Tarun Das 31, Bikash Roy 27 and Amal Sen 45 were killed on the highway.", 3, 0),
        ("Rahim Uddin, 33, and Karim Ali, 29, were killed near the camp.", 2, 0),
        ("Dharmendra Kumar 40 was shot dead by unidentified gunmen.", 1, 0),
        ("Zafar Iqbal (46), was shot dead and a passerby Abdul Rehman (30) was injured.", 1, 1),
        ("Samson, 54, was killed in the ambush.", 1, 0),
        ("Ramesh Singh, aged 42, was killed by Maoists.", 1, 0),
        ("Rai Singh 40 was injured in the shelling.", 0, 1),
        ("A farmer aged 54 was killed by the militants.", 1, 0),
        ("A 54-year-old farmer was killed in the village.", 1, 0),
        # a figure after a place name with a plural verb stays a toll; a month's day is no age
        ("In Sukma 12 were killed when the bus hit a mine.", 12, 0),
        ("Three militants were killed in Kupwara.", 3, 0),
        ("Two men burnt in a blast on January 3, died on Monday.", 0, 0),  # no name-age read
    ],
)
def test_ages_after_names_count_named_victims(text: str, killed: int, wounded: int) -> None:
    result = _count(text)
    assert (result.fatalities, result.injuries) == (killed, wounded)
    assert all(span is None or span in text for span in (result.fatalities_text, result.injuries_text))


# --- running totals ("taking the toll to N", "since January") are not the incident's toll -------------


@pytest.mark.parametrize(
    ("text", "killed"),
    [
        (
            "A policeman was killed in Sukma on Monday, taking the death toll in the district to 45.",
            1,
        ),
        (
            "A policeman was killed in Sukma district on Monday taking the death toll in the district to 45.",
            1,
        ),
        (
            "A woman succumbed to her injuries on Monday, increasing the death toll in the district to five.",
            1,
        ),
        ("Militants killed 12 people on Monday, bringing the death toll this year to 60.", 12),
        (
            "Two Maoists were killed on Monday, bringing the number of Maoists killed this year to 45.",
            2,
        ),
        ("Two Maoists were killed on Monday bringing the number of Maoists killed this year to 45.", 2),
        ("Since January, 17 alleged spies have been killed.", 0),
        ("Since January 17 alleged spies have been killed in the agency.", 0),
        ("So far this year, 45 people have been killed in the district.", 0),
        ("In total this year 45 civilians have died in the district.", 0),
        # the incident's own toll is kept
        ("The death toll has risen to 31 in the attack.", 31),
        ("Gunmen killed 9 people on Sunday, the deadliest attack so far.", 9),
        ("On January 5, 17 villagers were killed in the raid.", 17),
        ("A woman died on Monday, raising the death toll from the attack to 4.", 4),
        ("Tribes have feuded since November 2014 and in a clash two people were killed.", 2),
    ],
)
def test_running_totals_are_not_the_incident_toll(text: str, killed: int) -> None:
    assert _count(text).fatalities == killed


# --- a singular victim coordinated with a plural group; ages after "aged" ------------------------------


@pytest.mark.parametrize(
    ("text", "killed", "wounded"),
    [
        # "a/an/one <person>" joined to a plural group under one plural verb is one more victim
        ("Three militants and a soldier were killed in the encounter.", 4, 0),
        ("Two policemen and an elderly woman died in the blast.", 3, 0),
        ("Five rebels as well as a civilian were killed in the crossfire.", 6, 0),
        ("Two militants and one soldier were killed.", 3, 0),
        ("Four soldiers and a civilian were wounded in the ambush.", 0, 5),
        # the later singular's noun is never lent to the figure before it ("persons" names no group)
        ("Two persons and a child were injured in the firing.", 0, 3),
        ("Two men and a child were killed in the firing.", 3, 0),
        # the singular has its own verb, or is no victim
        ("Two militants were arrested and a soldier was killed.", 1, 0),
        ("Three militants were killed and a soldier was injured.", 3, 1),
        ("Three militants and a car were destroyed in the blast.", 0, 0),
        # figures after "aged" are the victims' ages, never a toll
        ("Two men aged 25 and 30 were killed in the firing.", 2, 0),
        ("Two men, aged 25 and 30, were shot dead by the militants.", 2, 0),
        ("Three youths aged between 18 and 22 were injured in the clash.", 0, 3),
        ("The gunmen killed 5 villagers aged 20 to 60.", 5, 0),
        ("Four children aged 8, 10 and 12 died when the shell hit the house.", 4, 0),
    ],
)
def test_coordinated_singular_and_ages_after_aged(text: str, killed: int, wounded: int) -> None:
    result = _count(text)
    assert (result.fatalities, result.injuries) == (killed, wounded)
    assert all(span is None or span in text for span in (result.fatalities_text, result.injuries_text))


def test_victim_group_comes_from_data() -> None:
    text = "The raid killed 4 troops."
    (hit,) = [h for h in RULES.find(text) if h.kind == "fatalities"]
    assert casualties.victim_group(RULES, text, hit) == "security"
    text = "The raid killed 4 people."
    (hit,) = [h for h in RULES.find(text) if h.kind == "fatalities"]
    assert casualties.victim_group(RULES, text, hit) is None


def test_combine_policy_is_data() -> None:
    raw = json.loads(RULES_PATH.read_text(encoding="utf-8"))
    raw["combine"]["value"] = "min"
    rules = casualties.CasualtyRules.from_dict(raw)
    text = "A soldier was killed and 5 civilians died."
    sentence = Sentence("s1", "a1", 0, 0, len(text), text)
    assert (
        casualties.count_casualties(BLANK(text), sentence, rules).fatalities == 1
    )  # the old single-toll rule


_GROUPS = ["soldiers", "civilians", "policemen", "children", "militants", "women"]


@settings(max_examples=150, deadline=None)
@given(
    figures=st.lists(st.integers(1, 500), min_size=2, max_size=2),
    nouns=st.lists(st.sampled_from(_GROUPS), min_size=2, max_size=2, unique=True),
)
def test_distinct_groups_sum_and_never_fall_below_any_figure(figures: list[int], nouns: list[str]) -> None:
    (a, b), (first, second) = figures, nouns
    result = _count(f"{a} {first} and {b} {second} were killed in the attack.")
    assert result.fatalities == a + b >= max(a, b)
    assert _count(f"The attack killed {a} {first} and {b} {second}.").fatalities == a + b


@settings(max_examples=150, deadline=None)
@given(total=st.integers(2, 900), part=st.integers(1, 900), noun=st.sampled_from(_GROUPS))
def test_subset_never_added_and_rival_tolls_give_lowest(total: int, part: int, noun: str) -> None:
    assert _count(f"The attack killed {total} people, including {part} {noun}.").fatalities == total
    other = f"At least {total} people were killed, but police put the death toll at {part}."
    assert _count(other).fatalities == min(total, part)


# --- properties -----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 999_999), lead=st.sampled_from(["", "At least ", "More than ", "Some "]))
def test_stated_figure_is_read_back(n: int, lead: str) -> None:
    figure = f"{n:,}" if n >= 1000 else str(n)
    result = _count(f"{lead}{figure} people were killed in the attack.")
    assert result.fatalities == n and result.injuries == 0


@settings(max_examples=100, deadline=None)
@given(low=st.integers(1, 500), extra=st.integers(1, 500))
def test_range_codes_lowest_figure(low: int, extra: int) -> None:
    assert _count(f"Between {low} and {low + extra} people were killed.").fatalities == low


_PIECES = [
    "killed",
    "wounded",
    "died",
    "at least",
    "dozens",
    "between",
    "and",
    "people",
    "2013",
    "1,204",
    "7",
    "-",
    ",",
]


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(_PIECES) | st.text(alphabet="0123456789 ,.-abkilnd", max_size=8), max_size=12
    )
)
def test_never_negative_and_spans_come_from_text(words: list[str]) -> None:
    text = " ".join(words)
    result = _count(text)
    assert result.fatalities >= 0 and result.injuries >= 0
    assert result.fatalities_text is None or result.fatalities_text in text
    assert result.injuries_text is None or result.injuries_text in text


# --- gold seed cases -------------------------------------------------------------------------------


def _gold_cases() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GOLD_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("case", _gold_cases(), ids=lambda c: c["id"])
def test_gold_seed_casualties(case: dict[str, Any]) -> None:
    article_text = (PROJECT_ROOT / "seeds" / case["file"]).read_text(encoding="utf-8")
    assert case["sentence"] in article_text  # the gold sentence is the seed's exact text
    result = _count(case["sentence"])
    assert (result.fatalities, result.injuries) == (case["fatalities"], case["injuries"]), case["why"]
