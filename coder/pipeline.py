"""The only module that composes the stages: articles in, typed results out.

Flow for one batch of articles (``code_batch``):

1. ``segment.split_sentences``: rule-based sentences with exact offsets (cheap).
2. ``classify.model`` scores every codable sentence (cheap, vectorised) and
   ``classify.decide.needs_parse`` picks the sentences that could hold an event;
   only those go through the spaCy pipeline, because the parse is the cost. The
   entity recogniser (half of that cost) is left out of this parse (``nlp.parse``).
3. ``classify.rules`` + ``classify.decide`` give each parsed sentence a type; the few
   rules that test entity types get them first (``nlp.add_entities``).
4. Entities are recognised, in one call, in the sentences coded as an asserted event;
   ``actors``, ``geo``, ``dates`` and ``casualties`` fill their event rows.

``code_batch`` is the unit both engines run (locally in a loop, or on Dask partitions).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from coder import actors, casualties, dates, geo, ingest, segment
from coder.classify import decide, evaluate, rules
from coder.classify.model import HEAVY_MODULES, EventTypeModel, ModelStandIn
from coder.config import Settings
from coder.errors import ConfigError
from coder.nlp import add_entities, is_stand_in, load_pipeline, parse, stand_in_pipeline
from coder.records import (
    Actor,
    Article,
    Casualties,
    Classification,
    Event,
    EventActors,
    Reject,
    Sentence,
    stable_id,
)

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

# Imported when the model loads (``Stages.load``), not with this module nor by a Dask driver's stages:
# scikit-learn and skops cost ~4 CPU s to import, before the driver's workers can even start. Engines
# that start fresh processes to code in import them there ahead of the first batch (``dask_engine``'s
# fork server).
LAZY_MODULES = HEAVY_MODULES


@dataclass
class Stages:
    """Everything loaded once per process: the spaCy pipeline, rules, model, dictionaries."""

    settings: Settings
    nlp: Language
    rules: rules.RuleSet
    model: EventTypeModel | ModelStandIn
    policy: decide.Policy
    boilerplate: ingest.BoilerplateRules
    segmenter: segment.Segmenter
    date_rules: dates.DateRules
    casualty_rules: casualties.CasualtyRules
    actors: actors.ActorDictionary
    gazetteer: geo.Gazetteer

    @classmethod
    def load(cls, settings: Settings) -> Stages:
        return cls._load(settings, load_pipeline(settings), EventTypeModel.load(settings.model_dir))

    @classmethod
    def load_for_driver(cls, settings: Settings) -> Stages:
        """The stages of a process that reads inputs and writes the release but codes nothing (the Dask
        driver): the spaCy pipeline and the event-type model are left to the workers, and stand-ins
        carrying their versions keep ``versions()`` (the manifest) the same. ``code_batch`` refuses to
        code with them."""
        return cls._load(settings, stand_in_pipeline(settings), ModelStandIn.load(settings.model_dir))

    @classmethod
    def _load(cls, settings: Settings, nlp: Language, model: EventTypeModel | ModelStandIn) -> Stages:
        return cls(
            settings=settings,
            nlp=nlp,
            rules=rules.RuleSet.load(settings.rules_dir),
            model=model,
            policy=decide.Policy.load(settings.rules_dir),
            boilerplate=ingest.load_boilerplate_rules(settings.rules_dir / "boilerplate.json"),
            segmenter=segment.Segmenter.load(settings.rules_dir / "abbreviations.json"),
            date_rules=dates.DateRules.load(settings.rules_dir / dates.RULES_FILE),
            casualty_rules=casualties.CasualtyRules.load(settings.rules_dir / casualties.RULES_FILE),
            actors=actors.ActorDictionary.load(settings.actors_dir),
            gazetteer=geo.OfflineGazetteer.load(settings.gazetteer_dir, settings.places_dir),
        )

    def versions(self) -> dict[str, str]:
        return {
            "spacy_model": f"{self.nlp.meta.get('name', '?')}-{self.nlp.meta.get('version', '?')}",
            "model": self.model.version,
            "rules": self.rules.version,
            "actors": self.actors.version,
            "gazetteer": self.gazetteer.version,
        }


@dataclass
class ArticleResult:
    article: Article
    sentences: list[Sentence]
    classifications: list[Classification]
    events: list[Event]
    rejects: list[Reject] = field(default_factory=list)


@dataclass
class BatchResult:
    articles: list[ArticleResult] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def code_batch(items: Sequence[Article | Reject], stages: Stages) -> BatchResult:
    """Code a batch of articles (ingest rejects pass through untouched).

    Every article is classified first; entities are then recognised in one batch over the docs
    that become event rows, which are built last (entities are read by actors and geo only)."""
    if is_stand_in(stages.nlp) or isinstance(stages.model, ModelStandIn):
        raise ConfigError("these stages were loaded for a Dask driver (no spaCy, no model) and cannot code")
    result = BatchResult()
    articles = [item for item in items if isinstance(item, Article)]
    result.rejects.extend(item for item in items if isinstance(item, Reject))
    split = [(article, stages.segmenter.split(article)) for article in articles]
    scores = _score_sentences([s for _, sentences in split for s in sentences], stages)
    docs = _parse_candidates(scores, stages)
    plans = [_plan_article(article, sentences, docs, scores, stages) for article, sentences in split]
    event_docs = [slot.doc for plan in plans for slot in plan.slots]
    add_entities(stages.nlp, event_docs, stages.settings.batch_size)
    result.articles.extend(_build_article(plan, stages) for plan in plans)
    return result


@dataclass(frozen=True)
class _Scored:
    text: str
    scores: dict[str, float]


def _score_sentences(sentences: Sequence[Sentence], stages: Stages) -> dict[str, _Scored]:
    """Model scores of every codable sentence, in one vectorised call (the cheap first pass)."""
    codable = [s for s in sentences if s.boilerplate is None]
    if not codable:
        return {}
    scores = stages.model.predict_scores([s.text for s in codable])
    return {s.sentence_id: _Scored(s.text, sc) for s, sc in zip(codable, scores, strict=True)}


def _parse_candidates(scores: dict[str, _Scored], stages: Stages) -> dict[str, Doc]:
    """Parse only the sentences the first pass says could hold an event: the parse is the cost.

    Entities wait for the event rows, except in the docs a rule that tests them could fire on."""
    keep = [sid for sid, sc in scores.items() if stages.policy.needs_parse(sc.text, sc.scores, stages.rules)]
    texts = [scores[sid].text for sid in keep]
    docs = dict(zip(keep, parse(stages.nlp, texts, stages.settings.batch_size), strict=True))
    wanted = [doc for sid, doc in docs.items() if stages.rules.needs_entities(scores[sid].text)]
    add_entities(stages.nlp, wanted, stages.settings.batch_size)
    return docs


@dataclass(frozen=True)
class _Slot:
    """A sentence coded as an asserted event, whose row waits for the batch's entities."""

    sentence: Sentence
    doc: Doc
    decision: Classification
    casualties: Casualties  # an aftermath sentence's toll replaces the event sentence's own
    event_id: str


