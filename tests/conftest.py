"""Shared fixtures. Corpus tests skip when ../shared/corpora is absent (CI has it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coder.config import PROJECT_ROOT, Settings

SEEDS_DIR = PROJECT_ROOT / "seeds"


def _corpora_dir() -> Path:
    configured = os.environ.get("CODER_CORPORA")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "corpora"


@pytest.fixture(scope="session")
def corpora() -> Path:
    path = _corpora_dir()
    if not path.is_dir():
        pytest.skip(f"shared corpora not found at {path}")
    return path


@pytest.fixture(scope="session")
def fake_corpora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Invented files in the shared corpora's layout (tests/data/invented_corpora.json), written out once."""
    import json

    spec = json.loads((Path(__file__).parent / "data" / "invented_corpora.json").read_text(encoding="utf-8"))
    root = tmp_path_factory.mktemp("fake_corpora")
    for relative, text in spec["files"].items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    """Default settings with releases written under a temporary folder."""
    return Settings().with_overrides(datasets_dir=tmp_path / "datasets")


@pytest.fixture(scope="session")
def nlp_full():  # type: ignore[no-untyped-def]
    """The real spaCy pipeline, loaded once for the whole session."""
    from coder.nlp import load_pipeline

    return load_pipeline(Settings())


@pytest.fixture()
def blank_nlp():  # type: ignore[no-untyped-def]
    import spacy

    return spacy.blank("en")
