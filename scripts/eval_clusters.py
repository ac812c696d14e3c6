"""List which events of a release the cluster rules merge, and why.

Usage: python scripts/eval_clusters.py datasets/seeds/<version> [--rules seeds/rules/clusters.json] [--json]

Clusters are recomputed from the release's events.parquet with the given rules (so a rules change
can be tried on an old release); clusters of one event are only counted. There is no gold standard
of co-referent events here: this is a listing for a human to judge, not a metric.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("release", type=Path, help="a release folder holding events.parquet")
    parser.add_argument("--rules", type=Path, default=Settings().rules_dir / "clusters.json")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    try:
        result = evaluate(args.release, args.rules)
    except (CoderError, OSError) as exc:
        print(f"eval_clusters: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str) if args.json else to_text(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
