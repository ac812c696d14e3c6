"""Measure actor extraction on held-out labelled corpora (read in place, never copied).

    .venv/bin/python scripts/eval_actors.py --corpora ../shared/corpora [--split dev|test|all] [--limit N]
        [--json out.json] [--errors misses.jsonl]

``--split``: rule work is done on ``dev`` (the even positions of each corpus file, counted from 0) and
checked once on ``test`` (the odd positions); ``all`` (default) is every sentence, the figure reported
before the split existed. ``--errors`` writes one JSON line per missed role (to a scratch path, never
into the repository: the lines quote corpus text).

ConfliBERT ``cameo_ner/test.txt`` (CoNLL, tags S = source, T = target, R = reciprocal, which counts as
both): the sentence is rebuilt by joining tokens with spaces, parsed with the real spaCy model, and the
trigger comes from ``find_trigger`` (no classification). A predicted actor matches when

* overlap: its character span shares at least one word token with a gold span of its role;
* head: the syntactic root of its span lies inside a gold span (stricter; what a coder would accept).

The denominator is every sentence with at least one gold span of that role (no prediction = miss).
PLOVER ``PLOVER_GSR_CAMEO.json``: actor1 text overlaps (a shared word, case-insensitive, stop words
ignored) a ``source`` actorText; actor2 against ``target``; iso3 agreement where the gold code is an
ISO3 country and we predicted an iso3. ``plover_gsr_typed`` codes each record with its event type from
``seeds/corpora/label_mapping.json`` (as in training; dropped records as none), so that the statement
and arms-transfer rules are exercised; ``plover_gsr`` keeps the untyped figure. None of these sentences
was used to write the rules or the dictionary, but the seed articles were read while writing them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from coder.actors import ActorDictionary, extract_actors
from coder.classify.corpora import DROP, LabelMapping
from coder.config import PROJECT_ROOT, Settings
from coder.nlp import load_pipeline
from coder.records import Actor, Article, Classification, Sentence

_WORD = re.compile(r"\w+")
_STOP = frozenset({"the", "a", "an", "of", "and", "s", "in", "for", "to"})
_SPLITS = ("all", "dev", "test")


def in_split(position: int, split: str) -> bool:
    """dev = even positions, test = odd: a fixed split that needs no stored list of ids."""
    return split == "all" or (position % 2 == 0) == (split == "dev")


def read_conll(path: Path) -> Iterator[tuple[str, dict[str, list[tuple[int, int]]]]]:
    """(sentence text, {"S": [char spans], "T": [...]}) per CoNLL block; R spans go to both roles."""
    tokens: list[tuple[str, str]] = []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.strip():
            word, tag = line.rsplit(" ", 1)
            tokens.append((word, tag))
        elif tokens:
            yield _spans(tokens)
            tokens = []


def _spans(tokens: list[tuple[str, str]]) -> tuple[str, dict[str, list[tuple[int, int]]]]:
    spans: dict[str, list[tuple[int, int]]] = {"S": [], "T": []}
    text, current = "", None
    for word, tag in tokens:
        start = len(text) + (1 if text else 0)
        text = f"{text} {word}" if text else word
        role = tag[2:] if tag != "O" else None
        if tag.startswith("B-") or role is None or current is None or current[0] != role:
            current = (role, start) if role else None
            if role:
                for key in ("S", "T") if role == "R" else (role,):
                    spans.setdefault(key, []).append((start, len(text)))
        else:
            for key in ("S", "T") if role == "R" else (role,):
                spans[key][-1] = (spans[key][-1][0], len(text))
    return text, spans


def _code(
    nlp: Any, dictionary: ActorDictionary, text: str, event_type: str = "none"
) -> tuple[Any, Actor | None, Actor | None]:
    article = Article("eval", text, None, None, "none", None, None, "eval", None, "")
    sentence = Sentence("eval", "eval", 0, 0, len(text), text)
    decision = Classification("eval", event_type, None, 0.0, "eval")
    doc = nlp(text)
    who = extract_actors(doc, sentence, decision, dictionary, None, article)
    return doc, who.actor1, who.actor2


def _match(doc: Any, actor: Actor | None, gold: list[tuple[int, int]]) -> tuple[bool, bool]:
    if actor is None or actor.start_char is None or actor.end_char is None or not gold:
        return False, False
    words = [m.span() for m in _WORD.finditer(doc.text[actor.start_char : actor.end_char])]
    chars = [(actor.start_char + a, actor.start_char + b) for a, b in words]
    overlap = any(a < ge and b > gs for a, b in chars for gs, ge in gold)
    span = doc.char_span(actor.start_char, actor.end_char, alignment_mode="expand")
    root = span.root.idx if span is not None else -1
    return overlap, any(gs <= root < ge for gs, ge in gold)


def eval_conll(
    path: Path,
    nlp: Any,
    dictionary: ActorDictionary,
    limit: int | None,
    split: str = "all",
    misses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    for n, (text, gold) in enumerate(read_conll(path)):
        if limit is not None and n >= limit:
            break
        if not in_split(n, split):
            continue
        doc, actor1, actor2 = _code(nlp, dictionary, text)
        for role, actor in (("actor1", actor1), ("actor2", actor2)):
            spans = gold["S" if role == "actor1" else "T"]
            if spans:
                overlap, head = _match(doc, actor, spans)
                counts.update({f"{role}_gold": 1, f"{role}_predicted": actor is not None})
                counts.update({f"{role}_overlap": overlap, f"{role}_head": head})
                if misses is not None and not head:
                    gold_text = [text[a:b] for a, b in spans]
                    misses.append(_miss("conflibert", n, role, text, actor, gold_text))
    return _rates(counts)


def _miss(
    corpus: str, position: int, role: str, text: str, actor: Actor | None, gold: list[str]
) -> dict[str, Any]:
    got = None if actor is None else {"text": actor.text, "name": actor.name}
    return {"corpus": corpus, "n": position, "role": role, "text": text, "got": got, "gold": gold}


def _rates(counts: Counter[str]) -> dict[str, Any]:
    out: dict[str, Any] = dict(counts)
    for role in ("actor1", "actor2"):
        total = counts[f"{role}_gold"] or 1
        for kind in ("predicted", "overlap", "head", "iso3"):
            if f"{role}_{kind}" in counts:
                out[f"{role}_{kind}_rate"] = round(counts[f"{role}_{kind}"] / total, 3)
    if counts.get("iso3_compared"):
        out["iso3_rate"] = round(counts["iso3_agree"] / counts["iso3_compared"], 3)
    return out


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _plover_type(record: dict[str, Any], mapping: LabelMapping | None) -> str:
    """Our event type of a PLOVER record by the training label mapping (dropped records count as none)."""
    if mapping is None:
        return "none"
    event, mode = record.get("event", ""), record.get("mode") or ""
    keys = (f"{event}/{mode}", event) if mode else (event,)
    label, _ = mapping.map("plover_gsr", keys, record["text"].strip())
    return "none" if label == DROP else label


def eval_plover(
    path: Path,
    nlp: Any,
    dictionary: ActorDictionary,
    limit: int | None,
    mapping: LabelMapping | None = None,
    split: str = "all",
    misses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Untyped (``mapping`` None: as ConfliBERT, no event type) or typed by the label mapping, so that
    the statement and transfer rules take part."""
    records = [r for r in json.loads(path.read_text(encoding="utf-8")) if r.get("text")]
    counts: Counter[str] = Counter()
    for n, record in enumerate(records[:limit]):
        if not in_split(n, split):
            continue
        kind = _plover_type(record, mapping)
        counts.update({f"type_{kind}": 1})
        _, actor1, actor2 = _code(nlp, dictionary, record["text"], kind)
        for role, actor, key in (("actor1", actor1, "source"), ("actor2", actor2, "target")):
            gold = [g for g in (record.get(key) or []) if isinstance(g, dict)]
            if not gold:
                continue
            hit = actor is not None and any(_words(actor.text) & _words(g.get("actorText", "")) for g in gold)
            counts.update({f"{role}_gold": 1, f"{role}_predicted": actor is not None, f"{role}_overlap": hit})
            if misses is not None and not hit:
                gold_text = [str(g.get("actorText", "")) for g in gold]
                misses.append(_miss(f"plover:{kind}", n, role, record["text"], actor, gold_text))
            codes = {g.get("code") for g in gold} & set(dictionary.countries)
            if role == "actor1" and codes and actor is not None and actor.iso3:
                counts.update({"iso3_compared": 1, "iso3_agree": actor.iso3 in codes})
    return _rates(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", type=Path, default=Settings().corpora_dir)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--split", choices=_SPLITS, default="all")
    parser.add_argument("--errors", type=Path, default=None, help="write missed roles here (JSON lines)")
    args = parser.parse_args(argv)
    misses: list[dict[str, Any]] | None = [] if args.errors else None
    settings = Settings()
    nlp, dictionary = load_pipeline(settings), ActorDictionary.load(settings.actors_dir)
    mapping = LabelMapping.load(PROJECT_ROOT / "seeds" / "corpora" / "label_mapping.json")
    plover = args.corpora / "plover_gsr/PLOVER_GSR_CAMEO.json"
    report = {
        "actors_version": dictionary.version,
        "spacy_model": f"{nlp.meta.get('name')}-{nlp.meta.get('version')}",
        "split": args.split,
        "conflibert_cameo_ner_test": eval_conll(
            args.corpora / "conflibert/cameo_ner/test.txt", nlp, dictionary, args.limit, args.split, misses
        ),
        "plover_gsr": eval_plover(plover, nlp, dictionary, args.limit, None, args.split),
        "plover_gsr_typed": eval_plover(plover, nlp, dictionary, args.limit, mapping, args.split, misses),
    }
    text = json.dumps(report, indent=2, sort_keys=True)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    if args.errors and misses is not None:
        lines = [json.dumps(m, ensure_ascii=False, sort_keys=True) for m in misses]
        args.errors.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
