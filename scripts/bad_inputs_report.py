"""Run every bad-input case through `coder build` and write what each gets to docs/bad_inputs.md.

The cases (and the fixtures they write) are ``CASES`` of tests/test_bad_inputs.py, so the document and
the tests describe the same inputs. Each case is its own build in a fresh folder. The 50 MB cases run as
a separate process so their wall time and peak memory can be measured; the rest run the CLI's ``main``
in this process (the model loading is the cost, the outcome is the same).

    python scripts/bad_inputs_report.py [--out docs/bad_inputs.md] [--only huge_file,bad_csv]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Run as a child process for wall time and peak RSS; utf16 (one small article) is the baseline to compare.
MEASURED = ("utf16", "huge_file", "huge_jsonl", "huge_csv")


@dataclass
class Outcome:
    case: str
    what: str
    exit_code: int
    message: str
    articles: int | None
    errors: int | None
    warnings: int | None
    reasons: list[str]
    seconds: float
    peak_mb: float | None = None


def _cases() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bad_inputs", ROOT / "tests" / "test_bad_inputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _in_process(argv: list[str]) -> tuple[int, str, float | None]:
    from contextlib import redirect_stderr, redirect_stdout
    from io import StringIO

    from coder import cli

    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(argv)
    return code, err.getvalue(), None


def _child(argv: list[str]) -> tuple[int, str, float | None]:
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-m", "coder.cli", *argv], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return child.returncode, err.read().decode("utf-8", "replace"), usage.ru_maxrss / 1024


def _summarise(case: str, what: str, datasets: Path, code: int, err: str, seconds: float) -> Outcome:
    import pandas as pd

    from coder import store

    lines = [line.replace(str(datasets.parent), "<tmp>") for line in err.splitlines()]
    message = next((line for line in lines if line.startswith("coder:")), err.strip()[:200])
    outcome = Outcome(case, what, code, message, None, None, None, [], round(seconds, 1))
    if code == 0:
        release = store.resolve_release(datasets, "case")
        rejects = store.read_table(release, "rejects")
        outcome.articles = len(store.read_table(release, "articles"))
        outcome.errors = int((rejects["severity"] == "error").sum())
        outcome.warnings = int((rejects["severity"] == "warning").sum())
        outcome.reasons = [
            f"{r.input_file}{'' if pd.isna(r.input_line) else f':{r.input_line}'} ({r.severity}): {r.reason}"
            for r in rejects.itertuples()
        ]
    return outcome


def run_case(case: str, what: str, write: Callable[[Path], list[Path]], extra: list[str]) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="coder-bad-") as tmp:
        inputs = write(Path(tmp) / "in")
        datasets = Path(tmp) / "datasets"
        argv = ["--datasets", str(datasets), "build", *map(str, inputs), "--name", "case", *extra]
        started = time.perf_counter()
        code, err, peak = (_child if case in MEASURED else _in_process)(argv)
        outcome = _summarise(case, what, datasets, code, err, time.perf_counter() - started)
        outcome.peak_mb = round(peak, 1) if peak is not None else None
        return outcome


def _extra_cases(cases: ModuleType) -> dict[str, tuple[str, Callable[[Path], list[Path]], list[str]]]:
    """Cases that are not a kind of input file: flags, names, models and data files."""
    return {
        "strict": ("malformed JSONL lines with --strict", cases.bad_jsonl, ["--strict"]),
        "bad_name": ("release name '../escape'", cases.duplicates, ["--name", "../escape"]),
    }


def _env_cases(cases: ModuleType, tmp: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """Cases run with CODER_MODELS / CODER_DATA pointing at a spoiled copy."""
    import shutil

    from coder.config import Settings

    settings, out = Settings(), {}
    for kind in ("pickle", "untrusted_type", "flipped_byte"):
        models = tmp / f"models-{kind}"
        shutil.copytree(settings.model_dir, models / settings.model_name)
        (models / "gazetteer").symlink_to(settings.gazetteer_dir)
        cases._spoil_model(kind, models / settings.model_name, tmp / "pwned")
        what = f"model.skops: {kind}" + (
            " (model.json checksum fixed to match)" if kind != "flipped_byte" else ""
        )
        out[f"model_{kind}"] = (what, {"CODER_MODELS": str(models)})
    data = tmp / "data"
    shutil.copytree(settings.data_dir, data, ignore=shutil.ignore_patterns("*.txt", "corpora", "training"))
    rules = data / "rules" / "event_rules.jsonl"
    lines = rules.read_text(encoding="utf-8").splitlines()
    rules.write_text("\n".join([*lines[:2], '{"id": "broken.v1", ', *lines[2:]]) + "\n", encoding="utf-8")
    out["rules_line"] = ("event_rules.jsonl with a broken line 3", {"CODER_DATA": str(data)})
    return out


def collect(only: set[str] | None) -> list[Outcome]:
    cases = _cases()
    table: dict[str, tuple[str, Callable[[Path], list[Path]], list[str]]] = {
        name: (what, write, []) for name, (what, write) in cases.CASES.items()
    }
    table |= _extra_cases(cases)
    results = [run_case(name, *spec) for name, spec in table.items() if not only or name in only]
    with tempfile.TemporaryDirectory(prefix="coder-bad-env-") as tmp:
        for name, (what, env) in _env_cases(cases, Path(tmp)).items():
            if only and name not in only:
                continue
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                results.append(run_case(name, what, cases.duplicates, []))
            finally:
                for key, value in saved.items():
                    os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return results


def to_markdown(results: list[Outcome]) -> str:
    head = [
        "# Bad inputs: what each gets",
        "",
        "Generated by `python scripts/bad_inputs_report.py` (do not edit by hand): each case is a real",
        "`coder build` in a fresh folder; fixtures come from `CASES` in tests/test_bad_inputs.py.",
        "Exit codes: 0 built (rejects listed), 2 input/config/model/data-file error, 4 release error,",
        "6 `--strict` refusal.",
        "Times are wall seconds on a shared 2-core machine, model loading included; peak memory is",
        "measured (peak RSS of a child process) for the 50 MB cases and utf16, a one-article baseline.",
        "",
        "| case | input | exit | articles | rejects (error/warning) | seconds | peak MB |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [
        f"| {r.case} | {r.what} | {r.exit_code} | {'' if r.articles is None else r.articles} | "
        f"{'' if r.errors is None else f'{r.errors}/{r.warnings}'} | {r.seconds} | {r.peak_mb or ''} |"
        for r in results
    ]
    details = ["", "## Messages and reasons", ""]
    for r in results:
        details.append(f"- **{r.case}** — {r.message or 'no message'}")
        details += [f"  - {reason}" for reason in r.reasons[:12]]
    return "\n".join(head + rows + details) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bad_inputs.md")
    parser.add_argument("--only", help="comma-separated case names")
    args = parser.parse_args()
    results = collect(set(args.only.split(",")) if args.only else None)
    args.out.write_text(to_markdown(results), encoding="utf-8")
    print(json.dumps({r.case: r.exit_code for r in results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
