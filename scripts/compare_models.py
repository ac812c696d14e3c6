"""Compare event-type model variants by cross-validation on the training split only.

.venv/bin/python scripts/compare_models.py --corpora ../shared/corpora
    [--variants baseline,c8,...] [--out models/event-type/cv_comparison.json]

Only the sentences ``fit`` sees today (split TRAIN of ``train.collect_examples``) are used: the
held-out and sealed splits are never read here, so choosing a variant by these figures spends
neither test. Five folds, seeded, stratified by label and source together (a source-label pair
with fewer sentences than folds is stratified by its label alone). Each variant's figures:
macro-F1 of the model alone (argmax, no rules, no policy) per fold and pooled over the
out-of-fold predictions, per-type recall (pooled), the paired per-fold gain over ``baseline``
(today's model, built by ``EventTypeModel`` itself), fit CPU seconds per fold, prediction CPU
seconds per 1,000 sentences and the skops size of a fold's model (uncompressed: the
written model file is deflated, about a tenth of it). CPU is ``time.process_time``
(all threads of this process), so figures hold on a shared machine. Figures only, no corpus text.

Variant names: ``words*`` / ``min_df*`` / ``c*`` are ``EventTypeModel`` settings (``wordsN``:
words, bigrams and prefixes with min_df N; ``+chars_min_dfM``: its character 3- to 5-grams of
words, ``model.char_grams``, with min_df M, scored by the model's fast path); ``char_wb*`` is
scikit-learn's ``char_wb`` analyzer on the raw text; ``one_vocab_*`` puts words and character
n-grams in one vocabulary; ``svc`` is a sigmoid-calibrated LinearSVC, ``sgd_*`` SGDClassifier,
``a+b`` the mean of two models' probabilities.

The adoption rule (issue 3): a variant replaces the baseline only if its mean fold macro-F1
beats the baseline's by at least ``MIN_GAIN`` and no type's pooled recall falls by more than
``MAX_RECALL_DROP``; both are printed with each variant.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from coder.classify.corpora import TRAIN, LabelledText
from coder.classify.evaluate import score
from coder.classify.model import EventTypeModel, analyze
from coder.classify.train import collect_examples
from coder.config import Settings
from coder.records import EVENT_TYPES

FOLDS = 5
# The adoption rule: a gain smaller than this is within fold-to-fold noise on ~2,300
# sentences, and a type losing more recall than this is a regression the policy cannot repair.
MIN_GAIN = 0.01
MAX_RECALL_DROP = 0.03
# Crude English suffixes for the lemma-like variant: plural and verb endings only, longest first.
_SUFFIXES = ("ings", "ing", "ies", "ed", "es", "s")
_TOKEN = re.compile(r"[a-z0-9]+")  # model.analyze's tokens


class Classifier(Protocol):
    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Any: ...
    def predict(self, texts: Sequence[str]) -> Sequence[str]: ...


def stem_analyze(text: str) -> list[str]:
    """``analyze`` over crude stems ('bombings' -> 'bomb'): tests whether folding inflections helps."""
    return analyze(" ".join(_stem(t) for t in text.lower().split()))


def affix_analyze(
    text: str, prefixes: tuple[int, ...] = (4,), suffixes: tuple[int, ...] = (), trigrams: bool = False
) -> list[str]:
    """Words and bigrams with other word prefixes, word suffixes or word trigrams than ``analyze``."""
    tokens = _TOKEN.findall(text.lower())
    grams = tokens + [f"{a} {b}" for a, b in pairwise(tokens)]
    if trigrams:
        grams += [f"{a} {b} {c}" for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False)]
    grams += [f"~{t[:n]}" for n in prefixes for t in tokens if len(t) > n]
    return grams + [f"{t[-n:]}~" for n in suffixes for t in tokens if len(t) > n]


def char_analyze(text: str, low: int = 3, high: int = 5) -> list[str]:
    """``analyze`` plus character n-grams of each word padded with spaces (scikit-learn's char_wb on
    ``analyze``'s tokens), marked '#' so that a 4-letter n-gram is never the word it spells: one
    vocabulary, so the model's fast scoring path can serve it."""
    grams = analyze(text)
    for token in _TOKEN.findall(text.lower()):
        padded = f" {token} "
        grams += [f"#{padded[i : i + n]}" for n in range(low, high + 1) for i in range(len(padded) - n + 1)]
    return grams


def _stem(token: str) -> str:
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            return token[: -len(suffix)]
    return token


def _words(min_df: int = 2, analyzer: Callable[[str], list[str]] = analyze) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, min_df=min_df)


