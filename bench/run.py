"""Throughput and memory benchmark (``make bench``).

Not a test: it prints figures and keeps them in bench/results/.

Corpus: N synthetic articles of seed length (43 sentences in paragraphs of 3, plus a
title), each sentence drawn with a fixed seed from real news text: the five seed
articles, RAMS news windows, SATP incident reports and the ConfliBERT CAMEO
sentences under ``--corpora``. Every article gets a publication date and a source.
The corpus is written as JSONL to a temporary folder (never into the repo).

It then codes the corpus end to end with ``coder build`` (the chosen engine), and in
the same run times spaCy's full pipeline alone (``nlp.pipe`` over the same article
texts with ``--spacy-processes`` processes), printing articles/hour, sentences/s,
the ratio coder-time / spaCy-time and the peak RSS (summed over the process tree) of
each step; each step runs in its own child process so the peaks do not mix.

Memory flatness: ``--skip-spacy`` times the coder alone (the spaCy baseline is the slow half of a
run), and ``pss_by_tenth_mb`` gives the peak PSS in each tenth of the coder's run, so a 2,000 and a
20,000-article run can be compared, and one run already shows whether memory grows as it streams:

    .venv/bin/python bench/run.py --articles 20000 --processes 2 --skip-spacy
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SENTENCES_PER_ARTICLE = 43
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
ORPHANS_WAIT_S = 30.0  # a fork server ends once its parent has: wait that long for it


def corpus_sentences(corpora: Path) -> list[str]:
    """Real news sentences to draw from (order fixed; sampling is seeded)."""
    sys.path.insert(0, str(ROOT))
    from coder.config import Settings
    from coder.ingest import iter_articles
    from coder.records import Article
    from coder.segment import split_sentences

    pool: list[str] = []
    for item in iter_articles([ROOT / "seeds"], Settings()):
        if isinstance(item, Article):
            pool += [s.text for s in split_sentences(item) if s.boilerplate is None]
    for line in (corpora / "rams" / "dev.jsonlines").read_text(encoding="utf-8").splitlines():
        pool += [_detokenise(tokens) for tokens in json.loads(line)["sentences"]]
    for name in ("train.tsv", "test.tsv"):
        for row in (corpora / "conflibert" / "cameo_class" / name).read_text(encoding="utf-8").splitlines():
            pool.append(row.split("\t")[0])
        for row in (corpora / "conflibert" / "satp_relevant" / name).read_text(encoding="utf-8").splitlines():
            pool.append(row.split("\t")[0][:400])
    return [s.strip() for s in pool if len(s.split()) >= 4]


def _detokenise(tokens: list[str]) -> str:
    text = " ".join(tokens)
    for punct in (" .", " ,", " ;", " :", " 's", " n't", " ?", " !", " )"):
        text = text.replace(punct, punct.strip())
    return text.replace("( ", "(")


def write_corpus(pool: list[str], n_articles: int, out: Path, seed: int) -> int:
    rng = random.Random(seed)
    start = date(2014, 1, 1)
    n_sentences = 0
    with out.open("w", encoding="utf-8") as handle:
        for i in range(n_articles):
            body = [rng.choice(pool) for _ in range(SENTENCES_PER_ARTICLE)]
            paragraphs = ["  ".join(body[j : j + 3]) for j in range(0, len(body), 3)]
            record = {
                "id": f"bench-{i:06d}",
                "title": rng.choice(pool)[:90],
                "text": "\n\n".join(paragraphs),
                "published": (start + timedelta(days=i % 365)).isoformat(),
                "source": f"source-{i % 17}",
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            n_sentences += SENTENCES_PER_ARTICLE
    return n_sentences


def time_coder(corpus: Path, workdir: Path, engine: str, workers: int, processes: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "coder.cli",
        "--datasets",
        str(workdir / "datasets"),
        "build",
        str(corpus),
        "--name",
        "bench",
        "--engine",
        engine,
        "--workers",
        str(workers),
    ]
    return _timed_child(cmd, {"CODER_N_PROCESS": str(processes)})


def time_spacy(corpus: Path, processes: int) -> dict[str, Any]:
    code = (
        "import json,sys\n"
        # spaCy's stock pipeline, every component as shipped (the coder swaps in exact faster stand-ins
        # for two of them, coder/fast_attrs.py: that gain belongs to the coder, not to the baseline).
        "import spacy\nfrom coder.config import Settings\n"
        "nlp = spacy.load(Settings().spacy_model)\n"
        "texts = [json.loads(l)['text'] for l in open(sys.argv[1], encoding='utf-8')]\n"
        "n = 0\n"
        f"for doc in nlp.pipe(texts, batch_size=64, n_process={processes}):\n    n += len(doc)\n"
    )
    return _timed_child([sys.executable, "-c", code, str(corpus)])


def _timed_child(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Wall and CPU time, and the peak memory of the child's whole process tree (sampled from /proc).

    RSS sums every process's resident pages, so pages forked workers share copy-on-write count
    once per process; PSS splits shared pages between the processes and is the honest total.
    CPU seconds are reported because wall time on a shared machine depends on the neighbours.
    """
    _adopt_orphans()
    start, cpu_start = time.perf_counter(), _children_cpu()
    with tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, text=True, env=os.environ | (env or {})
        )
        peak = peak_pss = 0
        trace: list[tuple[float, int]] = []  # (seconds, PSS kB): is memory flat as the corpus streams by?
        while child.poll() is None:
            peak = max(peak, _tree_memory_kb(child.pid, "VmRSS:", "status"))
            pss = _tree_memory_kb(child.pid, "Pss:", "smaps_rollup")
            peak_pss = max(peak_pss, pss)
            trace.append((time.perf_counter() - start, pss))
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        _reap_orphans()
        if child.returncode != 0:
            err.seek(0)
            raise SystemExit(f"benchmark step failed: {' '.join(cmd[:6])}...\n{err.read()[-3000:]}")
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(_children_cpu() - cpu_start, 2),
        "peak_rss_mb": round(peak / 1024, 1),
        "peak_pss_mb": round(peak_pss / 1024, 1),
        "pss_by_tenth_mb": _by_tenth(trace, seconds),
    }


