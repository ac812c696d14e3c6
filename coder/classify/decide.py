"""The hybrid decision policy: rule matches + model scores -> one Classification per sentence.

Everything tunable lives in ``seeds/rules/policy.json`` (schema ``schemas/policy.schema.json``),
each entry with a why. The policy, in order:

1. **Cheap first pass** (``needs_parse``, in ``coder.classify.first_pass``): parse only where the
   parse can change the coding. Any other sentence is none anyway.
2. **Vetoes** (``coder.classify.vetoes``): a statement match whose speaker is nobody, a
   media outlet ("Al Jazeera said") or not a political actor ("the company announced") is
   dropped; so are an arms-transfer match in a sentence about seized weapons, a bombing
   match whose bomb was defused or found, an event inside the object of a seizure, an
   attack trigger inside what a standing arms-transfer match moves ("sent artillery shells"),
   and an event someone takes a stance on. Most vetoes also *silence* the model for the vetoed
   type in that sentence, and a model-only event is dropped when the main verb is a
   seizure, or defuses or finds a device (bombing).
3. **Precedence**: any event rule beats the statement rule ("a bomb exploded, police
   said" is a bombing); among event rules an asserted one beats a framed one, then the
   higher precision wins, ties broken by ``sub_event_priority`` (more specific first).
4. **Rule or model**: a rule with precision >= ``rule_override`` decides alone; a
   weaker rule decides only if the model gives its type >= ``weak_rule_support``.
   A statement rule yields to a model event type scoring >= ``event_over_statement``, unless
   the speech verb itself frames what follows as ``statement_over_modalities`` ("called on
   people to *fight*", "denied that troops *shelled*": the fight is called for, not fought).
   A sentence that opens with a quote mark or leaves a quote open or closed
   (``quoted_speech``) continues a speaker's quote: a statement, unless the model
   gives an event type >= ``event_over_statement``. So does a sentence without quote
   marks that speaks in the first person right after a statement (``previous``): a
   running quote ("“We are not contemplating returning. We are not putting boots ...").
   Otherwise the model decides: ``none`` when P(none) >= ``none`` or the most likely
   event type's probability is below ``min_event_probability``, else that type
   (sub-type from ``default_sub_event_type``). An event framed as
   ``statement_over_modalities`` (hypothetical, negated, background; planned or threatened
   unless the speech verb is itself the promise or threat) yields to a statement match or a
   quote: a speaker talking about a possible event, or someone else's plan, made a statement.
   A model event takes the framing of a rule match of its type, else of the main verb (its
   own lemma too: 'ordered the army to ...'; through 'said' to the reported clause).
5. **Provenance**: ``coded_by`` is ``rule:<id>``, ``rule+model:<id>`` (the model's top
   type agrees) or ``model:<version>``; ``confidence`` is the rule's precision (or the
   model's probability when higher and agreeing) or the model's probability.
6. **Modality** (``coder.classify.modality``): cues on the trigger and the words governing
   it give "negated", "hypothetical", "threatened", "planned" or "background" (history and
   context: "were once strongholds", "an offensive in 2004"); otherwise "asserted". Only
   asserted events become event rows; the others keep their type on the sentence row.
   Statements are asserted even with future content ("we will help them"), unless
   the speech verb itself is negated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# quoted_speech is also read from here by callers (bench/first_pass.py).
from coder.classify.first_pass import (
    CLOSING_QUOTES,
    OPENING_QUOTES,
    ParseCues,
    argmax,
    model_may_code,
    needs_parse,
    quoted_speech,
    top_event,
)
from coder.classify.modality import ModalityReader
from coder.classify.rules import RuleSet
from coder.classify.vetoes import PolicyWords, Vetoes
from coder.config import PROJECT_ROOT
from coder.errors import DataFileError
from coder.records import Classification, RuleMatch, Sentence
from coder.schema import check_data_file

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

POLICY_FILE = "policy.json"
# Modalities that name a speaker's own commitment: when the speech verb itself is the promise or
# threat, the event keeps its type (see Policy._statement_over).
COMMITMENTS = frozenset({"planned", "threatened"})
DEFAULT_SCHEMA = PROJECT_ROOT / "schemas" / "policy.schema.json"


def not_coded(sentence: Sentence, reason: str) -> Classification:
    """A sentence that is never coded (boilerplate): type none, with the reason in ``coded_by``."""
    return Classification(sentence.sentence_id, "none", None, 1.0, f"not-coded:{reason}")


def skipped(sentence: Sentence, scores: dict[str, float], model_version: str) -> Classification:
    """A sentence the first pass did not parse: none, with the model's P(none) as confidence."""
    return Classification(
        sentence.sentence_id,
        "none",
        None,
        float(scores.get("none", 1.0)),
        f"prefilter:{model_version}",
        model_scores=_score_tuple(scores),
    )


