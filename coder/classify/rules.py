"""The rule layer: event patterns as plain data, matched on lemmas and dependencies.

Rules live in ``seeds/rules/event_rules.jsonl`` (one JSON object a line, schema
``schemas/event_rules.schema.json``). Each rule carries a versioned ``id``
(``bombing.car_bomb.v1``) that ends up on the result, so every coded sentence
says which pattern fired. This module only *finds* matches; what to do with them
(precedence, vetoes, modality) is the decision policy in ``coder.classify.decide``.

Two kinds of patterns, like spaCy's ``span_ruler``:

- ``token``: spaCy ``Matcher`` patterns (lemmas in a row with bounded gaps); the
  trigger is the matched span. Used where the parser is unreliable ("air strikes"
  is often tagged as a verb) or the phrase is fixed.
- ``dependency``: ``DependencyMatcher`` patterns (a verb and its subject/object);
  the trigger is the anchor token.

Every rule also lists lowercase ``keywords``, one of which any match must contain;
``RuleSet.might_match`` checks them without spaCy so the pipeline can skip the
parse of sentences no rule could fire on.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
from spacy.matcher import DependencyMatcher, Matcher
from spacy.vocab import Vocab

from coder.config import PROJECT_ROOT
from coder.errors import ConfigError, DataFileError
from coder.records import RuleMatch, Sentence

if TYPE_CHECKING:
    from spacy.tokens import Doc

RULES_FILE = "event_rules.jsonl"
RULES_FORMAT = "event-rules.v1"
DEFAULT_SCHEMA = PROJECT_ROOT / "schemas" / "event_rules.schema.json"


@dataclass(frozen=True)
class Rule:
    """One rule of the data file, as declared."""

    id: str
    event_type: str
    sub_event_type: str
    precision: float
    matcher: str  # "token" or "dependency"
    patterns: tuple[Any, ...]
    keywords: tuple[str, ...]
    examples: tuple[str, ...]
    counter_examples: tuple[str, ...]
    line: int


@dataclass
class _Compiled:
    """Matchers bound to one spaCy vocabulary."""

    vocab: Vocab
    token: Matcher
    dependency: DependencyMatcher


@dataclass
class RuleSet:
    """The loaded rules; ``match`` finds them in a parsed sentence."""

    rules: tuple[Rule, ...]
    version: str
    source: Path
    # Matchers are bound to a vocab; docs from another pipeline get their own (a cache, not shared state).
    _compiled: dict[int, _Compiled] = field(default_factory=dict, repr=False)
    _keyword_re: re.Pattern[str] = field(init=False, repr=False)
    _by_id: dict[str, Rule] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        words = sorted({k for rule in self.rules for k in rule.keywords}, key=lambda k: (-len(k), k))
        self._keyword_re = re.compile("|".join(re.escape(w) for w in words) if words else r"(?!x)x")
        self._by_id = {rule.id: rule for rule in self.rules}

    @classmethod
    def load(cls, rules_dir: Path, schema_path: Path | None = None) -> RuleSet:
        """Read and validate ``event_rules.jsonl``; DataFileError names the file and line of bad data."""
        path = Path(rules_dir) / RULES_FILE
        raw = _read_bytes(path)
        validator = _validator(schema_path or DEFAULT_SCHEMA)
        rules = tuple(_parse_rules(raw.decode("utf-8"), path, validator))
        ruleset = cls(
            rules=rules, version=f"{RULES_FORMAT}+{hashlib.sha256(raw).hexdigest()[:8]}", source=path
        )
        ruleset._compile(Vocab())  # fail at load, not at the first sentence, on a pattern spaCy refuses
        return ruleset

    def get(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def might_match(self, text: str) -> bool:
        """Cheap pre-check without spaCy: could any rule fire on this text?"""
        return self._keyword_re.search(text.lower()) is not None

    def match(self, doc: Doc, sentence: Sentence) -> list[RuleMatch]:
        """Rules that fire on ``doc`` (the parse of ``sentence.text``), one match per rule, in text order.

        Trigger offsets are article offsets (``sentence.start_char`` is added). Rules read lemmas and
        POS, so a doc from a blank pipeline raises ConfigError rather than silently matching nothing.
        """
        if not (doc.has_annotation("LEMMA") and doc.has_annotation("POS")):
            raise ConfigError(
                "event rules need a pipeline with a tagger and lemmatizer (a blank pipeline has none)"
            )
        compiled = self._compile(doc.vocab)
        spans: dict[str, tuple[int, int]] = {}
        for match_id, start, end in compiled.token(doc):
            _keep_first(spans, doc.vocab.strings[match_id], (start, end))
        # Without a parse (a blank pipeline) dependency rules cannot fire; token rules still can.
        dependency_hits = compiled.dependency(doc) if doc.has_annotation("DEP") else []
        for match_id, token_ids in dependency_hits:
            anchor = token_ids[0]
            _keep_first(spans, doc.vocab.strings[match_id], (anchor, anchor + 1))
        matches = [self._to_match(rule_id, doc, span, sentence.start_char) for rule_id, span in spans.items()]
        return sorted(matches, key=lambda m: (m.trigger_start, m.rule_id))

    def _to_match(self, rule_id: str, doc: Doc, span: tuple[int, int], offset: int) -> RuleMatch:
        rule = self._by_id[rule_id]
        first, last = doc[span[0]], doc[span[1] - 1]
        return RuleMatch(
            rule_id=rule.id,
            event_type=rule.event_type,
            sub_event_type=rule.sub_event_type,
            trigger_start=offset + first.idx,
            trigger_end=offset + last.idx + len(last.text),
            precision=rule.precision,
        )

    def _compile(self, vocab: Vocab) -> _Compiled:
        cached = self._compiled.get(id(vocab))
        if cached is not None and cached.vocab is vocab:
            return cached
        compiled = _Compiled(vocab, Matcher(vocab), DependencyMatcher(vocab))
        for rule in self.rules:
            target = compiled.token if rule.matcher == "token" else compiled.dependency
            try:
                target.add(rule.id, [list(p) for p in rule.patterns])
            except (ValueError, KeyError) as exc:
                raise DataFileError(
                    f"rule {rule.id}: spaCy rejects a pattern: {exc}", path=str(self.source), line=rule.line
                ) from exc
        self._compiled[id(vocab)] = compiled
        return compiled


def _keep_first(spans: dict[str, tuple[int, int]], rule_id: str, span: tuple[int, int]) -> None:
    """Keep the earliest (then shortest) hit of a rule: one explainable trigger per rule."""
    old = spans.get(rule_id)
    if old is None or (span[0], span[1] - span[0]) < (old[0], old[1] - old[0]):
        spans[rule_id] = span


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"cannot read rules file: {exc.strerror}", path=str(path)) from exc


def _validator(schema_path: Path) -> jsonschema.Draft202012Validator:
    try:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as exc:
        raise DataFileError(f"rules schema unusable: {exc}", path=str(schema_path)) from exc
    return jsonschema.Draft202012Validator(schema)


def _parse_rules(text: str, path: Path, validator: jsonschema.Draft202012Validator) -> list[Rule]:
    rules: list[Rule] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        rule = _parse_line(line, number, path, validator)
        if rule.id in seen:
            raise DataFileError(f"duplicate rule id {rule.id!r}", path=str(path), line=number)
        seen.add(rule.id)
        rules.append(rule)
    if not rules:
        raise DataFileError("no rules in file", path=str(path))
    return rules


def _parse_line(line: str, number: int, path: Path, validator: jsonschema.Draft202012Validator) -> Rule:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFileError(f"not valid JSON: {exc.msg}", path=str(path), line=number) from exc
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(rule)"
        raise DataFileError(f"{where}: {errors[0].message}", path=str(path), line=number)
    return Rule(
        id=data["id"],
        event_type=data["event_type"],
        sub_event_type=data["sub_event_type"],
        precision=float(data["precision"]),
        matcher=data["matcher"],
        patterns=tuple(data["patterns"]),
        keywords=tuple(data["keywords"]),
        examples=tuple(data["examples"]),
        counter_examples=tuple(data.get("counter_examples", ())),
        line=number,
    )
