"""Measure the geocoder on held-out gold: UCDP GED Syria headlines and PLOVER event locations.

Each headline is coded like a one-sentence article (``article_context`` over the headline, then
``resolve_place`` on its spaCy parse), so nothing from the gold row leaks into the answer. As the pipeline
codes an event row, ``resolve_place`` also gets the event's trigger (``classify_texts``) and its actors'
countries (``extract_actors``); ``--no-events`` leaves both out (the figures before places-rules.v4).

UCDP figures (a deterministic sample; --sample 0 takes every row):
- *named*: headlines whose text contains the gold place name (``where_coordinates`` less its type word),
  gold ``where_prec`` 1-2. On these: country right, admin1 right, within 25 km of the gold point; and the
  same on the part whose gold place the gazetteer holds (coverage and resolution measured apart).
- *any*: every sampled headline for which we return a place: country right, admin1 right.
PLOVER: records with an ``eventLoc``: the resolved place is the gold entry (same gazetteer id), or lies in
the gold country when the gold location is a country.
RAMS (dev): event place arguments, the trigger's sentence coded with its five-sentence window as the article
(the only set here where the place may be named in another sentence than the event's); see ``eval_rams``.

    .venv/bin/python scripts/eval_geo.py --corpora ../shared/corpora [--sample 2000]
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import spacy

from coder.actors import extract_actors
from coder.config import Settings
from coder.geo import (
    Gazetteer,
    OfflineGazetteer,
    PlaceCandidate,
    article_context,
    normalise_name,
    resolve_place,
)
from coder.pipeline import Stages, actor_countries, classify_texts
from coder.records import Article, Place, Sentence

if TYPE_CHECKING:
    from spacy.tokens import Doc

TYPE_WORDS = re.compile(
    r"\s+(village|town|city|governorate|district|sub-district|subdistrict|mountain|area|camp|neighbou?rhood|"
    r"airport|airbase|base|dam|prison|hospital|region|province|countryside|crossing|mount)\b.*$",
    re.IGNORECASE,
)


# What the pipeline hands geo besides the parse: the event's trigger and its actors' (role, iso3).
EventInputs = tuple[tuple[int, int] | None, tuple[tuple[str, str | None], ...]]


def code_texts(
    texts: list[str], nlp: spacy.language.Language, gz: Gazetteer, stages: Stages | None = None
) -> list[Place | None]:
    """Code each text as a one-sentence article (title = none, so the headline is counted once); with
    ``stages``, as the pipeline codes an event sentence: its trigger and its actors' countries too."""
    docs = list(nlp.pipe(texts, batch_size=256))
    articles = [
        Article(f"a{i}", text, None, None, "none", None, None, "eval", None, "")
        for i, text in enumerate(texts)
    ]
    sentences = [Sentence(f"s{i}", f"a{i}", 0, 0, len(text), text) for i, text in enumerate(texts)]
    events = event_inputs(docs, sentences, articles, stages) if stages else [(None, ())] * len(texts)
    places = []
    for doc, sentence, article, (trigger, countries) in zip(docs, sentences, articles, events, strict=True):
        context = article_context(article, [sentence], gz)
        places.append(resolve_place(doc, sentence, context, gz, trigger=trigger, actor_countries=countries))
    return places


def event_inputs(
    docs: list[Doc], sentences: list[Sentence], articles: list[Article], stages: Stages
) -> list[EventInputs]:
    """The event type decided for each text (``classify_texts``), its trigger and actors (``extract_actors``
    on the eval's parse, as the pipeline reads them from its own)."""
    decisions = classify_texts([s.text for s in sentences], stages)
    found: list[EventInputs] = []
    for doc, sentence, article, decision in zip(docs, sentences, articles, decisions, strict=True):
        who = extract_actors(doc, sentence, decision, stages.actors, None, article)
        start, end = decision.trigger_start, decision.trigger_end
        found.append(((start, end) if start is not None and end is not None else None, actor_countries(who)))
    return found


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def admin1_name(gold: str, gz: Gazetteer) -> str | None:
    """The display name our gazetteer gives the gold province ("Aleppo Governorate" -> "Aleppo")."""
    name = TYPE_WORDS.sub("", gold)
    return next((c.admin1 for c in gz.lookup(name, country_iso3="SYR") if c.kind == "admin1"), None)


def in_gazetteer(row: object, gz: Gazetteer) -> bool:
    """Whether the gold place name finds a Syrian entry within 25 km of the gold point (coverage)."""
    cands = gz.lookup(TYPE_WORDS.sub("", row.where_coordinates), country_iso3="SYR")  # type: ignore[attr-defined]
    gold = (row.latitude, row.longitude)  # type: ignore[attr-defined]
    return any(c.iso3 == "SYR" and km(c.latitude, c.longitude, *gold) <= 25 for c in cands)