@dataclass(frozen=True)
class _Choice:
    event_type: str
    sub_event_type: str | None
    confidence: float
    coded_by: str
    match: RuleMatch | None


@dataclass(frozen=True)
class Policy:
    """The loaded ``policy.json``; see the module docstring for the order of decisions."""

    version: str
    thresholds: dict[str, float]
    default_sub_event_type: dict[str, str]
    sub_event_priority: tuple[str, ...]
    vetoes: Vetoes
    modality: ModalityReader
    statement_over: frozenset[str]
    first_person: frozenset[str]
    parse_cues: ParseCues
    quote_rule: str = "statement.quoted_speech.v1"
    quote_precision: float = 0.7

    @classmethod
    def load(cls, rules_dir: Path, schema_path: Path | None = None) -> Policy:
        """Read and validate ``policy.json`` (and ``policy_words.json`` beside it); DataFileError
        names the file on bad data."""
        path = Path(rules_dir) / POLICY_FILE
        data = _read_json(path)
        _validate(data, schema_path or DEFAULT_SCHEMA, path)
        return cls.from_dict(data, PolicyWords.load(Path(rules_dir)))

    @classmethod
    def from_dict(cls, data: dict[str, Any], words: PolicyWords) -> Policy:
        modality, quote = data["modality"], data["quoted_speech"]
        return cls(
            version=data["version"],
            thresholds={name: float(t["value"]) for name, t in data["thresholds"].items()},
            default_sub_event_type={k: v["value"] for k, v in data["default_sub_event_type"].items()},
            sub_event_priority=tuple(data["sub_event_priority"]["value"]),
            vetoes=Vetoes.from_policy(data, words),
            modality=ModalityReader.from_dict(modality, data["background"]),
            statement_over=frozenset(data["statement_over_modalities"]["value"]),
            first_person=frozenset(quote["first_person"]["value"]),
            parse_cues=ParseCues.from_words(
                quote["first_person"]["value"], data["first_pass"]["toll_words"]["value"]
            ),
            **_quote_fields(quote),
        )

    @property
    def cues(self) -> dict[str, frozenset[str]]:
        """Cue words of each modality other than 'asserted'."""
        return self.modality.cues

    def needs_parse(self, text: str, scores: dict[str, float], rules: RuleSet) -> bool:
        """False only when the parse cannot change the coding: ``decide`` would say none anyway."""
        return needs_parse(
            text,
            scores,
            rules,
            thresholds=self.thresholds,
            cues=self.parse_cues,
            may_accept=self._may_accept,
        )

    def has_parse_cue(self, text: str) -> bool:
        """A toll word or a first-person word (see ``ParseCues``)."""
        return self.parse_cues.in_text(text)

    def _model_may_code(self, scores: dict[str, float]) -> bool:
        return model_may_code(scores, self.thresholds)

    def decide(
        self,
        sentence: Sentence,
        doc: Doc,
        matches: list[RuleMatch],
        scores: dict[str, float],
        model_version: str,
        *,
        previous: Classification | None = None,
    ) -> Classification:
        """One Classification for a parsed sentence (see the module docstring for the policy);
        ``previous`` is the decision on the sentence before it in the same article, if any."""
        reasons = self._vetoed(matches, doc, sentence)
        kept = [m for m, why in reasons if why is None]
        silenced = self.vetoes.silenced((m, why) for m, why in reasons if why is not None)
        # The model may not code a type a veto silenced: those scores no longer count.
        allowed = {label: p for label, p in scores.items() if label not in silenced}
        in_quote = quoted_speech(sentence.text) or self._running_quote(doc, previous)
        choice, modality = self._choose(kept, allowed, model_version, doc, sentence, in_quote)
        match = choice.match
        return Classification(
            sentence_id=sentence.sentence_id,
            event_type=choice.event_type,
            sub_event_type=choice.sub_event_type,
            confidence=round(choice.confidence, 6),
            coded_by=choice.coded_by,
            modality=modality,
            trigger_start=match.trigger_start if match else None,
            trigger_end=match.trigger_end if match else None,
            model_scores=_score_tuple(scores),
        )

    def _vetoed(
        self, matches: list[RuleMatch], doc: Doc, sentence: Sentence
    ) -> list[tuple[RuleMatch, str | None]]:
        """Each match with the reason it is dropped (None: it stands). An attack trigger inside
        what a standing arms-transfer match moves is the transferred weapon ('transferred')."""
        triggers = [_trigger_token(m, doc, sentence) for m in matches]
        reasons = [self.vetoes.reason(m, t, doc) for m, t in zip(matches, triggers, strict=True)]
        transfers = frozenset(
            t.i
            for m, t, why in zip(matches, triggers, reasons, strict=True)
            if m.event_type == "arms_transfer" and why is None and t is not None
        )
        return [
            (m, "transferred")
            if why is None
            and t is not None
            and m.event_type not in ("arms_transfer", "statement")
            and self.vetoes.transferred(t, transfers)
            else (m, why)
            for m, t, why in zip(matches, triggers, reasons, strict=True)
        ]

    # -- choosing the type -------------------------------------------------------------------------

    def _choose(
        self,
        matches: list[RuleMatch],
        scores: dict[str, float],
        model_version: str,
        doc: Doc,
        sentence: Sentence,
        in_quote: bool,
    ) -> tuple[_Choice, str]:
        """The accepted rule of highest rank, preferring an asserted event; else the model."""
        accepted = [m for m in self._ranked(matches) if self._may_accept(m.event_type, m.precision, scores)]
        events = [m for m in accepted if m.event_type != "statement"]
        statement = next((m for m in accepted if m.event_type == "statement"), None)
        framed = [(m, self._modality(m, doc, sentence)) for m in events]
        best = next(((m, mod) for m, mod in framed if mod == "asserted"), framed[0] if framed else None)
        if best is not None and not self._statement_over(best[1], statement, in_quote, doc, sentence):
            return self._rule_choice(best[0], scores), best[1]
        if statement is not None and not (
            self._event_beats_statement(top_event(scores)) and not self._frames(statement, doc, sentence)
        ):
            return self._rule_choice(statement, scores), self._modality(statement, doc, sentence)
        if in_quote and not self._event_beats_statement(top_event(scores)):
            return self._quote_choice(scores), "asserted"
        root = _root(doc)
        choice = self._model_choice(scores, model_version, root)
        # Statements are asserted even with future content; the model names no speech verb to negate.
        if choice.event_type in ("none", "statement") or root is None:
            return choice, "asserted"
        # A rule that found the model's type located its trigger: its framing beats the main verb's.
        modality = next((mod for m, mod in framed if m.event_type == choice.event_type), None)
        modality = modality or self.modality.of_main_verb(root)
        if statement is not None and self._statement_over(modality, statement, in_quote, doc, sentence):
            return self._rule_choice(statement, scores), self._modality(statement, doc, sentence)
        return choice, modality

    def _statement_over(
        self, modality: str, statement: RuleMatch | None, in_quote: bool, doc: Doc, sentence: Sentence
    ) -> bool:
        """Does a speaker's statement (a speech-verb match, or a quote) outrank an event so framed?
        A speaker's own promise or threat ('vowed to recapture', 'threatened to strike') is the
        news and keeps the event's type; a plan reported by someone else ('demanded that the US
        cancel plans to sell arms', '"We will keep supplying weapons," the president told') is speech."""
        if modality not in self.statement_over or (statement is None and not in_quote):
            return False
        if modality not in COMMITMENTS or statement is None:
            return True
        verb = _trigger_token(statement, doc, sentence)
        return verb is None or self.modality.cue(verb, own_lemma=True) != modality

    def _may_accept(self, event_type: str, precision: float, scores: dict[str, float]) -> bool:
        support = float(scores.get(event_type, 0.0))
        return (
            precision >= self.thresholds["rule_override"] or support >= self.thresholds["weak_rule_support"]
        )

    def _ranked(self, matches: list[RuleMatch]) -> list[RuleMatch]:
        def key(m: RuleMatch) -> tuple[bool, float, int, str]:
            rank = self._priority(m.sub_event_type)
            return (m.event_type == "statement", -m.precision, rank, m.rule_id)

        return sorted(matches, key=key)

    def _priority(self, sub_event_type: str | None) -> int:
        order = self.sub_event_priority
        return order.index(sub_event_type) if sub_event_type in order else len(order)

    def _event_beats_statement(self, model_top: tuple[str, float] | None) -> bool:
        if model_top is None or model_top[0] == "statement":
            return False
        return model_top[1] >= self.thresholds["event_over_statement"]

    def _rule_choice(self, match: RuleMatch, scores: dict[str, float]) -> _Choice:
        top = argmax(scores)
        if top == match.event_type:
            confidence = max(match.precision, float(scores[top]))
            return _Choice(
                match.event_type, match.sub_event_type, confidence, f"rule+model:{match.rule_id}", match
            )
        return _Choice(
            match.event_type, match.sub_event_type, match.precision, f"rule:{match.rule_id}", match
        )

    def _quote_choice(self, scores: dict[str, float]) -> _Choice:
        agrees = argmax(scores) == "statement"
        confidence = max(self.quote_precision, float(scores.get("statement", 0.0)))
        coded_by = f"{'rule+model' if agrees else 'rule'}:{self.quote_rule}"
        return _Choice("statement", self.default_sub_event_type.get("statement"), confidence, coded_by, None)

    def _model_choice(
        self, scores: dict[str, float], model_version: str, root: Token | None = None
    ) -> _Choice:
        p_none = float(scores.get("none", 0.0))
        top = top_event(scores)
        coded_by = f"model:{model_version}"
        if (
            top is None
            or p_none >= self.thresholds["none"]
            or top[1] < self.thresholds.get("min_event_probability", 0.0)
            or self.vetoes.model_vetoed(top[0], root)
        ):
            return _Choice("none", None, p_none, coded_by, None)
        event_type, probability = top
        return _Choice(event_type, self.default_sub_event_type.get(event_type), probability, coded_by, None)

    # -- context ------------------------------------------------------------------------------------

    def _running_quote(self, doc: Doc, previous: Classification | None) -> bool:
        """A first-person sentence without quote marks right after a statement continues its quote."""
        if previous is None or previous.event_type != "statement":
            return False
        if any(ch in doc.text for ch in OPENING_QUOTES + CLOSING_QUOTES):
            return False
        # 'US' (the country) is not 'us'; 'I' is the one first-person word written in capitals.
        return any(t.lower_ in self.first_person and (t.text == "I" or not t.is_upper) for t in doc)

    # -- modality ----------------------------------------------------------------------------------

    def _modality(self, match: RuleMatch, doc: Doc, sentence: Sentence) -> str:
        trigger = _trigger_token(match, doc, sentence)
        if trigger is None:
            return "asserted"
        if match.event_type == "statement":
            return self.modality.of_statement(trigger)
        return self.modality.of(trigger)

    def _frames(self, statement: RuleMatch, doc: Doc, sentence: Sentence) -> bool:
        """Does the speech verb itself make what it governs a non-event ('called on people to fight',
        'denied that troops shelled')? Then the sentence is the statement, whatever the model says."""
        verb = _trigger_token(statement, doc, sentence)
        return verb is not None and self.modality.cue(verb, own_lemma=True) in self.statement_over

    def modality_of(self, trigger: Token) -> str:
        """The framing of the event whose trigger is ``trigger`` (see ``coder.classify.modality``)."""
        return self.modality.of(trigger)


