"""Tests for coder.classify.model: the scores contract, skops round trip, refusals."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import skops.io as sio
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from coder.classify.model import (
    META_FILE,
    MODEL_FILE,
    EventTypeModel,
    ModelStandIn,
    _fast_path_applies,
    _tfidf,
    _vectorizers,
    analyze,
    char_grams,
)
from coder.config import Settings
from coder.errors import ModelError
from coder.records import EVENT_TYPES

# Tiny invented sentences: enough for every type to be learnable, not a quality test.
TINY = {
    "airstrike": [
        "Warplanes bombed the village.",
        "A drone strike hit a car.",
        "Jets struck rebel positions.",
    ],
    "bombing": [
        "A car bomb exploded at the market.",
        "A roadside bomb killed two.",
        "Mortar shells hit the town.",
    ],
    "armed_clash": [
        "Troops clashed with rebels.",
        "Gunmen attacked a police post.",
        "Fighters overran the base.",
    ],
    "arms_transfer": [
        "The US sold tanks to Poland.",
        "Russia delivered jets to Iran.",
        "France sold missiles.",
    ],
    "statement": [
        "The minister said talks would resume.",
        "The president told reporters.",
        "Officials warned.",
    ],
    "none": ["The central bank raised rates.", "Parliament passed the budget.", "The team won the cup."],
}


def _texts_labels() -> tuple[list[str], list[str]]:
    pairs = [(t, label) for label, texts in TINY.items() for t in texts]
    return [t for t, _ in pairs], [label for _, label in pairs]


@pytest.fixture(scope="module")
def tiny_model() -> EventTypeModel:
    texts, labels = _texts_labels()
    return EventTypeModel(min_df=1, char_min_df=None, version="event-type-test").fit(texts, labels)


def test_analyze_features() -> None:
    assert analyze("Jets bombed Idlib.") == [
        "jets",
        "bombed",
        "idlib",
        "jets bombed",
        "bombed idlib",
        "~bomb",
        "~idli",
    ]


@pytest.fixture(scope="module")
def tiny_char_model() -> EventTypeModel:
    texts, labels = _texts_labels()
    return EventTypeModel(min_df=1, char_min_df=1, version="event-type-test").fit(texts, labels)


def test_char_grams_are_each_words_own() -> None:
    text = 'Air-strikes, 2 hit! "We  said."'
    grams = char_grams(text)
    assert grams[:4] == [" ai", "air", "ir-", "r-s"]
    assert " 2 " in grams and "es, " in grams and ' "we' in grams  # punctuation stays with its word
    assert not any(" " in g.strip() for g in grams)  # no n-gram crosses two words
    assert grams == [g for word in text.split() for g in char_grams(word)]
    # the same n-grams as scikit-learn's char_wb analyzer, which the model replaced
    char_wb = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).build_analyzer()
    assert sorted(grams) == sorted(char_wb(text))


def test_char_model_scores_with_the_fast_path_and_round_trips(
    tiny_char_model: EventTypeModel, tmp_path: Path
) -> None:
    vectorizers = _vectorizers(tiny_char_model.pipeline_.named_steps["features"])
    assert [v.analyzer for v in vectorizers] == [analyze, char_grams]
    assert all(map(_fast_path_applies, vectorizers))
    tiny_char_model.save(tmp_path / "a")
    texts, labels = _texts_labels()
    EventTypeModel(min_df=1, char_min_df=1, version="event-type-test").fit(texts, labels).save(tmp_path / "b")
    assert (tmp_path / "a" / MODEL_FILE).read_bytes() == (tmp_path / "b" / MODEL_FILE).read_bytes()
    loaded = EventTypeModel.load(tmp_path / "a")
    assert loaded.char_min_df == 1 and loaded.predict_scores(texts) == tiny_char_model.predict_scores(texts)


def test_a_model_without_char_min_df_loads_as_words_only(tiny_model: EventTypeModel, tmp_path: Path) -> None:
    # Models written before character n-grams existed carry no char_min_df in model.json.
    tiny_model.save(tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text(encoding="utf-8"))
    del meta["params"]["char_min_df"]
    (tmp_path / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    assert EventTypeModel.load(tmp_path).char_min_df is None


def test_scores_cover_six_labels_and_sum_to_one(tiny_model: EventTypeModel) -> None:
    scores = tiny_model.predict_scores(["Warplanes bombed the village.", "The bank raised rates."])
    assert tiny_model.labels == EVENT_TYPES
    for row in scores:
        assert tuple(row) == EVENT_TYPES
        assert sum(row.values()) == pytest.approx(1.0)
    assert max(scores[0], key=scores[0].__getitem__) == "airstrike"
    assert tiny_model.predict_scores([]) == []


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(max_size=80), min_size=1, max_size=5))
def test_any_text_gets_a_distribution(tiny_model: EventTypeModel, texts: list[str]) -> None:
    for row in tiny_model.predict_scores(texts):
        assert set(row) == set(EVENT_TYPES)
        assert sum(row.values()) == pytest.approx(1.0)
        assert all(0.0 <= v <= 1.0 for v in row.values())


def test_unfitted_model_refuses() -> None:
    with pytest.raises(ModelError, match="not fitted"):
        EventTypeModel().predict_scores(["x"])


def test_unknown_training_label_refused() -> None:
    with pytest.raises(ModelError, match="outside the event types"):
        EventTypeModel().fit(["a", "b"], ["riot", "none"])


def test_save_load_round_trip_and_deterministic_bytes(tiny_model: EventTypeModel, tmp_path: Path) -> None:
    tiny_model.save(tmp_path / "a")
    texts, labels = _texts_labels()
    EventTypeModel(min_df=1, char_min_df=None, version="event-type-test").fit(texts, labels).save(
        tmp_path / "b"
    )
    first, second = (tmp_path / "a" / MODEL_FILE).read_bytes(), (tmp_path / "b" / MODEL_FILE).read_bytes()
    assert first == second
    loaded = EventTypeModel.load(tmp_path / "a")
    assert loaded.version == "event-type-test"
    assert loaded.predict_scores(texts) == tiny_model.predict_scores(texts)


def test_missing_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="missing"):
        EventTypeModel.load(tmp_path / "nowhere")


def test_corrupted_model_file_is_refused(tiny_model: EventTypeModel, tmp_path: Path) -> None:
    tiny_model.save(tmp_path)
    path = tmp_path / MODEL_FILE
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelError, match="checksum"):
        EventTypeModel.load(tmp_path)
    _rewrite_checksum(tmp_path)  # a truncated file with a matching checksum is still refused
    with pytest.raises(ModelError, match=r"corrupted|cannot be loaded"):
        EventTypeModel.load(tmp_path)


def test_foreign_types_are_refused(tiny_model: EventTypeModel, tmp_path: Path) -> None:
    tiny_model.save(tmp_path)
    sio.dump(Pipeline([("evil", FunctionTransformer(os.system))]), tmp_path / MODEL_FILE)
    _rewrite_checksum(tmp_path)
    with pytest.raises(ModelError, match="do not trust"):
        EventTypeModel.load(tmp_path)


def test_foreign_metadata_is_refused(tiny_model: EventTypeModel, tmp_path: Path) -> None:
    tiny_model.save(tmp_path)
    (tmp_path / META_FILE).write_text(
        json.dumps({"format": "someone-else", "version": "1"}), encoding="utf-8"
    )
    with pytest.raises(ModelError, match="foreign"):
        EventTypeModel.load(tmp_path)
    (tmp_path / META_FILE).write_text("{broken", encoding="utf-8")
    with pytest.raises(ModelError, match="unreadable"):
        EventTypeModel.load(tmp_path)


def test_stand_in_reads_the_version_and_refuses_to_score(tiny_model: EventTypeModel, tmp_path: Path) -> None:
    tiny_model.save(tmp_path)
    stand_in = ModelStandIn.load(tmp_path)
    assert stand_in.version == EventTypeModel.load(tmp_path).version == tiny_model.version
    assert stand_in.model_sha256 == hashlib.sha256((tmp_path / MODEL_FILE).read_bytes()).hexdigest()
    for score in (stand_in.predict_proba, stand_in.predict_scores, stand_in.predict):
        with pytest.raises(ModelError, match="stand-in"):
            score(["Troops clashed with rebels."])


def test_stand_in_refuses_what_the_model_refuses(tiny_model: EventTypeModel, tmp_path: Path) -> None:
    # A driver fails at start-up on a missing, altered or foreign model, as a process that loads it does.
    with pytest.raises(ModelError, match="metadata is missing"):
        ModelStandIn.load(tmp_path)
    tiny_model.save(tmp_path)
    path = tmp_path / MODEL_FILE
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelError, match="checksum"):
        ModelStandIn.load(tmp_path)
    path.unlink()
    with pytest.raises(ModelError, match="model file is missing"):
        ModelStandIn.load(tmp_path)
    foreign = {"format": "someone-else", "version": "1"}
    (tmp_path / META_FILE).write_text(json.dumps(foreign), encoding="utf-8")
    with pytest.raises(ModelError, match="foreign"):
        ModelStandIn.load(tmp_path)


def test_importing_the_model_module_leaves_scikit_learn_out() -> None:
    # The stand-in exists so a process can record the model without paying scikit-learn's import.
    heavy = ["sklearn", "skops", "scipy"]
    code = f"import sys, coder.classify.model; print([m for m in {heavy!r} if m in sys.modules])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def _rewrite_checksum(model_dir: Path) -> None:
    meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
    meta["model_sha256"] = hashlib.sha256((model_dir / MODEL_FILE).read_bytes()).hexdigest()
    (model_dir / META_FILE).write_text(json.dumps(meta), encoding="utf-8")


COMMITTED = Settings().model_dir


@pytest.mark.skipif(not (COMMITTED / MODEL_FILE).is_file(), reason="no trained model committed yet")
def test_committed_model_loads_and_separates_clear_cases() -> None:
    model = EventTypeModel.load(COMMITTED)
    assert model.version.startswith("event-type-")
    # Invented sentences, not in any training file: one clear case per type.
    cases = {
        "Government warplanes carried out air strikes on the rebel town, killing nine.": "airstrike",
        "A suicide bomber detonated explosives at a crowded checkpoint.": "bombing",
        "Soldiers and insurgents fought a fierce gun battle near the border post.": "armed_clash",
        "The government agreed to buy 30 attack helicopters and missiles from Italy.": "arms_transfer",
        "The foreign minister said on Tuesday that his country wanted a negotiated settlement.": "statement",
        "The finance ministry reported that exports grew by four percent last year.": "none",
    }
    assert model.predict(list(cases)) == list(cases.values())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=8))
def test_fast_scoring_equals_the_sklearn_pipeline(tiny_model: EventTypeModel, texts: list[str]) -> None:
    """The one-shot sparse TF-IDF build gives sklearn's own probabilities (same features, same weights)."""
    pipeline = tiny_model.pipeline_
    expected = pipeline.predict_proba(texts)
    columns = [tiny_model.labels.index(str(label)) for label in pipeline.classes_]
    assert tiny_model.predict_proba(texts)[:, columns] == pytest.approx(expected, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=8))
