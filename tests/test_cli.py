"""The CLI: help for every command, exit codes and messages, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coder import cli
from coder.config import PROJECT_ROOT

COMMANDS = ("build", "validate", "verify", "versions", "evaluate", "train", "diff", "report")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coder.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_documented(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: coder" in capsys.readouterr().out
    assert f"coder {command}" in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_missing_input_names_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no such folder"
    code = cli.main(["--datasets", str(tmp_path / "ds"), "build", str(missing), "--name", "x"])
    err = capsys.readouterr().err
    assert code == 2
    assert str(missing) in err
    assert "Traceback" not in err


def test_unknown_release_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--datasets", str(tmp_path), "verify", "nothing-here"])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("coder: error:")


def test_bad_release_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "Nothing happened."}\n', encoding="utf-8")
    code = cli.main(["--datasets", str(tmp_path / "ds"), "build", str(src), "--name", "../escape"])
    assert code != 0
    assert "coder: error:" in capsys.readouterr().err
    assert not (tmp_path / "escape").exists()


def test_console_script_runs_as_module() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "build" in result.stdout
