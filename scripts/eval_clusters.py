"""List which events of a release the cluster rules merge, and why.

Usage: python scripts/eval_clusters.py datasets/seeds/<version> [--rules seeds/rules/clusters.json] [--json]
       python scripts/eval_clusters.py --bench 20000 [--bench 200000 ...]   # seconds on synthetic events

Clusters are recomputed from the release's events.parquet with the given rules (so a rules change
can be tried on an old release); clusters of one event are only counted. There is no gold standard
of co-referent events here: this is a listing for a human to judge, not a metric.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coder.clusters import ClusterRules, cluster_events
from coder.config import Settings
from coder.errors import CoderError

MEMBER_COLUMNS = (
    "event_id",
    "source",
    "event_date",
    "event_type",
    "location",
    "actor1",
    "actor2",
    "fatalities",
)


def _member(row: dict[str, Any]) -> dict[str, Any]:
    out = {c: row.get(c) for c in MEMBER_COLUMNS}
    out["event_date"] = str(out["event_date"]) if out["event_date"] is not None else None
    out["sentence"] = str(row.get("notes") or "")[:160]
    return {k: (None if pd.api.types.is_scalar(v) and pd.isna(v) else v) for k, v in out.items()}


def evaluate(release: Path, rules_path: Path) -> dict[str, Any]:
    path = release / "events.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"no events.parquet in {release}")
    events = pd.read_parquet(path)
    rules = ClusterRules.load(rules_path)
    with_ids, clusters = cluster_events(events, rules)
    rows = {r["event_id"]: r for r in with_ids.to_dict(orient="records")}
    merged = clusters[clusters["n_events"] > 1]
    return {
        "release": str(release),
        "rules_version": rules.version,
        "events": len(events),
        "clusters": len(clusters),
        "merged_clusters": len(merged),
        "events_in_merged_clusters": int(merged["n_events"].sum()),
        "merged": [
            {
                "event_cluster_id": c["event_cluster_id"],
                "canonical_event_id": c["canonical_event_id"],
                "event_types": c["event_types"],
                "dates": [str(c["date_first"]), str(c["date_last"])],
                "location": c["location"],
                "fatalities": int(c["fatalities"]),
                "members": [_member(rows[i]) for i in c["member_event_ids"].split(";")],
                "merges": json.loads(c["evidence"]),
            }
            for c in merged.to_dict(orient="records")
        ],
    }


def to_text(result: dict[str, Any]) -> str:
    lines = [
        f"{result['release']} with {result['rules_version']}: {result['events']} events -> "
        f"{result['clusters']} clusters; {result['merged_clusters']} merged clusters hold "
        f"{result['events_in_merged_clusters']} events"
    ]
    for c in result["merged"]:
        lines.append(
            f"\ncluster {c['event_cluster_id']} [{c['event_types']}] {c['dates'][0]}..{c['dates'][1]} "
            f"at {c['location']}, fatalities {c['fatalities']} (canonical {c['canonical_event_id']})"
        )
        for m in c["members"]:
            lines.append(
                f"  - {m['event_id']} {m['source']} {m['event_date']} {m['location']}: {m['sentence']}"
            )
        for merge in c["merges"]:
            lines.append(f"    merged {merge['a']} + {merge['b']}: {'; '.join(merge['rules'])}")
    return "\n".join(lines)


SYNTHETIC_TYPES = ("armed_clash", "airstrike", "bombing", "statement", "arms_transfer")
SYNTHETIC_GEO_REASONS = ("named in sentence", "inherited from article", "province only (provincial capital)")
SYNTHETIC_DATE_REASONS = ("publication date", "relative to publication (weekday)", "explicit date (x)")


def synthetic_events(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` invented events over one year and 300 places in 3 countries, shaped like a news feed.

    Mix like the seeds release: most places inherited, most dates the publication date, a tenth
    without a point; each place repeats (a town is reported on many times), which is what makes
    clustering quadratic when it compares all events of a date window.
    """
    rng = np.random.default_rng(seed)
    towns = rng.uniform([30.0, 38.0], [37.0, 48.0], size=(300, 2))
    town = rng.integers(0, 300, n)
    jitter = rng.normal(0, 0.02, size=(n, 2))
    placed = rng.random(n) > 0.1
    actors = np.array([f"actor {k}" for k in range(40)] + [None] * 20, dtype=object)
    start = date(2014, 1, 1)
    return pd.DataFrame(
        {
            "event_id": [f"ev{k:07d}" for k in range(n)],
            "event_type": rng.choice(SYNTHETIC_TYPES, n, p=[0.3, 0.15, 0.15, 0.35, 0.05]),
            "event_date": [start + timedelta(days=int(d)) for d in rng.integers(0, 365, n)],
            "time_precision": rng.choice([1, 2, 3], n, p=[0.3, 0.6, 0.1]),
            "latitude": np.where(placed, towns[town, 0] + jitter[:, 0], np.nan),
            "longitude": np.where(placed, towns[town, 1] + jitter[:, 1], np.nan),
            "geo_precision": rng.choice([1, 2, 3], n, p=[0.4, 0.45, 0.15]),
            "location": [f"town {t}" for t in town],
            "iso3": np.array(["IRQ", "SYR", "TUR"])[town % 3],
            "actor1": rng.choice(actors, n),
            "actor2": rng.choice(actors, n),
            "assoc_actor1": None,
            "fatalities": rng.integers(0, 20, n),
            "fatalities_text": ["some" if said else None for said in rng.random(n) < 0.3],
            "source": rng.choice([f"outlet {k}" for k in range(30)], n),
            "article_id": [f"art{k // 8}" for k in range(n)],
            "confidence": rng.random(n).round(3),
            "geo_reason": rng.choice(SYNTHETIC_GEO_REASONS, n, p=[0.4, 0.45, 0.15]),
            "date_reason": rng.choice(SYNTHETIC_DATE_REASONS, n, p=[0.7, 0.2, 0.1]),
        }
    )


def bench(sizes: list[int], rules_path: Path) -> list[dict[str, Any]]:
    """Seconds ``cluster_events`` takes on synthetic events of each size (seed 0)."""
    rules = ClusterRules.load(rules_path)
    results = []
    for n in sizes:
        events = synthetic_events(n)
        began = time.perf_counter()
        _, clusters = cluster_events(events, rules)
        seconds = time.perf_counter() - began
        merged = int((clusters["n_events"] > 1).sum())
        results.append(
            {"events": n, "seconds": round(seconds, 2), "clusters": len(clusters), "merged": merged}
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("release", type=Path, nargs="?", help="a release folder holding events.parquet")
    parser.add_argument("--rules", type=Path, default=Settings().rules_dir / "clusters.json")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--bench", type=int, action="append", help="time N synthetic events instead")
    args = parser.parse_args(argv)
    if args.bench:
        for row in bench(args.bench, args.rules):
            print(json.dumps(row))
        return 0
    if args.release is None:
        parser.error("give a release folder or --bench N")
    try:
        result = evaluate(args.release, args.rules)
    except (CoderError, OSError) as exc:
        print(f"eval_clusters: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str) if args.json else to_text(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
