"""Bad inputs through `coder build` (issue 5): every article is coded or rejected with a reason,
errors name the file and line and say what to do, and no traceback reaches the user.

The fixtures are generated here (``CASES``); ``scripts/bad_inputs_report.py`` runs the same cases one
build each and writes docs/bad_inputs.md. The tests put every reject-level case into ONE build (the
model loading is the cost) and check each file's outcome in its rejects table.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import pickle
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from coder import cli, store
from coder.config import Settings

ARTICLE = "Rebels attacked an army base in Goma on Monday, killing three soldiers, officials said."
BIG_BYTES = 50 * 1024 * 1024
Writer = Callable[[Path], list[Path]]


def _text(folder: Path, name: str, data: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _article(n: int) -> str:
    return f"Report {n}: gunmen attacked a police post in Kano on Friday, killing {n + 2} people."


def _big_line(folder: Path, name: str, prefix: bytes = b"", suffix: bytes = b"") -> Path:
    path = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:  # written in blocks: the test itself must not hold 50 MB twice
        handle.write(prefix)
        block = b"word " * 200_000
        for _ in range(BIG_BYTES // len(block)):
            handle.write(block)
        handle.write(suffix)
    return path


def empty(f: Path) -> list[Path]:
    return [_text(f, "empty.txt", b"")]


def whitespace(f: Path) -> list[Path]:
    return [_text(f, "blank.txt", " \n\t \r\n  \u00a0\n")]


def binary(f: Path) -> list[Path]:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
    return [_text(f, "image.txt", png)]


def latin1(f: Path) -> list[Path]:
    return [_text(f, "latin1.txt", f"São Tomé: {ARTICLE} Le général a parlé.".encode("latin-1"))]


def cp1252(f: Path) -> list[Path]:
    return [_text(f, "cp1252.txt", f"\u201c{ARTICLE}\u201d \u2013 said Mr O\u2019Neil.".encode("cp1252"))]


def utf16(f: Path) -> list[Path]:
    return [_text(f, "utf16.txt", codecs.BOM_UTF16_LE + _article(16).encode("utf-16-le"))]


def html(f: Path) -> list[Path]:
    page = (
        "<!DOCTYPE html><html><head><title>Clash in Goma</title><script>var x = '<p>no</p>';</script>"
        f"</head><body><nav>Home | World</nav><p>{ARTICLE}</p><p>&copy; 2024 News Corp</p></body></html>"
    )
    return [_text(f, "page.html", page), _text(f, "page-as-text.txt", page.replace("Goma", "Bunia"))]


def huge_file(f: Path) -> list[Path]:
    return [_big_line(f, "one-line.txt")]


def huge_jsonl(f: Path) -> list[Path]:
    path = _big_line(f, "huge.jsonl", b'{"id": "big", "text": "', b'"}\n')
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "small", "text": _article(3)}) + "\n")
    return [path]


def bad_jsonl(f: Path) -> list[Path]:
    lines = [
        json.dumps({"id": "ok-1", "text": _article(1)}),
        '{"id": "broken", "text": "unterminated',
        "[1, 2, 3]",
        json.dumps({"id": "no-text"}),
        json.dumps({"text": "no id here"}),
        json.dumps({"id": "../../etc/passwd", "text": _article(5)}),
        json.dumps({"id": "num-date", "text": _article(6), "published": 20240101}),
        "",
        json.dumps({"id": "ok-2", "text": _article(2)}),
    ]
    path = _text(f, "records.jsonl", "\n".join(lines) + "\n")
    with path.open("ab") as handle:
        handle.write(b'{"id": "latin", "text": "caf\xe9"}\n')
    return [path]


def bad_csv(f: Path) -> list[Path]:
    rows = [
        "id,text,published",
        f'c1,"{_article(11)}",2024-02-01',
        "c2,too,many,fields,here",
        f'c3,"{_article(13)}",2024-02-03',
        'c4,"an unclosed quote,2024-02-04',
    ]
    return [_text(f, "rows.csv", "\n".join(rows) + "\n")]


def huge_csv(f: Path) -> list[Path]:
    path = _big_line(f, "huge.csv", b'id,text\nbig,"', b'"\n')
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f'after,"{_article(4)}"\n')
    return [path]


def csv_without_text(f: Path) -> list[Path]:
    return [_text(f, "no-text.csv", "id,body\n1,hello\n")]


def duplicates(f: Path) -> list[Path]:
    lines = [
        json.dumps({"id": "dup", "text": _article(21)}),
        json.dumps({"id": "dup", "text": _article(22)}),
        json.dumps({"id": "copy", "text": _article(21).upper()}),
    ]
    return [_text(f, "dups.jsonl", "\n".join(lines) + "\n")]


def bad_dates(f: Path) -> list[Path]:
    lines = [
        json.dumps({"id": "d-garbage", "text": _article(31), "published": "last Tuesday-ish"}),
        json.dumps({"id": "d-future", "text": _article(32), "published": "2999-01-01"}),
        json.dumps({"id": "d-feb30", "text": _article(33), "published": "2024-02-30"}),
    ]
    return [_text(f, "dates.jsonl", "\n".join(lines) + "\n")]


def manifest_missing_files(f: Path) -> list[Path]:
    folder = f / "manifested"
    _text(folder, "present.txt", _article(41))
    _text(
        folder,
        "manifest.csv",
        "file,source,published\npresent.txt,AFP,2024-03-01\nghost.txt,AFP,2024-03-02\n",
    )
    return [folder]


def odd_paths(f: Path) -> list[Path]:
    folder = f / "my news ñ 新闻"
    _text(folder, "report one é.txt", _article(51))
    _text(folder, "Ünïcödé 記事.txt", _article(52))
    return [folder]


def many_files(f: Path, n: int = 2000) -> list[Path]:
    folder = f / "many"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"note-{i:05d}.txt").write_text(
            f"Note {i}: the council met on budget item {i}.", encoding="utf-8"
        )
    return [folder]


def unsupported(f: Path) -> list[Path]:
    return [_text(f, "report.pdf", b"%PDF-1.4\n")]


def missing(f: Path) -> list[Path]:
    return [f / "does not exist"]


# name -> (what the input is, how to write it). Reject-level cases first; whole-input errors after.
CASES: dict[str, tuple[str, Writer]] = {
    "empty": ("empty .txt file", empty),
    "whitespace": ("whitespace-only .txt (spaces, tabs, CRLF, NBSP)", whitespace),
    "binary": ("binary file named .txt (PNG bytes, NULs)", binary),
    "latin1": ("Latin-1 encoded .txt", latin1),
    "cp1252": ("cp1252 encoded .txt (curly quotes, en dash)", cp1252),
    "utf16": ("UTF-16 LE with BOM", utf16),
    "html": ("HTML page (.html) and HTML saved as .txt", html),
    "huge_file": ("50 MB single-line .txt", huge_file),
    "huge_jsonl": ("50 MB single JSONL line, then a normal record", huge_jsonl),
    "bad_jsonl": (
        "JSONL: broken JSON, array, no text, no id, unsafe id, numeric date, latin-1 line",
        bad_jsonl,
    ),
    "bad_csv": ("CSV: row with extra fields, unclosed quote", bad_csv),
    "huge_csv": ("CSV with a 50 MB text field, then a normal row", huge_csv),
    "duplicates": ("duplicate id; same text in different case", duplicates),
    "bad_dates": ("published date unparseable, in the future, 30 February", bad_dates),
    "manifest_missing": ("manifest.csv naming a file that is not there", manifest_missing_files),
    "odd_paths": ("folder and file names with spaces and unicode", odd_paths),
    "many_files": ("a folder of 2,000 tiny files", many_files),
    "csv_without_text": ("CSV whose header lacks the text column", csv_without_text),
    "unsupported": ("a .pdf input", unsupported),
    "missing": ("an input path that does not exist", missing),
}
# Cases that write record files or their own folder; the others write single files into one shared folder.
OWN_FILES = ("bad_jsonl", "bad_csv", "huge_jsonl", "duplicates", "bad_dates", "manifest_missing", "odd_paths")
REJECT_LEVEL = [
    name
    for name in CASES
    if name not in ("csv_without_text", "unsupported", "missing", "many_files", "huge_csv")
]


def build(inputs: list[Path], datasets: Path, *extra: str, name: str = "bad") -> tuple[int, str, str]:
    """`coder build` in this process (the CLI's own main), returning exit code, stdout and stderr."""
    from contextlib import redirect_stderr, redirect_stdout
    from io import StringIO

    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(["--datasets", str(datasets), "build", *map(str, inputs), "--name", name, *extra])
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------- one build of every reject-level case


@pytest.fixture(scope="module")
def combined(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("bad inputs")
    folder = root / "folder"
    inputs: list[Path] = []
    for name in REJECT_LEVEL:
        written = CASES[name][1](root if name in OWN_FILES else folder)
        inputs += [p for p in written if p.parent != folder]
    inputs.insert(0, folder)
    started = time.perf_counter()
    code, out, err = build(inputs, root / "datasets")
    seconds = time.perf_counter() - started
    release = store.resolve_release(root / "datasets", "bad") if code == 0 else None
    return {"code": code, "out": out, "err": err, "release": release, "seconds": seconds, "inputs": inputs}


def _table(combined: dict[str, object], table: str) -> pd.DataFrame:
    assert combined["code"] == 0, combined["err"]
    release = combined["release"]
    assert isinstance(release, Path)
    return store.read_table(release, table)


def _reason(rejects: pd.DataFrame, file_suffix: str, line: int | None = None) -> str:
    rows = rejects[rejects["input_file"].str.endswith(file_suffix) & (rejects["severity"] == "error")]
    if line is not None:
        rows = rows[rows["input_line"] == line]
    assert len(rows) == 1, f"{file_suffix}:{line}: {rows.to_dict('records')}"
    return str(rows.iloc[0]["reason"])


def test_build_with_every_bad_input_succeeds_and_warns(combined: dict[str, object]) -> None:
    assert combined["code"] == 0, combined["err"]
    assert "Traceback" not in str(combined["err"])
    assert "rejects.parquet" in str(combined["err"])  # the user is told where the reasons are


def test_each_bad_file_gets_its_reason(combined: dict[str, object]) -> None:
    rejects = _table(combined, "rejects")
    assert "empty" in _reason(rejects, "folder/empty.txt")
    assert "whitespace" in _reason(rejects, "folder/blank.txt")
    assert "binary" in _reason(rejects, "folder/image.txt")
    assert "max_article_chars" in _reason(rejects, "folder/one-line.txt")
    assert "max_article_chars" in _reason(rejects, "huge.jsonl", 1)
    assert "manifest names 'ghost.txt'" in _reason(rejects, "manifested/manifest.csv", 3)


def test_malformed_records_are_rejected_by_line_and_the_rest_coded(combined: dict[str, object]) -> None:
    rejects = _table(combined, "rejects")
    articles = set(_table(combined, "articles")["article_id"])
    assert {"ok-1", "ok-2", "c1", "c3", "small"} <= articles
    assert "malformed JSON" in _reason(rejects, "records.jsonl", 2)
    assert "not a JSON object" in _reason(rejects, "records.jsonl", 3)
    assert "no 'text'" in _reason(rejects, "records.jsonl", 4)
    assert "no 'id'" in _reason(rejects, "records.jsonl", 5)
    assert "not safe" in _reason(rejects, "records.jsonl", 6)
    assert "must be a string" in _reason(rejects, "records.jsonl", 7)
    assert "UTF-8" in _reason(rejects, "records.jsonl", 10)
    assert "fields" in _reason(rejects, "rows.csv", 3)
    assert "rows.csv" in str(rejects["input_file"].tolist())  # the unclosed quote is rejected, not lost
    assert "c4" not in articles


def test_encodings_and_html_are_coded_with_their_encoding(combined: dict[str, object]) -> None:
    articles = _table(combined, "articles").set_index("article_id")
    assert articles.loc["latin1", "encoding"] in ("latin-1", "cp1252")
    assert "São Tomé" in articles.loc["latin1", "text"]
    assert articles.loc["cp1252", "encoding"] == "cp1252"
    assert "\u201c" in articles.loc["cp1252", "text"]
    assert articles.loc["utf16", "encoding"] == "utf-16"
    for html_id in ("page", "page-as-text"):
        text = articles.loc[html_id, "text"]
        assert "<p>" not in text and "var x" not in text and "attacked" in text


def test_duplicates_and_dates(combined: dict[str, object]) -> None:
    rejects = _table(combined, "rejects")
    articles = _table(combined, "articles").set_index("article_id")
    assert "duplicate id" in _reason(rejects, "dups.jsonl", 2)
    assert "duplicate text" in _reason(rejects, "dups.jsonl", 3)
    warnings = rejects[rejects["severity"] == "warning"].set_index("article_id")
    for article_id in ("d-garbage", "d-future", "d-feb30"):
        assert article_id in articles.index  # a bad date is a warning: the article is still coded
        assert pd.isna(articles.loc[article_id, "published"])
        assert "published" in warnings.loc[article_id, "reason"]
    assert "after today" in warnings.loc["d-future", "reason"]


def test_unicode_paths_are_coded(combined: dict[str, object]) -> None:
    files = set(_table(combined, "articles")["input_file"])
    assert "my news ñ 新闻/report one é.txt" in files
    assert "my news ñ 新闻/Ünïcödé 記事.txt" in files


def test_every_input_record_is_accounted_for(combined: dict[str, object]) -> None:
    articles = _table(combined, "articles")
    rejects = _table(combined, "rejects")
    errors = rejects[(rejects["severity"] == "error") & ~rejects["input_file"].str.endswith("manifest.csv")]
    records = {
        "folder": 9,  # empty, blank, image, latin1, cp1252, utf16, page.html, page-as-text, one-line
        "huge.jsonl": 2, "records.jsonl": 9, "rows.csv": 4, "dups.jsonl": 3, "dates.jsonl": 3,
        "manifested": 1, "odd paths": 2,
    }  # fmt: skip
    assert len(articles) + len(errors) == sum(records.values())
    # A rejected id is never also coded, except a duplicate id, whose first record was coded.
    coded_and_rejected = set(articles["article_id"]) & set(errors["article_id"].dropna())
    assert coded_and_rejected == {"dup"}


def test_manifest_counts_the_rejects(combined: dict[str, object]) -> None:
    release = combined["release"]
    assert isinstance(release, Path)
    manifest = store.read_manifest(release)
    assert manifest["tables"]["rejects"]["rows"] == len(_table(combined, "rejects"))
    assert manifest["rejects_by_stage"].get("ingest", 0) >= 15


def test_fifty_megabyte_line_is_refused_quickly(combined: dict[str, object]) -> None:
    # The whole combined build (model loading included) stays bounded; the 50 MB inputs are refused
    # from their size (the file) or in one read of the line (JSONL), never decoded and segmented.
    assert float(combined["seconds"]) < 240  # type: ignore[arg-type]


# ---------------------------------------------------------------- whole-input and early errors


@pytest.mark.parametrize(
    ("case", "code", "needle"),
    [("missing", 2, "input not found"), ("unsupported", 2, "unsupported input"),
     ("csv_without_text", 2, "no-text.csv:1: CSV header lacks column(s) text")],
)  # fmt: skip
def test_whole_input_errors_name_the_file(tmp_path: Path, case: str, code: int, needle: str) -> None:
    inputs = CASES[case][1](tmp_path)
    got, _, err = build(inputs, tmp_path / "datasets")
    assert got == code
    assert err.startswith("coder: error:") and needle in err
    assert "Traceback" not in err
    assert not list(tmp_path.glob("datasets/*/v*"))


@pytest.mark.parametrize("name", ["../escape", "/abs", ".hidden", "a/b", "x" * 65, "nul\x00", ""])
def test_release_name_is_checked_before_loading(tmp_path: Path, name: str) -> None:
    source = _text(tmp_path, "in.jsonl", json.dumps({"id": "a", "text": ARTICLE}) + "\n")
    started = time.perf_counter()
    code, _, err = build([source], tmp_path / "datasets", name=name)
    assert code == 4 and "invalid dataset name" in err
    assert time.perf_counter() - started < 5  # refused before the models load
    assert list(tmp_path.glob("**/*.parquet")) == []


def test_strict_turns_rejects_into_an_error(tmp_path: Path) -> None:
    inputs = bad_jsonl(tmp_path)
    code, _, err = build(inputs, tmp_path / "datasets", "--strict")
    assert code == 6
    assert "--strict" in err and "records.jsonl:2" in err and "malformed JSON" in err
    assert not list((tmp_path / "datasets").glob("*/v*"))


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    _, _, plain = build(missing(tmp_path), tmp_path / "datasets")
    _, _, debug = build(missing(tmp_path), tmp_path / "datasets", name="bad")
    assert "Traceback" not in plain
    from contextlib import redirect_stderr
    from io import StringIO

    err = StringIO()
    with redirect_stderr(err):
        cli.main(["--debug", "--datasets", str(tmp_path / "ds"), "build", str(tmp_path / "nope")])
    assert "Traceback" in err.getvalue() and "input not found" in err.getvalue()
    assert debug == plain


def test_datasets_path_that_is_a_file_is_refused_before_loading(tmp_path: Path) -> None:
    blocker = _text(tmp_path, "datasets", b"a file where the datasets folder should be")
    source = _text(tmp_path, "in.jsonl", json.dumps({"id": "a", "text": ARTICLE}) + "\n")
    started = time.perf_counter()
    code, _, err = build([source], blocker)
    assert code == 4 and str(blocker) in err and "not a folder" in err
    assert time.perf_counter() - started < 5


# ---------------------------------------------------------------- model and data files are untrusted input


class _Trap:
    """Unpickling this would create the marker file: the proof that a loader ran pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _untrusted_skops(path: Path) -> None:
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    path.write_bytes(sio.dumps(Pipeline([("f", FunctionTransformer(func=__import__("os").getcwd))])))


def _spoil_model(kind: str, model_dir: Path, marker: Path) -> None:
    path = model_dir / "model.skops"
    if kind == "flipped_byte":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        return  # the checksum in model.json no longer matches
    if kind == "pickle":
        path.write_bytes(pickle.dumps(_Trap(marker)))
    elif kind == "untrusted_type":
        _untrusted_skops(path)
    elif kind == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "foreign_schema":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("schema.json", "[]")  # a zip, valid JSON, not a skops schema
    # An attacker who can replace the model can also fix its checksum: the allow-list must still hold.
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    meta["model_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (model_dir / "model.json").write_text(json.dumps(meta), encoding="utf-8")


@pytest.mark.parametrize(
    ("kind", "needle"),
    [("flipped_byte", "checksum"), ("pickle", "corrupted"), ("untrusted_type", "do not trust"),
     ("truncated", "corrupted"),
     ("foreign_schema", "corrupted")],
)  # fmt: skip
def test_spoiled_model_is_a_clean_error_and_never_unpickled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, needle: str
) -> None:
    models = tmp_path / "models"
    shutil.copytree(Settings().model_dir, models / Settings().model_name)
    (models / "gazetteer").symlink_to(Settings().gazetteer_dir)
    marker = tmp_path / "pwned"
    _spoil_model(kind, models / Settings().model_name, marker)
    monkeypatch.setenv("CODER_MODELS", str(models))
    source = _text(tmp_path, "in.jsonl", json.dumps({"id": "a", "text": ARTICLE}) + "\n")
    code, _, err = build([source], tmp_path / "datasets")
    assert code == 2, err
    assert err.startswith("coder: error:") and "model.skops" in err and needle in err
    assert "Traceback" not in err
    assert not marker.exists()


@pytest.mark.parametrize(
    ("folder", "file", "line"),
    [("rules", "event_rules.jsonl", '{"id": "broken.v1", "event_type": '),
     ("rules", "event_rules.jsonl", '{"id": "x.v1", "event_type": "picnic", "patterns": []}'),
     ("actors", "actors.jsonl", '{"name": 12}'),
     ("actors", "actors.jsonl", "not json at all")],
)  # fmt: skip
def test_malformed_data_file_names_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str, file: str, line: str
) -> None:
    data = tmp_path / "data"
    shutil.copytree(Settings().data_dir, data, ignore=shutil.ignore_patterns("*.txt", "corpora", "training"))
    target = data / folder / file
    lines = target.read_text(encoding="utf-8").splitlines()
    lines.insert(2, line)  # the third line: not the first or last, where off-by-one bugs hide
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("CODER_DATA", str(data))
    source = _text(tmp_path, "in.jsonl", json.dumps({"id": "a", "text": ARTICLE}) + "\n")
    code, _, err = build([source], tmp_path / "datasets")
    assert code == 2, err
    assert err.startswith("coder: error:") and f"{file}:3:" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "file",
    ["rules/boilerplate.json", "rules/dates.json", "rules/abbreviations.json", "places/rules.json",
     "rules/event_rules.jsonl", "rules/policy.json", "actors/actors.jsonl"],
)  # fmt: skip
def test_data_file_that_is_not_utf8_is_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file: str
) -> None:
    data = tmp_path / "data"
    shutil.copytree(Settings().data_dir, data, ignore=shutil.ignore_patterns("*.txt", "corpora", "training"))
    (data / file).write_bytes(b"\xff\xfe\x00 not text")
    monkeypatch.setenv("CODER_DATA", str(data))
    source = _text(tmp_path, "in.jsonl", json.dumps({"id": "a", "text": ARTICLE}) + "\n")
    code, _, err = build([source], tmp_path / "datasets")
    assert code == 2, err
    assert err.startswith("coder: error:") and Path(file).name in err


# ---------------------------------------------------------------- releases: verify and concurrency


@pytest.fixture(scope="module")
def small_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small")
    source = _text(root, "in.jsonl", "".join(json.dumps({"id": f"s{i}", "text": _article(60 + i)}) + "\n"
                                             for i in range(3)))  # fmt: skip
    code, _, err = build([source], root / "datasets", name="small")
    assert code == 0, err
    return store.resolve_release(root / "datasets", "small")


def _verify(path: Path) -> tuple[int, str, str]:
    from contextlib import redirect_stderr, redirect_stdout
    from io import StringIO

    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(["verify", str(path)])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "add", "manifest", "none"])
def test_verify_cli_detects_tampering(small_release: Path, tmp_path: Path, damage: str) -> None:
    copy = tmp_path / "v1"
    shutil.copytree(small_release, copy)
    events = copy / "events.parquet"
    if damage == "flip":
        data = bytearray(events.read_bytes())
        data[len(data) // 2] ^= 0x01
        events.write_bytes(bytes(data))
    elif damage == "truncate":
        events.write_bytes(events.read_bytes()[:-7])
    elif damage == "delete":
        events.unlink()
    elif damage == "add":
        (copy / "extra.csv").write_text("a,b\n", encoding="utf-8")
    elif damage == "manifest":
        manifest = (copy / "manifest.json").read_text(encoding="utf-8")
        (copy / "manifest.json").write_text(manifest.replace('"coder_version": "', '"coder_version": "x'))
    code, out, err = _verify(copy)
    assert "Traceback" not in out + err
    if damage == "none":
        assert code == 0 and "ok" in out
    else:
        assert code == 5 and "problem" in out, out + err


@pytest.mark.slow
def test_two_concurrent_cli_builds_both_publish(tmp_path: Path) -> None:
    source = _text(tmp_path, "in.jsonl", json.dumps({"id": "a", "text": ARTICLE}) + "\n")
    command = [sys.executable, "-m", "coder.cli", "--datasets", str(tmp_path / "ds"), "build", str(source),
               "--name", "same"]  # fmt: skip
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]  # fmt: skip
    outputs = [child.communicate(timeout=600) for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    infos = store.list_versions(tmp_path / "ds", "same")
    assert [i.version for i in infos] == ["v1", "v2"]
    assert all(store.verify_release(i.path).ok for i in infos)


@pytest.mark.slow
def test_two_thousand_files_stream_through(tmp_path: Path) -> None:
    inputs = many_files(tmp_path)
    started = time.perf_counter()
    code, _, err = build(inputs, tmp_path / "datasets", name="many")
    assert code == 0, err
    assert time.perf_counter() - started < 300
    articles = store.read_table(store.resolve_release(tmp_path / "datasets", "many"), "articles")
    assert len(articles) == 2000
