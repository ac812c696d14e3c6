"""The command line: a thin skin over the library.

Each command parses its options, calls one library function and turns the
library's named exceptions into a one-line message and an exit code. A
traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from coder.config import Settings
from coder.errors import CoderError, InputError, ReleaseError

INTERNAL_ERROR = 70
IO_ERROR = 74  # sysexits EX_IOERR: the disk or a permission, not the coder

Handler = Callable[[argparse.Namespace, Settings], int]


def _release_path(ref: str, settings: Settings) -> Path:
    """A release given as a folder, or as NAME / NAME@VERSION under the datasets folder."""
    from coder import store

    path = Path(ref)
    if path.is_dir():
        return path
    name, _, version = ref.partition("@")
    return store.resolve_release(settings.datasets_dir, name, version or "latest")


def _check_build_args(args: argparse.Namespace, settings: Settings) -> None:
    """The cheap checks, before the slow model loading: a bad name or a typo fails in a second."""
    from coder import store

    store.check_name(args.name)
    if settings.datasets_dir.exists() and not settings.datasets_dir.is_dir():
        raise ReleaseError("the datasets folder is not a folder; give another --datasets",
                           path=str(settings.datasets_dir))  # fmt: skip
    for raw in args.inputs:
        if not Path(raw).exists():
            raise InputError("input not found; check the path", path=raw)


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from coder import build

    _check_build_args(args, settings)
    outcome = build.build_release(
        [Path(p) for p in args.inputs],
        args.name,
        settings,
        engine=args.engine,
        scheduler=args.scheduler,
        workers=args.workers,
        strict=args.strict,
    )
    counts = ", ".join(f"{n} {t}" for t, n in outcome.counts.items())
    print(f"wrote {outcome.release.path} ({counts})")
    if outcome.counts.get("rejects"):
        print(
            f"coder: warning: {outcome.counts['rejects']} reject(s) with reasons in "
            f"{outcome.release.path / 'rejects.parquet'} (--strict makes rejected inputs an error)",
            file=sys.stderr,
        )
    return 0


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from coder import validate

    report = validate.validate_release(_release_path(args.release, settings), settings.schemas_dir)
    print(report.to_text())
    return 0 if report.success else 3


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from coder import store

    report = store.verify_release(_release_path(args.release, settings))
    print(report.to_text())
    return 0 if report.ok else 5


def cmd_versions(args: argparse.Namespace, settings: Settings) -> int:
    from coder import store

    for info in store.list_versions(settings.datasets_dir, args.name):
        print(info.to_text())
    return 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from coder import pipeline

    report = pipeline.evaluate_gold(Path(args.gold), settings)
    print(json.dumps(report.to_json(), indent=2, sort_keys=True) if args.json else report.to_text())
    return 0


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from coder.classify import train

    if args.heldout_gold:
        n = train.write_heldout_gold(Path(args.corpora), Path(args.heldout_gold), seed=args.seed)
        print(f"wrote {n} held-out gold sentences to {args.heldout_gold} (never commit it)")
        return 0
    out = Path(args.out) if args.out else settings.model_dir
    result = train.train_model(Path(args.corpora), out, seed=args.seed, data_dir=settings.data_dir)
    print(f"trained {result.version} -> {out}")
    print(result.heldout.to_text(max_errors=0))
    return 0


def cmd_diff(args: argparse.Namespace, settings: Settings) -> int:
    from coder import diff

    result = diff.diff_releases(_release_path(args.a, settings), _release_path(args.b, settings))
    print(json.dumps(result.to_dict(), indent=2, sort_keys=True) if args.json else result.to_text())
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from coder import report

    release = _release_path(args.release, settings)
    out = report.write_report(release, Path(args.out) if args.out else release / "report.html")
    print(f"wrote {out}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coder", description="Code news articles into validated, versioned event datasets."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    parser.add_argument("--datasets", help="datasets folder (default: ./datasets or $CODER_DATASETS)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("build", help="code articles and write a new validated release")
    p.add_argument("inputs", nargs="+", help="folders of .txt (+ manifest.csv), .jsonl or .csv files")
    p.add_argument("--name", default="dataset", help="dataset name (default: dataset)")
    p.add_argument("--strict", action="store_true", help="exit non-zero if any input is rejected")
    p.add_argument("--engine", choices=("local", "dask"), default="local", help="execution engine")
    p.add_argument("--scheduler", help="dask scheduler address (default: a LocalCluster)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster workers for --engine dask")
    p.set_defaults(handler=cmd_build)

    p = sub.add_parser("validate", help="re-validate a release against schemas/ and print a report")
    p.add_argument("release", help="release folder, or NAME[@VERSION]")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("verify", help="check a release's files against its manifest checksums")
    p.add_argument("release", help="release folder, or NAME[@VERSION]")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("versions", help="list the releases of a dataset")
    p.add_argument("name", help="dataset name")
    p.set_defaults(handler=cmd_versions)

    p = sub.add_parser("evaluate", help="score the coder on a gold JSONL file of labelled sentences")
    p.add_argument("gold", help='JSONL with {"id", "text", "event_type", ...}')
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("train", help="retrain the event-type model from the labelled corpora")
    p.add_argument("--corpora", required=True, help="path to the shared corpora folder")
    p.add_argument("--out", help="model folder (default: models/<model name>)")
    p.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    p.add_argument("--heldout-gold", help="instead of training, export the held-out split as gold JSONL here")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("diff", help="events added, removed and changed between two releases")
    p.add_argument("a", help="older release folder, or NAME[@VERSION]")
    p.add_argument("b", help="newer release folder, or NAME[@VERSION]")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_diff)

    p = sub.add_parser("report", help="write a self-contained HTML report of a release")
    p.add_argument("release", help="release folder, or NAME[@VERSION]")
    p.add_argument("--out", help="output HTML file (default: <release>/report.html)")
    p.set_defaults(handler=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        settings = Settings.from_env()
        if args.datasets:
            settings = settings.with_overrides(datasets_dir=Path(args.datasets).resolve())
        return handler(args, settings)
    except CoderError as exc:
        _traceback_if(args.debug)
        print(f"coder: error: {exc.describe()}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        _traceback_if(args.debug)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"coder: error: {where}{exc.strerror or exc}; check the path, its permissions and free space",
              file=sys.stderr)  # fmt: skip
        return IO_ERROR
    except KeyboardInterrupt:
        print("coder: interrupted; no release was written", file=sys.stderr)
        return 130
    except Exception as exc:
        _traceback_if(args.debug)
        print(
            f"coder: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            file=sys.stderr,
        )
        return INTERNAL_ERROR


def _traceback_if(debug: bool) -> None:
    if debug:
        traceback.print_exc()


if __name__ == "__main__":
    sys.exit(main())
