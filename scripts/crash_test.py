"""Kill writers of a dataset with SIGKILL at random points and check the release invariants (issue 5).

Two kinds of victim, mixed by ``--build-share``:

* ``build``: a real ``coder build`` process. Half of these are killed at a uniform random time over the
  whole build, half in the write window (as soon as a ``.tmp-*`` folder appears, plus a random delay),
  because that is where atomicity matters and a uniform time rarely lands there.
* ``store``: a writer process that imports ``coder.store`` once and writes releases in a loop (the
  tables of a real release); killed at a random time, it is almost always in the middle of a write.
  This makes a hundred kills affordable on a small machine.

After every kill: every ``v*`` folder verifies against its manifest, LATEST (if any) points at a
verified release, no release seen before has disappeared. At the end one more real build must
succeed and leave no temporary folder behind.

    python scripts/crash_test.py --kills 100            # the figure (about 10-15 minutes)
    python scripts/crash_test.py --writer DS NAME SRC N  # internal: the looping store writer

Prints a JSON summary (kills by kind, releases, invariant breaks) and exits 1 on any break.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
READY = "ready"


def build_cmd(datasets: Path, inputs: Path, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "coder.cli",
        "--datasets",
        str(datasets),
        "build",
        str(inputs),
        "--name",
        name,
    ]


def writer_cmd(datasets: Path, name: str, source: Path, count: int) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--writer",
        str(datasets),
        name,
        str(source),
        str(count),
    ]


def run_writer(datasets: Path, name: str, source: Path, count: int) -> int:
    """Write ``count`` releases of ``name`` from the tables of release ``source`` (0: forever)."""
    from coder import store

    manifest = store.read_manifest(source)
    frames = {table: store.read_table(source, table) for table in sorted(manifest["tables"])}
    extra = {k: v for k, v in manifest.items() if k not in store.RESERVED_KEYS}
    print(READY, flush=True)
    written = 0
    while count == 0 or written < count:
        store.write_release(datasets, name, frames, extra, lock_wait_s=120)
        written += 1
    return 0


def full_build(datasets: Path, inputs: Path, name: str) -> float:
    start = time.perf_counter()
    subprocess.run(build_cmd(datasets, inputs, name), cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def _kill(child: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the child; False when it had already finished on its own."""
    if child.poll() is not None:
        return False
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    return True


def kill_build(datasets: Path, inputs: Path, name: str, delay: float, in_write: bool) -> bool:
    child = subprocess.Popen(
        build_cmd(datasets, inputs, name), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if in_write:
        while child.poll() is None and not list((datasets / name).glob(".tmp-*")):
            time.sleep(0.002)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=delay)
    return _kill(child)


def kill_writer(datasets: Path, name: str, source: Path, delay: float) -> bool:
    child = subprocess.Popen(writer_cmd(datasets, name, source, 0), cwd=ROOT, stdout=subprocess.PIPE)
    assert child.stdout is not None
    child.stdout.readline()  # READY: imports done, writes start now
    time.sleep(delay)
    return _kill(child)


def check_invariants(datasets: Path, name: str, seen: set[str]) -> list[str]:
    """Everything that looks like a release must be a complete, verified one; none may vanish."""
    from coder import store
    from coder.errors import CoderError

    problems: list[str] = []
    versions = store.list_versions(datasets, name) if (datasets / name).exists() else []
    for info in versions:
        report = store.verify_release(info.path)
        if not report.ok:
            problems.append(report.to_text())
    present = {info.version for info in versions}
    problems += [f"release {v} disappeared" for v in sorted(seen - present)]
    seen |= present
    if versions:
        try:
            latest = store.resolve_release(datasets, name, "latest")
        except CoderError as exc:
            problems.append(f"latest pointer unusable: {exc}")
        else:
            if not store.verify_release(latest).ok:
                problems.append(f"latest points at an incomplete release {latest}")
    return problems


def crash_loop(args: argparse.Namespace, datasets: Path) -> dict[str, object]:
    from coder import store

    rng = random.Random(args.seed)
    full = full_build(datasets, args.input, "crash")
    source = store.resolve_release(datasets, "crash")
    seen: set[str] = set()
    breaks: list[str] = []
    kills = {"build_random": 0, "build_in_write": 0, "store_loop": 0, "finished_before_kill": 0}
    for i in range(args.kills):
        if rng.random() < args.build_share:
            kind = "build_in_write" if i % 2 else "build_random"
            delay = rng.uniform(0.0, 0.6) if kind == "build_in_write" else rng.uniform(0.0, full * 1.1)
            killed = kill_build(datasets, args.input, "crash", delay, kind == "build_in_write")
        else:
            kind = "store_loop"
            killed = kill_writer(datasets, "crash", source, rng.uniform(0.0, 2.5))
        kills[kind if killed else "finished_before_kill"] += 1
        breaks += check_invariants(datasets, "crash", seen)
        # Progress on stderr, so a long run that is stopped early still gives its figures.
        print(f"kill {i + 1}/{args.kills} {kind} killed={killed} releases={len(seen)} breaks={len(breaks)}",
              file=sys.stderr, flush=True)  # fmt: skip
    final = subprocess.run(build_cmd(datasets, args.input, "crash"), cwd=ROOT, capture_output=True)
    if final.returncode != 0:
        breaks.append(f"build after kills failed: {final.stderr.decode()[-500:]}")
    breaks += check_invariants(datasets, "crash", seen)
    breaks += [f"temporary left after a good build: {p.name}" for p in (datasets / "crash").glob(".tmp-*")]
    return {
        "kills": args.kills, "kills_by_kind": kills, "full_build_seconds": round(full, 2),
        "releases_after": len(store.list_versions(datasets, "crash")),
        "invariant_breaks": len(breaks), "breaks": breaks[:10],
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--input", type=Path, default=ROOT / "seeds")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--build-share", type=float, default=0.1, help="share of kills that hit a real build")
    parser.add_argument("--writer", nargs=4, metavar=("DATASETS", "NAME", "SOURCE", "COUNT"))
    args = parser.parse_args()
    if args.writer:
        datasets, name, source, count = args.writer
        return run_writer(Path(datasets), name, Path(source), int(count))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="coder-crash-") as tmp:
        summary = crash_loop(args, Path(tmp) / "datasets")
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary, indent=2))
    return 1 if summary["invariant_breaks"] else 0


if __name__ == "__main__":
    sys.exit(main())
