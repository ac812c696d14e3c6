"""Toponyms -> places, offline, through a ``Gazetteer`` interface (the index: ``scripts/build_gazetteer.py``).

``names`` (matching keys and the English display-name policy) · ``rules`` (``seeds/places/rules.json``) ·
``index`` (the interface, ranking and the offline index) · ``context`` (the article's country and main
place) · ``resolve`` (the place of one sentence, with ACLED precision). Every rule is data under
``seeds/places/``.
"""

from coder.geo.context import ArticleContext, Mention, article_context, event_context, find_toponyms
from coder.geo.index import (
    CURATED_FILES,
    INDEX_FILES,
    Gazetteer,
    OfflineGazetteer,
    PlaceCandidate,
    inputs_digest,
    rank_candidates,
)
from coder.geo.names import key_hash, loose_key, normalise_name
from coder.geo.resolve import resolve_place
from coder.geo.rules import GeoRules

__all__ = [
    "CURATED_FILES",
    "INDEX_FILES",
    "ArticleContext",
    "Gazetteer",
    "GeoRules",
    "Mention",
    "OfflineGazetteer",
    "PlaceCandidate",
    "article_context",
    "event_context",
    "find_toponyms",
    "inputs_digest",
    "key_hash",
    "loose_key",
    "normalise_name",
    "rank_candidates",
    "resolve_place",
]