def test_fast_char_scoring_equals_the_sklearn_pipeline(
    tiny_char_model: EventTypeModel, texts: list[str]
) -> None:
    """Words and character n-grams, each block built in one shot, give the FeatureUnion's probabilities."""
    pipeline = tiny_char_model.pipeline_
    columns = [tiny_char_model.labels.index(str(label)) for label in pipeline.classes_]
    expected = pipeline.predict_proba(texts)
    assert tiny_char_model.predict_proba(texts)[:, columns] == pytest.approx(expected, abs=1e-12)


def test_fast_scoring_equals_sklearn_on_gold_and_keeps_its_speed(tiny_model: EventTypeModel) -> None:
    gold = Path(__file__).resolve().parents[1] / "seeds" / "gold" / "seed_sentences.jsonl"
    texts = [json.loads(x)["text"] for x in gold.read_text(encoding="utf-8").splitlines() if x.strip()]
    features = tiny_model.pipeline_.named_steps["features"]
    fast = tiny_model.pipeline_.named_steps["clf"].predict_proba(_tfidf(features, texts))
    assert fast == pytest.approx(tiny_model.pipeline_.predict_proba(texts), abs=1e-12)


def test_fast_char_scoring_equals_sklearn_on_gold(tiny_char_model: EventTypeModel) -> None:
    # Gold sentences repeat their words across the batch: each word's n-grams are cut once and reused.
    gold = Path(__file__).resolve().parents[1] / "seeds" / "gold" / "seed_sentences.jsonl"
    texts = [json.loads(x)["text"] for x in gold.read_text(encoding="utf-8").splitlines() if x.strip()]
    columns = [tiny_char_model.labels.index(str(label)) for label in tiny_char_model.pipeline_.classes_]
    expected = tiny_char_model.pipeline_.predict_proba(texts)
    assert tiny_char_model.predict_proba(texts)[:, columns] == pytest.approx(expected, abs=1e-12)


def test_other_vectorizer_settings_fall_back_to_sklearn(tiny_model: EventTypeModel) -> None:
    features = tiny_model.pipeline_.named_steps["features"]
    assert _fast_path_applies(features)
    features.set_params(sublinear_tf=False)
    try:
        assert not _fast_path_applies(features)
    finally:
        features.set_params(sublinear_tf=True)
