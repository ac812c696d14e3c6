"""The gold sentences: well-formed, faithful to the seed articles, and what the rule layer reaches on them.

Caution when reading the figures: the rules and policy were written while looking at these files,
so agreement here is tuning-data agreement, not a measure of accuracy on unseen news.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from coder.classify.decide import Policy
from coder.classify.rules import RuleSet
from coder.config import PROJECT_ROOT
from coder.records import EVENT_TYPES, MODALITIES, Sentence

SEEDS = PROJECT_ROOT / "seeds"
GOLD = SEEDS / "gold"
RULES = RuleSet.load(SEEDS / "rules")
POLICY = Policy.load(SEEDS / "rules")
RULE_SCHEMA = json.loads((PROJECT_ROOT / "schemas" / "event_rules.schema.json").read_text(encoding="utf-8"))
# A fake model that knows nothing: the rule layer and policy alone decide.
NEUTRAL = {t: (0.6 if t == "none" else 0.08) for t in EVENT_TYPES}
# Measured 122/159 = 0.77 when written (tuning data); the floor guards against regressions.
SEED_TYPE_AGREEMENT_FLOOR = 0.72


def _load(name: str) -> list[dict]:  # type: ignore[type-arg]
    lines = (GOLD / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


SEED_ROWS = _load("seed_sentences.jsonl")
HARD_ROWS = _load("hard_cases.jsonl")


def _allowed_sub_types() -> dict[str, set[str | None]]:
    allowed: dict[str, set[str | None]] = {"none": {None}}
    for clause in RULE_SCHEMA["allOf"]:
        event_type = clause["if"]["properties"]["event_type"]["const"]
        spec = clause["then"]["properties"]["sub_event_type"]
        allowed[event_type] = set(spec.get("enum", [spec.get("const")]))
    return allowed


@pytest.mark.parametrize("rows", [SEED_ROWS, HARD_ROWS], ids=["seed", "hard"])
def test_rows_are_well_formed(rows: list[dict]) -> None:  # type: ignore[type-arg]
    allowed = _allowed_sub_types()
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert {"id", "text", "event_type", "sub_event_type", "modality", "why"} <= set(row)
        assert row["event_type"] in EVENT_TYPES and row["modality"] in MODALITIES
        assert row["sub_event_type"] in allowed[row["event_type"]], row["id"]


def test_seed_rows_quote_their_article_and_cover_all_five() -> None:
    articles = {path.stem: path.read_text(encoding="utf-8") for path in SEEDS.glob("*.txt")}
    for row in SEED_ROWS:
        stem = row["id"].rsplit(":", 1)[0]
        assert " ".join(row["text"].split()) in " ".join(articles[stem].split()), row["id"]
    assert {r["id"].rsplit(":", 1)[0] for r in SEED_ROWS} == set(articles)


def test_issue_judgements_are_in_the_seed_gold() -> None:
    by_text = {r["text"]: r["event_type"] for r in SEED_ROWS}
    expected = {
        "pickup truck laden with explosives": "bombing",
        "a bomb stuck onto a public minibus": "bombing",
        "Tribesmen and security forces battled militants from ISIL in Ramadi today": "armed_clash",
        "forces firing Hellfire missiles at militant positions": "airstrike",
        "A shipment of 75 Hellfire missiles arrived in Iraq last week": "arms_transfer",
        "This is a fight that belongs to the Iraqis,” Kerry said": "statement",
    }
    for fragment, event_type in expected.items():
        hits = [t for t in by_text if fragment in t]
        assert hits and all(by_text[t] == event_type for t in hits), fragment


def test_hard_cases_are_not_seed_sentences() -> None:
    seed_text = " ".join(p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt"))
    assert not [r["id"] for r in HARD_ROWS if r["text"] in seed_text]
    assert len(HARD_ROWS) >= 55


def _decide(nlp, text: str):  # type: ignore[no-untyped-def]
    doc = nlp(text)
    sentence = Sentence("g", "gold", 0, 0, len(text), text)
    return POLICY.decide(sentence, doc, RULES.match(doc, sentence), NEUTRAL, "neutral")


@pytest.mark.parametrize("row", [r for r in HARD_ROWS if r.get("rule_layer", True)], ids=lambda r: r["id"])
def test_rule_layer_gets_hard_case(nlp_full, row: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    got = _decide(nlp_full, row["text"])
    assert (got.event_type, got.modality) == (row["event_type"], row["modality"]), row["why"]
    if row["event_type"] != "none":
        assert got.sub_event_type == row["sub_event_type"], row["why"]


def test_rule_layer_agreement_on_seed_gold(nlp_full) -> None:  # type: ignore[no-untyped-def]
    got = [_decide(nlp_full, r["text"]).event_type for r in SEED_ROWS]
    agreement = sum(g == r["event_type"] for g, r in zip(got, SEED_ROWS, strict=True)) / len(SEED_ROWS)
    assert agreement >= SEED_TYPE_AGREEMENT_FLOOR, Counter(
        (r["event_type"], g) for g, r in zip(got, SEED_ROWS, strict=True) if g != r["event_type"]
    )
