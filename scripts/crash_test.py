"""Kill real ``coder build`` processes with SIGKILL at random points and check the release invariants.

After every kill: each version folder under datasets/<name>/ is a complete release whose files match its
manifest checksums (``store.verify_release``), no temporary folder is mistaken for a release, and ``latest``
points at a complete release or is absent. At the end one more build must succeed.

    python scripts/crash_test.py --kills 50 --input seeds/

Prints a JSON summary (kills, releases seen, invariant breaks) and exits 1 on any break.
"""

from __future__ import annotations

import argparse
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


def full_build_seconds(datasets: Path, inputs: Path, name: str) -> float:
    start = time.perf_counter()
    subprocess.run(build_cmd(datasets, inputs, name), cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def kill_once(datasets: Path, inputs: Path, name: str, delay: float) -> None:
    child = subprocess.Popen(
        build_cmd(datasets, inputs, name), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        child.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


def check_invariants(datasets: Path, name: str) -> list[str]:
    """Everything that looks like a release must be a complete, verified one."""
    sys.path.insert(0, str(ROOT))
    from coder import store

    problems: list[str] = []
    versions = store.list_versions(datasets, name) if (datasets / name).exists() else []
    for info in versions:
        report = store.verify_release(info.path)
        if not report.ok:
            problems.append(f"{info.path}: {report.to_text()}")
    if versions:
        try:
            latest = store.resolve_release(datasets, name, "latest")
        except Exception as exc:  # the invariant check reports any failure instead of stopping
            problems.append(f"latest pointer unusable: {exc}")
        else:
            if not store.verify_release(latest).ok:
                problems.append(f"latest points at an incomplete release {latest}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--input", type=Path, default=ROOT / "seeds")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="coder-crash-") as tmp:
        datasets = Path(tmp) / "datasets"
        full = full_build_seconds(datasets, args.input, "crash")
        breaks: list[str] = []
        for _ in range(args.kills):
            kill_once(datasets, args.input, "crash", rng.uniform(0.0, full * 1.1))
            breaks += check_invariants(datasets, "crash")
        final = subprocess.run(build_cmd(datasets, args.input, "crash"), cwd=ROOT, capture_output=True)
        if final.returncode != 0:
            breaks.append(f"build after kills failed: {final.stderr.decode()[-500:]}")
        from coder import store

        summary = {
            "kills": args.kills,
            "full_build_seconds": round(full, 2),
            "releases_after": len(store.list_versions(datasets, "crash")),
            "invariant_breaks": len(breaks),
            "breaks": breaks[:10],
        }
    print(json.dumps(summary, indent=2))
    return 1 if breaks else 0


if __name__ == "__main__":
    sys.exit(main())
