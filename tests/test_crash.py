"""Crash safety: SIGKILL a real `coder build` at random points; releases stay complete (issue 5).

A handful of kills here; `python scripts/crash_test.py --kills 100` runs the long version for the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from coder.config import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_kill_nine_never_leaves_a_broken_release() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/crash_test.py", "--kills", "6", "--seed", "7"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["invariant_breaks"] == 0
    assert summary["releases_after"] >= 2
