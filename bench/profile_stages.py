"""Per-stage CPU timings of a coding batch: spaCy (the parse and the entity recogniser) apart from the
coder's own stages (segmentation, first pass, rules, policy, casualties, actors, geo, dates).

Not a test: it prints figures (and, with ``--dump``, every event's place and actors as JSON so two code
versions can be compared for identical output).

Corpus: ``--articles`` bench-like articles (``bench/run.py``'s ``corpus_sentences``/``write_corpus``, drawn
with a fixed seed from the seeds and the shared corpora, written to a temporary folder, never the repo),
or the seed articles with ``--seeds``. The articles go through ``pipeline.code_batch`` exactly as a build
does; the stage functions and methods are wrapped (in this process only) with timers, so every call is
timed in the build's own order, with the build's own caches. ``spacy_cpu_seconds`` sums the parse and
the entity recogniser; ``own_cpu_seconds`` is the rest of the batch (the coder's own Python, with the
stand-ins of ``coder.fast_attrs`` counted as spaCy, since they run inside its pipe). ``--profile PATH``
keeps a cProfile of the batch and prints the coder's functions by own time.

    .venv/bin/python bench/profile_stages.py --articles 30
    .venv/bin/python bench/profile_stages.py --seeds --dump /tmp/me/seeds.json

``--original-components`` codes with the pipeline's own attribute ruler and lemmatizer instead of
``coder.fast_attrs``' stand-ins (the paired "before" of that change: the dumps must be identical).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from coder import actors, casualties, dates, geo, pipeline
from coder.classify.decide import Policy
from coder.classify.model import EventTypeModel
from coder.classify.rules import RuleSet
from coder.config import Settings
from coder.nlp import FAST_COMPONENTS, FAST_PREFIX
from coder.records import Event
from coder.segment import Segmenter

ROOT = Path(__file__).resolve().parents[1]

ACTOR_FIELDS = ("actor1", "actor2", "assoc_actor1")
# (owner, attribute): module functions as the pipeline calls them (``pipeline.parse`` is the name it
# imported) and class methods of the loaded stages. None is nested in another, so their times add up.
STAGES: tuple[tuple[Any, str], ...] = (
    (pipeline, "parse"),
    (pipeline, "add_entities"),
    (Segmenter, "split"),
    (EventTypeModel, "predict_scores"),
    (Policy, "needs_parse"),
    (RuleSet, "match"),
    (Policy, "decide"),
    (casualties, "count_casualties"),
    (geo, "article_context"),
    (geo, "resolve_place"),
    (actors, "extract_actors"),
    (actors, "attribution_speaker"),
    (dates, "resolve_date"),
)
SPACY_STAGES = ("parse", "add_entities")


@contextmanager
def timed_stages(totals: dict[str, list[tuple[float, float]]]) -> Iterator[None]:
    """Wrap each stage function with a timer for the duration of the block, then restore it."""
    originals: list[tuple[Any, str, Callable[..., Any]]] = []
    for owner, name in STAGES:
        original = owner.__dict__[name]  # the function itself, not a bound method
        originals.append((owner, name, original))
        setattr(owner, name, _timer(original, totals.setdefault(name, [])))
    try:
        yield
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def _timer(function: Callable[..., Any], calls: list[tuple[float, float]]) -> Callable[..., Any]:
    """Each call's (wall, CPU) seconds: on a shared machine the CPU time is the steadier figure."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            calls.append((time.perf_counter() - start, time.process_time() - cpu))

    return wrapped


def load_items(args: argparse.Namespace, stages: pipeline.Stages, workdir: Path) -> list[Any]:
    if args.seeds:
        return list(pipeline.iter_inputs([ROOT / "seeds"], stages))
    sys.path.insert(0, str(ROOT / "bench"))  # bench/ is scripts, not a package
    from run import corpus_sentences, write_corpus

    corpus = workdir / "corpus.jsonl"
    write_corpus(corpus_sentences(args.corpora), args.articles, corpus, args.seed)
    return list(pipeline.iter_inputs([corpus], stages))


