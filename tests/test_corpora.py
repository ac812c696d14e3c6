"""Tests for coder.classify.corpora: the mapping data, its application, readers and splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coder.classify.corpora import (
    HELDOUT,
    SEALED,
    TRAIN,
    LabelledText,
    LabelMapping,
    SealedSplit,
    assign_splits,
    detokenize,
    first_sentence,
    load_corpora,
    read_own_sentences,
)
from coder.config import PROJECT_ROOT
from coder.errors import DataFileError, InputError
from coder.records import EVENT_TYPES

MAPPING_PATH = PROJECT_ROOT / "seeds" / "corpora" / "label_mapping.json"
OWN_PATH = PROJECT_ROOT / "seeds" / "training" / "own_sentences.jsonl"
SEALED_PATH = PROJECT_ROOT / "seeds" / "corpora" / "sealed_split.json"
SCHEMAS = PROJECT_ROOT / "schemas"


@pytest.fixture(scope="module")
def mapping() -> LabelMapping:
    return LabelMapping.load(MAPPING_PATH)


def test_mapping_file_matches_its_schema() -> None:
    schema = json.loads((SCHEMAS / "label_mapping.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(MAPPING_PATH.read_text(encoding="utf-8")), schema)


def test_own_sentences_match_schema_and_cover_every_type() -> None:
    schema = json.loads((SCHEMAS / "training_sentence.schema.json").read_text(encoding="utf-8"))
    lines = OWN_PATH.read_text(encoding="utf-8").splitlines()
    for line in lines:
        jsonschema.validate(json.loads(line), schema)
    counts = Counter(json.loads(line)["event_type"] for line in lines)
    assert set(counts) == set(EVENT_TYPES) and min(counts.values()) >= 40


def test_own_sentences_are_not_seed_sentences() -> None:
    seeds = " ".join(p.read_text(encoding="utf-8") for p in (PROJECT_ROOT / "seeds").glob("*.txt"))
    for item in read_own_sentences(OWN_PATH):
        assert item.text not in seeds


@pytest.mark.parametrize(
    ("corpus", "keys", "text", "expected"),
    [
        ("plover_gsr", ("ASSAULT/explosives", "ASSAULT"), "A bomb went off.", "bombing"),
        ("plover_gsr", ("ASSAULT/torture", "ASSAULT"), "Guards tortured prisoners.", "drop"),
        (
            "plover_gsr",
            ("FIGHT/heavy-weapons", "FIGHT"),
            "Jets struck the base and artillery fired.",
            "airstrike",
        ),
        ("plover_gsr", ("FIGHT/heavy-weapons", "FIGHT"), "Troops shelled the hills.", "bombing"),
        ("plover_gsr", ("AID",), "Donors sent food aid.", "none"),
        ("plover_gsr", ("AID",), "The US sent missiles to the army.", "arms_transfer"),
        ("plover_gsr", ("AID",), "Officials seized weapons sent to the rebels.", "none"),
        # Weapons named without a word of transfer are ambiguous: dropped, not guessed.
        ("conflibert_cameo", ("2",), "Warships launched joint war games in the Mediterranean.", "drop"),
        ("conflibert_cameo", ("2",), "The army received 40 tanks from Russia.", "arms_transfer"),
        # A 'none' label on a sentence that reports a named speaker's words is ambiguous: dropped.
        ("plover_gsr", ("COERCE",), "Police arrested 100 people, military sources said.", "drop"),
        ("plover_gsr", ("COERCE",), "Police arrested 100 people in a sweep.", "none"),
        ("conflibert_cameo", ("4",), "Protesters burned a flag.", "drop"),
        ("conflibert_cameo", ("3",), "Leaders condemned the decision.", "statement"),
        ("satp", ("1000",), "Militants killed a trader.", "armed_clash"),
        ("satp", ("1100",), "Gunmen fired and a bomb exploded.", "drop"),
        (
            "rams",
            ("life.die.deathcausedbyviolentevents", "life.die", "life", ""),
            "He was killed in an air raid.",
            "airstrike",
        ),
        (
            "rams",
            ("personnel.elect.winelection", "personnel.elect", "personnel", ""),
            "She won the vote.",
            "none",
        ),
    ],
)
def test_mapping_decisions(
    mapping: LabelMapping, corpus: str, keys: tuple[str, ...], text: str, expected: str
) -> None:
    assert mapping.map(corpus, keys, text)[0] == expected


def test_none_guard_drops_violent_none(mapping: LabelMapping) -> None:
    label, rule = mapping.map("plover_gsr", ("AGREE",), "They agreed to a truce after heavy clashes.")
    assert label == "drop" and rule.endswith("none_guard")


def test_mapping_with_unknown_target_is_refused(tmp_path: Path) -> None:
    data = json.loads(MAPPING_PATH.read_text(encoding="utf-8"))
    data["corpora"]["satp"]["entries"][0]["to"] = "refine:nothing"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataFileError, match="unknown refinement"):
        LabelMapping.load(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(DataFileError):
        LabelMapping.load(path)


def test_detokenize_and_first_sentence() -> None:
    assert detokenize(["He", "did", "n't", "see", "the", "army", "'s", "counter", "-", "attack", "."]) == (
        "He didn't see the army's counter-attack."
    )
    assert detokenize(["(", "AFP", ")", "said", ":", "“", "no", "”"]) == "(AFP) said: “no”"
    assert first_sentence("Gunmen attacked a post. Police said two died.") == "Gunmen attacked a post."
    assert len(first_sentence("word " * 200).split()) == 60


def test_readers_on_fake_corpora(mapping: LabelMapping, fake_corpora: Path) -> None:
    items = load_corpora(fake_corpora, mapping, seed=13)
    got = {(it.source, it.text): (it.event_type, it.split) for it in items}
    assert got[("satp", "Gunmen shot dead a shopkeeper in the market on Monday.")] == ("armed_clash", TRAIN)
    assert got[("satp", "Security forces killed two militants in an encounter.")] == ("armed_clash", HELDOUT)
    assert got[("conflibert_cameo", "Jets carried out air strikes on the depot.")] == ("airstrike", HELDOUT)
    assert got[("rams", "Drones struck a convoy near the river.")][0] == "airstrike"
    assert (
        got[
            (
                "plover_gsr",
                "The kingdom sent rifles and ammunition to the border guards, a ministry official said.",
            )
        ][0]
        == "arms_transfer"
    )
    texts = {text for _, text in got}
    assert "The general threatened to close the border." not in texts  # THREATEN dropped
    assert "Officials arrested two men after the bombing." not in texts  # none guard
    assert all(it.event_type in EVENT_TYPES and it.split in (TRAIN, HELDOUT) for it in items)


def test_missing_corpora_folder(mapping: LabelMapping, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_corpora(tmp_path / "absent", mapping)


def test_bad_own_sentence_names_line(tmp_path: Path) -> None:
    path = tmp_path / "own.jsonl"
    path.write_text('{"text": "a", "event_type": "none", "why": "x"}\n{"text": "b", "event_type": "riot"}\n')
    with pytest.raises(DataFileError) as info:
        read_own_sentences(path)
    assert info.value.line == 2


def test_own_sentence_modality_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "own.jsonl"
    lines = [
        {
            "text": "Britain will supply tanks.",
            "event_type": "arms_transfer",
            "modality": "planned",
            "why": "x",
        },
        {"text": "Jets bombed the camp.", "event_type": "airstrike", "why": "x"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert [it.modality for it in read_own_sentences(path)] == ["planned", None]
    assert read_own_sentences(path)[0].event_type == "arms_transfer"  # the model still learns the type
    lines[1]["modality"] = "rumoured"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(DataFileError) as info:
        read_own_sentences(path)
    assert info.value.line == 2


def test_own_statements_are_never_framed() -> None:
    # A statement is always asserted (pipeline.evaluation_label): a modality on one would be ignored.
    framed = [it for it in read_own_sentences(OWN_PATH) if it.modality not in (None, "asserted")]
    assert framed and all(it.event_type not in ("statement", "none") for it in framed)


def _items(labels: list[str]) -> list[LabelledText]:
    return [LabelledText(f"t{i}", label, "src", "", f"o{i}", "r") for i, label in enumerate(labels)]


@given(st.lists(st.sampled_from(EVENT_TYPES), max_size=80), st.integers(0, 1000))
def test_splits_are_deterministic_and_stratified(labels: list[str], seed: int) -> None:
    items = _items(labels)
    first = assign_splits(items, 0.25, seed=seed)
    assert first == assign_splits(list(reversed(items)), 0.25, seed=seed)[::-1]
    for label in set(labels):
        group = [it for it in first if it.event_type == label]
        assert sum(it.split == HELDOUT for it in group) == round(len(group) * 0.25)


def test_real_corpora_give_every_type(corpora: Path, mapping: LabelMapping) -> None:
    items = load_corpora(corpora, mapping, seed=13)
    counts = Counter((it.split, it.event_type) for it in items)
    for label in EVENT_TYPES:
        assert counts[(TRAIN, label)] >= 9, label
        assert counts[(HELDOUT, label)] >= 5, label
    assert {it.source for it in items} == {"plover_gsr", "conflibert_cameo", "satp", "rams"}


def test_sealed_split_marks_a_hashed_share_of_training_records_only() -> None:
    sealed = SealedSplit.load(SEALED_PATH)
    items = [LabelledText(f"t{i}", "none", "rams", TRAIN, f"doc{i}", "r") for i in range(2000)]
    items += [LabelledText(f"h{i}", "none", "rams", HELDOUT, f"held{i}", "r") for i in range(50)]
    items += [LabelledText(f"o{i}", "none", "own", TRAIN, f"own{i}", "r") for i in range(50)]
    marked = sealed.seal(items)
    assert marked == sealed.seal(items) and len(marked) == len(items)
    n_sealed = sum(it.split == SEALED for it in marked)
    assert 0.10 * 2000 <= n_sealed <= 0.15 * 2000
    # Held-out records stay held out; sources outside the file (our own sentences) are never sealed.
    assert all(it.split == HELDOUT for it in marked[2000:2050])
    assert all(it.split == TRAIN for it in marked[2050:])
    # Membership depends on the record alone: the same record is sealed in any company.
    assert [it.split for it in sealed.seal(items[:100])] == [it.split for it in marked[:100]]


@pytest.mark.parametrize(
    "change",
    [{"share": 0.9}, {"salt": ""}, {"why": ""}, {"sources": []}, {"share": "x"}, {"unknown_key": 1}],
)
def test_bad_sealed_split_file_is_refused(tmp_path: Path, change: dict) -> None:  # type: ignore[type-arg]
    data = json.loads(SEALED_PATH.read_text(encoding="utf-8")) | change
    path = tmp_path / "sealed_split.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataFileError):
        SealedSplit.load(path)


def test_sealed_split_covers_the_corpora_read_here() -> None:
    from coder.classify.corpora import READERS

    assert SealedSplit.load(SEALED_PATH).sources == frozenset(READERS)


def test_real_corpora_sealed_share(corpora: Path, mapping: LabelMapping) -> None:
    """About 12% of each corpus's training portion is sealed (counts only: its errors are never read)."""
    sealed = SealedSplit.load(SEALED_PATH)
    items = load_corpora(corpora, mapping, seed=13)
    marked = sealed.seal(items)
    for source in sorted({it.source for it in items}):
        train = sum(it.source == source and it.split == TRAIN for it in items)
        n_sealed = sum(it.source == source and it.split == SEALED for it in marked)
        assert 0.08 * train <= n_sealed <= 0.16 * train, source
