"""Vetoes: the rule matches the decision policy drops, and the model readings it then silences.

The words are data: ``media_outlets``, ``arms_interdiction_lemmas``, ``disrupted_attack_lemmas``,
``interdiction`` and ``stance_lemmas`` in ``seeds/rules/policy.json``, and the newer lists of
``seeds/rules/policy_words.json`` (non-political speakers, explosive devices, which vetoes
silence the model), each with a why. A veto has a reason:

- ``nobody`` / ``media`` / ``non_political`` / ``no_subject``: a statement match whose speaker
  is "no group", a media outlet ("Al Jazeera said"), a business, science, sports or
  entertainment speaker ("the company announced"), or missing;
- ``relative_clause``: a speech verb inside a relative clause ("the government, which Sunnis
  *say* has marginalized them"; "Anbar, where it *declared* an Islamic state") qualifies a noun
  in passing: the sentence is about something else (the model may still find a statement);
- ``seized``: an event trigger inside what was seized ("intercepted a shipment of *rocket*
  launchers");
- ``stance``: an event that is the object of a stance verb ("condemned the *attack*");
- ``interdicted``: an arms-transfer match in a sentence about seized or found weapons;
- ``disrupted``: a bomb that was defused, dismantled or found ("police defused a *car bomb*");
- ``transferred``: an attack trigger inside what an arms-transfer match moves ("sent artillery
  *shells* to Russia", "a shipment of *rockets*"): the weapon changed hands, nobody fired it.

A veto with a reason in ``silencing_vetoes`` also stops the model from coding the vetoed
match's type in that sentence: the sentence that made the rule's reading wrong makes the
model's reading of the same type wrong too ("No group immediately claimed responsibility" is
none, not a model statement). A media attribution is not silenced: the model reads what was
reported ("..., the news agency said"), which may be a statement. ``model_vetoed`` covers what
no rule matched: a seizure or a defused device as the main verb's object, and a bare toll ("At
least 19 were killed and 37 wounded."), which names no event the model could type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coder.classify.modality import governors
from coder.config import PROJECT_ROOT
from coder.errors import DataFileError
from coder.records import RuleMatch
from coder.schema import check_data_file

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

WORDS_FILE = "policy_words.json"
WORDS_SCHEMA = PROJECT_ROOT / "schemas" / "policy_words.schema.json"
SPEAKER_DEPS = frozenset({"nsubj", "nsubjpass"})
# How a seized thing hangs off the seizing verb or noun (grammar, not tuning): "seized *weapons*",
# "weapons *were seized*", "the seizure *of* rockets".
SEIZED_VERB_DEPS = frozenset({"dobj", "nsubjpass", "oprd"})
SEIZED_NOUN_DEPS = frozenset({"prep", "compound", "poss"})
# A clause hanging off a disrupting verb is another event ("bodies were found *after* the bomb
# exploded"); a conjoined verb shares its object ("a bomb was found and *detonated*").
CLAUSE_DEPS = frozenset({"advcl", "ccomp", "relcl", "parataxis", "acl"})
NO_SPEAKER = frozenset({"no", "nobody", "none", "noone"})
# A conjoined verb ('offered support but said ...') or a participle clause ('rejected the calls,
# saying ...') has no subject of its own: it shares its head's (grammar).
SHARED_SUBJECT_DEPS = frozenset({"conj", "advcl"})
# The words of a bare toll ('At least 19 were killed and 37 wounded.'): counts, victims, auxiliaries,
# 'and'; an agent, preposition, object or clause would name who, how, where or when (grammar).
BARE_TOLL_DEPS = frozenset(
    {"ROOT", "nsubj", "nsubjpass", "aux", "auxpass", "cc", "conj", "punct", "nummod", "quantmod"}
    | {"advmod", "det", "amod", "compound"}
)
_WORD_KEYS = ("non_political_speakers", "explosive_devices", "silencing_vetoes")


@dataclass(frozen=True)
class PolicyWords:
    """``seeds/rules/policy_words.json``: word lists added after ``policy.v3``."""

    version: str
    non_political: frozenset[str]
    explosive_devices: frozenset[str]
    silencing: frozenset[str]

    @classmethod
    def load(cls, rules_dir: Path) -> PolicyWords:
        path = Path(rules_dir) / WORDS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataFileError(f"cannot read policy words: {exc}", path=str(path)) from exc
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data: Any, path: Path | None = None) -> PolicyWords:
        where = str(path) if path else None
        check_data_file(data, WORDS_SCHEMA, where)  # the shape, every why, and no ASCII capitals
        lists = [frozenset(data[key]["value"]) for key in _WORD_KEYS]
        for key, words in zip(_WORD_KEYS, lists, strict=True):
            if any(w != w.lower() for w in words):  # lemmas: the schema's pattern sees ASCII capitals only
                raise DataFileError(f"{key}: needs a 'value' list of lowercase words and a 'why'", path=where)
        return cls(data["version"], *lists)


@dataclass(frozen=True)
class Vetoes:
    """The veto words, compiled; see the module docstring."""

    media_re: re.Pattern[str]
    arms_interdiction: frozenset[str]
    disrupted_attack: frozenset[str]
    interdiction: frozenset[str]
    interdiction_model_types: frozenset[str]
    stance: frozenset[str]
    words: PolicyWords
    toll_words: frozenset[str] = frozenset()

    @classmethod
    def from_policy(cls, data: dict[str, Any], words: PolicyWords) -> Vetoes:
        media = sorted(data["media_outlets"]["value"], key=lambda w: (-len(w), w))
        return cls(
            media_re=re.compile(r"\b(?:" + "|".join(re.escape(m) for m in media) + r")\b"),
            arms_interdiction=frozenset(data["arms_interdiction_lemmas"]["value"]),
            disrupted_attack=frozenset(data["disrupted_attack_lemmas"]["value"]),
            interdiction=frozenset(data["interdiction"]["lemmas"]["value"]),
            interdiction_model_types=frozenset(data["interdiction"]["model_types"]["value"]),
            stance=frozenset(data["stance_lemmas"]["value"]),
            words=words,
            toll_words=frozenset(data["first_pass"]["toll_words"]["value"]),
        )

    def reason(self, match: RuleMatch, trigger: Token | None, doc: Doc) -> str | None:
        """Why ``match`` is dropped, or None when it stands."""
        if match.event_type == "statement":
            if trigger is not None and trigger.dep_ == "relcl":
                return "relative_clause"  # 'the government, which Sunnis say marginalized them'
            return "no_subject" if trigger is None else self._speaker_veto(trigger)
        if trigger is not None and self._seized(trigger):
            return "seized"
        if trigger is not None and self._stance_object(trigger):
            return "stance"
        if match.event_type == "arms_transfer" and self._mentions_seizure(doc):
            return "interdicted"
        if match.event_type == "bombing" and trigger is not None and self._disrupted(trigger):
            return "disrupted"
        return None

    def transferred(self, trigger: Token, transfers: frozenset[int]) -> bool:
        """Is the attack trigger the weapon an arms-transfer trigger (token ids ``transfers``)
        moves ('sent artillery *shells*', 'a shipment of *rockets*')? Another verb between them
        ('supplied the rebels who *fired* rockets') or a clause ('sent arms after the *attack*')
        makes it an event of its own."""
        child = trigger
        for token in governors(trigger):
            if token.i in transfers:
                return child.dep_ not in CLAUSE_DEPS and child.dep_ not in SPEAKER_DEPS
            # 'including' and 'such as' hang a list off the noun: no verb of their own.
            if token.pos_ in ("VERB", "AUX") and token.dep_ != "prep":
                return False
            child = token
        return False

    def silenced(self, dropped: Iterable[tuple[RuleMatch, str]]) -> frozenset[str]:
        """The event types the model may not code, given the dropped matches and their reasons."""
        return frozenset(m.event_type for m, why in dropped if why in self.words.silencing)

    def model_vetoed(self, event_type: str, root: Token | None) -> bool:
        """A model event the main verb rules out: a seizure ('customs seized rockets'), a device
        defused or found ('police defused a bomb') for a bombing, or a bare toll ('At least 19
        were killed and 37 wounded.') for any type."""
        if root is None:
            return False
        if self._bare_toll(root):
            return True
        if event_type in self.interdiction_model_types and self._seizure(root):
            return True
        return event_type == "bombing" and self._defused_device(root)

    # -- the tests behind each reason --------------------------------------------------------------

    def _speaker_veto(self, verb: Token) -> str | None:
        speakers = _speakers(verb)
        if not speakers:
            return "no_subject"  # no one speaks: nothing to code as a statement
        if any(t.lower_ in NO_SPEAKER for s in speakers for t in [s, *s.children]):
            return "nobody"  # "no group claimed responsibility"
        # A speaker the verb hangs off ('X, a cleric, called ...') holds the verb's clause: not the speaker.
        clause = {t.i for t in verb.subtree} if verb.dep_ == "acl" else set()
        phrase = [t for s in speakers for t in s.subtree if t.i not in clause]
        if self.media_re.search(" ".join(t.text for t in phrase).lower()) is not None:
            return "media"
        # The speaker's own noun only: 'a company spokesman' and 'business leaders' may speak politics.
        if any(s.lemma_.lower() in self.words.non_political for s in speakers):
            return "non_political"
        return None

    def _seizure(self, token: Token) -> bool:
        return token.lemma_.lower() in self.interdiction

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

    def _disrupted(self, trigger: Token) -> bool:
        """Is the bomb what was defused, dismantled or found? The trigger itself may be the verb
        (a matched span 'bomb was found and detonated' has 'found' at its root)."""
        if trigger.lemma_.lower() in self.disrupted_attack:
            return True
        child = trigger
        for token in governors(trigger):
            if token.lemma_.lower() in self.disrupted_attack:
                return child.dep_ not in CLAUSE_DEPS
            child = token
        return False

    def _defused_device(self, root: Token) -> bool:
        if root.lemma_.lower() not in self.disrupted_attack:
            return False
        objects = [c for c in root.children if c.dep_ in SEIZED_VERB_DEPS]
        devices = self.words.explosive_devices
        return any(t.lemma_.lower() in devices for o in objects for t in (o, *o.children))

    def _bare_toll(self, root: Token) -> bool:
        """A toll and nothing else: every verb a toll word (policy.json first_pass.toll_words) and no
        agent, instrument, place, time or clause ('At least 19 were killed and 37 wounded.'). It names
        no event to type: the pipeline folds it into the event told just before (the aftermath)."""
        doc = root.doc
        verbs = [t for t in doc if t.pos_ in ("VERB", "AUX") and t.dep_ not in ("aux", "auxpass")]
        if not verbs or any(t.lower_ not in self.toll_words for t in verbs):
            return False
        return all(t.dep_ in BARE_TOLL_DEPS for t in doc)

    def _mentions_seizure(self, doc: Doc) -> bool:
        return any(t.lemma_.lower() in self.arms_interdiction for t in doc)


def _speakers(verb: Token) -> list[Token]:
    """Subjects of a speech verb; a conjoined verb ('offered support but said ...') shares its head's;
    a verb parsed as a participle of a titled name ('X, a cleric, called ...') is spoken by the name."""
    if verb.dep_ == "acl" and any(c.dep_ == "appos" and c.i < verb.i for c in verb.head.children):
        return [verb.head]
    own = [child for child in verb.children if child.dep_ in SPEAKER_DEPS]
    if own or verb.dep_ not in SHARED_SUBJECT_DEPS:
        return own
    return [child for child in verb.head.children if child.dep_ in SPEAKER_DEPS]