def event_records(events: list[Event]) -> list[dict[str, Any]]:
    """What the speed work must not change: the place and the actors of each event, keyed by what they
    are computed from besides the text (type, trigger, and the previous event, which pronouns follow)."""
    out, previous = [], None
    for event in events:
        same_article = previous is not None and previous.article_id == event.article_id
        decision = event.classification
        out.append(
            {
                "article_id": event.article_id,
                "sentence_id": event.sentence_id,
                "event_type": decision.event_type,
                "trigger": [decision.trigger_start, decision.trigger_end],
                "previous_sentence_id": previous.sentence_id if same_article and previous else None,
                **{name: _as_dict(getattr(event, name)) for name in ("place", *ACTOR_FIELDS)},
            }
        )
        previous = event
    return out


def _as_dict(record: Any) -> dict[str, Any] | None:
    return None if record is None else dataclasses.asdict(record)


def run(args: argparse.Namespace) -> dict[str, Any]:
    stages = pipeline.Stages.load(Settings())
    if args.original_components:
        use_original_components(stages.nlp)
    with tempfile.TemporaryDirectory(prefix="coder-profile-") as tmp:
        items = load_items(args, stages, Path(tmp))
    totals: dict[str, list[tuple[float, float]]] = {}
    profiler = cProfile.Profile() if args.profile else None
    with timed_stages(totals):
        start, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        result = pipeline.code_batch(items, stages)
        if profiler:
            profiler.disable()
        batch, batch_cpu = time.perf_counter() - start, time.process_time() - cpu
    if profiler:
        profiler.dump_stats(args.profile)
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime")
        stats.print_stats(r"coder[/\\]", 40)
    events = [e for a in result.articles for e in a.events]
    if args.dump:
        args.dump.parent.mkdir(parents=True, exist_ok=True)
        args.dump.write_text(json.dumps(event_records(events), indent=1) + "\n")
    n = max(1, len(result.articles))
    spacy_cpu = sum(c[1] for name in SPACY_STAGES for c in totals[name])
    figures = {"articles": len(result.articles), "events": len(events), "pipeline": stages.nlp.pipe_names}
    return (
        figures
        | {"code_batch_seconds": round(batch, 2), "code_batch_cpu_seconds": round(batch_cpu, 2)}
        | {"cpu_seconds_per_article": round(batch_cpu / n, 4)}
        | {"spacy_cpu_seconds": round(spacy_cpu, 2), "own_cpu_seconds": round(batch_cpu - spacy_cpu, 2)}
        | {"own_cpu_seconds_per_article": round((batch_cpu - spacy_cpu) / n, 4)}
        | {name: summarise(calls, batch_cpu) for name, calls in totals.items()}
    )


def use_original_components(nlp: Any) -> None:
    """Undo ``nlp.use_fast_components``: the pipeline's own components, enabled, in their place."""
    for name in FAST_COMPONENTS:
        if FAST_PREFIX + name in nlp.pipe_names:
            nlp.remove_pipe(FAST_PREFIX + name)
            nlp.enable_pipe(name)


def summarise(calls: list[tuple[float, float]], batch_cpu: float) -> dict[str, Any]:
    wall, cpu = sum(c[0] for c in calls), sum(c[1] for c in calls)
    return {
        "calls": len(calls),
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "cpu_ms_per_call": round(1000 * cpu / max(1, len(calls)), 3),
        "share_of_batch_cpu": round(cpu / batch_cpu, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--articles", type=int, default=30)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--seeds", action="store_true", help="profile the seed articles instead")
    parser.add_argument(
        "--original-components",
        action="store_true",
        help="the pipeline's own attribute ruler and lemmatizer (the 'before' of coder.fast_attrs)",
    )
    parser.add_argument("--dump", type=Path, help="write every event's place and actors (JSON) here")
    parser.add_argument(
        "--profile", type=Path, help="cProfile of the batch to this file (top geo/actors to stderr)"
    )
    print(json.dumps(run(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
