"""Tests for coder.classify.train on the invented fake corpora: determinism, held-out hygiene, outputs."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from coder.classify.corpora import HELDOUT, SEALED, TRAIN, LabelledText
from coder.classify.evaluate import read_gold
from coder.classify.model import MODEL_FILE, EventTypeModel
from coder.classify.train import (
    collect_examples,
    data_sha256,
    deduplicate,
    dev_split,
    drop_seed_sentences,
    model_version,
    train_model,
    write_heldout_gold,
)
from coder.config import PROJECT_ROOT
from coder.errors import ConfigError, InputError

SEED_SENTENCE = "Rebel fighters attacked the garrison at dawn and were repelled after a long fight."
OWN = [
    ("Jets bombed the rebel camp in the hills.", "airstrike"),
    ("A drone strike killed a commander.", "airstrike"),
    ("A car bomb exploded near the ministry.", "bombing"),
    ("Mortar shells hit a school.", "bombing"),
    ("Troops clashed with insurgents near the dam.", "armed_clash"),
    (SEED_SENTENCE, "armed_clash"),
    ("The navy sold two frigates to the coast guard of its neighbour.", "arms_transfer"),
    ("Germany delivered tanks to the army.", "arms_transfer"),
    ("The minister said the talks had failed.", "statement"),
    ("The president told reporters he would resign.", "statement"),
    ("Wheat prices rose sharply.", "none"),
    ("The festival opened on Friday.", "none"),
]


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "seeds"
    (root / "corpora").mkdir(parents=True)
    (root / "training").mkdir()
    for name in ("label_mapping.json", "sealed_split.json"):
        shutil.copy(PROJECT_ROOT / "seeds" / "corpora" / name, root / "corpora" / name)
    lines = [json.dumps({"text": t, "event_type": label, "why": "test"}) for t, label in OWN]
    (root / "training" / "own.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "000_demo.txt").write_text(f"Demo headline\n\n{SEED_SENTENCE}  More text.\n", encoding="utf-8")
    return root


def test_training_is_deterministic_and_writes_card(
    data_dir: Path, tmp_path: Path, fake_corpora: Path
) -> None:
    first = train_model(fake_corpora, tmp_path / "m1", seed=13, data_dir=data_dir)
    second = train_model(fake_corpora, tmp_path / "m2", seed=13, data_dir=data_dir)
    assert (tmp_path / "m1" / MODEL_FILE).read_bytes() == (tmp_path / "m2" / MODEL_FILE).read_bytes()
    assert first.version == second.version
    assert first.version.startswith(f"event-type-{first.data_sha256[:8]}-")
    card = (tmp_path / "m1" / "model_card.md").read_text(encoding="utf-8")
    assert first.version in card and "Held-out" in card and "CC BY-SA" in card
    metrics = json.loads((tmp_path / "m1" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["version"] == first.version and "heldout" in metrics and "errors" not in metrics["heldout"]
    assert "Drones struck a convoy" not in (tmp_path / "m1" / "metrics.json").read_text(encoding="utf-8")
    assert EventTypeModel.load(tmp_path / "m1").version == first.version


def test_version_is_a_hash_of_data_and_params_not_a_date() -> None:
    params = {"c": 4.0, "min_df": 2, "seed": 13}
    version = model_version("ab" * 32, params)
    assert version == model_version("ab" * 32, dict(params))
    assert version != model_version("ab" * 32, params | {"c": 2.0})
    assert version != model_version("cd" * 32, params)
    assert not any(str(year) in version for year in range(2024, 2031))


def test_dev_split_is_seeded_stratified_and_inside_train() -> None:
    train = [
        LabelledText(f"s{i}", label, "a", TRAIN, str(i), "r")
        for i in range(50)
        for label in ("none", "bombing")
    ]
    first, second = dev_split(train, seed=13), dev_split(train, seed=13)
    assert first == second
    assert len(first.dev) == 20 and len(first.fit) == 80
    assert {it.event_type for it in first.dev} == {"none", "bombing"}
    assert not {(it.text, it.event_type) for it in first.dev} & {(it.text, it.event_type) for it in first.fit}
    assert all(it.split == TRAIN for it in first.dev + first.fit)


def test_seed_sentences_never_trained_and_heldout_disjoint(data_dir: Path, fake_corpora: Path) -> None:
    items = collect_examples(fake_corpora, data_dir, seed=13)
    assert SEED_SENTENCE not in {it.text for it in items}
    train = {it.text.lower() for it in items if it.split == TRAIN}
    held = {it.text.lower() for it in items if it.split == HELDOUT}
    assert held and not train & held


def test_deduplicate_prefers_heldout() -> None:
    same = "Jets struck the base."
    items = [
        LabelledText(same, "airstrike", "a", TRAIN, "1", "r"),
        LabelledText(same.upper(), "airstrike", "b", HELDOUT, "2", "r"),
        LabelledText("Other.", "none", "a", TRAIN, "3", "r"),
        LabelledText("other.", "none", "b", TRAIN, "4", "r"),
    ]
    kept = deduplicate(items)
    assert [(it.source, it.origin) for it in kept] == [("b", "2"), ("a", "3")]


def test_deduplicate_prefers_heldout_over_sealed_over_train() -> None:
    same = "Jets struck the base."
    items = [
        LabelledText(same, "airstrike", "a", TRAIN, "1", "r"),
        LabelledText(same, "airstrike", "b", SEALED, "2", "r"),
        LabelledText("Rebels shelled the town.", "bombing", "a", TRAIN, "3", "r"),
        LabelledText("rebels shelled the town.", "bombing", "b", SEALED, "4", "r"),
        LabelledText(same.lower(), "airstrike", "c", HELDOUT, "5", "r"),
    ]
    assert [(it.source, it.origin) for it in deduplicate(items)] == [("b", "4"), ("c", "5")]


def test_sealed_split_is_never_trained_and_exported_apart(
    data_dir: Path, tmp_path: Path, fake_corpora: Path
) -> None:
    items = collect_examples(fake_corpora, data_dir, seed=13)
    by_split = {split: {it.text.lower() for it in items if it.split == split} for split in (TRAIN, SEALED)}
    assert not by_split[TRAIN] & by_split[SEALED]
    out = tmp_path / "sealed.jsonl"
    n = write_heldout_gold(fake_corpora, out, data_dir=data_dir, split=SEALED)
    assert n == len(by_split[SEALED]) == len(read_gold(out)) > 0
    with pytest.raises(ConfigError):
        write_heldout_gold(fake_corpora, out, data_dir=data_dir, split=TRAIN)


def test_short_texts_are_not_matched_against_seeds() -> None:
    items = [LabelledText("Fighting.", "armed_clash", "a", TRAIN, "1", "r")]
    assert drop_seed_sentences(items, ["heavy fighting. more text"]) == items


def test_heldout_gold_export_is_readable(data_dir: Path, tmp_path: Path, fake_corpora: Path) -> None:
    out = tmp_path / "gold" / "heldout.jsonl"
    n = write_heldout_gold(fake_corpora, out, data_dir=data_dir)
    gold = read_gold(out)
    assert len(gold) == n > 0
    assert all(g.extra["why"] for g in gold)


def test_heldout_gold_carries_own_modality(data_dir: Path, tmp_path: Path, fake_corpora: Path) -> None:
    planned = [f"Country {c} will deliver {n} tanks to the army." for n, c in enumerate("ABCDEFGH", start=2)]
    extra = [
        {"text": t, "event_type": "arms_transfer", "modality": "planned", "why": "test"} for t in planned
    ]
    with (data_dir / "training" / "own.jsonl").open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in extra)
    items = collect_examples(fake_corpora, data_dir, seed=13)
    assert {it.event_type for it in items if it.modality == "planned"} == {"arms_transfer"}
    out = tmp_path / "heldout.jsonl"
    write_heldout_gold(fake_corpora, out, data_dir=data_dir)
    gold = read_gold(out)
    framed = {g.text for g in gold if g.extra.get("modality") == "planned"}
    held = {it.text for it in items if it.split == HELDOUT and it.modality == "planned"}
    assert framed == held and framed  # written for own sentences, absent (asserted) elsewhere
    assert all("modality" not in g.extra for g in gold if g.text not in framed)


def test_modality_leaves_the_data_hash_alone() -> None:
    item = LabelledText("Britain will supply tanks.", "arms_transfer", "own", TRAIN, "1", "r")
    assert data_sha256([item]) == data_sha256([replace(item, modality="planned")])


def test_no_training_data_is_an_error(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        train_model(tmp_path / "absent", tmp_path / "m", data_dir=data_dir)
