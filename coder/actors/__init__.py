"""Actors of an event: who did what to whom, normalised through an actor dictionary that is data.

Two halves, as in spaCy's span_ruler: *finding* the actor phrases around the event trigger in the
dependency parse (``roles``: which heads are initiator, target and allies; ``parse``: the phrase of a
head), and *normalising* them (``extract_actors``) through ``ActorDictionary`` (aliases
from ``seeds/actors/``, validated against ``schemas/actors.schema.json``). Conventions (ACLED-style
names, inter codes, coordination, external forces) are documented in ``seeds/actors/README.md``.
"""

from __future__ import annotations

from coder.actors.dictionary import ActorDictionary, ActorEntry, Hit, normalise
from coder.actors.extract import attribution_speaker, extract_actors, find_trigger

__all__ = [
    "ActorDictionary",
    "ActorEntry",
    "Hit",
    "attribution_speaker",
    "extract_actors",
    "find_trigger",
    "normalise",
]
