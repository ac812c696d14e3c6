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

Every rule also lists lowercase ``keywords`` (an index for readers and for the examples test).
The cheap pre-check is derived from the patterns themselves: each pattern needs certain
tokens (every non-optional token with a LEMMA/LOWER/ORTH value); ``RuleSet.candidates``
tells, from the raw text and without spaCy, which rules could fire at all, using the
surface words of each lemma (``lemma_forms.json``: the inverse of the pipeline's
lemmatizer). It is a necessary condition, so skipping the parse loses nothing. ``match``
uses the same needs, checked exactly on the parse, to run only the matchers that can fire.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
from spacy.attrs import LEMMA, LOWER, ORTH
from spacy.matcher import DependencyMatcher, Matcher
from spacy.strings import get_string_id
from spacy.vocab import Vocab

from coder.config import PROJECT_ROOT
from coder.errors import ConfigError, DataFileError
from coder.records import RuleMatch, Sentence

if TYPE_CHECKING:
    from spacy.tokens import Doc

RULES_FILE = "event_rules.jsonl"
RULES_FORMAT = "event-rules.v1"
DEFAULT_SCHEMA = PROJECT_ROOT / "schemas" / "event_rules.schema.json"
FORMS_FILE = "lemma_forms.json"
DEFAULT_FORMS = PROJECT_ROOT / "seeds" / "rules" / FORMS_FILE
FORMS_SCHEMA = PROJECT_ROOT / "schemas" / "lemma_forms.schema.json"
# A token the tokenizer splits off is a run of letters in the text (or holds none): what the text check reads.
LETTER_RUN = re.compile(r"[^\W\d_]+")
# Token attributes whose values name the token's text; others (POS, DEP, TAG) only narrow a match.
WORD_ATTRS = ("LEMMA", "LOWER", "ORTH", "TEXT")
OPTIONAL_OPS = frozenset({"?", "*", "!"})


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


@dataclass(frozen=True)
class LemmaForms:
    """Surface words a lemma can come from: the inverse of the pipeline's rule lemmatizer."""

    suffix_rules: tuple[tuple[str, str], ...]
    irregular: dict[str, frozenset[str]]

    def surfaces(self, lemma: str) -> frozenset[str]:
        low = lemma.lower()
        derived = {low[: len(low) - len(new)] + old for old, new in self.suffix_rules if low.endswith(new)}
        return frozenset({low, *derived, *self.irregular.get(lemma, ())})