def miss_kind(row: object, place: Place | None, flags: tuple[bool, bool, bool, bool]) -> str:
    """The error-analysis class of a miss: (a) the gold place is not in the gazetteer; (c) another toponym
    of the headline was chosen; (b) the gold name was read but resolved to another place; (d) the right
    place (within 25 km) with another admin1 name."""
    if not flags[3]:
        return "a_not_in_gazetteer"
    if flags[2]:
        return "d_admin1_mismatch"
    said = place is not None and place.place_text and names_gold(place.place_text, row.where_coordinates)  # type: ignore[attr-defined]
    return "b_wrong_candidate" if said else "c_wrong_mention"


def names_gold(headline: str, gold: str) -> bool:
    key = normalise_name(TYPE_WORDS.sub("", gold))
    return bool(key) and f" {key} " in f" {normalise_name(headline)} "


def share(flags: Iterable[bool]) -> str:
    values = list(flags)
    return f"{sum(values) / len(values):.1%} ({sum(values)}/{len(values)})" if values else "n/a (0)"


def eval_ucdp(corpora: Path, sample: int, nlp: spacy.language.Language, gz: Gazetteer, seed: int,
              split: str, misses: list[dict], stages: Stages | None = None) -> dict:  # fmt: skip
    df = pd.read_csv(corpora / "ucdp_ged_syria" / "ged_syria_191.csv")
    df = df.dropna(subset=["source_headline", "adm_1"]).drop_duplicates("source_headline")
    if split != "all":  # misses were only ever inspected on "dev" (even ids); report "test"
        df = df[(df["id"].astype(int) % 2 == 1) == (split == "test")]
    if sample:
        df = df.sample(min(sample, len(df)), random_state=seed).sort_values("id")
    # Headlines keep HTML entities ("&#8220;"); articles reach the coder decoded (ingest), so are these.
    df["source_headline"] = df["source_headline"].astype(str).map(html.unescape)
    places = code_texts(df["source_headline"].tolist(), nlp, gz, stages)
    gold_admin1 = {a: admin1_name(a, gz) for a in df["adm_1"].unique()}
    named, found = [], []
    for row, place in zip(df.itertuples(), places, strict=True):
        if place is not None:
            found.append((place.iso3 == "SYR", place.admin1 == gold_admin1[row.adm_1]))
        if names_gold(row.source_headline, row.where_coordinates) and row.where_prec <= 2:
            ok = place is not None
            close = ok and km(place.latitude, place.longitude, row.latitude, row.longitude) <= 25  # type: ignore[union-attr, arg-type]
            named.append((ok and place.iso3 == "SYR", ok and place.admin1 == gold_admin1[row.adm_1], close,  # type: ignore[union-attr]
                          in_gazetteer(row, gz)))  # fmt: skip
            if not (close and named[-1][1]):
                misses.append({"why": miss_kind(row, place, named[-1]), "headline": row.source_headline,
                               "gold": row.where_coordinates, "gold_admin1": row.adm_1,
                               "got": place and (place.location, place.admin1, place.iso3, place.geo_reason,
                                                 place.place_text)})  # fmt: skip
    return {
        "headlines": len(df),
        "named": {"n": len(named), "country": share(n[0] for n in named),
                  "admin1": share(n[1] for n in named), "within_25km": share(n[2] for n in named),
                  "gold_place_in_gazetteer": share(n[3] for n in named)},
        "named_and_in_gazetteer": {"country": share(n[0] for n in named if n[3]),
                                   "admin1": share(n[1] for n in named if n[3]),
                                   "within_25km": share(n[2] for n in named if n[3])},
        "any": {"n": len(found), "resolved_share": share(p is not None for p in places),
                "country": share(f[0] for f in found), "admin1": share(f[1] for f in found)},
    }  # fmt: skip


def eval_plover(
    corpora: Path, nlp: spacy.language.Language, gz: Gazetteer, stages: Stages | None = None
) -> dict:
    records = json.loads((corpora / "plover_gsr" / "PLOVER_GSR_CAMEO.json").read_text(encoding="utf-8"))
    gold = [r for r in records if "eventLoc" in r and r.get("text")]
    places = code_texts([r["text"] for r in gold], nlp, gz, stages)
    right = [plover_right(r["eventLoc"], p, gz) for r, p in zip(gold, places, strict=True)]
    return {"records": len(gold), "resolved_right": share(right)}


def plover_right(loc: dict, place: Place | None, gz: Gazetteer) -> bool:
    if place is None:
        return False
    iso2 = loc.get("country code")
    cands = gz.lookup(re.sub(r"^(town|province|city) of ", "", loc["name"]))
    if iso2:
        cands = [
            c for c in cands if getattr(gz.country(c.iso3 or ""), "gazetteer_id", "") == f"country:{iso2}"
        ]
    if not cands:
        return False
    gold = cands[0]
    return place.gazetteer_id == gold.gazetteer_id or (gold.kind == "country" and place.iso3 == gold.iso3)