def _chars(low: int = 2, high: int = 5, min_df: int = 2) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(low, high), sublinear_tf=True, min_df=min_df)


def _affix(seed: int, min_df: int = 2, **analyzer: Any) -> SkPipeline:
    return SkPipeline(_pipe(_words(min_df, partial(affix_analyze, **analyzer)), _logreg(seed)))


def _logreg(seed: int, c: float = 4.0, weights: str | None = "balanced") -> LogisticRegression:
    return LogisticRegression(C=c, class_weight=weights, max_iter=3000, random_state=seed)


def _svc(seed: int, c: float = 0.5) -> CalibratedClassifierCV:
    # Probabilities are what the policy reads: a LinearSVC needs calibrating (sigmoid, 3 inner folds).
    svc = LinearSVC(C=c, class_weight="balanced", random_state=seed)
    return CalibratedClassifierCV(svc, method="sigmoid", cv=3)


def _pipe(features: Any, clf: Any) -> Pipeline:
    return Pipeline([("features", features), ("clf", clf)])


def _union(*parts: TfidfVectorizer) -> FeatureUnion:
    return FeatureUnion([(f"f{i}", p) for i, p in enumerate(parts)])


class Averaged:
    """Mean of the members' probabilities (members share the label order of sorted labels)."""

    def __init__(self, members: list[Pipeline]) -> None:
        self.members = members

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Averaged:
        for member in self.members:
            member.fit(list(texts), list(labels))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = np.mean([m.predict_proba(list(texts)) for m in self.members], axis=0)
        classes = self.members[0].classes_
        return [str(classes[i]) for i in proba.argmax(axis=1)]


