"""store.py: deterministic, atomic, locked, verifiable releases."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coder import store
from coder.config import Settings
from coder.errors import IntegrityError, ReleaseError, ReleaseExists, ReleaseLocked
from coder.validate import TableSchema, load_schema

SCHEMAS = Settings().schemas_dir


def article(i: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "article_id": f"a{i}", "title": None if i % 2 else f"Title {i}",
        "published": dt.date(2014, 1, 1 + i % 28) if i % 3 else None, "published_from": "manifest",
        "dateline_text": None, "source": "Reuters", "url": None, "input_file": f"{i}.txt",
        "input_line": i if i % 2 else None, "input_sha256": "0" * 64, "encoding": "utf-8", "n_chars": 10 * i,
        "n_sentences": i, "n_events": 0, "text": f"Text {i} — ünïcode",
    }  # fmt: skip
    return row | changes


def sample_tables(n: int = 5) -> dict[str, pd.DataFrame]:
    return {"articles": pd.DataFrame([article(i) for i in range(n)]), "rejects": pd.DataFrame()}


def test_round_trip_keeps_rows_types_and_order(tmp_path: Path) -> None:
    tables = sample_tables()
    release = store.write_release(tmp_path, "demo", tables, {"coder_version": "0.1.0"})
    back = store.read_table(release.path, "articles")
    assert list(back.columns) == load_schema(SCHEMAS, "articles").names
    assert back["article_id"].tolist() == [f"a{i}" for i in range(5)]
    assert str(back["input_line"].dtype) == "Int64"  # stays int although it has nulls
    assert back["published"].tolist() == tables["articles"]["published"].tolist()
    assert len(store.read_table(release.path, "rejects")) == 0
    assert release.manifest["coder_version"] == "0.1.0"
    assert release.manifest["tables"]["articles"]["rows"] == 5


def test_same_tables_give_identical_bytes(tmp_path: Path) -> None:
    first = store.write_release(tmp_path / "one", "demo", sample_tables(), {"x": 1})
    second = store.write_release(tmp_path / "two", "demo", sample_tables(), {"x": 1})
    for name in ("articles.parquet", "rejects.parquet", "manifest.json"):
        assert (first.path / name).read_bytes() == (second.path / name).read_bytes(), name
    metadata = pq.read_metadata(first.path / "articles.parquet").metadata
    assert set(metadata) == {b"ARROW:schema", b"coder.table", b"coder.schema_version"}  # no pandas, no time


def test_versions_are_sequential_and_latest_follows(tmp_path: Path) -> None:
    for _ in range(3):
        store.write_release(tmp_path, "demo", sample_tables(), {})
    infos = store.list_versions(tmp_path, "demo")
    assert [i.version for i in infos] == ["v1", "v2", "v3"]
    assert [i.latest for i in infos] == [False, False, True]
    assert store.resolve_release(tmp_path, "demo") == tmp_path / "demo" / "v3"
    assert store.resolve_release(tmp_path, "demo", "v1") == tmp_path / "demo" / "v1"
    assert store.resolve_release(tmp_path, "demo", None) == tmp_path / "demo" / "v3"
    with pytest.raises(ReleaseError, match="invalid version"):
        store.resolve_release(tmp_path, "demo", 3)  # type: ignore[arg-type]
    with pytest.raises(ReleaseExists):
        store.write_release(tmp_path, "demo", sample_tables(), {}, version="v2")
    with pytest.raises(ReleaseError):
        store.resolve_release(tmp_path, "demo", "v9")


def test_read_dataset_by_name(tmp_path: Path) -> None:
    store.write_release(tmp_path, "demo", sample_tables(3), {})
    store.write_release(tmp_path, "demo", sample_tables(4), {})
    assert len(store.read_dataset("demo", table="articles", datasets_dir=tmp_path)) == 4
    assert len(store.read_dataset("demo", "v1", table="articles", datasets_dir=tmp_path)) == 3
    with pytest.raises(ReleaseError):
        store.read_dataset("demo", table="events", datasets_dir=tmp_path)
    with pytest.raises(ReleaseError, match="no release"):
        store.read_dataset("other", datasets_dir=tmp_path)


@pytest.mark.parametrize(("target", "error"), [("_publish", KeyboardInterrupt), ("os.rename", ReleaseError)])
def test_crash_before_rename_leaves_no_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, error: type[BaseException]
) -> None:
    def crash(*_: Any) -> None:
        raise KeyboardInterrupt if target == "_publish" else OSError("disk pulled")

    monkeypatch.setattr(store.os if target == "os.rename" else store, target.removeprefix("os."), crash)
    with pytest.raises(error):
        store.write_release(tmp_path, "demo", sample_tables(), {})
    monkeypatch.undo()
    dataset = tmp_path / "demo"
    assert sorted(p.name for p in dataset.iterdir()) == [".lock"]
    assert store.write_release(tmp_path, "demo", sample_tables(), {}).version == "v1"


def test_stale_temp_dirs_of_a_killed_build_are_cleaned(tmp_path: Path) -> None:
    stale = tmp_path / "demo" / ".tmp-killed"
    stale.mkdir(parents=True)
    (stale / "articles.parquet").write_bytes(b"half")
    store.write_release(tmp_path, "demo", sample_tables(), {})
    assert not stale.exists()
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [".lock", "LATEST", "v1"]


def test_second_writer_waits_then_gives_up(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "demo" / ".lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(ReleaseLocked):
            store.write_release(tmp_path, "demo", sample_tables(), {}, lock_wait_s=0.3)
    finally:
        holder.kill()
        holder.wait()
    assert store.write_release(tmp_path, "demo", sample_tables(), {}).version == "v1"


HOLD_LOCK = """
import fcntl, sys, time
handle = open(sys.argv[1], "a+b")
fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


