"""Crash safety and concurrency of releases, with real processes (issue 5).

A short version of ``scripts/crash_test.py`` (which runs a hundred kills, real builds included, for the
figure): writer processes that loop over ``store.write_release`` are SIGKILLed at random points, and
after every kill each release must verify, none may vanish, and LATEST must point at a good one.
"""

from __future__ import annotations

import importlib.util
import random
import subprocess
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from coder import store
from coder.config import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_test", PROJECT_ROOT / "scripts" / "crash_test.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def crash() -> ModuleType:
    return _script()


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    """A release of a few hundred rows to copy from: big enough that a write takes a while."""
    rows = [
        {"article_id": f"a{i}", "title": f"Title {i}", "published": None, "published_from": "none",
         "dateline_text": None, "source": "AFP", "url": None, "input_file": f"{i}.txt", "input_line": None,
         "input_sha256": f"{i:064d}", "encoding": "utf-8", "n_chars": 40 * i, "n_sentences": 2,
         "n_events": 0, "text": f"Article {i}: " + "words " * (i % 50)}
        for i in range(400)
    ]  # fmt: skip
    tables = {"articles": pd.DataFrame(rows), "rejects": pd.DataFrame()}
    return store.write_release(tmp_path / "source", "source", tables, {"coder_version": "test"}).path


def test_sigkill_during_writes_leaves_only_complete_releases(
    crash: ModuleType, source: Path, tmp_path: Path
) -> None:
    datasets, rng, seen = tmp_path / "datasets", random.Random(7), set[str]()
    killed_mid_run = 0
    for _ in range(6):
        killed_mid_run += crash.kill_writer(datasets, "crash", source, rng.uniform(0.2, 2.5))
        assert crash.check_invariants(datasets, "crash", seen) == []
    assert killed_mid_run == 6  # the writer loops forever: every kill hit a live writer
    assert len(seen) >= 1, "no release completed between kills; the test did not exercise publishing"
    # The next writer cleans up whatever a killed one left and publishes the next version.
    release = store.write_release(datasets, "crash", {"articles": store.read_table(source, "articles")}, {})
    assert release.version == f"v{len(seen) + 1}"
    assert list((datasets / "crash").glob(".tmp-*")) == []
    assert store.verify_release(release.path).ok


def test_two_writer_processes_do_not_interleave(crash: ModuleType, source: Path, tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    writers = [
        subprocess.Popen(crash.writer_cmd(datasets, "both", source, 4), cwd=PROJECT_ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
    infos = store.list_versions(datasets, "both")
    assert [info.version for info in infos] == [f"v{i}" for i in range(1, 9)]
    assert all(store.verify_release(info.path).ok for info in infos)
    assert store.resolve_release(datasets, "both").name == "v8"
