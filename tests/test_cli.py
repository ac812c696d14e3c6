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


def _release(datasets: Path) -> Path:
    import pandas as pd

    from coder import store

    frame = pd.DataFrame()
    return store.write_release(datasets, "demo", {"articles": frame, "rejects": pd.DataFrame()}, {}).path


def test_verify_and_versions_print_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    release = _release(tmp_path)
    assert cli.main(["--datasets", str(tmp_path), "verify", "demo"]) == 0
    assert "ok" in capsys.readouterr().out
    assert cli.main(["--datasets", str(tmp_path), "versions", "demo"]) == 0
    assert "demo v1 (latest): 0 articles, 0 rejects" in capsys.readouterr().out
    (release / "rejects.parquet").unlink()
    assert cli.main(["verify", str(release)]) == 5
    out = capsys.readouterr().out
    assert "1 problem(s)" in out and "missing file rejects.parquet" in out


def test_os_errors_are_clean_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from coder import store

    def denied(*_: object, **__: object) -> object:
        raise PermissionError(13, "Permission denied", "/data/sets/demo")

    monkeypatch.setattr(store, "list_versions", denied)
    assert cli.main(["--datasets", str(tmp_path), "versions", "demo"]) == cli.IO_ERROR
    err = capsys.readouterr().err
    assert err.startswith("coder: error: /data/sets/demo: Permission denied") and "Traceback" not in err
    assert cli.main(["--debug", "--datasets", str(tmp_path), "versions", "demo"]) == cli.IO_ERROR
    assert "Traceback" in capsys.readouterr().err


def test_bugs_are_reported_as_internal_errors_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from coder import store

    def broken(*_: object, **__: object) -> object:
        raise KeyError("oops")

    monkeypatch.setattr(store, "list_versions", broken)
    assert cli.main(["--datasets", str(tmp_path), "versions", "demo"]) == cli.INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "internal error: KeyError" in err and "--debug" in err and "Traceback" not in err


def test_build_checks_name_and_inputs_before_loading_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from coder import pipeline

    def no_loading(*_: object, **__: object) -> object:
        raise AssertionError("models were loaded before the cheap checks")

    monkeypatch.setattr(pipeline.Stages, "load", no_loading)
    assert cli.main(["--datasets", str(tmp_path), "build", str(tmp_path), "--name", "a/b"]) == 4
    assert cli.main(["--datasets", str(tmp_path), "build", str(tmp_path / "nope"), "--name", "ok"]) == 2
    err = capsys.readouterr().err
    assert "invalid dataset name 'a/b'" in err and f"{tmp_path / 'nope'}: input not found" in err