def test_concurrent_builds_do_not_interleave(tmp_path: Path) -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def build(n: int) -> None:
        try:
            results.append(store.write_release(tmp_path, "demo", sample_tables(n), {"n": n}).version)
        except BaseException as exc:  # collected: a thread cannot fail the test by raising
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(n,)) for n in (2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results) == ["v1", "v2", "v3"]
    for info in store.list_versions(tmp_path, "demo"):
        manifest = store.read_manifest(info.path)
        assert info.rows["articles"] == manifest["n"]  # each release holds its own build's tables
        assert store.verify_release(info.path).ok


@pytest.mark.parametrize("name", ["../x", "a/b", "/abs", ".hidden", "", "x" * 65, "a\\b", "a b"])
def test_names_cannot_escape_datasets_dir(tmp_path: Path, name: str) -> None:
    datasets = tmp_path / "datasets"
    with pytest.raises(ReleaseError):
        store.write_release(datasets, name, sample_tables(), {})
    assert not datasets.exists()
    with pytest.raises(ReleaseError):
        store.resolve_release(datasets, name)


def test_bad_tables_are_refused(tmp_path: Path) -> None:
    frame = pd.DataFrame([article(1)])
    for bad in (
        {"articles": frame.drop(columns=["text"])},
        {"articles": frame.assign(extra=1)},
        {"articles": frame.assign(n_chars=[1.5])},
        {"articles": frame.assign(article_id=[None])},
        {"../articles": frame},
    ):
        with pytest.raises(ReleaseError):
            store.write_release(tmp_path, "demo", bad, {})
    with pytest.raises(ReleaseError, match="set by the store"):
        store.write_release(tmp_path, "demo", {"articles": frame}, {"version": "mine"})
    assert store.list_versions(tmp_path, "demo") == []


@pytest.fixture()
def release(tmp_path: Path) -> Path:
    return store.write_release(tmp_path, "demo", sample_tables(50), {}).path


def test_verify_accepts_an_untouched_release(release: Path) -> None:
    assert store.verify_release(release).ok


def test_verify_detects_a_flipped_byte(release: Path) -> None:
    path = release / "articles.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    report = store.verify_release(release)
    assert not report.ok and "altered" in report.problems[0]
    with pytest.raises(IntegrityError):
        report.raise_if_failed()


def test_verify_detects_truncation_missing_and_extra_files(release: Path) -> None:
    path = release / "articles.parquet"
    path.write_bytes(path.read_bytes()[:-10])
    (release / "rejects.parquet").unlink()
    (release / "notes.txt").write_text("x", encoding="utf-8")
    problems = " | ".join(store.verify_release(release).problems)
    assert "truncated" in problems and "missing file rejects.parquet" in problems and "notes.txt" in problems


def test_verify_reports_a_missing_manifest(release: Path) -> None:
    (release / "manifest.json").unlink()
    assert not store.verify_release(release).ok


def _values(schema: TableSchema) -> st.SearchStrategy[dict[str, Any]]:
    kinds = {
        "string": st.text(st.characters(codec="utf-8"), max_size=8),
        "int": st.integers(-(2**63), 2**63 - 1),
        "float": st.floats(allow_nan=False),
        "date": st.dates(),
        "bool": st.booleans(),
    }
    return st.fixed_dictionaries(
        {c.name: st.one_of(st.none(), kinds[c.type]) if c.nullable else kinds[c.type] for c in schema.columns}
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), table=st.sampled_from(["articles", "sentences", "rejects", "clusters"]))
def test_hypothesis_round_trip(data: st.DataObject, table: str) -> None:
    schema = load_schema(SCHEMAS, table)
    rows = data.draw(st.lists(_values(schema), max_size=6))
    # Object columns: pandas would turn an int column with a None into float64, exact only to 2**53.
    frame = pd.DataFrame({c: pd.Series([row[c] for row in rows], dtype=object) for c in schema.names})
    with tempfile.TemporaryDirectory() as tmp:
        release = store.write_release(Path(tmp), "rt", {table: frame}, {})
        back = store.read_table(release.path, table)
    assert back.columns.tolist() == schema.names
    for col in schema.columns:
        got = [None if pd.isna(v) else v for v in back[col.name].tolist()]
        assert got == [row[col.name] for row in rows], col.name


