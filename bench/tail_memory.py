"""Peak memory of a build's tail (event rows, clustering, event validation, commit) without spaCy.

Not a test: it prints figures (and keeps them in bench/results/ with ``--keep``). A release of the
seeds (``--template``, or one built first into a temporary folder) gives the template rows: each
synthetic article is a copy of one seed article with fresh ids, its events moved by whole days (one
more per copy round) so that copies do not all fall in the same clustering window. The copies go
through ``build.build_release`` with an engine that yields them batch by batch (``batch_rows`` is
replaced by the template copier), so everything after coding runs as in a real build: streamed
tables, event rows, clustering, validation, quarantine, commit. Each size runs in its own child
process; peak RSS is the child's ``VmHWM`` (Linux; ``ru_maxrss`` elsewhere, which on Linux keeps the
forking parent's high-water mark across ``exec``, about 540 MB here), CPU its ``process_time``.
With ``--rebuild`` each size is built twice into one datasets folder, each build in its own child:
the second is a new version of the first, so it is compared with a previous release (the diff
summary of its manifest) and the figures are that second build's.

    .venv/bin/python bench/tail_memory.py --articles 2000 20000
    .venv/bin/python bench/tail_memory.py --rebuild --articles 2000
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BATCH = 64  # articles a batch, as Settings.batch_size
TABLES = ("articles", "sentences", "events", "rejects")


def _template(path: Path | None, workdir: Path) -> Path:
    """A seeds release to copy rows from (built here when none is given)."""
    if path is not None:
        return path
    from coder import build
    from coder.config import Settings

    settings = Settings.from_env().with_overrides(datasets_dir=workdir / "template")
    return build.build_release([ROOT / "seeds"], "seeds", settings).release.path


@dataclass
class Copier:
    """Table rows of synthetic article ``k``: template article ``k % n`` with ids made unique by ``k``."""

    tables: dict[str, list[dict[str, Any]]]
    by_article: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for table in ("sentences", "events"):
            for row in self.tables[table]:
                self.by_article.setdefault(row["article_id"], {}).setdefault(table, []).append(row)
        self.articles = self.tables["articles"]

    def rows(self, k: int) -> dict[str, list[dict[str, Any]]]:
        from coder.records import stable_id

        article = self.articles[k % len(self.articles)]
        old_id, shift = article["article_id"], timedelta(days=k // len(self.articles))
        new_id = stable_id(old_id, k)
        own = self.by_article.get(old_id, {})
        sentences = [r | {"article_id": new_id, "sentence_id": stable_id(r["sentence_id"], k)}
                     for r in own.get("sentences", [])]  # fmt: skip
        events = [_event(r, new_id, k, shift) for r in own.get("events", [])]
        return {"articles": [article | {"article_id": new_id}], "sentences": sentences,
                "events": events, "rejects": []}  # fmt: skip


def _event(row: dict[str, Any], article_id: str, k: int, shift: timedelta) -> dict[str, Any]:
    moved = row["event_date"] + shift if isinstance(row["event_date"], date) else row["event_date"]
    return row | {
        "event_id": _event_id(row["event_id"], k),
        "article_id": article_id,
        "sentence_id": _event_id(row["sentence_id"], k),
        "event_date": moved,
        "event_cluster_id": None,
    }


def _event_id(old: Any, k: int) -> Any:
    from coder.records import stable_id

    return stable_id(old, k) if isinstance(old, str) else old


@dataclass
class FakeResult:
    first: int
    count: int
    articles: list[Any] = field(default_factory=list)


class FakeEngine:
    def __init__(self, n_articles: int) -> None:
        self.n = n_articles

    def code(self, inputs: Any, stages: Any, *, today: Any = None) -> Iterator[FakeResult]:
        for first in range(0, self.n, BATCH):
            yield FakeResult(first, min(BATCH, self.n - first))

    def worker_cpu_seconds(self) -> float:
        return 0.0

    def close(self) -> None:
        return None


@dataclass
class FakeStages:
    settings: Any

    def versions(self) -> dict[str, str]:
        return {"bench": "tail_memory"}


def child(n_articles: int, template: Path, out: Path, datasets: Path | None = None) -> None:
    """One build of ``n_articles`` into ``datasets`` (a temporary folder when None); figures to ``out``."""
    import pandas as pd

    from coder import build
    from coder.config import Settings

    tables = {t: pd.read_parquet(template / f"{t}.parquet") for t in ("articles", "sentences", "events")}
    rows = {t: [{k: (None if _na(v) else v) for k, v in r.items()} for r in df.to_dict(orient="records")]
            for t, df in tables.items()}  # fmt: skip
    copier = Copier(rows)

    def batch_rows(result: FakeResult) -> dict[str, list[dict[str, Any]]]:
        merged: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
        for k in range(result.first, result.first + result.count):
            for table, part in copier.rows(k).items():
                merged[table].extend(part)
        return merged

    for name in ("coder.build_tables", "coder.build"):  # where rows are made (before the spill: build)
        module = importlib.import_module(name) if importlib.util.find_spec(name) else None
        if module is not None and hasattr(module, "batch_rows"):
            setattr(module, "batch_rows", batch_rows)  # noqa: B010 (mypy: a module typed as ModuleType)
    build._start_engine = lambda *a: FakeEngine(n_articles)  # type: ignore[assignment]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = time.process_time()
    with tempfile.TemporaryDirectory(prefix="coder-tail-") as tmp:
        settings = Settings.from_env().with_overrides(datasets_dir=datasets or Path(tmp))
        outcome = build.build_release([], "bench", settings, stages=FakeStages(settings))  # type: ignore[arg-type]
    figures = {
        "articles": n_articles,
        "version": outcome.release.version,
        "compared_to_previous": outcome.release.manifest.get("compared_to_previous"),
        "events": outcome.counts["events"],
        "clusters": outcome.counts.get("clusters"),
        "peak_rss_mb": _peak_rss_mb(),
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_before_build_mb": round(rss_before / 1024, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "phases_cpu_s": outcome.phases.cpu,
    }
    out.write_text(json.dumps(figures), encoding="utf-8")


def _peak_rss_mb() -> float:
    """This process's own high-water mark: ``VmHWM`` restarts at ``exec``, ``ru_maxrss`` does not."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _na(value: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--template", type=Path, help="a seeds release folder (built when omitted)")
    parser.add_argument("--keep", help="label: keep the figures in bench/results/<date>-tail-<label>.json")
    parser.add_argument("--rebuild", action="store_true", help="build twice; figures of the second build")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--datasets", type=Path, help=argparse.SUPPRESS)  # the child's datasets folder
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), Path(args.child[1]), Path(args.child[2]), args.datasets)
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="coder-tail-bench-") as tmp:
        template = _template(args.template, Path(tmp))
        for n in args.articles:
            out = Path(tmp) / f"tail-{n}.json"
            cmd = [sys.executable, __file__, "--child", str(n), str(template), str(out)]
            if args.rebuild:  # a first build the second is compared with, in the same datasets folder
                cmd += ["--datasets", str(Path(tmp) / f"datasets-{n}")]
                subprocess.run(cmd, check=True)
            subprocess.run(cmd, check=True)
            results.append(json.loads(out.read_text(encoding="utf-8")) | {"rebuild": args.rebuild})
            print(json.dumps(results[-1]), flush=True)
    if args.keep:
        path = ROOT / "bench" / "results" / f"{date.today().isoformat()}-tail-{args.keep}.json"
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