def rams_windows(corpora: Path) -> list[tuple[Article, list[Sentence], Sentence, tuple[int, int], str]]:
    """RAMS windows (five sentences of one news story, read as one paragraph) whose event has a place
    argument: (article, sentences, the trigger's sentence, trigger offsets, gold place text)."""
    windows = []
    for line in (corpora / "rams" / "dev.jsonlines").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        places = [link for link in record["gold_evt_links"] if link[2].endswith("place")]
        if not places:
            continue
        tokens = [t for s in record["sentences"] for t in s]
        starts, at = [], 0
        for token in tokens:
            starts.append(at)
            at += len(token) + 1
        text, key = " ".join(tokens), record["doc_key"]
        sentences, first = [], 0
        for i, words in enumerate(record["sentences"]):
            last = first + len(words) - 1
            start, end = starts[first], starts[last] + len(tokens[last])
            sentences.append(Sentence(f"{key}:{i}", key, i, start, end, text[start:end]))
            first = last + 1
        t0, t1 = record["evt_triggers"][0][:2]
        trigger = (starts[t0], starts[t1] + len(tokens[t1]))
        sentence = next(s for s in sentences if s.start_char <= trigger[0] < s.end_char)
        p0, p1 = places[0][1]
        article = Article(key, text, None, None, "none", None, None, "eval", None, "")
        windows.append((article, sentences, sentence, trigger, " ".join(tokens[p0 : p1 + 1])))
    return windows


def eval_rams(corpora: Path, nlp: spacy.language.Language, gz: Gazetteer) -> dict:
    """RAMS event place arguments: the trigger's sentence is coded with its five-sentence window as the
    article. Scored only where the gold argument names a gazetteer place (not "there", "the city"); split by
    whether the gold place is named in the trigger's sentence or only in another sentence of the window."""
    windows = rams_windows(corpora)
    docs = nlp.pipe([w[2].text for w in windows], batch_size=128)
    own: list[bool] = []
    other: list[bool] = []
    for (article, sentences, sentence, trigger, gold_text), doc in zip(windows, docs, strict=True):
        context = article_context(article, sentences, gz)
        gold = gz.lookup(
            re.sub(r"^the ", "", gold_text, flags=re.IGNORECASE), country_iso3=context.country_iso3
        )
        if not gold:
            continue
        place = resolve_place(doc, sentence, context, gz, trigger=trigger)
        (own if names_gold(sentence.text, gold_text) else other).append(rams_right(gold[0], place))
    return {"scored": len(own) + len(other), "right": share(own + other),
            "gold_in_trigger_sentence": share(own), "gold_elsewhere_in_window": share(other)}  # fmt: skip


def rams_right(gold: PlaceCandidate, place: Place | None) -> bool:
    """The same entry; a country or province: the same country or province; else within 25 km."""
    if place is None:
        return False
    if gold.kind == "country":
        return place.iso3 == gold.iso3
    if gold.kind == "admin1":
        return (place.iso3, place.admin1) == (gold.iso3, gold.admin1)
    near = place.latitude is not None and place.longitude is not None
    return place.gazetteer_id == gold.gazetteer_id or (
        near and km(place.latitude, place.longitude, gold.latitude, gold.longitude) <= 25  # type: ignore[arg-type]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=Settings().corpora_dir)
    parser.add_argument("--sample", type=int, default=2000, help="UCDP headlines to sample (0 = all)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--split",
        choices=("test", "dev", "all"),
        default="test",
        help="UCDP rows with odd ids (test) or even ids (dev, the only ones inspected)",
    )
    parser.add_argument(
        "--misses", type=Path, help="write the named-subset misses and their class here (JSONL), dev only"
    )
    parser.add_argument(
        "--no-events",
        action="store_true",
        help="code the place from the parse alone (no event trigger, no actors' countries), as before v4",
    )
    args = parser.parse_args(argv)
    settings = Settings()
    gz = OfflineGazetteer.load(settings.gazetteer_dir, settings.places_dir)
    misses: list[dict] = []
    nlp = spacy.load(settings.spacy_model)  # with lemmas, which the actors read
    stages = None if args.no_events else Stages.load(settings)
    report = {"gazetteer": gz.version, "spacy_model": settings.spacy_model,
              "split": args.split, "sample": args.sample, "events": stages is not None,
              "ucdp_ged_syria": eval_ucdp(args.corpora, args.sample, nlp, gz, args.seed, args.split, misses,
                                          stages),
              "plover_gsr": eval_plover(args.corpora, nlp, gz, stages),
              "rams_places": eval_rams(args.corpora, nlp, gz)}  # fmt: skip
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    if args.misses:
        args.misses.write_text("".join(json.dumps(m, default=str) + "\n" for m in misses), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
