"""How much the cheap first pass (``decide.Policy.needs_parse``) saves, and what it costs in recall.

Not a test: it prints figures and keeps them in bench/results/.

* **Parse share**: of the codable sentences, the share the first pass sends to the spaCy
  parse, split by why (a rule keyword might match / the model is unsure), on the seed
  articles and on a synthetic bench corpus (``bench/run.py``'s generator, same seed).
* **Recall**: every gold file given is coded twice with the full hybrid coder,
  once with the first pass and once parsing every sentence; any gold event
  sentence (label != none) that only the full parse finds is a first-pass miss.
  The gold files are labelled sentences (``seeds/gold/seed_sentences.jsonl`` — tuning
  data for the rules — and ``heldout/heldout.jsonl``, exported from the corpora).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coder import pipeline  # noqa: E402
from coder.classify import evaluate  # noqa: E402
from coder.config import Settings  # noqa: E402
from coder.records import Article  # noqa: E402

SWEEP = (0.97, 0.9, 0.8, 0.6)


def parse_share(texts: list[str], stages: pipeline.Stages) -> dict[str, object]:
    """Share of sentences the first pass parses, and why."""
    reasons: Counter[str] = Counter()
    scores = stages.model.predict_scores(texts)
    threshold = stages.policy.thresholds["parse_if_none_below"]
    for text, sc in zip(texts, scores, strict=True):
        keyword = stages.rules.might_match(text)
        unsure = float(sc.get("none", 0.0)) < threshold
        reasons["keyword" if keyword else "model" if unsure else "skipped"] += 1
    total = max(1, len(texts))
    return {
        "sentences": len(texts),
        "parsed_share": round(1 - reasons["skipped"] / total, 4),
        "keyword_share": round(reasons["keyword"] / total, 4),
        "model_only_share": round(reasons["model"] / total, 4),
        "model_only_parse_share": {
            str(t): round(sum(float(sc.get("none", 0.0)) < t for sc in scores) / total, 4) for t in SWEEP
        },
    }


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
    """Gold event sentences found by the full parse but lost by the first pass."""
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
        "event_sentences": len(events),
        "recall_with_first_pass": round(sum(found[i] == labels[i] for i in events) / max(1, len(events)), 4),
        "recall_full_parse": round(sum(found_full[i] == labels[i] for i in events) / max(1, len(events)), 4),
        "lost_by_first_pass": lost,
        "predictions_differ": sum(a != b for a, b in zip(found, found_full, strict=True)),
        "sweep": sweep(texts, [i for i in events if found_full[i] == labels[i]], stages),
    }


def sweep(texts: list[str], hits: list[int], stages: pipeline.Stages) -> list[dict[str, str | float | int]]:
    """What other first passes would parse, and which full-parse hits (indices) they would lose.

    ``keyword_or_model`` is today's rule (parse when a keyword might match or P(none) < t);
    ``model_only`` drops the keyword gate and trusts the model alone.
    """
    scores = [float(sc.get("none", 0.0)) for sc in stages.model.predict_scores(texts)]
    keyword = [stages.rules.might_match(text) for text in texts]
    rows: list[dict[str, str | float | int]] = []
    for threshold in SWEEP:
        for gate in ("keyword_or_model", "model_only"):
            parse = [
                (k and gate == "keyword_or_model") or p < threshold
                for k, p in zip(keyword, scores, strict=True)
            ]
            rows.append(
                {
                    "gate": gate,
                    "parse_if_none_below": threshold,
                    "parsed_share": round(sum(parse) / max(1, len(parse)), 4),
                    "hits_lost": sum(not parse[i] for i in hits),
                }
            )
    return rows


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
    parser.add_argument("--models", type=Path, help="models folder (default: the repository's)")
    args = parser.parse_args()
    settings = Settings().with_overrides(models_dir=args.models)
    stages = pipeline.Stages.load(settings)
    full = pipeline.Stages(**{**vars(stages), "policy": _ParseAll(stages.policy)})
    figures = {
        "parse_share": {
            "seeds": parse_share(seed_texts(settings, stages), stages),
            f"bench_{args.articles}": parse_share(
                bench_texts(args.corpora, args.articles, args.seed, stages), stages
            ),
        },
        "threshold_parse_if_none_below": stages.policy.thresholds["parse_if_none_below"],
        "recall": [recall_cost(path.resolve(), stages, full) for path in args.gold if path.exists()],
    }
    print(json.dumps(figures, indent=2))
    out = ROOT / "bench" / "results" / f"{date.today().isoformat()}-first-pass.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
