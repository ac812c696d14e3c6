"""coder.fast_attrs: the fast attribute ruler gives exactly what spaCy's own ruler gives."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from coder import fast_attrs
from coder.config import PROJECT_ROOT
from coder.nlp import FAST_PREFIX, use_fast_components

RULER, LEMMATIZER = "attribute_ruler", "lemmatizer"

# Every kind of pattern the fast ruler expresses: tag maps, exceptions that override them (later
# patterns win), IN / NOT_IN / REGEX, a flag, dependency tests, and multi-token patterns whose target
# is the first, the second or the last token.
PATTERNS: list[dict[str, Any]] = [
    {"patterns": [[{"TAG": "NN"}]], "attrs": {"POS": "NOUN", "MORPH": "Number=Sing"}},
    {"patterns": [[{"TAG": "VBZ"}]], "attrs": {"POS": "VERB", "MORPH": "Tense=Pres"}},
    {"patterns": [[{"TAG": "PRP"}]], "attrs": {"POS": "PRON"}},
    {"patterns": [[{"TAG": "NN", "LOWER": "nothing"}]], "attrs": {"POS": "PRON", "LEMMA": "nothing"}},
    {"patterns": [[{"TAG": "VBZ", "LOWER": {"IN": ["is", "'s"]}}]], "attrs": {"POS": "AUX", "LEMMA": "be"}},
    {"patterns": [[{"TAG": {"NOT_IN": ["NN", ""]}, "DEP": {"IN": ["aux"]}}]], "attrs": {"POS": "AUX"}},
    {"patterns": [[{"LOWER": {"REGEX": "^n[ou]thin'$"}}]], "attrs": {"LEMMA": "nothing"}},
    {"patterns": [[{"LOWER": "gon"}, {"LOWER": "na"}]], "attrs": {"LEMMA": "go"}, "index": 0},
    {"patterns": [[{"LOWER": "gon"}, {"LOWER": "na"}]], "attrs": {"LEMMA": "to"}, "index": 1},
    {
        "patterns": [[{"DEP": "expl"}, {"LOWER": {"IN": ["is", "was"]}}]],
        "attrs": {"POS": "VERB"},
        "index": -1,
    },
    {
        "patterns": [[{"TAG": "VBZ", "LOWER": "gets"}], [{"TAG": "NN", "LOWER": "got"}]],
        "attrs": {"LEMMA": "get"},
    },
    {"patterns": [[{"IS_SPACE": True}]], "attrs": {"TAG": "_SP", "POS": "SPACE", "MORPH": "_"}},
]

DOCS = [
    (["there", "is", "nothing", "gon", "na", "change"], ["EX", "VBZ", "NN", "VBZ", "NN", "NN"]),
    (["it", "gets", "nothin'", "got", "it", "'s"], ["PRP", "VBZ", "NN", "NN", "PRP", "VBZ"]),
    (["gon", "na"], ["NN", "NN"]),
    (["na", "gon"], ["NN", "NN"]),
    (["he", " ", "is", "Is"], ["PRP", "_SP", "VBZ", "VBZ"]),
]
DEPS = ["expl", "ROOT", "dobj", "aux", "dep", "aux"]


def _ruler(nlp: Any, patterns: list[dict[str, Any]]) -> Any:
    ruler = nlp.add_pipe("attribute_ruler")
    ruler.add_patterns(patterns)
    return ruler


def _doc(nlp: Any, words: list[str], tags: list[str]) -> Any:
    from spacy.tokens import Doc

    n = len(words)
    return Doc(nlp.vocab, words=words, tags=tags, deps=DEPS[:n], heads=[0] * n, spaces=[True] * n)


def _state(doc: Any) -> list[tuple[str, ...]]:
    return [(t.tag_, t.pos_, t.dep_, str(t.morph), t.lemma_) for t in doc]


@pytest.mark.parametrize(("words", "tags"), DOCS)
def test_same_as_the_attribute_ruler(blank_nlp: Any, words: list[str], tags: list[str]) -> None:
    ruler = _ruler(blank_nlp, PATTERNS)
    fast = fast_attrs.build(ruler)
    assert fast is not None
    expected, got = _doc(blank_nlp, words, tags), _doc(blank_nlp, words, tags)
    ruler(expected)
    for _ in range(2):  # the second time from the signature cache
        assert _state(fast(got)) == _state(expected)


def test_empty_doc(blank_nlp: Any) -> None:
    fast = fast_attrs.build(_ruler(blank_nlp, PATTERNS))
    assert fast is not None and len(fast(blank_nlp(""))) == 0


@pytest.mark.parametrize(
    "pattern",
    [
        [{"TAG": "NN", "OP": "+"}],
        [{"POS": "NOUN"}],
        [{"LOWER": {"FUZZY": "gona"}}],
        [{"LENGTH": {">=": 3}}],
        [{"_": {"x": 1}}],
    ],
)
def test_unsupported_patterns_keep_the_original(blank_nlp: Any, pattern: list[dict[str, Any]]) -> None:
    ruler = _ruler(blank_nlp, [*PATTERNS, {"patterns": [pattern], "attrs": {"LEMMA": "x"}}])
    assert fast_attrs.build(ruler) is None
    assert not use_fast_components(blank_nlp)
    assert RULER in blank_nlp.pipe_names


def test_use_fast_ruler_disables_the_original(blank_nlp: Any) -> None:
    _ruler(blank_nlp, PATTERNS)
    assert use_fast_components(blank_nlp)
    assert blank_nlp.disabled == [RULER]
    assert blank_nlp.pipe_names == [FAST_PREFIX + RULER]


def test_no_ruler_no_change(blank_nlp: Any) -> None:
    assert not use_fast_components(blank_nlp) and blank_nlp.pipe_names == []


def test_loaded_pipeline_uses_them(nlp_full: Any) -> None:
    assert nlp_full.disabled == [RULER, LEMMATIZER]
    assert [n for n in nlp_full.pipe_names if FAST_PREFIX in n] == [
        FAST_PREFIX + RULER,
        FAST_PREFIX + LEMMATIZER,
    ]


def test_same_as_the_model_pipeline_on_corpus_sentences(nlp_full: Any, corpora: Path) -> None:
    """The model's own ruler and lemmatizer after the same parse, on a seeded sample of real sentences."""
    lines = (corpora / "conflibert" / "cameo_class" / "test.tsv").read_text(encoding="utf-8").splitlines()
    texts = random.Random(5).sample([line.split("\t")[0] for line in lines], 150)
    ruler, lemmatizer = nlp_full.get_pipe(RULER), nlp_full.get_pipe(LEMMATIZER)
    fast_ruler, fast_lemmatizer = (nlp_full.get_pipe(FAST_PREFIX + name) for name in (RULER, LEMMATIZER))
    for doc in nlp_full.pipe(texts, disable=["ner", FAST_PREFIX + RULER, FAST_PREFIX + LEMMATIZER]):
        expected, got = doc.copy(), doc.copy()
        lemmatizer(ruler(expected))
        fast_lemmatizer(fast_ruler(got))
        assert _state(got) == _state(expected), doc.text


