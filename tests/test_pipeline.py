"""The composition: batching, order, rejects passing through, the first pass, lazy geo context."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coder import pipeline
from coder.classify import rules
from coder.classify.model import ModelStandIn
from coder.config import PROJECT_ROOT, Settings
from coder.errors import ConfigError, ModelError
from coder.records import Actor, Article, EventActors, Reject

SEEDS = PROJECT_ROOT / "seeds"


@pytest.fixture(scope="module")
def stages() -> pipeline.Stages:
    return pipeline.Stages.load(Settings())


@pytest.fixture(scope="module")
def seed_articles(stages: pipeline.Stages) -> list[Article]:
    return [a for a in pipeline.iter_inputs([SEEDS], stages) if isinstance(a, Article)]


@given(items=st.lists(st.integers(), max_size=60), size=st.integers(1, 9))
def test_batched_keeps_every_item_in_order(items: list[Any], size: int) -> None:
    batches = list(pipeline.batched(items, size))
    assert [x for b in batches for x in b] == items
    assert all(len(b) == size for b in batches[:-1])
    assert all(0 < len(b) <= size for b in batches)


@given(event_type=st.sampled_from(["armed_clash", "statement", "none"]))
def test_only_asserted_events_count_as_their_type(event_type: str) -> None:
    assert pipeline.evaluation_label(event_type, None) == event_type
    assert pipeline.evaluation_label(event_type, "asserted") == event_type
    for modality in ("planned", "negated", "hypothetical", "threatened"):
        assert pipeline.evaluation_label(event_type, modality) == "none"


def test_geo_is_handed_each_actors_role_and_country() -> None:
    def actor(iso3: str | None) -> Actor:
        return Actor("x", "x", iso3, None, None, None, None, "text")

    who = EventActors(actor1=actor("TUR"), actor2=actor(None), assoc_actor1=None)
    assert pipeline.actor_countries(who) == (("actor1", "TUR"), ("actor2", None))
    assert pipeline.actor_countries(EventActors()) == ()


def test_code_batch_keeps_order_and_passes_rejects(
    stages: pipeline.Stages, seed_articles: list[Article]
) -> None:
    reject = Reject(stage="ingest", table="articles", reason="empty text", input_file="x.jsonl", input_line=2)
    result = pipeline.code_batch([seed_articles[1], reject, seed_articles[0]], stages)
    assert [ar.article.article_id for ar in result.articles] == [a.article_id for a in seed_articles[1::-1]]
    assert result.rejects == [reject]
    for ar in result.articles:
        assert len(ar.classifications) == len(ar.sentences)
        assert all(e.article_id == ar.article.article_id for e in ar.events)


def test_batching_does_not_change_results(stages: pipeline.Stages, seed_articles: list[Article]) -> None:
    together = pipeline.code_batch(seed_articles[:2], stages).articles
    apart = [pipeline.code_batch([a], stages).articles[0] for a in seed_articles[:2]]
    assert [ar.events for ar in together] == [ar.events for ar in apart]
    assert [ar.classifications for ar in together] == [ar.classifications for ar in apart]


class _CountingGazetteer:
    """Counts the article-wide toponym scans (``geo.article_context`` reads ``rules``)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.scans = inner, 0

    def __getattr__(self, name: str) -> Any:
        if name == "rules":
            self.scans += 1
        return getattr(self.inner, name)


def test_geo_context_is_built_only_for_articles_with_events(
    stages: pipeline.Stages, seed_articles: list[Article]
) -> None:
    text = "The weather was mild. Markets opened higher."
    quiet = dataclasses.replace(seed_articles[0], text=text, title=None)
    counting = _CountingGazetteer(stages.gazetteer)
    result = pipeline.code_batch([quiet], dataclasses.replace(stages, gazetteer=counting))
    assert result.articles[0].events == []
    assert counting.scans == 0


def test_classify_texts_codes_an_obvious_event_and_a_non_event(stages: pipeline.Stages) -> None:
    texts = ["A car bomb exploded near a market in Baghdad, killing five people.", "Markets opened higher."]
    coded = pipeline.classify_texts(texts, stages)
    assert coded[0].event_type == "bombing"
    assert coded[1].event_type == "none"


def test_deferred_entities_change_nothing(
    stages: pipeline.Stages, seed_articles: list[Article], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entities are recognised only for event rows and entity-testing rules: the same output as
    running the whole spaCy pipeline on every parsed sentence."""
    deferred = pipeline.code_batch(seed_articles, stages).articles
    monkeypatch.setattr(pipeline, "parse", lambda nlp, texts, size: list(nlp.pipe(texts, batch_size=size)))
    whole = pipeline.code_batch(seed_articles, stages).articles
    assert [ar.classifications for ar in deferred] == [ar.classifications for ar in whole]
    assert [ar.events for ar in deferred] == [ar.events for ar in whole]


def test_rules_that_test_entity_types_see_entities(
    stages: pipeline.Stages, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule testing ENT_TYPE sees entities before it is matched, though entities are otherwise deferred."""
    entity_rules = [rule for rule in stages.rules.rules if rules._tests_entities(rule.patterns)]
    assert entity_rules, "no rule tests an entity type: this test has nothing to check"
    examples = [text for rule in entity_rules for text in rule.examples]
    deferred = pipeline.classify_texts(examples, stages)
    monkeypatch.setattr(pipeline, "parse", lambda nlp, texts, size: list(nlp.pipe(texts, batch_size=size)))
    assert deferred == pipeline.classify_texts(examples, stages)


def test_scikit_learn_waits_for_the_stages_to_load() -> None:
    # A Dask driver imports the pipeline and loads its own stages but codes nothing: scikit-learn and
    # skops (~4 CPU s) must not delay its workers' start; they come with the first Stages.load.
    lazy = ["sklearn", "skops", *pipeline.LAZY_MODULES]
    code = (
        "import sys, coder.build; from coder.config import Settings; "
        "coder.pipeline.Stages.load_for_driver(Settings()); "
        f"print([m for m in {lazy!r} if m in sys.modules])"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_stages_with_the_model_stand_in_refuse_to_code(
    stages: pipeline.Stages, seed_articles: list[Article]
) -> None:
    # The stand-in knows the model's version, not its weights: coding with it would be silently wrong.
    light = dataclasses.replace(stages, model=ModelStandIn.load(stages.settings.model_dir))
    assert light.versions() == stages.versions()
    with pytest.raises(ConfigError, match="Dask driver"):
        pipeline.code_batch(seed_articles[:1], light)
    with pytest.raises(ModelError, match="stand-in"):
        pipeline.classify_texts(["Two bombs exploded in Baghdad."], light)