def _adopt_orphans() -> None:
    """Become the child subreaper (Linux): a Dask build's workers are forked by a fork server that
    outlives the build's process, and their CPU counts in ``_children_cpu`` only if we reap them."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap_orphans() -> None:
    """Wait for the descendants the child left running (a fork server and its workers), so the
    figures count their CPU; a descendant still running after ``ORPHANS_WAIT_S`` is left alone."""
    deadline = time.perf_counter() + ORPHANS_WAIT_S
    while time.perf_counter() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # none left
        if pid == 0:
            time.sleep(0.1)


def _by_tenth(trace: list[tuple[float, int]], seconds: float) -> list[float]:
    """Peak PSS in each tenth of the run: a flat tail says memory does not grow with the corpus,
    so one long run shows flatness without a second run at another size."""
    peaks = [0] * 10
    for at, kb in trace:
        tenth = min(9, int(10 * at / seconds)) if seconds else 0
        peaks[tenth] = max(peaks[tenth], kb)
    return [round(kb / 1024, 1) for kb in peaks]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree_memory_kb(pid: int, field: str, source: str) -> int:
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/{source}").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith(field))
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--engine", choices=("local", "dask"), default="local")
    parser.add_argument("--workers", type=int, default=2, help="dask workers (--engine dask)")
    parser.add_argument("--processes", type=int, default=2, help="forked coder processes (--engine local)")
    parser.add_argument("--spacy-processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--skip-spacy", action="store_true", help="time the coder only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="coder-bench-") as tmp:
        workdir = Path(tmp)
        corpus = workdir / "corpus.jsonl"
        n_sentences = write_corpus(corpus_sentences(args.corpora), args.articles, corpus, args.seed)
        load_before = os.getloadavg()[0]
        coder_run = time_coder(corpus, workdir, args.engine, args.workers, args.processes)
        coder_run["load_average_before"] = round(load_before, 2)
        spacy_run = None if args.skip_spacy else time_spacy(corpus, args.spacy_processes)
    figures = summarise(args, n_sentences, coder_run, spacy_run)
    print(json.dumps(figures, indent=2))
    parallel = f"w{args.workers}" if args.engine == "dask" else f"p{args.processes}"
    alone = "-coder-only" if args.skip_spacy else ""
    name = f"{date.today().isoformat()}-{args.engine}-{parallel}-{args.articles}{alone}.json"
    out = ROOT / "bench" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def summarise(args: argparse.Namespace, n_sentences: int, coder_run: dict, spacy_run: dict | None) -> dict:
    figures = {
        "articles": args.articles,
        "sentences": n_sentences,
        "engine": args.engine,
        "workers": args.workers if args.engine == "dask" else args.processes,
        "batch_size": os.environ.get("CODER_BATCH_SIZE", "default"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}",
        "coder": coder_run
        | {
            "articles_per_hour": round(args.articles / coder_run["seconds"] * 3600),
            "sentences_per_s": round(n_sentences / coder_run["seconds"], 1),
            "cpu_seconds_per_article": round(coder_run["cpu_seconds"] / args.articles, 3),
        },
    }
    if spacy_run:
        figures["spacy_full_pipeline"] = spacy_run | {
            "processes": args.spacy_processes,
            "sentences_per_s": round(n_sentences / spacy_run["seconds"], 1),
        }
        figures["coder_over_spacy"] = round(coder_run["seconds"] / spacy_run["seconds"], 3)
        # On a shared machine wall time depends on the neighbours; CPU time much less so.
        figures["coder_over_spacy_cpu"] = round(coder_run["cpu_seconds"] / spacy_run["cpu_seconds"], 3)
    return figures


if __name__ == "__main__":
    main()