class SkPipeline:
    """A scikit-learn pipeline behind the same fit/predict as ``EventTypeModel``."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> SkPipeline:
        self.pipeline.fit(list(texts), list(labels))
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(p) for p in self.pipeline.predict(list(texts))]


def _words_only(seed: int, c: float = 4.0, min_df: int = 2) -> EventTypeModel:
    """The model before issue 3 (words, bigrams, prefixes; min_df 2; no character n-grams)."""
    return EventTypeModel(c=c, min_df=min_df, char_min_df=None, seed=seed)


def variants(seed: int) -> dict[str, Callable[[], Classifier]]:
    """Name -> a fresh, unfitted classifier. ``baseline`` is the training default before issue 3."""
    return {
        "baseline": lambda: _words_only(seed),
        "c1": lambda: _words_only(seed, c=1.0),
        "c2": lambda: _words_only(seed, c=2.0),
        "c8": lambda: _words_only(seed, c=8.0),
        "c16": lambda: _words_only(seed, c=16.0),
        "min_df1": lambda: _words_only(seed, min_df=1),
        "min_df3": lambda: _words_only(seed, min_df=3),
        "min_df4": lambda: _words_only(seed, min_df=4),
        "min_df5": lambda: _words_only(seed, min_df=5),
        "min_df3_c2": lambda: _words_only(seed, c=2.0, min_df=3),
        "min_df3_c8": lambda: _words_only(seed, c=8.0, min_df=3),
        "prefix5": lambda: _affix(seed, prefixes=(5,)),
        "prefix3+5": lambda: _affix(seed, prefixes=(3, 5)),
        "prefix4+6": lambda: _affix(seed, prefixes=(4, 6)),
        "prefix4+suffix3": lambda: _affix(seed, suffixes=(3,)),
        "trigrams": lambda: _affix(seed, trigrams=True),
        "trigrams_min_df3": lambda: _affix(seed, trigrams=True, min_df=3),
        "prefix4+6_min_df3": lambda: _affix(seed, prefixes=(4, 6), min_df=3),
        "stems_min_df3": lambda: SkPipeline(_pipe(_words(3, stem_analyze), _logreg(seed))),
        "words3+char_wb35_min_df3": lambda: SkPipeline(
            _pipe(_union(_words(3), _chars(3, 5, min_df=3)), _logreg(seed))
        ),
        "one_vocab_chars35_min_df3": lambda: SkPipeline(_pipe(_words(3, char_analyze), _logreg(seed))),
        "one_vocab_chars35_min_df5": lambda: SkPipeline(_pipe(_words(5, char_analyze), _logreg(seed))),
        "one_vocab_chars35_min_df3_c8": lambda: SkPipeline(
            _pipe(_words(3, char_analyze), _logreg(seed, c=8.0))
        ),
        "one_vocab_chars25_min_df3": lambda: SkPipeline(
            _pipe(_words(3, partial(char_analyze, low=2)), _logreg(seed))
        ),
        "words3+char_wb35_min_df5": lambda: SkPipeline(
            _pipe(_union(_words(3), _chars(3, 5, min_df=5)), _logreg(seed))
        ),
        "words3+chars_min_df3": lambda: EventTypeModel(min_df=3, char_min_df=3, seed=seed),
        "words3+chars_min_df5": lambda: EventTypeModel(min_df=3, char_min_df=5, seed=seed),
        "words2+chars_min_df5": lambda: EventTypeModel(min_df=2, char_min_df=5, seed=seed),
        "words3+chars_min_df8": lambda: EventTypeModel(min_df=3, char_min_df=8, seed=seed),
        "unweighted": lambda: SkPipeline(_pipe(_words(), _logreg(seed, weights=None))),
        "stems": lambda: SkPipeline(_pipe(_words(analyzer=stem_analyze), _logreg(seed))),
        "char_wb25_only": lambda: SkPipeline(_pipe(_chars(), _logreg(seed))),
        "words+char_wb25": lambda: SkPipeline(_pipe(_union(_words(), _chars()), _logreg(seed))),
        "words+char_wb25_c8": lambda: SkPipeline(_pipe(_union(_words(), _chars()), _logreg(seed, c=8.0))),
        "svc": lambda: SkPipeline(_pipe(_words(), _svc(seed))),
        "svc_c1": lambda: SkPipeline(_pipe(_words(), _svc(seed, c=1.0))),
        "words+char_wb25_svc": lambda: SkPipeline(_pipe(_union(_words(), _chars()), _svc(seed))),
        "sgd_log": lambda: SkPipeline(_pipe(_words(), _sgd(seed, "log_loss"))),
        "sgd_huber": lambda: SkPipeline(_pipe(_words(), _sgd(seed, "modified_huber"))),
        "lr+svc": lambda: Averaged([_pipe(_words(), _logreg(seed)), _pipe(_words(), _svc(seed))]),
        "lr+char_wb25_lr": lambda: Averaged([_pipe(_words(), _logreg(seed)), _pipe(_chars(), _logreg(seed))]),
    }


def _sgd(seed: int, loss: str) -> SGDClassifier:
    return SGDClassifier(
        loss=loss, alpha=1e-4, class_weight="balanced", max_iter=50, tol=None, random_state=seed
    )


def strata(items: Sequence[LabelledText]) -> list[str]:
    """Label and source together; a pair too rare to sit in every fold falls back to its label, and
    labels still too rare after that share one stratum."""
    keys = [f"{it.source}|{it.event_type}" for it in items]
    keys = _merge_rare(keys, [it.event_type for it in items])
    return _merge_rare(keys, ["rare"] * len(keys))


def _merge_rare(keys: list[str], fallback: list[str]) -> list[str]:
    counts = Counter(keys)
    return [k if counts[k] >= FOLDS else f for k, f in zip(keys, fallback, strict=True)]


def cross_validate(
    make: Callable[[], Classifier], items: Sequence[LabelledText], seed: int
) -> dict[str, Any]:
    """Out-of-fold predictions, per-fold macro-F1 and CPU costs of one variant (``seed`` cuts the folds)."""
    texts = np.array([it.text for it in items], dtype=object)
    labels = np.array([it.event_type for it in items], dtype=object)
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    predicted = np.empty(len(items), dtype=object)
    fold_f1, fit_cpu, predict_cpu, size = [], [], [], 0
    for train_idx, test_idx in folds.split(texts, strata(items)):
        model = make()
        start = time.process_time()
        model.fit(list(texts[train_idx]), list(labels[train_idx]))
        fit_cpu.append(time.process_time() - start)
        start = time.process_time()
        predicted[test_idx] = model.predict(list(texts[test_idx]))
        predict_cpu.append((time.process_time() - start) / len(test_idx) * 1000)
        fold_f1.append(score(list(labels[test_idx]), list(predicted[test_idx])).macro_f1)
        size = max(size, _size(model))
    pooled = score(list(labels), list(predicted))
    return {
        "fold_macro_f1": [round(f, 4) for f in fold_f1],
        "mean_macro_f1": round(float(np.mean(fold_f1)), 4),
        "std_macro_f1": round(float(np.std(fold_f1)), 4),
        "pooled_macro_f1": round(pooled.macro_f1, 4),
        "recall": {t: round(pooled.per_type[t].recall, 4) for t in EVENT_TYPES},
        "fit_cpu_s": round(float(np.mean(fit_cpu)), 2),
        "predict_cpu_s_per_1000": round(float(np.median(predict_cpu)), 3),
        "model_bytes": size,
    }


def _size(model: Classifier) -> int:
    """Bytes of the fitted estimator as skops writes it (the model file's order of magnitude)."""
    if isinstance(model, EventTypeModel):
        return len(sio.dumps(model.pipeline_))
    if isinstance(model, SkPipeline):
        return len(sio.dumps(model.pipeline))
    if isinstance(model, Averaged):
        return sum(len(sio.dumps(m)) for m in model.members)
    return 0


def verdict(result: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Paired gain over the baseline and whether the issue's adoption rule is met."""
    gains = [a - b for a, b in zip(result["fold_macro_f1"], baseline["fold_macro_f1"], strict=True)]
    drops = {t: round(baseline["recall"][t] - result["recall"][t], 4) for t in EVENT_TYPES}
    gain = result["mean_macro_f1"] - baseline["mean_macro_f1"]
    return {
        "gain": round(gain, 4),
        "folds_better": sum(g > 0 for g in gains),
        "worst_recall_drop": max(drops.values()),
        "qualifies": gain >= MIN_GAIN and max(drops.values()) <= MAX_RECALL_DROP,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpora", type=Path, default=Settings().corpora_dir)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--variants", help="comma-separated names (default: all); baseline always runs")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument(
        "--recut", type=int, default=0, help="also re-cut the folds with this many other seeds (noise check)"
    )
    args = parser.parse_args()
    items = [
        it for it in collect_examples(args.corpora, Settings().data_dir, seed=args.seed) if it.split == TRAIN
    ]
    table = variants(args.seed)
    names = ["baseline", *[n for n in (args.variants or ",".join(table)).split(",") if n != "baseline"]]
    results: dict[str, Any] = {}
    for name in names:
        results[name] = cross_validate(table[name], items, args.seed)
        results[name]["vs_baseline"] = verdict(results[name], results["baseline"])
        print(_line(name, results[name]), flush=True)
    for offset in range(1, args.recut + 1):
        recut = {n: cross_validate(table[n], items, args.seed + offset) for n in names}
        for name in names:
            gain = verdict(recut[name], recut["baseline"])["gain"]
            results[name].setdefault("recut_gains", []).append(gain)
            print(f"{name:<30} folds seed {args.seed + offset}: gain {gain:+.4f}", flush=True)
    if args.out:
        out = {
            "note": __doc__.split("\n\n")[2].replace("\n", " "),
            "n_train": len(items),
            "folds": FOLDS,
            "seed": args.seed,
            "recut_seeds": [args.seed + k for k in range(1, args.recut + 1)],
            "labels": Counter(it.event_type for it in items),
            "min_gain": MIN_GAIN,
            "max_recall_drop": MAX_RECALL_DROP,
            "variants": results,
        }
        args.out.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _line(name: str, r: dict[str, Any]) -> str:
    v = r["vs_baseline"]
    recalls = " ".join(f"{t[:6]}={r['recall'][t]:.2f}" for t in EVENT_TYPES)
    return (
        f"{name:<30} F1 {r['mean_macro_f1']:.3f}±{r['std_macro_f1']:.3f} pooled {r['pooled_macro_f1']:.3f} "
        f"gain {v['gain']:+.3f} ({v['folds_better']}/5) drop {v['worst_recall_drop']:+.2f} "
        f"{'QUALIFIES' if v['qualifies'] else '-'} | {recalls} | fit {r['fit_cpu_s']:.1f}s "
        f"pred {r['predict_cpu_s_per_1000']:.3f}s/1k {r['model_bytes'] / 1e6:.1f}MB"
    )


if __name__ == "__main__":
    main()
