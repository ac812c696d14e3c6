"""Train the event-type model (thin wrapper; the CLI's `coder train` calls the same function).

.venv/bin/python scripts/train_model.py --corpora ../shared/corpora [--out models/event-type]
    [--heldout-gold /tmp/heldout.jsonl] [--bench] [--tune]

--tune chooses the policy thresholds on a DEV split carved from the training data (never the
held-out test): it fits a model on the rest of the training split, parses the dev sentences
once, replays the hybrid policy over a grid of thresholds and prints the best settings by dev
macro-F1 (figures only). Copy the chosen values into seeds/rules/policy.json with their dev figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from coder.classify.decide import Policy
from coder.classify.evaluate import EvaluationReport, score
from coder.classify.model import EventTypeModel
from coder.classify.train import TRAIN, collect_examples, dev_split, train_model, write_heldout_gold
from coder.config import Settings
from coder.pipeline import Stages, evaluation_label
from coder.records import RuleMatch, Sentence, stable_id

if TYPE_CHECKING:
    from spacy.tokens import Doc

GRID = {
    "none": (0.4, 0.5, 0.6),
    "min_event_probability": (0.0, 0.3, 0.4, 0.5, 0.6),
    "weak_rule_support": (0.1, 0.15, 0.25, 0.35),
    "event_over_statement": (0.4, 0.5, 0.6, 0.7),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpora", type=Path, default=Settings().corpora_dir)
    parser.add_argument("--out", type=Path, default=Settings().model_dir)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--heldout-gold", type=Path, help="also export held-out sentences as gold JSONL")
    parser.add_argument(
        "--bench", action="store_true", help="measure scoring throughput of the written model"
    )
    parser.add_argument(
        "--tune", action="store_true", help="tune policy thresholds on a dev split, then stop"
    )
    args = parser.parse_args()
    if args.tune:
        tune(args.corpora, args.seed)
        return
    report = train_model(args.corpora, args.out, seed=args.seed)
    print(report.version)
    print(report.heldout.to_text(max_errors=0))
    for source, sub in report.heldout_by_source.items():
        print(f"{source:<18} n={sub.n:<5} macro-F1={sub.macro_f1:.3f}")
    if args.heldout_gold:
        print("held-out gold sentences:", write_heldout_gold(args.corpora, args.heldout_gold, seed=args.seed))
    if args.bench:
        bench(args.corpora, args.out)


def tune(corpora: Path, seed: int) -> None:
    """Replay the hybrid policy over GRID on a dev split of the training data; print the best settings."""
    settings = Settings.from_env()
    train = [it for it in collect_examples(corpora, settings.data_dir, seed=seed) if it.split == TRAIN]
    split = dev_split(train, seed=seed)
    model = EventTypeModel(seed=seed, version="dev").fit(
        [it.text for it in split.fit], [it.event_type for it in split.fit]
    )
    stages = Stages.load(settings)
    texts = [it.text for it in split.dev]
    # scored as the evaluation scores gold files: a planned transfer counts as none
    gold = [evaluation_label(it.event_type, it.modality) for it in split.dev]
    print(f"dev split: {len(split.dev)} sentences; fit on {len(split.fit)}")
    results = sorted(_grid(stages, model, texts, gold), key=lambda r: -r[1].macro_f1)
    current = {k: stages.policy.thresholds[k] for k in GRID}
    # The policy's own values first: a new best must beat them on dev to be worth a policy change.
    for thresholds, report in [r for r in results if r[0] == current] + results[:10]:
        recalls = {t: round(s.recall, 2) for t, s in report.per_type.items()}
        mark = " (policy now)" if thresholds == current else ""
        print(f"dev macro-F1 {report.macro_f1:.3f} {json.dumps(thresholds)}{mark} recall {recalls}")
    print("model alone on dev:", f"{score(gold, model.predict(texts)).macro_f1:.3f}")


def _grid(
    stages: Stages, model: EventTypeModel, texts: list[str], gold: list[str]
) -> list[tuple[dict[str, float], EvaluationReport]]:
    sentences = [Sentence(stable_id("dev", i, t), "dev", i, 0, len(t), t) for i, t in enumerate(texts)]
    scores = model.predict_scores(texts)
    docs = list(stages.nlp.pipe(texts, batch_size=64))
    matches = [stages.rules.match(doc, s) for doc, s in zip(docs, sentences, strict=True)]
    out = []
    for values in itertools.product(*GRID.values()):
        thresholds = dict(zip(GRID, values, strict=True))
        policy = dataclasses.replace(stages.policy, thresholds=stages.policy.thresholds | thresholds)
        predicted = [
            _decide(policy, stages, s, d, m, sc)
            for s, d, m, sc in zip(sentences, docs, matches, scores, strict=True)
        ]
        out.append((thresholds, score(gold, predicted)))
    return out


def _decide(
    policy: Policy,
    stages: Stages,
    sentence: Sentence,
    doc: Doc,
    matches: list[RuleMatch],
    scores: dict[str, float],
) -> str:
    if not policy.needs_parse(sentence.text, scores, stages.rules):
        return "none"
    decision = policy.decide(sentence, doc, matches, scores, "dev")
    return evaluation_label(decision.event_type, decision.modality)


def bench(corpora: Path, model_dir: Path, repeat: int = 10) -> None:
    """Sentences per second of CPU time for ``predict_scores`` on all corpus sentences, repeated."""
    model = EventTypeModel.load(model_dir)
    texts = [it.text for it in collect_examples(corpora, Settings().data_dir)] * repeat
    start = time.process_time()
    model.predict_scores(texts)
    seconds = time.process_time() - start
    print(f"scored {len(texts)} sentences in {seconds:.2f}s CPU: {len(texts) / seconds:,.0f} sentences/s")


if __name__ == "__main__":
    main()
