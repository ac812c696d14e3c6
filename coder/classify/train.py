"""Train the event-type model from the labelled corpora and our own sentences.

Deterministic: the same corpora, mapping, own sentences and seed give the same
model file bytes. Held-out splits (each corpus's own test split, else a seeded
stratified share) never reach ``fit``; every figure written to the model card
and ``metrics.json`` is measured on them, per source and overall. The sealed
split (``corpora.SealedSplit``) never reaches ``fit`` either; only
``scripts/evaluate_all.py`` scores it. No corpus text is written next to the
model: metrics carry counts only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sklearn

from coder.classify.corpora import (
    HELDOUT,
    SEALED,
    TRAIN,
    LabelledText,
    LabelMapping,
    SealedSplit,
    assign_splits,
    load_corpora,
    read_own_sentences,
)
from coder.classify.evaluate import EvaluationReport, score
from coder.classify.model import EventTypeModel
from coder.config import Settings
from coder.errors import ConfigError, InputError
from coder.records import EVENT_TYPES

MAPPING_FILE = Path("corpora") / "label_mapping.json"
SEALED_FILE = Path("corpora") / "sealed_split.json"
# Which copy of a text that occurs in several splits is kept: held out anywhere means held out.
_SPLIT_RANK = {HELDOUT: 0, SEALED: 1, TRAIN: 2}
OWN_DIR = "training"
OWN_HELDOUT_SHARE = 0.25
# Share of the training split set aside (per label, seeded) to tune the policy's thresholds on.
DEV_SHARE = 0.2
# Sentences shorter than this are too generic to tell whether they come from a seed article.
_MIN_SEED_MATCH = 20
_SPACE = re.compile(r"\s+")
SOURCES = {
    "plover_gsr": "PLOVER GSR (openeventdata/PLOVER @5e0c24f), CC BY-SA 4.0",
    "conflibert_cameo": "ConfliBERT cameo_class (eventdata/ConfliBERT @0b63001), GPL-3.0",
    "satp": "ConfliBERT satp_relevant, South Asia Terrorism Portal (eventdata/ConfliBERT @0b63001), GPL-3.0",
    "rams": "RAMS 1.0 dev (Ebner et al., ACL 2020), CC BY-SA 4.0",
    "own": "coder's hand-written sentences (seeds/training/*.jsonl), same licence as the project",
}


@dataclass(frozen=True)
class DevSplit:
    fit: list[LabelledText]  # what a tuning model is fitted on
    dev: list[LabelledText]  # what thresholds are tuned on


@dataclass(frozen=True)
class TrainReport:
    version: str
    data_sha256: str
    seed: int
    model_dir: Path
    params: dict[str, Any]
    counts: dict[str, dict[str, dict[str, int]]]  # source -> split -> label -> n
    heldout: EvaluationReport
    heldout_by_source: dict[str, EvaluationReport]


def collect_examples(corpora_dir: Path, data_dir: Path, *, seed: int = 13) -> list[LabelledText]:
    """Mapped corpus sentences (with the sealed share carved from their training splits) + own
    sentences, split, without seed-article sentences, deduplicated."""
    mapping = LabelMapping.load(data_dir / MAPPING_FILE)
    items = SealedSplit.load(data_dir / SEALED_FILE).seal(load_corpora(corpora_dir, mapping, seed=seed))
    own: list[LabelledText] = []
    for path in sorted((data_dir / OWN_DIR).glob("*.jsonl")):
        own.extend(read_own_sentences(path))
    items += assign_splits(own, OWN_HELDOUT_SHARE, seed=seed)
    return deduplicate(drop_seed_sentences(items, _seed_texts(data_dir)))


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def _seed_texts(data_dir: Path) -> list[str]:
    return [_normal(p.read_text(encoding="utf-8")) for p in sorted(data_dir.glob("*.txt"))]


def drop_seed_sentences(items: list[LabelledText], seed_texts: list[str]) -> list[LabelledText]:
    """The seed articles are the demo and evaluation set: none of their sentences may be trained on."""
    return [
        it
        for it in items
        if len(norm := _normal(it.text)) < _MIN_SEED_MATCH or not any(norm in t for t in seed_texts)
    ]


def deduplicate(items: list[LabelledText]) -> list[LabelledText]:
    """One copy of each text; a text that is held out anywhere is held out (never also trained on):
    a held-out copy beats a sealed one, a sealed copy beats a training one."""
    best: dict[str, str] = {}
    for it in items:
        norm = _normal(it.text)
        best[norm] = min(best.get(norm, TRAIN), it.split, key=lambda s: _SPLIT_RANK.get(s, 2))
    seen: set[tuple[str, str]] = set()
    kept = []
    for it in items:
        key = (_normal(it.text), it.split)
        if key in seen or it.split != best[key[0]]:
            continue
        seen.add(key)
        kept.append(it)
    return kept


def data_sha256(items: list[LabelledText]) -> str:
    # Modality is left out: fit never sees it (the model learns types), so tagging a sentence's
    # framing changes how its held-out copy is scored, not the model, its version or its bytes.
    canonical = sorted(json.dumps([it.text, it.event_type, it.split, it.source]) for it in items)
    return hashlib.sha256("\n".join(canonical).encode("utf-8")).hexdigest()


def model_version(digest: str, params: dict[str, Any]) -> str:
    """A version from what the model is made of (data and hyper-parameters), never from the date:
    ``make model`` on another day with the same inputs gives the same version and bytes."""
    made_of = json.dumps({"data": digest, "params": params, "sklearn": sklearn.__version__}, sort_keys=True)
    return f"event-type-{digest[:8]}-{hashlib.sha256(made_of.encode('utf-8')).hexdigest()[:8]}"


def dev_split(train: list[LabelledText], *, share: float = DEV_SHARE, seed: int = 13) -> DevSplit:
    """Carve a seeded, per-label share of the training split for tuning: the held-out test split is
    never used to choose a threshold."""
    unsplit = [_without_split(it) for it in train]
    marked = assign_splits(unsplit, share, seed=seed + 1)
    return DevSplit(
        fit=[it for it, m in zip(train, marked, strict=True) if m.split == TRAIN],
        dev=[it for it, m in zip(train, marked, strict=True) if m.split == HELDOUT],
    )


def _without_split(item: LabelledText) -> LabelledText:
    return replace(item, split="")


def train_model(
    corpora_dir: Path,
    out_dir: Path,
    *,
    seed: int = 13,
    data_dir: Path | None = None,
) -> TrainReport:
    """Fit on the train splits, score the held-out splits, write model + model card + metrics.json."""
    data_dir = data_dir or Settings().data_dir
    items = collect_examples(corpora_dir, data_dir, seed=seed)
    train = [it for it in items if it.split == TRAIN]
    if not train:
        raise InputError("no training sentences found", path=str(corpora_dir))
    digest = data_sha256(items)
    version = model_version(digest, EventTypeModel(seed=seed).get_params())
    model = EventTypeModel(seed=seed, version=version).fit(
        [it.text for it in train], [it.event_type for it in train]
    )
    report = _report(model, items, digest, seed, out_dir)
    model.save(out_dir, extra={"data_sha256": digest, "mapping": _mapping_version(data_dir)})
    _write_metrics(out_dir, report, data_dir)
    (out_dir / "model_card.md").write_text(model_card(report, _mapping_version(data_dir)), encoding="utf-8")
    return report


def _report(
    model: EventTypeModel, items: list[LabelledText], digest: str, seed: int, out_dir: Path
) -> TrainReport:
    held = [it for it in items if it.split == HELDOUT]
    predicted = model.predict([it.text for it in held])
    by_source = {
        source: _score_subset(held, predicted, source) for source in sorted({it.source for it in held})
    }
    return TrainReport(
        version=model.version,
        data_sha256=digest,
        seed=seed,
        model_dir=out_dir,
        params=model.get_params(),
        counts=_counts(items),
        heldout=score(
            [it.event_type for it in held], predicted, [it.origin for it in held], [it.text for it in held]
        ),
        heldout_by_source=by_source,
    )


def _score_subset(held: list[LabelledText], predicted: list[str], source: str) -> EvaluationReport:
    pairs = [(it, p) for it, p in zip(held, predicted, strict=True) if it.source == source]
    return score([it.event_type for it, _ in pairs], [p for _, p in pairs], [it.origin for it, _ in pairs])


def _counts(items: list[LabelledText]) -> dict[str, dict[str, dict[str, int]]]:
    counter = Counter((it.source, it.split, it.event_type) for it in items)
    out: dict[str, dict[str, dict[str, int]]] = {}
    for (source, split, label), n in sorted(counter.items()):
        out.setdefault(source, {}).setdefault(split, {})[label] = n
    return out


def _mapping_version(data_dir: Path) -> str:
    return str(json.loads((data_dir / MAPPING_FILE).read_text(encoding="utf-8"))["version"])


def _summary(report: EvaluationReport) -> dict[str, Any]:
    # Errors hold corpus sentences, which must not be committed: keep scores and counts only.
    return {k: v for k, v in report.to_json().items() if k != "errors"}


def _write_metrics(out_dir: Path, report: TrainReport, data_dir: Path) -> None:
    metrics = {
        "version": report.version,
        "data_sha256": report.data_sha256,
        "seed": report.seed,
        "sklearn_version": sklearn.__version__,
        "label_mapping": _mapping_version(data_dir),
        "labels": list(EVENT_TYPES),
        "sources": SOURCES,
        "counts": report.counts,
        "heldout_note": "model alone (no rules), on held-out splits never used in fit; C and the ConfliBERT "
        "class-1 mapping were chosen among six settings by held-out macro-F1 (small selection bias); "
        "character n-grams and min_df by cross-validation on the training split (cv_comparison.json)",
        "heldout": _summary(report.heldout),
        "heldout_by_source": {s: _summary(r) for s, r in report.heldout_by_source.items()},
    }
    (out_dir / "metrics.json").write_text(
        json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def model_card(report: TrainReport, mapping_version: str) -> str:
    """The model card: what the model is, what it was trained on, and its held-out figures."""
    lines = [
        f"# Event-type model `{report.version}`",
        "",
        _features_line(report.params),
        f"(C {report.params['c']}, balanced class weights, lbfgs), scikit-learn "
        f"{sklearn.__version__}, seed {report.seed}, saved with skops (allow-listed types).",
        "The features and min_df were chosen, and C 4 kept, by 5-fold cross-validation on the training",
        "split only (`scripts/compare_models.py`, figures in `cv_comparison.json`): character n-grams",
        "and min_df 3 gave model-alone macro-F1 0.859 against 0.845 for the words-only model (min_df 2).",
        f"Training data sha256 `{report.data_sha256}`; label mapping `{mapping_version}`",
        "(`seeds/corpora/label_mapping.json`, every entry with a why).",
        "",
        "## Sources and licences",
        *[f"- `{k}`: {v}" for k, v in SOURCES.items()],
        "",
        "## Sentences per source, split and type",
        _counts_table(report.counts),
        "",
        "## Held-out figures (model alone, no rules)",
        "All figures below are on held-out splits that never reached `fit`: ConfliBERT and SATP use",
        "their own test splits; PLOVER, RAMS and our own sentences a seeded stratified 25% share.",
        "The `sealed` rows of the counts table are a second held-out split (about 12% of each corpus's",
        "training portion, by a salted hash of the record id; `seeds/corpora/sealed_split.json`), cut",
        "after the rules, mapping and thresholds were written and never trained, tuned or error-read;",
        "`scripts/evaluate_all.py` scores it (figures at the end of this card).",
        "",
        _scores_table(report),
        "",
        "## Caveats",
        "- Labels from a keyword refinement (`refine:*` in the mapping: ConfliBERT material conflict,",
        "  PLOVER FIGHT, RAMS generic attacks) are silver labels; figures on them partly measure",
        "  agreement with those keywords.",
        "- Supports of airstrike and arms_transfer are small per source; their per-source figures are noisy.",
        "- Our own sentences were written by the team for hard cases; their held-out share is not news text.",
        "- Seed-article sentences are excluded from training: they are the demo and evaluation set.",
        "- Mapping v2 drops, rather than guesses: 'none' sentences that report a named speaker's words",
        "  (our taxonomy calls those statements), and weapons named without a word of transfer.",
        "- The policy's thresholds (`seeds/rules/policy.json`) were tuned on a dev split carved from the",
        "  training split (`scripts/train_model.py --tune`), never on the held-out split; policy v4 was",
        "  re-tuned with the sealed split already removed. Before the sealed split was cut, its records",
        "  were training data of earlier models and about a fifth of them sat in the earlier dev split",
        "  (aggregate dev macro-F1 only); no one read their errors.",
        "- The version is a hash of the training data and hyper-parameters, not a date: same inputs,",
        "  same version, same file bytes, on a machine with the same number of BLAS threads (lbfgs'",
        "  coefficients differ by ~1e-11 between one thread and several, so the file bytes do too).",
        "- C and the mapping of ConfliBERT class 1 were chosen for an earlier words-only model among six",
        "  settings by held-out macro-F1 (differences under 0.025): a small selection bias on these",
        "  figures. The character n-grams and min_df were chosen on the training split alone.",
        "- The held-out split above is partly a development figure: the mapping v2 drops and some rules",
        "  and policy words were chosen after reading its errors. The sealed split is the clean test;",
        "  it shares the label mapping (silver labels) and the corpora's style with the training data,",
        "  so it measures in-distribution accuracy, not accuracy on other news sources.",
        "- The sealed split holds only a few airstrike and arms_transfer sentences (counts table above):",
        "  one sentence moves its macro-F1 by more than 0.1. Per-corpus macro-F1 averages every type",
        "  present in gold or predictions, so a type a corpus never labels (SATP has no statements)",
        "  scores 0 when the coder predicts it once: read per-type recall and accuracy with the supports.",
    ]
    return "\n".join(lines) + "\n"


def _features_line(params: dict[str, Any]) -> str:
    words = f"TF-IDF (words, word bigrams, 4-letter word prefixes; sublinear tf, min_df {params['min_df']})"
    if params.get("char_min_df") is None:
        return f"{words} + logistic regression"
    chars = f"TF-IDF (character 3- to 5-grams of words; sublinear tf, min_df {params['char_min_df']})"
    return f"{words} and {chars}, side by side, + logistic regression"


def _counts_table(counts: dict[str, dict[str, dict[str, int]]]) -> str:
    head = "| source | split | " + " | ".join(EVENT_TYPES) + " |"
    rows = [head, "|" + "---|" * (len(EVENT_TYPES) + 2)]
    for source, splits in counts.items():
        for split, labels in splits.items():
            rows.append(
                f"| {source} | {split} | " + " | ".join(str(labels.get(t, 0)) for t in EVENT_TYPES) + " |"
            )
    return "\n".join(rows)


def _scores_table(report: TrainReport) -> str:
    head = "| held-out set | n | macro-F1 | " + " | ".join(f"{t} P/R" for t in EVENT_TYPES) + " |"
    rows = [head, "|" + "---|" * (len(EVENT_TYPES) + 3)]
    for name, r in [("all", report.heldout), *report.heldout_by_source.items()]:
        cells = [_pr(r, t) for t in EVENT_TYPES]
        rows.append(f"| {name} | {r.n} | {r.macro_f1:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _pr(report: EvaluationReport, label: str) -> str:
    s = report.per_type[label]
    return f"{s.precision:.2f}/{s.recall:.2f} ({s.support})" if s.support else "–"


def write_heldout_gold(
    corpora_dir: Path,
    out_path: Path,
    *,
    seed: int = 13,
    data_dir: Path | None = None,
    split: str = HELDOUT,
) -> int:
    """Export the held-out (or, with ``split=SEALED``, the sealed) sentences as gold JSONL for
    ``coder evaluate``.

    Write to a temporary or ignored path: the sentences come from the corpora and are never committed.
    """
    if split not in (HELDOUT, SEALED):
        raise ConfigError(f"only held-out splits are exported, not {split!r}")
    items = collect_examples(corpora_dir, data_dir or Settings().data_dir, seed=seed)
    held = [it for it in items if it.split == split]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", encoding="utf-8") as handle:
        for it in held:
            record = {
                "id": f"{it.source}:{it.origin}",
                "text": it.text,
                "event_type": it.event_type,
                "why": it.rule,
            }
            # Written only when set, so corpus records read as asserted (the gold files' convention)
            # and a planned "will supply" counts as none, as `coder evaluate` counts gold files.
            if it.modality is not None:
                record["modality"] = it.modality
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(held)
