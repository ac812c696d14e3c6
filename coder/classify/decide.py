"""The hybrid decision policy: rule matches + model scores -> one Classification per sentence.

Everything tunable lives in ``seeds/rules/policy.json`` (schema ``schemas/policy.schema.json``),
each entry with a why. The policy, in order:

1. **Cheap first pass** (``needs_parse``): parse only where the parse can change the coding:
   quoted speech, a possible model event (P(none) < ``none``, top type >= ``min_event_probability``),
   a rule the policy would accept whose needed words are in the text (``RuleSet.candidates``), a
   first-person word (running quote) or a toll word (aftermath). Any other sentence is none anyway.
2. **Vetoes**: a statement match whose speaker is a media outlet ("Al Jazeera said",
   "BBC reported") is dropped; an arms-transfer match in a sentence about seized or
   intercepted weapons is dropped; a bombing match governed by "defused/found" is dropped;
   any event match inside the object of a seizure ("intercepted a shipment of *rocket*
   launchers") is dropped, and so is a model-only ``interdiction.model_types`` event in
   a sentence whose main verb is a seizure.
3. **Precedence**: any event rule beats the statement rule ("a bomb exploded, police
   said" is a bombing); among event rules an asserted one beats a framed one, then the
   higher precision wins, ties broken by ``sub_event_priority`` (more specific first).
4. **Rule or model**: a rule with precision >= ``rule_override`` decides alone; a
   weaker rule decides only if the model gives its type >= ``weak_rule_support``.
   A statement rule yields to a model event type scoring >= ``event_over_statement``.
   A sentence that opens with a quote mark or leaves a quote open or closed
   (``quoted_speech``) continues a speaker's quote: a statement, unless the model
   gives an event type >= ``event_over_statement``. So does a sentence without quote
   marks that speaks in the first person right after a statement (``previous``): a
   running quote ("“We are not contemplating returning. We are not putting boots ...").
   Otherwise the model decides: ``none`` when P(none) >= ``none`` or the most likely
   event type's probability is below ``min_event_probability``, else that type
   (sub-type from ``default_sub_event_type``). An event framed as
   ``statement_over_modalities`` (hypothetical, negated) yields to a statement match:
   a speaker talking about a possible event made a statement.
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
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema

from coder.classify.modality import ModalityReader, governors
from coder.classify.rules import RuleSet
from coder.config import PROJECT_ROOT
from coder.errors import DataFileError
from coder.records import Classification, RuleMatch, Sentence

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

POLICY_FILE = "policy.json"
DEFAULT_SCHEMA = PROJECT_ROOT / "schemas" / "policy.schema.json"
SPEAKER_DEPS = frozenset({"nsubj", "nsubjpass"})
# How a seized thing hangs off the seizing verb or noun (grammar, not tuning): "seized *weapons*",
# "weapons *were seized*", "the seizure *of* rockets".
SEIZED_VERB_DEPS = frozenset({"dobj", "nsubjpass", "oprd"})
SEIZED_NOUN_DEPS = frozenset({"prep", "compound", "poss"})
NO_SPEAKER = frozenset({"no", "nobody", "none", "noone"})
# Letter runs of the lowercased text: the words a cheap check can see without the tokenizer.
WORD_RUN = re.compile(r"[^\W\d_]+")
OPENING_QUOTES = '“"«'
CLOSING_QUOTES = '”"»'


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
    media_re: re.Pattern[str]
    arms_interdiction: frozenset[str]
    disrupted_attack: frozenset[str]
    modality: ModalityReader
    statement_over: frozenset[str]
    interdiction: frozenset[str]
    interdiction_model_types: frozenset[str]
    stance: frozenset[str]
    first_person: frozenset[str]
    # Words that make a sentence worth parsing whatever the rules say: a running quote speaks in the
    # first person ('we'); an aftermath sentence ('At least 19 were killed.') names the toll.
    first_person_runs: frozenset[str]
    toll_words: frozenset[str]
    quote_rule: str = "statement.quoted_speech.v1"
    quote_precision: float = 0.7

    @classmethod
    def load(cls, rules_dir: Path, schema_path: Path | None = None) -> Policy:
        """Read and validate ``policy.json``; DataFileError names the file on bad data."""
        path = Path(rules_dir) / POLICY_FILE
        data = _read_json(path)
        _validate(data, schema_path or DEFAULT_SCHEMA, path)
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        media = sorted(data["media_outlets"]["value"], key=lambda w: (-len(w), w))
        modality, quote = data["modality"], data["quoted_speech"]
        return cls(
            version=data["version"],
            thresholds={name: float(t["value"]) for name, t in data["thresholds"].items()},
            default_sub_event_type={k: v["value"] for k, v in data["default_sub_event_type"].items()},
            sub_event_priority=tuple(data["sub_event_priority"]["value"]),
            media_re=re.compile(r"\b(?:" + "|".join(re.escape(m) for m in media) + r")\b"),
            arms_interdiction=frozenset(data["arms_interdiction_lemmas"]["value"]),
            disrupted_attack=frozenset(data["disrupted_attack_lemmas"]["value"]),
            modality=ModalityReader.from_dict(modality, data["background"]),
            statement_over=frozenset(data["statement_over_modalities"]["value"]),
            interdiction=frozenset(data["interdiction"]["lemmas"]["value"]),
            interdiction_model_types=frozenset(data["interdiction"]["model_types"]["value"]),
            stance=frozenset(data["stance_lemmas"]["value"]),
            first_person=frozenset(quote["first_person"]["value"]),
            # "we're" is the tokens "we" + "'re" to spaCy: its first letter run is the word the parse sees.
            first_person_runs=frozenset(
                WORD_RUN.findall(w.lower())[0] for w in quote["first_person"]["value"]
            ),
            toll_words=frozenset(data["first_pass"]["toll_words"]["value"]),
            **_quote_fields(quote),
        )

    @property
    def cues(self) -> dict[str, frozenset[str]]:
        """Cue words of each modality other than 'asserted'."""
        return self.modality.cues

    def needs_parse(self, text: str, scores: dict[str, float], rules: RuleSet) -> bool:
        """False only when the parse cannot change the coding: ``decide`` would say none anyway."""
        cheap = "none" not in scores or quoted_speech(text) or self._model_may_code(scores)
        if cheap or self.has_parse_cue(text):
            return True
        return any(self._may_accept(r.event_type, r.precision, scores) for r in rules.candidates(text))

    def has_parse_cue(self, text: str) -> bool:
        """A toll word (the sentence may be the aftermath of the event before it) or a first-person word
        read as ``_running_quote`` reads it ('US' the country is not 'us'): it may continue a quote."""
        for run in WORD_RUN.findall(text):
            w = run.lower()
            if w in self.toll_words or (w in self.first_person_runs and (run == "I" or not run.isupper())):
                return True
        return False

    def _model_may_code(self, scores: dict[str, float]) -> bool:
        """Could ``_model_choice`` (or the model beating a quote) code an event here?"""
        top = _top_event(scores)
        ceiling = max(self.thresholds["parse_if_none_below"], self.thresholds["none"])
        floor = self.thresholds.get("min_event_probability", 0.0)
        return top is not None and float(scores["none"]) < ceiling and top[1] >= floor

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
        kept = [m for m in matches if not self._vetoed(m, doc, sentence)]
        in_quote = quoted_speech(sentence.text) or self._running_quote(doc, previous)
        choice, modality = self._choose(kept, scores, model_version, doc, sentence, in_quote)
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
        if best is not None and not (statement is not None and best[1] in self.statement_over):
            return self._rule_choice(best[0], scores), best[1]
        if statement is not None and not self._event_beats_statement(_top_event(scores)):
            return self._rule_choice(statement, scores), self._modality(statement, doc, sentence)
        if in_quote and not self._event_beats_statement(_top_event(scores)):
            return self._quote_choice(scores), "asserted"
        root = _root(doc)
        choice = self._model_choice(scores, model_version, root)
        # Statements are asserted even with future content; the model names no speech verb to negate.
        if choice.event_type in ("none", "statement") or root is None:
            return choice, "asserted"
        return choice, self.modality_of(root)

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
        top = _argmax(scores)
        if top == match.event_type:
            confidence = max(match.precision, float(scores[top]))
            return _Choice(
                match.event_type, match.sub_event_type, confidence, f"rule+model:{match.rule_id}", match
            )
        return _Choice(
            match.event_type, match.sub_event_type, match.precision, f"rule:{match.rule_id}", match
        )

    def _quote_choice(self, scores: dict[str, float]) -> _Choice:
        agrees = _argmax(scores) == "statement"
        confidence = max(self.quote_precision, float(scores.get("statement", 0.0)))
        coded_by = f"{'rule+model' if agrees else 'rule'}:{self.quote_rule}"
        return _Choice("statement", self.default_sub_event_type.get("statement"), confidence, coded_by, None)

    def _model_choice(
        self, scores: dict[str, float], model_version: str, root: Token | None = None
    ) -> _Choice:
        p_none = float(scores.get("none", 0.0))
        top = _top_event(scores)
        coded_by = f"model:{model_version}"
        if (
            top is None
            or p_none >= self.thresholds["none"]
            or top[1] < self.thresholds.get("min_event_probability", 0.0)
            or (top[0] in self.interdiction_model_types and self._seizure(root))
        ):
            return _Choice("none", None, p_none, coded_by, None)
        event_type, probability = top
        return _Choice(event_type, self.default_sub_event_type.get(event_type), probability, coded_by, None)

    # -- vetoes ------------------------------------------------------------------------------------

    def _vetoed(self, match: RuleMatch, doc: Doc, sentence: Sentence) -> bool:
        trigger = _trigger_token(match, doc, sentence)
        if match.event_type == "statement":
            return trigger is None or self._media_speaker(trigger)
        if trigger is not None and (self._seized(trigger) or self._stance_object(trigger)):
            return True
        if match.event_type == "arms_transfer":
            return any(t.lemma_.lower() in self.arms_interdiction for t in doc)
        if match.event_type == "bombing" and trigger is not None:
            return any(t.lemma_.lower() in self.disrupted_attack for t in governors(trigger))
        return False

    def _seizure(self, token: Token | None) -> bool:
        return token is not None and token.lemma_.lower() in self.interdiction

    def _seized(self, trigger: Token) -> bool:
        """Is the trigger inside what was seized ('intercepted a shipment of *rocket* launchers')?
        A clause beside the seizure ('seized weapons after a *clash*') is not."""
        child = trigger
        for token in governors(trigger):
            if self._seizure(token):
                deps = SEIZED_NOUN_DEPS if token.pos_ in ("NOUN", "PROPN") else SEIZED_VERB_DEPS
                return child.dep_ in deps
            child = token
        return False

    def _stance_object(self, trigger: Token) -> bool:
        """Is the event what someone takes a stance on ('opposed the arms *sale*', 'condemned the
        *attack*')? The sentence reports the stance, a statement, not the event."""
        child = trigger
        for token in governors(trigger):
            if token.pos_ in ("VERB", "AUX"):
                return token.lemma_.lower() in self.stance and child.dep_ == "dobj"
            child = token
        return False

    def _running_quote(self, doc: Doc, previous: Classification | None) -> bool:
        """A first-person sentence without quote marks right after a statement continues its quote."""
        if previous is None or previous.event_type != "statement":
            return False
        if any(ch in doc.text for ch in OPENING_QUOTES + CLOSING_QUOTES):
            return False
        # 'US' (the country) is not 'us'; 'I' is the one first-person word written in capitals.
        return any(t.lower_ in self.first_person and (t.text == "I" or not t.is_upper) for t in doc)

    def _media_speaker(self, verb: Token) -> bool:
        """Is the speaker a media outlet (attribution, not a statement), or is there no speaker at all?"""
        speakers = _speakers(verb)
        if not speakers:
            return True  # no one speaks: nothing to code as a statement
        if any(t.lower_ in NO_SPEAKER for s in speakers for t in [s, *s.children]):
            return True  # "no group claimed responsibility"
        phrase = " ".join(t.text for s in speakers for t in s.subtree).lower()
        return self.media_re.search(phrase) is not None

    # -- modality ----------------------------------------------------------------------------------

    def _modality(self, match: RuleMatch, doc: Doc, sentence: Sentence) -> str:
        trigger = _trigger_token(match, doc, sentence)
        if trigger is None:
            return "asserted"
        if match.event_type == "statement":
            return self.modality.of_statement(trigger)
        return self.modality.of(trigger)

    def modality_of(self, trigger: Token) -> str:
        """The framing of the event whose trigger is ``trigger`` (see ``coder.classify.modality``)."""
        return self.modality.of(trigger)


def _quote_fields(entry: dict[str, Any]) -> dict[str, Any]:
    return {"quote_rule": str(entry["rule_id"]), "quote_precision": float(entry["precision"])}


def quoted_speech(text: str) -> bool:
    """Does the sentence open with a quote mark, or leave a quote open or closed (a quote that runs
    over several sentences: the speaker is named in another one)?"""
    body = text.strip()
    if not body:
        return False
    if body[0] in OPENING_QUOTES:
        return True
    straight = body.count('"')
    curly_open, curly_close = body.count("“") + body.count("«"), body.count("”") + body.count("»")
    return straight % 2 == 1 or curly_open != curly_close


def _speakers(verb: Token) -> list[Token]:
    """Subjects of a speech verb; a conjoined verb ('offered support but said ...') shares its head's."""
    own = [child for child in verb.children if child.dep_ in SPEAKER_DEPS]
    if own or verb.dep_ != "conj":
        return own
    return [child for child in verb.head.children if child.dep_ in SPEAKER_DEPS]


def _trigger_token(match: RuleMatch | None, doc: Doc, sentence: Sentence) -> Token | None:
    if match is None:
        return None
    start, end = match.trigger_start - sentence.start_char, match.trigger_end - sentence.start_char
    span = doc.char_span(start, end, alignment_mode="expand")
    return span.root if span is not None and len(span) else None


def _root(doc: Doc) -> Token | None:
    roots = [t for t in doc if t.head.i == t.i]
    return roots[0] if roots else None


def _argmax(scores: dict[str, float]) -> str | None:
    if not scores:
        return None
    return max(sorted(scores), key=lambda label: scores[label])


def _top_event(scores: dict[str, float]) -> tuple[str, float] | None:
    events = {k: float(v) for k, v in scores.items() if k != "none"}
    label = _argmax(events)
    return (label, events[label]) if label is not None else None


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
    try:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataFileError(f"policy schema unusable: {exc}", path=str(schema_path)) from exc
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(policy)"
        raise DataFileError(f"{where}: {errors[0].message}", path=str(path))
