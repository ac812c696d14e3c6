"""coder.ingest: the seeds, every kind of bad input, boilerplate rules, streaming and determinism."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coder import ingest
from coder.config import PROJECT_ROOT, Settings
from coder.errors import DataFileError, InputError
from coder.records import Article, Reject

SEEDS = PROJECT_ROOT / "seeds"
TODAY = date(2026, 1, 1)
RULES = ingest.load_boilerplate_rules(PROJECT_ROOT / "seeds" / "rules" / "boilerplate.json")


def run(*paths: Path, max_chars: int | None = None) -> list[Article | Reject]:
    config = Settings().with_overrides(max_article_chars=max_chars)
    return list(ingest.iter_articles(list(paths), config, today=TODAY, rules=RULES))


def articles(items: list[Article | Reject]) -> list[Article]:
    return [i for i in items if isinstance(i, Article)]


def rejects(items: list[Article | Reject]) -> list[Reject]:
    return [i for i in items if isinstance(i, Reject)]


def only_article(items: list[Article | Reject]) -> Article:
    found = articles(items)
    assert len(found) == 1, rejects(items)
    return found[0]


def labelled(article: Article, label: str) -> list[str]:
    return [article.text[s.start : s.end] for s in article.boilerplate if s.label == label]


@pytest.fixture(scope="module")
def seeds() -> dict[str, Article]:
    items = run(SEEDS)
    assert rejects(items) == []
    return {a.article_id[:3]: a for a in articles(items)}


# ---------------------------------------------------------------- the demo seeds


def test_all_five_seeds_ingest_with_manifest_metadata(seeds: dict[str, Article]) -> None:
    assert sorted(seeds) == ["000", "001", "002", "003", "004"]
    assert seeds["004"].title == "US on Iraq: 'Their fight'"
    assert seeds["002"].source == "South China Morning Post"
    assert all(a.published_from == "manifest" for a in seeds.values())
    assert seeds["003"].published == date(2013, 12, 27)
    assert seeds["000"].input_file == "seeds/000_7c761fcc0eb39f2a.txt"
    assert len(seeds["000"].input_sha256) == 64


def test_seed_boilerplate_kinds(seeds: dict[str, Article]) -> None:
    dw, csm, wsws = seeds["004"], seeds["001"], seeds["003"]
    assert labelled(dw, "navigation") == [
        "1. Skip to content",
        "2. Skip to main menu",
        "3. Skip to more DW sites",
    ]
    assert labelled(dw, "caption") == ["Irak Falludscha 4.1.2014"]
    assert labelled(dw, "image_credit") == ["Image: Reuters"]
    assert labelled(dw, "sign_off") == ["bk/msh (AP, Reuters)"]
    assert labelled(dw, "dateline") == ["January 5, 2014"]
    assert "Get unlimited Monitor journalism." in labelled(csm, "paywall")
    assert any("free articles" in line for line in labelled(csm, "paywall"))
    assert labelled(wsws, "byline") == ["Bill Van Auken"]
    assert labelled(wsws, "link") == ["**[wws.org/contact](http://wws.org/contact)**"]
    assert labelled(wsws, "sign_off")[0].startswith("To contact the WWS")
    assert labelled(seeds["000"], "heading") == ["‘Substantial Base’", "‘Spilled Over’", "‘Keeping Eye’",
                                                 "Fallujah Fighting"]  # fmt: skip


def test_prose_is_never_marked_in_seeds(seeds: dict[str, Article]) -> None:
    for article in seeds.values():
        for span in article.boilerplate:
            assert len(article.text[span.start : span.end]) < 120, article.text[span.start : span.end]
    broken = "This “threat,” however, is one of Washington’s own"
    assert broken not in "".join(labelled(seeds["003"], "heading"))


def test_without_manifest_titles_and_datelines_come_from_text(tmp_path: Path) -> None:
    folder = tmp_path / "seeds"
    folder.mkdir()
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, folder / seed.name)
    found = {a.article_id[:3]: a for a in articles(run(folder))}
    scmp = found["002"]
    assert scmp.published == date(2014, 1, 3)
    assert scmp.published_from == "dateline"
    assert scmp.dateline_text == "PUBLISHED : Friday, 03 January, 2014, 8:37pm"
    assert found["004"].published == date(2014, 1, 5)
    assert found["003"].title == "US prepares strikes against Islamists in Iraq"
    assert found["004"].title == "US on Iraq: 'Their fight'"
    assert found["000"].published_from == "none" and found["000"].published is None


# ---------------------------------------------------------------- input paths


def test_missing_and_unsupported_inputs_raise(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        run(tmp_path / "nope")
    odd = tmp_path / "data.pdf"
    odd.write_bytes(b"%PDF")
    with pytest.raises(InputError, match="unsupported"):
        run(odd)


def test_input_file_is_relative_and_paths_may_have_spaces_and_unicode(tmp_path: Path) -> None:
    folder = tmp_path / "my news ü"
    folder.mkdir()
    (folder / "Bagdad é 1.txt").write_text("Title\n\nA bomb exploded.", encoding="utf-8")
    article = only_article(run(folder))
    assert article.input_file == "my news ü/Bagdad é 1.txt"
    assert article.article_id == "Bagdad é 1"
    single = only_article(run(folder / "Bagdad é 1.txt"))
    assert single.input_file == "Bagdad é 1.txt"


def test_directory_is_streamed_one_file_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in range(1200):
        (tmp_path / f"{k:05d}.txt").write_text(f"Title {k}\n\nGunmen attacked village {k}.", encoding="utf-8")
    reads: list[Path] = []
    original = Path.read_bytes

    def counting_read(self: Path) -> bytes:
        reads.append(self)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting_read)
    stream = ingest.iter_articles([tmp_path], Settings(), today=TODAY, rules=RULES)
    first = next(stream)
    assert isinstance(first, Article) and first.article_id == "00000"
    assert len(reads) == 1
    assert sum(1 for _ in stream) == 1199


# ---------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"  \n\t\r\n  ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("Новости: боевики атаковали город.".encode("cp1251"), "encoding"),
        (b"\xff\xfeA\x00\x00\xd8", "byte-order mark"),
    ],
    ids=["empty", "whitespace", "binary", "cyrillic-cp1251", "broken-utf16"],
)
def test_unusable_files_are_rejected_and_the_rest_flows(tmp_path: Path, raw: bytes, reason: str) -> None:
    (tmp_path / "a_bad.txt").write_bytes(raw)
    (tmp_path / "b_good.txt").write_text("Title\n\nA bomb exploded.", encoding="utf-8")
    items = run(tmp_path)
    (reject,) = rejects(items)
    assert reject.stage == "ingest" and reject.table == "articles" and reject.severity == "error"
    assert reject.input_file == f"{tmp_path.name}/a_bad.txt"
    assert reason in reject.reason or (reason == "encoding" and "UTF-8" in reject.reason)
    assert [a.article_id for a in articles(items)] == ["b_good"]


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        ("Title\n\nGunmen killed 3 — “police” said.".encode(), "utf-8"),
        ("Title\n\nGunmen killed 3 — “police” said.".encode("utf-8-sig"), "utf-8-sig"),
        ("Title\n\nGunmen killed 3 — “police” said.".encode("utf-16"), "utf-16"),
        ("Title\n\nGunmen killed 3 in Düsseldorf, “police” said.".encode("cp1252"), "cp1252"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-bom", "cp1252"],
)
def test_encodings_are_decoded_and_recorded(tmp_path: Path, raw: bytes, encoding: str) -> None:
    (tmp_path / "a.txt").write_bytes(raw)
    article = only_article(run(tmp_path))
    assert article.encoding == encoding
    assert "“police” said." in article.text and not article.text.startswith("\ufeff")


def test_html_is_stripped_to_text(tmp_path: Path) -> None:
    page = (
        "<!DOCTYPE html><html><head><title>Blast in Kabul</title><style>p{color:red}</style></head>"
        "<body><nav>Home</nav><script>var x = 'Gunmen';</script><h1>Blast in Kabul</h1>"
        "<p>A car bomb exploded in Kabul on Monday, killing&nbsp;five.</p><p>Police said &amp; confirmed.</p>"
        "</body></html>"
    )
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    (tmp_path / "looks_plain.txt").write_text(page.replace("Kabul", "Herat"), encoding="utf-8")
    first, second = articles(run(tmp_path))
    for article in (first, second):
        assert "var x" not in article.text and "color:red" not in article.text
        assert "<p>" not in article.text
        assert article.text.count("\n\n") >= 2
    assert "A car bomb exploded in Kabul on Monday, killing five." in second.text
    assert second.title == "Blast in Kabul"
    assert labelled(second, "title") == ["Blast in Kabul"]


def test_too_long_article_is_rejected_with_advice(tmp_path: Path) -> None:
    (tmp_path / "huge.txt").write_text("word " * 5000, encoding="utf-8")
    (reject,) = rejects(run(tmp_path, max_chars=1000))
    assert "split it" in reject.reason


def test_manifest_row_for_missing_file_and_file_without_row(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text(
        "file,source,published,title,url\nlisted.txt,AP,2014-01-02,Listed,http://x\nghost.txt,AP,2014-01-02,G,\n",
        encoding="utf-8",
    )
    (tmp_path / "listed.txt").write_text("Listed\n\nA bomb exploded.", encoding="utf-8")
    (tmp_path / "unlisted.txt").write_text("Unlisted\n\nTroops clashed.", encoding="utf-8")
    items = run(tmp_path)
    (reject,) = rejects(items)
    assert reject.input_file == f"{tmp_path.name}/manifest.csv" and reject.input_line == 3
    assert "ghost.txt" in reject.reason
    listed, unlisted = articles(items)
    assert (listed.source, listed.url, listed.published) == ("AP", "http://x", date(2014, 1, 2))
    assert (unlisted.source, unlisted.published_from, unlisted.title) == (None, "none", "Unlisted")


# ---------------------------------------------------------------- JSONL and CSV records


def write_jsonl(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def record(rid: object, text: object, **more: object) -> str:
    return json.dumps({"id": rid, "text": text, **more})


def test_jsonl_records_and_their_rejects(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl",
        record("r1", "Gunmen attacked a checkpoint.", title="T", published="2014-01-05", source="AP"),
        '{"id": "r2", "text": "unterminated',
        record("r1", "Another text entirely."),
        record("r3", "gunmen   attacked a CHECKPOINT."),
        record("bad/id", "Troops clashed."),
        record("r4", 17),
        "[1, 2]",
        "",
        record(7, "Numeric ids are fine."),
    )
    items = run(path)
    got = {a.article_id: a for a in articles(items)}
    assert sorted(got) == ["7", "r1"]
    assert got["r1"].published_from == "record" and got["r1"].input_line == 1
    assert got["r1"].input_file == "in.jsonl"
    reasons = {r.input_line: r.reason for r in rejects(items)}
    assert "malformed JSON" in reasons[2]
    assert reasons[3].startswith("duplicate id of in.jsonl:1")
    assert reasons[4].startswith("duplicate text of in.jsonl:1")
    assert "not safe" in reasons[5]
    assert "'text'" in reasons[6]
    assert "JSON object" in reasons[7]


def test_bad_or_future_published_is_a_warning_and_dateline_applies(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl",
        record("a", "Headline\nJanuary 5, 2014\n\nA bomb exploded.", published="05/01/2014"),
        record("b", "Troops clashed near Mosul.", published="2999-01-01"),
        record("c", "Published: 3 March 2031\n\nRebels shelled the town."),
    )
    items = run(path)
    warnings = rejects(items)
    assert [w.severity for w in warnings] == ["warning"] * 3
    assert [w.column for w in warnings] == ["published"] * 3
    a, b, c = articles(items)
    assert (a.published, a.published_from, a.dateline_text) == (
        date(2014, 1, 5),
        "dateline",
        "January 5, 2014",
    )
    assert (b.published, b.published_from) == (None, "none")
    assert "after today" in warnings[1].reason
    assert (c.published, c.published_from) == (None, "none")


def test_csv_records_with_malformed_rows(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        'id,text,published\n'
        'c1,"Gunmen attacked,\nthen fled.",2014-01-05\n'
        'c2,"stray "quote" here",2014-01-05\n'
        'c3,too,many,fields\n'
        '\n'
        'c4,Troops clashed.,\n',
        encoding="utf-8",
    )  # fmt: skip
    items = run(path)
    assert [a.article_id for a in articles(items)] == ["c1", "c4"]
    first = articles(items)[0]
    assert first.text == "Gunmen attacked,\nthen fled." and first.input_line == 2
    assert articles(items)[1].input_line == 7
    reasons = {r.input_line or 0: r.reason for r in rejects(items)}
    assert sorted(reasons) == [4, 5]
    assert "malformed CSV" in reasons[4] and "4 fields" in reasons[5]


def test_csv_without_required_columns_raises(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("name,body\nx,y\n", encoding="utf-8")
    with pytest.raises(InputError, match="id, text"):
        run(path)


def test_output_is_deterministic() -> None:
    assert run(SEEDS) == run(SEEDS)


# ---------------------------------------------------------------- boilerplate rules beyond the seeds


def test_common_boilerplate_beyond_the_seeds() -> None:
    text = "\n".join(
        [
            "Home > World > Middle East",
            "Share this article",
            "Advertisement",
            "BAGHDAD, Jan 5 (Reuters) - Gunmen killed three soldiers at a checkpoint.",
            "Read more: Why Anbar matters",
            "Follow us on Twitter",
            "By Jane Doe and Ahmed Rasheed",
            "REUTERS/Thaier al-Sudani",
            "Reporting by Ahmed Rasheed; Editing by Tom Brown",
            "© 2014 Thomson Reuters. All rights reserved.",
        ]
    )
    spans, title = RULES.find(text, "Some other headline", infer_title=False)
    got = [(s.label, text[s.start : s.end]) for s in spans]
    assert got == [
        ("navigation", "Home > World > Middle East"),
        ("navigation", "Share this article"),
        ("navigation", "Advertisement"),
        ("dateline", "BAGHDAD, Jan 5 (Reuters) -"),
        ("navigation", "Read more: Why Anbar matters"),
        ("navigation", "Follow us on Twitter"),
        ("byline", "By Jane Doe and Ahmed Rasheed"),
        ("image_credit", "REUTERS/Thaier al-Sudani"),
        ("sign_off", "Reporting by Ahmed Rasheed; Editing by Tom Brown"),
        ("copyright", "© 2014 Thomson Reuters. All rights reserved."),
    ]
    assert title == "Some other headline"


def test_prose_that_resembles_boilerplate_is_kept() -> None:
    text = (
        "Title line\n\nBy the end of the day, troops had retaken the town.\n\n"
        "ISIL — the group behind the attack — said it would fight on.\n\n"
        "Email messages seen by Reuters show the army asked for drones."
    )
    spans, _ = RULES.find(text, None, infer_title=True)
    assert [(s.label, text[s.start : s.end]) for s in spans] == [("title", "Title line")]


def test_rules_file_is_validated(tmp_path: Path) -> None:
    data = json.loads((SEEDS / "rules" / "boilerplate.json").read_text(encoding="utf-8"))
    del data["line_rules"][0]["why"]
    bad = tmp_path / "boilerplate.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataFileError, match="why"):
        ingest.load_boilerplate_rules(bad)
    data["line_rules"][0]["why"] = "a reason long enough"
    data["line_rules"][0]["pattern"] = "(unclosed"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataFileError, match="bad pattern"):
        ingest.load_boilerplate_rules(bad)


def test_default_rules_load_from_settings(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Title\n\nA bomb exploded.", encoding="utf-8")
    items = list(ingest.iter_articles([tmp_path], Settings(), today=TODAY))
    assert only_article(items).title == "Title"


def test_long_single_line_is_handled_quickly(tmp_path: Path) -> None:
    (tmp_path / "line.txt").write_text(
        "BAGHDAD (Reuters) - " + "Gunmen fired at troops " * 30_000, encoding="utf-8"
    )
    (tmp_path / "huge.txt").write_bytes(b"x" * 5_000_000)
    items = run(tmp_path)
    assert len(articles(items)) == 1 and "split it" in rejects(items)[0].reason


# ---------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_random_bytes_never_raise(tmp_path: Path, raw: bytes) -> None:
    folder = tmp_path / "random"
    folder.mkdir(exist_ok=True)
    (folder / "r.txt").write_bytes(raw)
    (folder / "r.jsonl").write_bytes(raw)
    (folder / "r.csv").write_bytes(b"id,text\n" + raw)
    for path in (folder, folder / "r.jsonl", folder / "r.csv"):
        for item in run(path):
            assert isinstance(item, Article | Reject)
            if isinstance(item, Article):
                for span in item.boilerplate:
                    assert 0 <= span.start < span.end <= len(item.text)


def test_txt_first_line_is_the_title_line_even_when_the_manifest_title_differs(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text("file,source,published,title,url\na.txt,,,Manifest title,\n")
    (tmp_path / "a.txt").write_text("Headline as printed\n\nA bomb exploded.", encoding="utf-8")
    article = only_article(run(tmp_path))
    assert article.title == "Manifest title"
    assert labelled(article, "title") == ["Headline as printed"]
    assert (article.source, article.url, article.published_from) == (None, None, "none")


def test_oversized_jsonl_line_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "big.jsonl"
    with path.open("wb") as handle:
        handle.write(b'{"id": "big", "text": "' + b"x" * (20 * 1024 * 1024) + b'"}\n')
        handle.write(
            json.dumps({"id": "after", "text": "Troops shelled the town on Monday."}).encode() + b"\n"
        )
    tracemalloc.start()
    items = run(path, max_chars=1000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # a 20 MB line never sits in memory whole
    (big,) = rejects(items)
    assert big.input_line == 1 and "20971546 bytes" in big.reason and "max_article_chars" in big.reason
    assert only_article(items).article_id == "after"


def test_malformed_json_message_names_the_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": }\n', encoding="utf-8")
    (bad,) = rejects(run(path))
    assert bad.input_line == 1 and bad.reason.startswith("malformed JSON (Expecting value, column 21)")


def test_rules_file_that_is_not_utf8_is_a_data_file_error(tmp_path: Path) -> None:
    path = tmp_path / "boilerplate.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(DataFileError, match="not valid UTF-8"):
        ingest.load_boilerplate_rules(path)


def test_csv_field_over_the_limit_is_rejected_and_the_next_row_coded(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text(
        'id,text\nbig,"' + "x" * 5_000_000 + '"\nafter,"Troops shelled the town."\n', encoding="utf-8"
    )
    items = run(path)
    (big,) = rejects(items)
    assert big.input_line == 2 and ("max_article_chars" in big.reason or "over-long field" in big.reason)
    assert only_article(items).article_id == "after"