@dataclass(frozen=True)
class _Need:
    """One token a pattern cannot match without: its attribute must hold one of ``values``.

    ``words`` (single letter runs) and ``glued`` (forms of several runs, 'air-strike') are the
    lowercase surface words such a token can be, for the check on raw text.
    """

    attr: str
    values: frozenset[str]
    words: frozenset[str]
    glued: tuple[frozenset[str], ...]
    # The values as spaCy string hashes: docs give their token attributes as hashes in one array call.
    value_ids: frozenset[int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_ids", frozenset(get_string_id(v) for v in self.values))

    def in_text(self, runs: frozenset[str]) -> bool:
        return not self.words.isdisjoint(runs) or any(g <= runs for g in self.glued)

    def in_doc(self, seen: dict[str, set[int]]) -> bool:
        return not self.value_ids.isdisjoint(seen[self.attr])


@dataclass(frozen=True)
class _Gate:
    """A rule can fire only if every need of at least one of its patterns is met."""

    patterns: tuple[tuple[_Need, ...], ...]

    def open_for_text(self, runs: frozenset[str]) -> bool:
        return any(all(need.in_text(runs) for need in needs) for needs in self.patterns)

    def open_for_doc(self, seen: dict[str, set[int]]) -> bool:
        return any(all(need.in_doc(seen) for need in needs) for needs in self.patterns)


@dataclass
class _Compiled:
    """One matcher per rule, bound to one spaCy vocabulary: only the rules whose gate opens run."""

    vocab: Vocab
    token: dict[str, Matcher]
    dependency: dict[str, DependencyMatcher]


@dataclass
class RuleSet:
    """The loaded rules; ``match`` finds them in a parsed sentence."""

    rules: tuple[Rule, ...]
    version: str
    source: Path
    forms: LemmaForms
    # Matchers are bound to a vocab; docs from another pipeline get their own (a cache, not shared state).
    _compiled: dict[int, _Compiled] = field(default_factory=dict, repr=False)
    _gates: dict[str, _Gate] = field(init=False, repr=False)
    _by_id: dict[str, Rule] = field(init=False, repr=False)
    _entity_rules: tuple[Rule, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {rule.id: rule for rule in self.rules}
        self._gates = {rule.id: _gate(rule, self.forms) for rule in self.rules}
        self._entity_rules = tuple(rule for rule in self.rules if _tests_entities(rule.patterns))

    @classmethod
    def load(
        cls, rules_dir: Path, schema_path: Path | None = None, forms_path: Path | None = None
    ) -> RuleSet:
        """Read and validate ``event_rules.jsonl``; DataFileError names the file and line of bad data.

        ``forms_path`` defaults to ``lemma_forms.json`` beside the rules, else the project's: the
        lemma forms describe the spaCy pipeline, not one rule set.
        """
        path = Path(rules_dir) / RULES_FILE
        raw = _read_bytes(path)
        validator = _validator(schema_path or DEFAULT_SCHEMA)
        rules = tuple(_parse_rules(_decoded(raw, path), path, validator))
        local_forms = Path(rules_dir) / FORMS_FILE
        forms = load_forms(forms_path or (local_forms if local_forms.exists() else DEFAULT_FORMS))
        ruleset = cls(
            rules=rules,
            version=f"{RULES_FORMAT}+{hashlib.sha256(raw).hexdigest()[:8]}",
            source=path,
            forms=forms,
        )
        ruleset._compile(Vocab())  # fail at load, not at the first sentence, on a pattern spaCy refuses
        return ruleset

    def get(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def candidates(self, text: str) -> tuple[Rule, ...]:
        """Rules that could fire on ``text``, decided without spaCy (a necessary condition, in file order)."""
        runs = frozenset(LETTER_RUN.findall(text.lower()))
        return tuple(rule for rule in self.rules if self._gates[rule.id].open_for_text(runs))

    def might_match(self, text: str) -> bool:
        """Cheap pre-check without spaCy: could any rule fire on this text?"""
        return bool(self.candidates(text))

    def needs_entities(self, text: str) -> bool:
        """Could a rule that tests an entity attribute (ENT_TYPE, ...) fire on ``text``? Its parse then
        needs entities before matching (the pipeline otherwise adds them only to event rows)."""
        runs = frozenset(LETTER_RUN.findall(text.lower()))
        return any(self._gates[rule.id].open_for_text(runs) for rule in self._entity_rules)

    def match(self, doc: Doc, sentence: Sentence, *, gated: bool = True) -> list[RuleMatch]:
        """Rules that fire on ``doc`` (the parse of ``sentence.text``), one match per rule, in text order.

        Trigger offsets are article offsets (``sentence.start_char`` is added). Rules read lemmas and
        POS, so a doc from a blank pipeline raises ConfigError rather than silently matching nothing.
        Only rules whose needed tokens are in the doc run (``gated=False`` runs all: the reference).
        """
        if not (doc.has_annotation("LEMMA") and doc.has_annotation("POS")):
            raise ConfigError(
                "event rules need a pipeline with a tagger and lemmatizer (a blank pipeline has none)"
            )
        compiled = self._compile(doc.vocab)
        seen = _token_values(doc)
        # Without a parse (a blank pipeline) dependency rules cannot fire; token rules still can.
        parsed = doc.has_annotation("DEP")
        spans: dict[str, tuple[int, int]] = {}
        for rule in self.rules:
            if gated and not self._gates[rule.id].open_for_doc(seen):
                continue
            if rule.matcher == "token":
                for _, start, end in compiled.token[rule.id](doc):
                    _keep_first(spans, rule.id, (start, end))
            elif parsed:
                for _, token_ids in compiled.dependency[rule.id](doc):
                    _keep_first(spans, rule.id, (token_ids[0], token_ids[0] + 1))
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
        compiled = _Compiled(vocab, {}, {})
        for rule in self.rules:
            target: Matcher | DependencyMatcher
            if rule.matcher == "token":
                target = compiled.token[rule.id] = Matcher(vocab)
            else:
                target = compiled.dependency[rule.id] = DependencyMatcher(vocab)
            try:
                target.add(rule.id, [list(p) for p in rule.patterns])
            except (ValueError, KeyError) as exc:
                raise DataFileError(
                    f"rule {rule.id}: spaCy rejects a pattern: {exc}", path=str(self.source), line=rule.line
                ) from exc
        self._compiled[id(vocab)] = compiled
        return compiled


def _token_values(doc: Doc) -> dict[str, set[int]]:
    """The values (string hashes) each word attribute takes in the doc, for the exact gate check."""
    columns = doc.to_array([LEMMA, LOWER, ORTH]).T.tolist() if len(doc) else [[], [], []]
    lemmas, lowers, texts = (set(column) for column in columns)
    return {"LEMMA": lemmas, "LOWER": lowers, "ORTH": texts, "TEXT": texts}


def _gate(rule: Rule, forms: LemmaForms) -> _Gate:
    return _Gate(tuple(tuple(_needs(pattern, forms)) for pattern in rule.patterns))


def _needs(pattern: list[dict[str, Any]], forms: LemmaForms) -> list[_Need]:
    """The tokens a pattern cannot match without (dependency nodes are all required)."""
    needs = []
    for spec in pattern:
        attrs = spec.get("RIGHT_ATTRS", spec)
        if _optional(spec.get("OP")):
            continue
        need = _need(attrs, forms)
        if need is not None:
            needs.append(need)
    return needs


def _optional(op: str | None) -> bool:
    if op is None:
        return False
    if op in OPTIONAL_OPS:
        return True
    low = op.strip("{}").split(",")[0] if op.startswith("{") else "1"
    return not low.isdigit() or int(low) == 0


def _need(attrs: dict[str, Any], forms: LemmaForms) -> _Need | None:
    """The first word attribute with a fixed value set; None when the token can be any word."""
    for attr in WORD_ATTRS:
        value = attrs.get(attr)
        values = [value] if isinstance(value, str) else value.get("IN") if isinstance(value, dict) else None
        if not values:
            continue
        surfaces = set().union(*(forms.surfaces(v) if attr == "LEMMA" else {v.lower()} for v in values))
        split = [frozenset(LETTER_RUN.findall(s)) for s in surfaces]
        if any(not runs for runs in split):
            return None  # a punctuation token ('-') is no evidence either way
        words = frozenset(next(iter(r)) for r in split if len(r) == 1)
        glued = tuple(sorted((r for r in split if len(r) > 1), key=sorted))
        return _Need(attr, frozenset(values), words, glued)
    return None


def load_forms(path: Path) -> LemmaForms:
    """Read and validate ``lemma_forms.json``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        schema = json.loads(FORMS_SCHEMA.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataFileError(f"cannot read lemma forms: {exc.strerror}", path=str(path)) from exc
    except ValueError as exc:
        raise DataFileError(f"lemma forms not valid JSON: {exc}", path=str(path)) from exc
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(forms)"
        raise DataFileError(f"{where}: {errors[0].message}", path=str(path))
    return LemmaForms(
        suffix_rules=tuple((old, new) for old, new in data["suffix_rules"]["value"]),
        irregular={k: frozenset(v) for k, v in data["irregular"]["value"].items()},
    )


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


def _decoded(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(f"not UTF-8 text ({exc.reason}); save it as UTF-8", path=str(path)) from None


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


def _tests_entities(pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return any(str(key).startswith("ENT_") or _tests_entities(value) for key, value in pattern.items())
    if isinstance(pattern, list | tuple):
        return any(_tests_entities(part) for part in pattern)
    return False
