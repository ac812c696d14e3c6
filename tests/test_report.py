"""The HTML report: content and escaping in Python, rendering in headless Chromium (skips without it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from coder.errors import ReleaseError
from coder.report import Backdrop, GeoNamesBackdrop, NoBackdrop, render_report, write_report

HOSTILE = 'Gunmen attacked <img id="pwned" src=x onerror="alert(1)"> a checkpoint & fled </script>.'


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_id": event_id,
        "event_date": date(2014, 1, 2),
        "event_type": "airstrike",
        "actor1": "Iraqi Air Force",
        "actor2": "ISIL",
        "assoc_actor1": None,
        "location": "Ramadi",
        "latitude": 33.4258,
        "longitude": 43.2992,
        "fatalities": 0,
        "confidence": 0.9,
        "coded_by": "rule:airstrike.v1",
        "notes": f"Sentence of {event_id}.",
        "sentence_id": f"s-{event_id}",
    }
    return row | fields


@pytest.fixture()
def release(tmp_path: Path) -> Path:
    folder = tmp_path / "datasets" / "demo" / "2026-11-21.1"
    folder.mkdir(parents=True)
    events = [
        event("a"),
        event("b", event_type="armed_clash", location="Fallujah", latitude=33.35, longitude=43.78),
        event("c", event_type="bombing", notes=HOSTILE, event_date=date(2014, 1, 4), actor2=None),
        event("d", latitude=None, longitude=None, location=None, event_date=None),
    ]
    pd.DataFrame(events).to_parquet(folder / "events.parquet")
    rejects = [{"stage": "ingest", "severity": "error", "reason": "empty <file>"}] * 2
    pd.DataFrame(rejects).to_parquet(folder / "rejects.parquet")
    table = {"schema_version": "1.0.0", "rows": 4, "success": True, "expectations": 9, "failing_rows": 0}
    manifest = {
        "name": "demo",
        "version": "2026-11-21.1",
        "versions": {"model": "model:sgd-2026"},
        "validation": {"success": True, "tables": {"events": table | {"failed": []}}},
        "tables": {t: {"file": f"{t}.parquet"} for t in ("events", "rejects")},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_report_has_every_section_and_counts(release: Path) -> None:
    page = render_report(release, NoBackdrop())
    for heading in ("Events by type", "Events by date", "Map of event locations", "Top actors",
                    "Validation and rejects", "Events and their source sentences"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in page
    assert "<h1>demo 2026-11-21.1</h1>" in page
    assert "<td>Iraqi Air Force</td><td>4</td>" in page  # actor table counts every role
    assert "2 reject(s)" in page and "empty &lt;file&gt;" in page
    assert "1 event(s) without coordinates" in page
    assert "Ramadi (2)" in page and "Fallujah (1)" in page
    assert "<p>Validation passed.</p>" in page and "versions.model" in page


def test_sentences_from_the_web_are_escaped(release: Path) -> None:
    page = render_report(release, NoBackdrop())
    assert '<img id="pwned"' not in page
    assert "&lt;img id=&quot;pwned&quot;" in page
    assert page.count("</script>") == 1  # only the report's own script closes


def test_report_is_self_contained(release: Path) -> None:
    page = render_report(release, NoBackdrop())
    assert not re.search(r"(src|href)=\"?(https?:)?//", page)
    assert "@import" not in page and "url(" not in page


def test_backdrop_dots_and_country_names_are_drawn(release: Path) -> None:
    fake = Backdrop(dots=((43.0, 33.0), (44.0, 33.5)), labels=((43.5, 33.2, "Iraq <IQ>"),))

    class Fake:
        def backdrop(self, west: float, south: float, east: float, north: float) -> Backdrop:
            assert west < 43.2992 < east and south < 33.4258 < north
            return fake

    page = render_report(release, Fake())
    assert page.count('r="1.3"') == 2
    assert 'class="country">Iraq &lt;IQ&gt;</text>' in page


def test_geonames_backdrop_finds_towns_and_countries_offline() -> None:
    backdrop = GeoNamesBackdrop(min_population=500_000).backdrop(42.0, 32.0, 46.0, 35.0)
    names = {label[2] for label in backdrop.labels}
    assert "Iraq" in names
    assert backdrop.dots  # Baghdad at least
    assert all(42.0 <= lon <= 46.0 and 32.0 <= lat <= 35.0 for lon, lat in backdrop.dots)


def test_report_is_deterministic(release: Path, tmp_path: Path) -> None:
    first = write_report(release, tmp_path / "one.html", NoBackdrop()).read_bytes()
    second = write_report(release, tmp_path / "two.html", NoBackdrop()).read_bytes()
    assert first == second


def test_long_event_tables_are_capped_but_counts_are_not(
    release: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("coder.report.MAX_TABLE_ROWS", 2)
    page = render_report(release, NoBackdrop())
    assert "The first 2 of 4 events." in page
    assert page.count('<tr data-type="') == 2
    assert "<b>4</b> events" in page


def test_missing_release_is_a_release_error(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="not found"):
        write_report(tmp_path / "nope", tmp_path / "r.html")


def test_empty_release_still_renders(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    page = render_report(folder, NoBackdrop())
    assert "No events." in page and "No event has coordinates." in page and "No manifest.json." in page


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def _run_chromium(binary: str, profile: Path, *args: str) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]  # fmt: skip
    done = subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_report_renders_in_headless_chromium(release: Path, tmp_path: Path) -> None:
    binary = _chromium()
    html = write_report(release, tmp_path / "report.html", NoBackdrop())
    dom = _run_chromium(binary, tmp_path / "profile", "--dump-dom", html.as_uri())
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None and 'data-report-ready="1"' in body.group(0)  # the script ran to its end
    assert "data-report-error" not in body.group(0)
    assert "4 of 4 events shown" in dom
    assert "<img" not in dom and '&lt;img id="pwned"' in dom  # shown as text, never parsed as markup
    shot = tmp_path / "report.png"
    _run_chromium(
        binary, tmp_path / "profile2", "--window-size=1000,900", f"--screenshot={shot}", html.as_uri()
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tables_are_read_through_the_manifest(release: Path) -> None:
    """A table the manifest does not list is not a table of the release; a damaged one is an error."""
    pd.DataFrame([event("stray")]).to_parquet(release / "sentences.parquet")
    assert "<b>0</b> sentences" in render_report(release, NoBackdrop())
    (release / "events.parquet").write_bytes(b"not parquet")
    with pytest.raises(ReleaseError, match="events cannot be read"):
        render_report(release, NoBackdrop())
