"""Flatten typed records into the rows of the release tables.

Column names and types are declared in ``schemas/<table>.json`` (the single
source of truth); these functions only map records onto those names, and a
test checks that every row function produces exactly the schema's columns.
"""

from __future__ import annotations

from typing import Any

from coder.records import Actor, Article, Classification, Event, Reject, Sentence

Row = dict[str, Any]


def article_row(article: Article, n_sentences: int, n_events: int) -> Row:
    return {
        "article_id": article.article_id,
        "title": article.title,
        "published": article.published,
        "published_from": article.published_from,
        "dateline_text": article.dateline_text,
        "source": article.source,
        "url": article.url,
        "input_file": article.input_file,
        "input_line": article.input_line,
        "input_sha256": article.input_sha256,
        "encoding": article.encoding,
        "n_chars": len(article.text),
        "n_sentences": n_sentences,
        "n_events": n_events,
        "text": article.text,
    }


def sentence_row(sentence: Sentence, decision: Classification) -> Row:
    return {
        "sentence_id": sentence.sentence_id,
        "article_id": sentence.article_id,
        "sentence_index": sentence.index,
        "start_char": sentence.start_char,
        "end_char": sentence.end_char,
        "text": sentence.text,
        "boilerplate": sentence.boilerplate,
        "event_type": decision.event_type,
        "sub_event_type": decision.sub_event_type,
        "modality": decision.modality,
        "confidence": decision.confidence,
        "coded_by": decision.coded_by,
        "trigger_start": decision.trigger_start,
        "trigger_end": decision.trigger_end,
    }


def _actor_cols(prefix: str, actor: Actor | None) -> Row:
    return {
        prefix: actor.name if actor else None,
        f"{prefix}_text": actor.text if actor else None,
        f"{prefix}_iso3": actor.iso3 if actor else None,
    }


def event_row(event: Event) -> Row:
    c, place, when, hurt = event.classification, event.place, event.when, event.casualties
    row: Row = {
        "event_id": event.event_id,
        "event_date": when.event_date if when else None,
        "time_precision": when.time_precision if when else None,
        "date_text": when.date_text if when else None,
        "date_reason": when.date_reason if when else None,
        "event_type": c.event_type,
        "sub_event_type": c.sub_event_type,
        "modality": c.modality,
    }
    row |= _actor_cols("actor1", event.actor1)
    row["inter1"] = event.actor1.inter if event.actor1 else None
    row |= _actor_cols("assoc_actor1", event.assoc_actor1)
    row |= _actor_cols("actor2", event.actor2)
    row["inter2"] = event.actor2.inter if event.actor2 else None
    row |= {
        "iso3": place.iso3 if place else None,
        "country": place.country if place else None,
        "admin1": place.admin1 if place else None,
        "location": place.location if place else None,
        "latitude": place.latitude if place else None,
        "longitude": place.longitude if place else None,
        "geo_precision": place.geo_precision if place else None,
        "geo_reason": place.geo_reason if place else None,
        "place_text": place.place_text if place else None,
        "fatalities": hurt.fatalities,
        "injuries": hurt.injuries,
        "fatalities_text": hurt.fatalities_text,
        "source": event.source,
        "notes": event.notes,
        "article_id": event.article_id,
        "sentence_id": event.sentence_id,
        "start_char": event.start_char,
        "end_char": event.end_char,
        "confidence": c.confidence,
        "coded_by": c.coded_by,
    }
    return row


def reject_row(reject: Reject) -> Row:
    return {
        "stage": reject.stage,
        "table": reject.table,
        "reason": reject.reason,
        "input_file": reject.input_file,
        "input_line": reject.input_line,
        "article_id": reject.article_id,
        "row_key": reject.row_key,
        "expectation": reject.expectation,
        "column": reject.column,
        "value": reject.value,
        "severity": reject.severity,
    }
