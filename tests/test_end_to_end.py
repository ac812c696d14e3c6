"""End to end on the five seed articles: the release a researcher would sign off.

Each expectation is an analyst's reading of the seed text (issue 2), not a
figure copied from the coder's output.
"""

from __future__ import annotations

import datetime as dt
import filecmp
from pathlib import Path

import pandas as pd
import pytest

import coder
from coder import build, store, validate
from coder.config import PROJECT_ROOT, Settings

SEEDS_DIR = PROJECT_ROOT / "seeds"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> build.BuildOutcome:
    settings = Settings().with_overrides(datasets_dir=tmp_path_factory.mktemp("e2e") / "datasets")
    return build.build_release([SEEDS_DIR], "seeds", settings, today=dt.date(2026, 1, 1))


@pytest.fixture(scope="module")
def events(release: build.BuildOutcome) -> pd.DataFrame:
    return store.read_table(release.release.path, "events")


def _event_with(events: pd.DataFrame, needle: str) -> pd.Series:
    rows = events[events["notes"].str.contains(needle, regex=False)]
    assert len(rows) >= 1, f"no event row for sentence containing {needle!r}"
    return rows.iloc[0]


def test_every_seed_article_is_accounted_for(release: build.BuildOutcome) -> None:
    articles = store.read_table(release.release.path, "articles")
    rejects = store.read_table(release.release.path, "rejects")
    assert len(articles) == 5
    assert not (rejects["severity"] == "error").any() if len(rejects) else True


def test_sentences_have_exact_offsets(release: build.BuildOutcome) -> None:
    articles = store.read_table(release.release.path, "articles").set_index("article_id")
    sentences = store.read_table(release.release.path, "sentences")
    for row in sentences.itertuples():
        text = articles.loc[row.article_id, "text"]
        assert text[row.start_char : row.end_char] == row.text


def test_balad_ruz_truck_bomb(events: pd.DataFrame) -> None:
    row = _event_with(events, "pickup truck laden with explosives")
    assert row["event_type"] == "bombing"
    assert row["location"] == "Balad Ruz"
    assert "Diyala" in row["admin1"]
    assert row["event_date"] == dt.date(2014, 1, 2)
    assert row["fatalities"] == 19
    assert row["injuries"] == 37


def test_shaab_minibus_bomb(events: pd.DataFrame) -> None:
    row = _event_with(events, "public minibus exploded")
    assert row["event_type"] == "bombing"
    assert row["iso3"] == "IRQ"
    assert "Baghdad" in (row["location"] + " " + str(row["admin1"]))
    assert row["fatalities"] == 4


def test_ramadi_clash(events: pd.DataFrame) -> None:
    row = _event_with(events, "Tribesmen and security forces battled militants")
    assert row["event_type"] == "armed_clash"
    assert row["location"] == "Ramadi"
    assert "Anbar" in row["admin1"]
    assert row["event_date"] == dt.date(2014, 1, 3)
    assert "ISIL" in row["actor2"] or "Islamic State" in row["actor2"]
    actors1 = f"{row['actor1']} {row['assoc_actor1']}".lower()
    assert "forces" in actors1 or "tribes" in actors1


def test_hellfire_firing_is_an_airstrike(events: pd.DataFrame) -> None:
    assert _event_with(events, "firing Hellfire missiles at militant positions")["event_type"] == "airstrike"


def test_hellfire_shipment_is_an_arms_transfer(events: pd.DataFrame) -> None:
    row = _event_with(events, "A shipment of 75 Hellfire missiles arrived")
    assert row["event_type"] == "arms_transfer"


def test_kerry_statement(events: pd.DataFrame) -> None:
    row = _event_with(events, "This is their fight")
    assert row["event_type"] == "statement"
    # The speaker's own words are kept in actor1_text; actor1 is his normalised actor (his government).
    assert "Kerry" in f"{row['actor1_text']} {row['actor1']}"


def test_rows_are_explainable(events: pd.DataFrame) -> None:
    assert events["coded_by"].str.match(r"^(rule|model|rule\+model):").all()
    assert events["confidence"].between(0, 1).all()
    assert events["article_id"].notna().all()


def test_release_validates_and_verifies(release: build.BuildOutcome) -> None:
    report = validate.validate_release(release.release.path, Settings().schemas_dir)
    assert report.success, report.to_text()
    assert store.verify_release(release.release.path).ok


def test_read_dataset_returns_latest(release: build.BuildOutcome) -> None:
    datasets = release.release.path.parent.parent
    frame = coder.read_dataset("seeds", datasets_dir=datasets)
    assert len(frame) == release.counts["events"]


def test_rebuild_is_byte_identical(release: build.BuildOutcome, tmp_path: Path) -> None:
    settings = Settings().with_overrides(datasets_dir=tmp_path / "datasets")
    again = build.build_release([SEEDS_DIR], "seeds", settings, today=dt.date(2026, 1, 1))
    for table in ("articles", "sentences", "events", "rejects", "clusters"):
        first = release.release.path / f"{table}.parquet"
        second = again.release.path / f"{table}.parquet"
        assert filecmp.cmp(first, second, shallow=False), f"{table}.parquet differs between identical builds"
