"""Dask scale-out benchmark: the same corpus coded with 1 and with 2 workers, per phase.

Not a test: it prints figures and keeps them in bench/results/. The corpus is the one ``make bench``
builds (``bench/run.py``: N seed-length articles drawn with a fixed seed from the seeds and the shared
corpora, written to a temporary folder, never into the repo). Each worker count runs ``coder``'s own
``build.build_release(engine="dask")`` in a child process, so imports, the LocalCluster and the
shutdown are all timed; the child reports the build's phases (``build.Phases``):

- ``load``  the driver's light stages and validator (the workers start meanwhile, in a thread)
- ``start`` waiting for the workers to be up with their stages loaded, after ``load``
- ``code``  coding on the workers; the driver validates and writes the streamed tables meanwhile
- ``tail``  clustering, event validation and commit (the cluster shuts down meanwhile)
- ``stop``  what is left of the shutdown after ``tail``

with wall seconds, the driver's CPU seconds and the workers' CPU seconds, and, from dask's task stream,
where each worker's coding phase went (``tasks``: running tasks, gaps between them, idle at the end).
A LocalCluster forks its workers from a fork server that has imported the coder once, so the workers'
``start`` seconds are their stages' load only; the server's imports count in the total (``cpu_seconds``:
the whole process tree, the server and the workers it reaps included). On a shared machine wall time
depends on the neighbours: compare CPU seconds there, and speed-ups on a quiet machine only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("load", "start", "code", "tail", "stop")


def run_child(corpus: Path, workers: int, workdir: Path) -> dict:
    """Code ``corpus`` with ``workers`` Dask workers in a child process: wall, CPU, memory and phases."""
    sys.path.insert(0, str(ROOT / "bench"))
    from run import _timed_child

    phases_file = workdir / f"phases-w{workers}.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(corpus),
        str(workers),
        str(phases_file),
    ]
    load_before = os.getloadavg()[0]
    figures = _timed_child(cmd) | {"load_average_before": round(load_before, 2)}
    return figures | json.loads(phases_file.read_text(encoding="utf-8"))


def child(corpus: Path, workers: int, phases_file: Path) -> None:
    """The timed build (in the child process): release written to a temporary folder."""
    from coder import build
    from coder.config import Settings

    stream = _record_task_stream()
    with tempfile.TemporaryDirectory(prefix="coder-dask-") as tmp:
        settings = Settings.from_env().with_overrides(datasets_dir=Path(tmp))
        outcome = build.build_release([corpus], "bench", settings, engine="dask", workers=workers)
    phases = outcome.phases.to_dict() | {"counts": outcome.counts, "tasks": task_summary(stream)}
    phases_file.write_text(json.dumps(phases, indent=2), encoding="utf-8")


def _record_task_stream() -> list[dict]:
    """Dask's task stream of the coding phase (each task's worker, start and stop), filled as it ends."""
    from distributed import get_task_stream

    from coder import dask_engine

    stream: list[dict] = []
    code = dask_engine.DaskEngine.code

    def recorded(engine: dask_engine.DaskEngine, *args: object, **kwargs: object) -> Iterator[object]:
        with get_task_stream(engine.client) as tasks:
            yield from code(engine, *args, **kwargs)  # type: ignore[arg-type]
        stream.extend(tasks.data)

    dask_engine.DaskEngine.code = recorded  # type: ignore[method-assign,assignment]
    return stream


def task_summary(stream: list[dict]) -> dict:
    """Where the workers' wall time went in the coding phase: ``busy_s`` running tasks, ``gaps_s`` between
    them (waiting on dask), ``end_idle_s`` from its last task's end to the last worker's (the last tasks'
    imbalance). On a shared machine a busy worker may still wait for a core: compare with its CPU seconds."""
    runs: dict[str, list[tuple[float, float]]] = {}
    for task in stream:
        for span in task["startstops"]:
            if span["action"] == "compute":
                runs.setdefault(task["worker"], []).append((span["start"], span["stop"]))
    if not runs:
        return {}
    end = max(stop for spans in runs.values() for _, stop in spans)
    workers = {}
    for name, spans in runs.items():
        spans.sort()
        gaps = [later[0] - earlier[1] for earlier, later in pairwise(spans)]
        workers[name] = {
            "tasks": len(spans),
            "busy_s": round(sum(stop - start for start, stop in spans), 3),
            "gaps_s": round(sum(gaps), 3),
            "end_idle_s": round(end - spans[-1][1], 3),
        }
    return {
        "workers": list(workers.values()),
        "first_to_last_s": round(end - min(s[0][0] for s in runs.values()), 3),
    }


def summarise(articles: int, runs: dict[int, dict]) -> dict:
    figures: dict = {
        "articles": articles,
        "dask_batch_size": os.environ.get("CODER_DASK_BATCH_SIZE", "default"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}",
        "runs": {
            f"w{w}": run | {"articles_per_hour": round(articles / run["seconds"] * 3600)}
            for w, run in runs.items()
        },
    }
    if 1 in runs and len(runs) > 1:
        one = runs[1]
        for w, run in runs.items():
            if w != 1:
                figures[f"speedup_w{w}_end_to_end"] = round(one["seconds"] / run["seconds"], 3)
                figures[f"speedup_w{w}_coding_phase"] = round(
                    one["wall_s"]["code"] / run["wall_s"]["code"], 3
                )
    return figures


def table(figures: dict) -> str:
    """Per-phase wall / driver CPU / worker CPU seconds, one row per worker count; the total is the
    child's wall time and the CPU of its whole process tree (imports and interpreter exits included)."""
    header = "".join(f"{p:>20}" for p in (*PHASES, "total"))
    units = "   wall/driver/workers" * len(PHASES) + "        wall/all CPU"
    lines = [f"{'':4}{header}", f"{'':4}{units}"]
    for name, run in figures["runs"].items():
        cells = [
            f"{run['wall_s'][p]:7.1f}{run['cpu_s'][p]:6.1f}{run['worker_cpu_s'][p]:7.1f}" for p in PHASES
        ]
        total = f"{run['seconds']:7.1f}{run['cpu_seconds']:13.1f}"
        lines.append(f"{name:4}" + "".join(f"{c:>20}" for c in (*cells, total)))
    for name, run in figures["runs"].items():
        for worker in run.get("tasks", {}).get("workers", []):
            busy, gaps, idle = worker["busy_s"], worker["gaps_s"], worker["end_idle_s"]
            counts = f"{worker['tasks']} tasks, busy {busy:.1f} s, gaps {gaps:.2f} s"
            lines.append(f"{name:4} worker: {counts}, idle at the end {idle:.2f} s")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "bench"))
    from run import corpus_sentences, write_corpus

    with tempfile.TemporaryDirectory(prefix="coder-bench-") as tmp:
        workdir = Path(tmp)
        corpus = workdir / "corpus.jsonl"
        write_corpus(corpus_sentences(args.corpora), args.articles, corpus, args.seed)
        runs = {w: run_child(corpus, w, workdir) for w in args.workers}
    figures = summarise(args.articles, runs)
    print(json.dumps(figures, indent=2))
    print(table(figures))
    name = f"{date.today().isoformat()}-dask-scaling-{args.articles}.json"
    (ROOT / "bench" / "results" / name).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