@dataclass
class _Plan:
    article: Article
    sentences: list[Sentence]
    classifications: list[Classification] = field(default_factory=list)
    slots: list[_Slot] = field(default_factory=list)


def _plan_article(
    article: Article,
    sentences: list[Sentence],
    docs: dict[str, Doc],
    scores: dict[str, _Scored],
    stages: Stages,
) -> _Plan:
    """Classify every sentence, fold aftermath tolls into the event just told, and list the event rows."""
    plan = _Plan(article, sentences)
    previous_index = -2
    for sentence in sentences:
        doc = docs.get(sentence.sentence_id)
        last = plan.classifications[-1] if plan.classifications else None
        decision = _classify(sentence, doc, scores.get(sentence.sentence_id), stages, last)
        previous = plan.slots[-1] if plan.slots else None
        adjacent = sentence.index == previous_index + 1
        if (
            doc is not None
            and previous is not None
            and adjacent
            and _is_aftermath(article, sentence, decision, previous)
        ):
            folded = _fold_aftermath(previous, sentence, doc, decision, stages)
            if folded is not None:
                plan.slots[-1], decision = folded
                previous_index = sentence.index
        plan.classifications.append(decision)
        if doc is None or decision.event_type == "none" or decision.modality != "asserted":
            continue
        if decision.coded_by.startswith(AFTERMATH):
            continue
        toll = casualties.count_casualties(doc, sentence, stages.casualty_rules)
        event_id = stable_id(article.article_id, sentence.sentence_id, decision.event_type)
        plan.slots.append(_Slot(sentence, doc, decision, toll, event_id))
        previous_index = sentence.index
    return plan


def _build_article(plan: _Plan, stages: Stages) -> ArticleResult:
    events: list[Event] = []
    if plan.slots:
        # The toponym scan reads every sentence; most news articles hold no event, so it waits for one.
        context = geo.article_context(plan.article, plan.sentences, stages.gazetteer)
        speaker: Actor | None = None  # who the previous event's sentence is attributed to ("X said")
        for slot in plan.slots:
            previous = events[-1] if events else None
            events.append(_build_event(plan.article, slot, context, previous, stages, speaker))
            speaker = actors.attribution_speaker(
                slot.doc,
                slot.sentence,
                stages.actors,
                previous,
                plan.article,
                previous_speaker=speaker,
                own_event=events[-1],
            )
    return ArticleResult(plan.article, plan.sentences, plan.classifications, events)


# A sentence that only adds the toll of the event just told ("At least 19 were killed and
# 37 wounded.") belongs to that event: ACLED codes one event, not two.
AFTERMATH = "aftermath:"


def _is_aftermath(article: Article, sentence: Sentence, decision: Classification, previous: _Slot) -> bool:
    """In the same paragraph as the event just told, and not an event of its own found by a rule."""
    if sentence.boilerplate is not None:
        return False
    if "\n" in article.text[previous.sentence.end_char : sentence.start_char]:
        return False
    own_rule = decision.coded_by.startswith("rule")
    same_or_none = decision.event_type in ("none", previous.decision.event_type)
    return same_or_none and not own_rule and previous.decision.event_type != "statement"


