"""How much the cheap first pass (``decide.Policy.needs_parse``) saves, and what it costs in recall.

Not a test: it prints figures and keeps them in bench/results/.

* **Parse share**: of the codable sentences, the share the first pass sends to the spaCy
  parse, split by the first reason (quoted speech / the model may code an event / a cue
  word / a rule the policy would accept may fire), on the seed articles and on a synthetic
  bench corpus (``bench/run.py``'s generator, same seed).
* **Match speed**: ``RuleSet.match`` gated vs all rules on parsed bench sentences.
* **Lossless floor**: the share of bench sentences the full coder codes as an event or
  statement; no first pass that loses nothing can parse less.
* **Recall**: every gold file given is coded twice with the full hybrid coder,
  once with the first pass and once parsing every sentence; any gold event
  sentence (label != none) that only the full parse finds is a first-pass miss.
  The gold files are labelled sentences (``seeds/gold/seed_sentences.jsonl`` and
  ``hard_cases.jsonl`` — tuning data for the rules — and ``heldout/heldout.jsonl``,
  exported from the corpora; the first pass itself has no tuned threshold).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coder import pipeline  # noqa: E402
from coder.classify import decide, evaluate  # noqa: E402
from coder.config import Settings  # noqa: E402
from coder.records import Article, Sentence  # noqa: E402


def parse_share(texts: list[str], stages: pipeline.Stages) -> dict[str, object]:
    """Share of sentences the first pass parses, and the first reason it gives for each."""
    reasons: Counter[str] = Counter()
    scores = stages.model.predict_scores(texts)
    for text, sc in zip(texts, scores, strict=True):
        reasons[first_pass_reason(text, sc, stages)] += 1
    total = max(1, len(texts))
    return {
        "sentences": len(texts),
        "parsed_share": round(1 - reasons["skipped"] / total, 4),
        "by_reason": {k: round(v / total, 4) for k, v in sorted(reasons.items())},
        "text_gate_share": round(sum(stages.rules.might_match(t) for t in texts) / total, 4),
    }


def first_pass_reason(text: str, sc: dict[str, float], stages: pipeline.Stages) -> str:
    """Why ``needs_parse`` parses a sentence (the first test that says yes), or 'skipped'."""
    policy = stages.policy
    if not policy.needs_parse(text, sc, stages.rules):
        return "skipped"
    if decide.quoted_speech(text):
        return "quoted_speech"
    if policy._model_may_code(sc):
        return "model_may_code"
    if policy.has_parse_cue(text):
        return "cue_word"
    return "rule_may_fire"


def seed_texts(settings: Settings, stages: pipeline.Stages) -> list[str]:
    texts = []
    for item in pipeline.iter_inputs([settings.project_root / "seeds"], stages):
        if isinstance(item, Article):
            texts += [s.text for s in stages.segmenter.split(item) if s.boilerplate is None]
    return texts


def bench_texts(corpora: Path, n_articles: int, seed: int, stages: pipeline.Stages) -> list[str]:
    sys.path.insert(0, str(ROOT / "bench"))
    import run  # the bench corpus generator

    corpus = Path("/tmp") / f"coder-first-pass-{n_articles}-{seed}.jsonl"
    run.write_corpus(run.corpus_sentences(corpora), n_articles, corpus, seed)
    texts = []
    for item in pipeline.iter_inputs([corpus], stages):
        if isinstance(item, Article):
            texts += [s.text for s in stages.segmenter.split(item) if s.boilerplate is None]
    corpus.unlink()
    return texts


def recall_cost(path: Path, stages: pipeline.Stages, full: pipeline.Stages) -> dict[str, object]:
    """Gold event sentences found by the full parse but lost by the first pass, overall and by type."""
    gold = evaluate.read_gold(path)
    texts = [g.text for g in gold]
    fast = pipeline.classify_texts(texts, stages)
    slow = pipeline.classify_texts(texts, full)
    labels = [pipeline.evaluation_label(g.event_type, g.extra.get("modality")) for g in gold]
    found = [pipeline.evaluation_label(p.event_type, p.modality) for p in fast]
    found_full = [pipeline.evaluation_label(p.event_type, p.modality) for p in slow]
    events = [i for i, label in enumerate(labels) if label != "none"]
    lost = [gold[i].id for i in events if found_full[i] == labels[i] and found[i] != labels[i]]
    return {
        "file": str(path.relative_to(ROOT)),
        "sentences": len(gold),
        "parsed_share": round(
            sum(not p.coded_by.startswith("prefilter:") for p in fast) / max(1, len(gold)), 4
        ),
        "event_sentences": len(events),
        "recall_with_first_pass": round(sum(found[i] == labels[i] for i in events) / max(1, len(events)), 4),
        "recall_full_parse": round(sum(found_full[i] == labels[i] for i in events) / max(1, len(events)), 4),
        "lost_by_first_pass": lost,
        "predictions_differ": sum(a != b for a, b in zip(found, found_full, strict=True)),
        "by_type": by_type(labels, found, found_full),
    }


def by_type(labels: list[str], found: list[str], found_full: list[str]) -> dict[str, dict[str, int]]:
    """Per gold label: sentences, hits with the first pass, hits parsing everything."""
    rows: dict[str, dict[str, int]] = {}
    for label, fast, slow in zip(labels, found, found_full, strict=True):
        row = rows.setdefault(label, {"gold": 0, "hits_first_pass": 0, "hits_full_parse": 0})
        row["gold"] += 1
        row["hits_first_pass"] += fast == label
        row["hits_full_parse"] += slow == label
    return dict(sorted(rows.items()))


def match_speed(texts: list[str], stages: pipeline.Stages, limit: int) -> dict[str, object]:
    """``RuleSet.match`` on the sentences the first pass parses: gated (only rules whose needed tokens
    are present) vs every rule, and whether both find the same matches."""
    scores = stages.model.predict_scores(texts)
    chosen = [
        t for t, sc in zip(texts, scores, strict=True) if stages.policy.needs_parse(t, sc, stages.rules)
    ]
    chosen = chosen[:limit]
    docs = list(stages.nlp.pipe(chosen, batch_size=stages.settings.batch_size))
    sentences = [Sentence("s", "a", 0, 0, len(t), t) for t in chosen]
    timings, results = {}, {}
    for name, gated in (("all_rules", False), ("gated", True)):
        start = time.perf_counter()
        results[name] = [stages.rules.match(d, s, gated=gated) for d, s in zip(docs, sentences, strict=True)]
        timings[name] = time.perf_counter() - start
    return {
        "sentences": len(chosen),
        "seconds_all_rules": round(timings["all_rules"], 3),
        "seconds_gated": round(timings["gated"], 3),
        "speedup": round(timings["all_rules"] / max(timings["gated"], 1e-9), 2),
        "identical": results["all_rules"] == results["gated"],
    }


def lossless_floor(texts: list[str], full: pipeline.Stages, limit: int) -> dict[str, object]:
    """The least any lossless first pass can parse: the share of (an even sample of) the sentences
    that the full coder codes as something other than none (an event row needs the parse)."""
    sample = texts[:: max(1, len(texts) // max(1, limit))][:limit]
    coded = [c.event_type != "none" for c in pipeline.classify_texts(sample, full)]
    return {"sentences": len(sample), "coded_share": round(sum(coded) / max(1, len(coded)), 4)}


class _ParseAll:
    """A policy wrapper whose first pass parses every sentence (the reference)."""

    def __init__(self, policy: object) -> None:
        self._policy = policy

    def needs_parse(self, *_: object) -> bool:
        return True

    def __getattr__(self, name: str) -> object:
        return getattr(self._policy, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--gold", type=Path, nargs="*", default=[ROOT / "seeds/gold/seed_sentences.jsonl"])
    parser.add_argument("--match-sample", type=int, default=1500, help="parsed bench sentences to time")
    parser.add_argument("--models", type=Path, help="models folder (default: the repository's)")
    args = parser.parse_args()
    settings = Settings().with_overrides(models_dir=args.models)
    stages = pipeline.Stages.load(settings)
    full = pipeline.Stages(**{**vars(stages), "policy": _ParseAll(stages.policy)})
    bench = bench_texts(args.corpora, args.articles, args.seed, stages)
    figures = {
        "parse_share": {
            "seeds": parse_share(seed_texts(settings, stages), stages),
            f"bench_{args.articles}": parse_share(bench, stages),
        },
        "threshold_parse_if_none_below": stages.policy.thresholds["parse_if_none_below"],
        "match_speed": match_speed(bench, stages, args.match_sample),
        "lossless_floor": lossless_floor(bench, full, args.match_sample),
        "recall": [recall_cost(path.resolve(), stages, full) for path in args.gold if path.exists()],
    }
    print(json.dumps(figures, indent=2))
    out = ROOT / "bench" / "results" / f"{date.today().isoformat()}-first-pass.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