def test_verify_detects_an_edited_manifest(release: Path) -> None:
    manifest = release / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"demo"', '"dem0"', 1), encoding="utf-8")
    report = store.verify_release(release)
    assert not report.ok and "manifest edited" in report.to_text()


def test_manifest_cannot_point_outside_its_release(release: Path, tmp_path: Path) -> None:
    import json

    outside = tmp_path / "secret.parquet"
    outside.write_bytes(b"not yours")
    manifest = release / "manifest.json"
    body = json.loads(manifest.read_text(encoding="utf-8"))
    body["tables"]["articles"]["file"] = "../../../secret.parquet"
    manifest.write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(IntegrityError, match=r"no plain \.parquet file"):
        store.read_table(release, "articles")
    assert not store.verify_release(release).ok


def test_leftovers_of_a_killed_write_are_cleaned_by_the_next(tmp_path: Path) -> None:
    dataset = tmp_path / "demo"
    first = store.write_release(tmp_path, "demo", sample_tables(), {})
    (dataset / ".tmp-abc").mkdir()
    (dataset / ".tmp-abc" / "articles.parquet").write_bytes(b"half")
    (dataset / ".tmp-LATEST").write_text("v9", encoding="utf-8")  # killed between write and rename
    assert [i.version for i in store.list_versions(tmp_path, "demo")] == ["v1"]
    assert store.resolve_release(tmp_path, "demo") == first.path
    second = store.write_release(tmp_path, "demo", sample_tables(), {})
    assert second.version == "v2" and list(dataset.glob(".tmp-*")) == []


def test_reports_read_as_text(release: Path, tmp_path: Path) -> None:
    assert store.verify_release(release).to_text().endswith("ok (every file matches the manifest)")
    (info,) = store.list_versions(release.parent.parent, "demo")
    assert info.to_text() == "demo v1 (latest): 50 articles, 0 rejects"


def test_streamed_tables_give_the_same_bytes_however_they_were_chunked(tmp_path: Path) -> None:
    rows = pd.DataFrame([article(i) for i in range(2_500)])  # three article row groups (1,000 a group)
    with store.open_release(tmp_path / "one", "demo") as writer:
        writer.append("articles", rows)
        whole = writer.commit({"rejects": pd.DataFrame()}, {"x": 1})
    with store.open_release(tmp_path / "two", "demo") as writer:
        for start in range(0, 2_500, 333):
            writer.append("articles", rows.iloc[start : start + 333])
        chunked = writer.commit({"rejects": pd.DataFrame()}, {"x": 1})
    assert (whole.path / "articles.parquet").read_bytes() == (chunked.path / "articles.parquet").read_bytes()
    assert pq.read_metadata(chunked.path / "articles.parquet").num_row_groups == 3
    assert chunked.manifest["tables"]["articles"]["rows"] == 2_500
    assert store.verify_release(chunked.path).ok


def test_an_exception_inside_open_release_leaves_no_release_and_frees_the_lock(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), store.open_release(tmp_path, "demo", lock_wait_s=0.1) as writer:
        writer.append("articles", sample_tables()["articles"])
        raise RuntimeError("coding failed")
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == [".lock"]
    assert store.write_release(tmp_path, "demo", sample_tables(), {}, lock_wait_s=0.1).version == "v1"


def test_commit_applies_a_column_update_to_a_streamed_table(tmp_path: Path) -> None:
    with store.open_release(tmp_path, "demo") as writer:
        writer.append("articles", pd.DataFrame([article(i, n_events=2) for i in range(1_200)]))
        update = store.ColumnUpdate("article_id", "n_events", {"a3": 1, "a1100": 0})
        release = writer.commit({}, {}, {"articles": update})
    back = store.read_table(release.path, "articles").set_index("article_id")["n_events"]
    assert (back["a3"], back["a1100"], back["a4"]) == (1, 0, 2)
    assert pq.read_metadata(release.path / "articles.parquet").num_row_groups == 2
    assert store.verify_release(release.path).ok


def test_appending_after_commit_is_refused(tmp_path: Path) -> None:
    writer = store.open_release(tmp_path, "demo")
    writer.commit(sample_tables(), {})
    with pytest.raises(ReleaseError, match="already committed"):
        writer.append("articles", sample_tables()["articles"])