def _fold_aftermath(
    previous: _Slot, sentence: Sentence, doc: Doc, decision: Classification, stages: Stages
) -> tuple[_Slot, Classification] | None:
    """The previous event with this sentence's toll, and this sentence's decision pointing at it."""
    toll = casualties.count_casualties(doc, sentence, stages.casualty_rules)
    if not (toll.fatalities or toll.injuries):
        return None
    stated = previous.casualties
    if stated.fatalities_text or stated.injuries_text:
        return None  # the event sentence gave its own figures; a second report is not summed
    folded = replace(
        decision,
        event_type=previous.decision.event_type,
        sub_event_type=previous.decision.sub_event_type,
        modality="asserted",
        coded_by=f"{AFTERMATH}{previous.event_id}",
    )
    return replace(previous, casualties=toll), folded


def _classify(
    sentence: Sentence,
    doc: Doc | None,
    scored: _Scored | None,
    stages: Stages,
    previous: Classification | None = None,
) -> Classification:
    if sentence.boilerplate is not None or scored is None:
        return decide.not_coded(sentence, reason=f"boilerplate:{sentence.boilerplate}")
    if doc is None:
        return decide.skipped(sentence, scored.scores, stages.model.version)
    matches = stages.rules.match(doc, sentence)
    return stages.policy.decide(
        sentence, doc, matches, scored.scores, stages.model.version, previous=previous
    )


def _build_event(
    article: Article,
    slot: _Slot,
    context: geo.ArticleContext,
    previous: Event | None,
    stages: Stages,
    previous_speaker: Actor | None = None,
) -> Event:
    sentence, doc, decision = slot.sentence, slot.doc, slot.decision
    who = actors.extract_actors(
        doc, sentence, decision, stages.actors, previous, article, previous_speaker=previous_speaker
    )
    trigger = (
        (decision.trigger_start, decision.trigger_end)
        if decision.trigger_start is not None and decision.trigger_end is not None
        else None
    )
    return Event(
        event_id=slot.event_id,
        article_id=article.article_id,
        sentence_id=sentence.sentence_id,
        start_char=sentence.start_char,
        end_char=sentence.end_char,
        classification=decision,
        actor1=who.actor1,
        actor2=who.actor2,
        assoc_actor1=who.assoc_actor1,
        place=geo.resolve_place(
            doc, sentence, context, stages.gazetteer, trigger=trigger, actor_countries=actor_countries(who)
        ),
        when=dates.resolve_date(doc, sentence, article, stages.date_rules, previous=previous),
        casualties=slot.casualties,
        source=article.source,
        notes=sentence.text,
    )


def actor_countries(who: EventActors) -> tuple[tuple[str, str | None], ...]:
    """(role, iso3) of the event's actors: geo reads them when the article barely names its country."""
    roles = (("actor1", who.actor1), ("actor2", who.actor2), ("assoc_actor1", who.assoc_actor1))
    return tuple((role, actor.iso3) for role, actor in roles if actor is not None)


def classify_texts(texts: Sequence[str], stages: Stages) -> list[Classification]:
    """Code free-standing sentences (gold files) through the same first pass, parse, rules and policy."""
    sentences = [
        Sentence(stable_id("gold", i, text), "gold", i, start_char=0, end_char=len(text), text=text)
        for i, text in enumerate(texts)
    ]
    scores = _score_sentences(sentences, stages)
    docs = _parse_candidates(scores, stages)
    return [_classify(s, docs.get(s.sentence_id), scores[s.sentence_id], stages) for s in sentences]


def iter_inputs(
    inputs: Sequence[Path], stages: Stages, *, today: date | None = None
) -> Iterator[Article | Reject]:
    """Articles and ingest rejects from input paths, streamed in a deterministic order."""
    return ingest.iter_articles(inputs, stages.settings, today=today, rules=stages.boilerplate)


def batched(items: Iterable[Article | Reject], size: int) -> Iterator[list[Article | Reject]]:
    """Fixed-size batches from a stream, so memory stays flat in corpus size."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def evaluation_label(event_type: str, modality: str | None) -> str:
    """The label a sentence counts as in evaluation: a planned, threatened, negated or
    hypothetical event is not an event of that type (statements are always asserted)."""
    return event_type if modality in (None, "asserted") else "none"


def evaluate_gold(path: Path, settings: Settings) -> evaluate.EvaluationReport:
    """Score the full hybrid coder on a gold JSONL file of labelled sentences."""
    gold = evaluate.read_gold(path)
    stages = Stages.load(settings)
    predicted = classify_texts([g.text for g in gold], stages)
    return evaluate.score(
        [evaluation_label(g.event_type, g.extra.get("modality")) for g in gold],
        [evaluation_label(p.event_type, p.modality) for p in predicted],
        ids=[g.id for g in gold],
        texts=[g.text for g in gold],
    )
