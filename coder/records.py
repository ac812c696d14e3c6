"""Typed records that cross stage boundaries.

Every stage takes and returns these frozen dataclasses, never loose dicts, so a
stage can be tested alone and a row can always say where it came from.
Standard library only: this module is a leaf that every other module imports.

Character offsets are always offsets into ``Article.text`` as read (after
decoding, before any other transformation), half-open: ``text[start:end]``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

EVENT_TYPES: tuple[str, ...] = (
    "armed_clash",
    "airstrike",
    "bombing",
    "arms_transfer",
    "statement",
    "none",
)

# How a statement of an event is framed. Only "asserted" events become rows of
# events.parquet; the others stay visible on sentences.parquet. "background" is an
# event told as history or context ("strongholds for militants battling US troops"),
# not as news of the reporting period.
MODALITIES: tuple[str, ...] = ("asserted", "planned", "threatened", "negated", "hypothetical", "background")


def stable_id(*parts: object, length: int = 16) -> str:
    """A short id that is a hash of canonical JSON of its defining fields."""
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class Span:
    """A half-open character range of an article's text with a label."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Article:
    """One input article, decoded, with where it came from.

    ``published_from`` says how ``published`` was found: "manifest", "record"
    (a field of a JSONL/CSV record), "dateline" (read from the text) or "none".
    ``boilerplate`` marks navigation, paywall, image-credit, byline, sign-off,
    title and dateline lines that are kept in the text but never coded.
    """

    article_id: str
    text: str
    title: str | None
    published: date | None
    published_from: str
    source: str | None
    url: str | None
    input_file: str
    input_line: int | None
    input_sha256: str
    encoding: str = "utf-8"
    boilerplate: tuple[Span, ...] = ()
    dateline_text: str | None = None


@dataclass(frozen=True)
class Reject:
    """Something that could not be coded or failed validation, with the reason.

    ``stage`` is where it was stopped ("ingest", "segment", "validate", ...);
    ``table`` the release table it would have belonged to. ``severity`` is
    "error" when the thing was not coded, "warning" when it was coded with a
    caveat (e.g. an unparseable publication date that was ignored).
    """

    stage: str
    table: str
    reason: str
    input_file: str | None = None
    input_line: int | None = None
    article_id: str | None = None
    row_key: str | None = None
    expectation: str | None = None
    column: str | None = None
    value: str | None = None
    severity: str = "error"


@dataclass(frozen=True)
class Sentence:
    """A sentence of an article with exact offsets: ``article.text[start_char:end_char] == text``."""

    sentence_id: str
    article_id: str
    index: int
    start_char: int
    end_char: int
    text: str
    boilerplate: str | None = None  # the boilerplate label when the sentence is not coded


@dataclass(frozen=True)
class RuleMatch:
    """A rule pattern that fired on a sentence (see seeds/rules/)."""

    rule_id: str
    event_type: str
    sub_event_type: str | None
    trigger_start: int  # article offsets of the trigger token(s)
    trigger_end: int
    precision: float  # the rule's measured or declared precision, used as confidence


@dataclass(frozen=True)
class Classification:
    """The event type decided for one sentence, and why."""

    sentence_id: str
    event_type: str
    sub_event_type: str | None
    confidence: float
    coded_by: str  # a rule id ("rule:bombing.car_bomb.v1") or model version ("model:sgd-2026-11-21")
    modality: str = "asserted"
    trigger_start: int | None = None
    trigger_end: int | None = None
    model_scores: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Actor:
    """An actor of an event: its text in the article and its normalised form."""

    text: str
    name: str  # canonical name from the actor dictionary, or the text when unknown
    iso3: str | None
    inter: str | None  # ACLED inter category name, e.g. "State forces"
    inter_code: int | None  # ACLED inter code 1-8
    start_char: int | None
    end_char: int | None
    matched_by: str  # "dictionary:<entry id>", "text", "coreference", ...


@dataclass(frozen=True)
class Place:
    """A resolved location with ACLED geo precision (1 exact, 2 near/part of, 3 province)."""

    location: str
    admin1: str | None
    country: str | None
    iso3: str | None
    latitude: float | None
    longitude: float | None
    geo_precision: int
    geo_reason: str  # "named in sentence", "near named place", "inherited from article", ...
    place_text: str | None = None
    start_char: int | None = None
    end_char: int | None = None
    gazetteer_id: str | None = None


@dataclass(frozen=True)
class EventDate:
    """The date an event happened, ACLED time precision (1 day, 2 week, 3 month), and its evidence."""

    event_date: date
    time_precision: int
    date_text: str | None
    date_reason: str  # "explicit date", "relative to publication", "publication date", ...


@dataclass(frozen=True)
class Casualties:
    """Killed and wounded by ACLED rules (lowest figure, "dozens" = 12, none stated = 0)."""

    fatalities: int
    injuries: int
    fatalities_text: str | None = None
    injuries_text: str | None = None


@dataclass(frozen=True)
class Event:
    """One coded event: the row of events.parquet before it is flattened."""

    event_id: str
    article_id: str
    sentence_id: str
    start_char: int
    end_char: int
    classification: Classification
    actor1: Actor | None
    actor2: Actor | None
    assoc_actor1: Actor | None
    place: Place | None
    when: EventDate | None
    casualties: Casualties
    source: str | None
    notes: str


@dataclass(frozen=True)
class EventActors:
    """The actors of one event: who acted, who was acted upon, who fought alongside actor1."""

    actor1: Actor | None = None
    actor2: Actor | None = None
    assoc_actor1: Actor | None = None
