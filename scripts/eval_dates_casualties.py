"""Exact-match figures of coder.dates and coder.casualties on the seed gold cases.

    .venv/bin/python scripts/eval_dates_casualties.py [--gold seeds/gold/seed_events.jsonl] [--blank]

The gold cases come from the five demo articles, which the rules were written
next to: these figures are on tuning data, not a held-out estimate.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from coder import casualties, dates
from coder.config import PROJECT_ROOT, Settings
from coder.records import Article, Sentence


def load_gold(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def case_inputs(case: dict[str, Any], seeds: Path) -> tuple[Article, Sentence]:
    """The article of a gold case and the sentence at its exact offsets."""
    text = (seeds / case["file"]).read_text(encoding="utf-8")
    start = text.index(case["sentence"])
    article = Article(
        article_id=case["file"],
        text=text,
        title=None,
        published=date.fromisoformat(case["published"]),
        published_from="manifest",
        source=None,
        url=None,
        input_file=case["file"],
        input_line=None,
        input_sha256="",
    )
    sentence = Sentence(
        sentence_id=case["id"],
        article_id=case["file"],
        index=0,
        start_char=start,
        end_char=start + len(case["sentence"]),
        text=case["sentence"],
    )
    return article, sentence


def evaluate(gold: list[dict[str, Any]], nlp: Any, seeds: Path) -> dict[str, list[bool]]:
    rules_dir = Settings.from_env().rules_dir
    date_rules = dates.DateRules.load(rules_dir / dates.RULES_FILE)
    casualty_rules = casualties.CasualtyRules.load(rules_dir / casualties.RULES_FILE)
    scores: dict[str, list[bool]] = {"date": [], "fatalities": [], "injuries": []}
    for case in gold:
        article, sentence = case_inputs(case, seeds)
        doc = nlp(sentence.text)
        hurt = casualties.count_casualties(doc, sentence, casualty_rules)
        checks: dict[str, tuple[object, object]] = {
            "fatalities": (hurt.fatalities, case["fatalities"]),
            "injuries": (hurt.injuries, case["injuries"]),
        }
        if "event_date" in case:
            when = dates.resolve_date(doc, sentence, article, date_rules)
            got = (when.event_date.isoformat(), when.time_precision) if when else None
            checks["date"] = (got, (case["event_date"], case["time_precision"]))
        for name, (got_value, want) in checks.items():
            scores[name].append(got_value == want)
            if got_value != want:
                print(f"MISS {case['id']} {name}: got {got_value!r} want {want!r} | {case['sentence'][:80]}")
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=PROJECT_ROOT / "seeds" / "gold" / "seed_events.jsonl")
    parser.add_argument("--blank", action="store_true", help="use spacy.blank('en') (no dependency parse)")
    args = parser.parse_args(argv)
    import spacy

    nlp = spacy.blank("en") if args.blank else spacy.load(Settings.from_env().spacy_model)
    scores = evaluate(load_gold(args.gold), nlp, PROJECT_ROOT / "seeds")
    for name, hits in scores.items():
        print(f"{name}: {sum(hits)}/{len(hits)} exact")
    return 0 if all(all(h) for h in scores.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