def test_fast_lemmatizer_keeps_lemmas_already_set(nlp_full: Any) -> None:
    doc = nlp_full("Rebels were shelling the town.")
    fresh = doc.copy()
    for token in fresh:
        token.lemma = 0
    fresh[1].lemma_ = "kept"
    nlp_full.get_pipe(FAST_PREFIX + LEMMATIZER)(fresh)
    assert [t.lemma_ for t in fresh] == [t.lemma_ if t.i != 1 else "kept" for t in doc]


def test_only_spacy_s_own_rule_lemmatizer(blank_nlp: Any) -> None:
    from spacy.pipeline import Lemmatizer

    class Custom(Lemmatizer):
        pass

    vocab = blank_nlp.vocab
    assert fast_attrs.build_lemmatizer(object()) is None
    assert fast_attrs.build_lemmatizer(Lemmatizer(vocab, None, mode="lookup")) is None
    assert fast_attrs.build_lemmatizer(Lemmatizer(vocab, None, mode="rule", overwrite=True)) is None
    assert fast_attrs.build_lemmatizer(Custom(vocab, None, mode="rule")) is None
    assert fast_attrs.build_lemmatizer(Lemmatizer(vocab, None, mode="rule")) is not None


def test_only_spacy_s_own_ruler(blank_nlp: Any) -> None:
    from spacy.pipeline import AttributeRuler

    class Custom(AttributeRuler):
        pass

    assert fast_attrs.build(object()) is None
    assert fast_attrs.build(Custom(blank_nlp.vocab)) is None


def test_set_index_rules_give_the_lemmatizer_s_own_lemmas(nlp_full: Any) -> None:
    """Every token of the seed articles gets, from each fresh cache, the lemmatizer's own candidate list;
    the index is held as sets, every other table is the lemmatizer's."""
    lemmatizer = nlp_full.get_pipe(LEMMATIZER)
    rules = fast_attrs._SetIndexRules(lemmatizer)
    index = rules.get_table("lemma_index")
    assert index and all(isinstance(words, frozenset) for words in index.values())
    assert rules.get_table("lemma_rules") is lemmatizer.lookups.get_table("lemma_rules")
    texts = [p.read_text(encoding="utf-8") for p in sorted((PROJECT_ROOT / "seeds").glob("*.txt"))]
    kept, lemmatizer.cache, rules.cache = lemmatizer.cache, {}, {}
    try:
        for doc in nlp_full.pipe(texts, disable=["ner"]):
            assert [rules.lemmatize(t) for t in doc] == [lemmatizer.rule_lemmatize(t) for t in doc]
    finally:
        lemmatizer.cache = kept
