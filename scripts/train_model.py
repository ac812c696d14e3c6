"""Train the event-type model (thin wrapper; the CLI's `coder train` calls the same function).

.venv/bin/python scripts/train_model.py --corpora ../shared/corpora [--out models/event-type]
    [--heldout-gold /tmp/heldout.jsonl] [--bench]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from coder.classify.model import EventTypeModel
from coder.classify.train import collect_examples, train_model, write_heldout_gold
from coder.config import Settings


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
    args = parser.parse_args()
    report = train_model(args.corpora, args.out, seed=args.seed)
    print(report.version)
    print(report.heldout.to_text(max_errors=0))
    for source, sub in report.heldout_by_source.items():
        print(f"{source:<18} n={sub.n:<5} macro-F1={sub.macro_f1:.3f}")
    if args.heldout_gold:
        print("held-out gold sentences:", write_heldout_gold(args.corpora, args.heldout_gold, seed=args.seed))
    if args.bench:
        bench(args.corpora, args.out)


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