def _quote_fields(entry: dict[str, Any]) -> dict[str, Any]:
    return {"quote_rule": str(entry["rule_id"]), "quote_precision": float(entry["precision"])}


def _trigger_token(match: RuleMatch | None, doc: Doc, sentence: Sentence) -> Token | None:
    if match is None:
        return None
    start, end = match.trigger_start - sentence.start_char, match.trigger_end - sentence.start_char
    span = doc.char_span(start, end, alignment_mode="expand")
    return span.root if span is not None and len(span) else None


def _root(doc: Doc) -> Token | None:
    roots = [t for t in doc if t.head.i == t.i]
    return roots[0] if roots else None


def _score_tuple(scores: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple((label, float(scores[label])) for label in sorted(scores))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataFileError(f"cannot read policy file: {exc.strerror}", path=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise DataFileError(f"not valid JSON: {exc.msg}", path=str(path), line=exc.lineno) from exc
    except UnicodeDecodeError as exc:
        raise DataFileError(f"not UTF-8 text ({exc.reason}); save it as UTF-8", path=str(path)) from None
    if not isinstance(data, dict):
        raise DataFileError("policy file must hold a JSON object", path=str(path))
    return data


def _validate(data: dict[str, Any], schema_path: Path, path: Path) -> None:
    check_data_file(data, schema_path, str(path))
