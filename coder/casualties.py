"""Fatalities and injuries stated in a sentence, by ACLED's rules.

``CasualtyRules.find`` turns a sentence into ``CountHit``s (a figure, its kind,
the id of the pattern that fired); ``count_casualties`` then drops figures that
are aggregates or subsets, lets verb-bound patterns win over looser ones, and
combines what is left as ACLED does: rival figures for the same victim group
give the lowest, distinct groups ("3 soldiers and 2 civilians") are summed.
Every word list, vague value ("dozens" = 12), victim group and pattern lives in
``seeds/rules/casualties.json``; the figures that are ages or running totals are
told apart in ``coder.casualties_frames``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coder.casualties_frames import (
    AGE,
    AGES,
    CLAUSE_BREAK,
    NAMED,
    NAMES,
    aggregate_claimed,
    clause_bounds,
    in_ages,
    named_count,
)
from coder.casualties_gate import last_part
from coder.errors import DataFileError
from coder.records import Casualties, Sentence

if TYPE_CHECKING:
    from spacy.tokens import Doc

RULES_FILE = "casualties.json"
KINDS = ("fatalities", "injuries")
_WORD = r"[^\W\d_][\w'’.-]*"  # one word: no digits, no clause punctuation
# {ONE}: the English singular article before a person noun ("a soldier was killed"); a pattern that uses it
# names its person nouns itself, since "a" before any other word counts nothing.
_ONE = r"(?P<one>a\s+single|an?)"
COMBINE_POLICIES = ("min", "max", "sum", "groups")


@dataclass(frozen=True)
class CountHit:
    """A figure of dead or hurt people found in a text (sentence-relative offsets)."""

    kind: str  # "fatalities" | "injuries"
    value: int
    start: int  # the whole phrase
    end: int
    count_start: int  # the figure itself
    count_end: int
    text: str
    rule_id: str
    priority: int
    named: bool = False  # a figure that counts named people ("Samson 54 and Ramesh Singh 42")


@dataclass(frozen=True)
class _CountPattern:
    rule_id: str
    kind: str
    priority: int
    regex: re.Pattern[str]
    gate: re.Pattern[str] | None = None  # not found: the pattern cannot match (``casualties_gate``)


def _alt(words: Sequence[str] | Mapping[str, object]) -> str:
    ordered = sorted(words, key=lambda w: (-len(w), w))  # longest first: "at least another" before "another"
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in ordered)


def _marker_regex(markers: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(m.replace(" ", r"\s+") for m in markers) + r")(?!\w)", re.I)


@dataclass(frozen=True)
class CasualtyRules:
    """The compiled ``casualties.json``."""

    version: str
    patterns: tuple[_CountPattern, ...]
    number_words: Mapping[str, int]
    multipliers: Mapping[str, int]
    vague: Mapping[str, int]
    not_victims: frozenset[str]
    day_of_month_before: frozenset[str]  # "November 8": a date's day, not a toll
    singular_verb: re.Pattern[str]  # "Singh 42 was killed": an age, not a toll
    sentence_aggregate: re.Pattern[str]
    clause_aggregate: re.Pattern[str]
    subset: re.Pattern[str]
    years: tuple[int, int]
    combine: str
    victim_groups: Mapping[str, str]  # victim noun -> its group ("troops" -> "security")
    coordinator: re.Pattern[str]  # "and": two figures in one phrase are two groups
    noun_window: int

    @classmethod
    def load(cls, path: Path) -> CasualtyRules:
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, re.error) as exc:
            raise DataFileError(f"cannot load casualty rules: {exc}", path=str(path)) from exc

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CasualtyRules:
        vague = {v["phrase"]: int(v["value"]) for v in raw["vague_quantities"]["value"]}
        aggregate = raw["aggregate_markers"]["value"]
        low, high = raw["year_range"]["value"]
        if raw["combine"]["value"] not in COMBINE_POLICIES:
            raise ValueError(f"unknown combine policy {raw['combine']['value']!r}")
        return cls(
            version=raw["version"],
            patterns=_compile(raw, vague),
            number_words=dict(raw["number_words"]["value"]),
            multipliers=dict(raw["multipliers"]["value"]),
            vague=vague,
            not_victims=frozenset(w.lower() for w in raw["not_victims"]["value"]),
            day_of_month_before=frozenset(raw["day_of_month_before"]["value"]),
            singular_verb=re.compile(r"\s+(?:" + _alt(raw["singular_verbs"]["value"]) + r")(?!\w)", re.I),
            sentence_aggregate=_marker_regex(aggregate["sentence"]),
            clause_aggregate=_marker_regex(aggregate["clause"]),
            subset=_marker_regex(raw["subset_markers"]["value"]),
            years=(int(low), int(high)),
            combine=raw["combine"]["value"],
            victim_groups={
                re.sub(r"\s+", " ", noun.lower()): group
                for group, nouns in raw["victim_groups"]["value"].items()
                for noun in nouns
            },
            noun_window=int(raw["victim_noun_window"]["value"]),
            coordinator=_marker_regex([re.escape(w) for w in raw["coordinators"]["value"]]),
        )

    def find(self, text: str) -> list[CountHit]:
        """Every figure a pattern binds to a death or injury word, before any policy."""
        hits: list[CountHit] = []
        gates: dict[re.Pattern[str], bool] = {}  # patterns share gates ("killed", "wounded")
        for pattern in self.patterns:
            if pattern.gate is not None:
                if pattern.gate not in gates:
                    gates[pattern.gate] = pattern.gate.search(text) is not None
                if not gates[pattern.gate]:
                    continue
            match = pattern.regex.search(text)
            while match is not None:  # overlapping: "three militants and one soldier were killed" holds two
                hit = self._hit(pattern, match, text)
                if hit is not None:
                    hits.append(hit)
                match = pattern.regex.search(text, match.start() + 1)
        return hits

    def _hit(self, pattern: _CountPattern, match: re.Match[str], text: str) -> CountHit | None:
        groups = match.groupdict()
        if groups.get("one"):  # "a soldier was killed": one victim
            values, figure = [1], "one"
        elif groups.get("named"):  # "Samson 54 and Ramesh Singh 42 were killed": one victim a name
            named = named_count(match.group("named"), self.day_of_month_before)
            if named is None:
                return None
            values, figure = [named], "named"
        else:
            number, other = match.group("num"), match.group("num2")
            if self._is_year(number) or self._counts_things(match, text) or self._is_day(match, text):
                return None
            if in_ages(text, match.start("num")):  # "two men aged 25 and 30": ages, not tolls
                return None
            values, figure = [self.value(n) for n in (number, other) if n], "count"
            if min(values) > 1 and self.singular_verb.match(text, match.end("count")):
                return None
        return CountHit(
            kind=pattern.kind,
            value=min(values),  # ACLED: the lowest figure of a stated range
            start=match.start(),
            end=match.end(),
            count_start=match.start(figure),
            count_end=match.end(figure),
            text=match.group(0),
            rule_id=pattern.rule_id,
            priority=pattern.priority,
            named=figure == "named",
        )

    def _is_year(self, number: str) -> bool:
        return number.isdigit() and len(number) == 4 and self.years[0] <= int(number) <= self.years[1]

    def _is_day(self, match: re.Match[str], text: str) -> bool:
        before = text[: match.start("count")].split()
        return bool(before) and before[-1] in self.day_of_month_before

    def _counts_things(self, match: re.Match[str], text: str) -> bool:
        """True when the words right after the figure name things, distances or time, not people."""
        after_count = text[match.end("count") : match.end()]
        next_word = re.match(r"\s*(" + _WORD + r"|%)", text[match.end() :])
        words = re.findall(_WORD + "|%", after_count)
        if next_word is not None and match.end("count") == match.end():
            words.append(next_word.group(1))
        return any(w.lower() in self.not_victims for w in words)

    def value(self, figure: str) -> int:
        """The number a figure states: digits, number words, or a vague quantity's coded value."""
        text = re.sub(r"\s+", " ", figure.strip().lower())
        if text in self.vague:
            return self.vague[text]
        digits = re.fullmatch(r"(\d[\d,]*(?:\.\d+)?)(?: (\w+))?", text)
        if digits is not None:
            scale = self.multipliers.get(digits.group(2) or "", 1)
            return int(float(digits.group(1).replace(",", "")) * scale)
        return self._words_value(re.split(r"[\s-]+", text))

    def _words_value(self, words: list[str]) -> int:
        total, current = 0, 0
        for word in words:
            if word in self.number_words:
                current += self.number_words[word]
            elif word in self.multipliers:
                current = max(current, 1) * self.multipliers[word]
                if self.multipliers[word] >= 1000:
                    total, current = total + current, 0
        return total + current


def _number(raw: Mapping[str, Any], vague: Mapping[str, int]) -> str:
    number_words = _alt(raw["number_words"]["value"])
    multipliers = _alt(raw["multipliers"]["value"])
    return (
        rf"\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?(?:\s+(?:{multipliers}))?|{_alt(vague)}"
        rf"|(?:{number_words}|{multipliers})(?:[\s-]+(?:{number_words}|{multipliers}))*"
    )


def _compile(raw: Mapping[str, Any], vague: Mapping[str, int]) -> tuple[_CountPattern, ...]:
    number = _number(raw, vague)
    joiners = _alt(raw["range_joiners"]["value"])
    count = (
        rf"(?P<count>(?:(?:{_alt(raw['qualifiers']['value'])})\s+)?(?:between\s+)?(?P<num>{number})"
        rf"(?:\s*(?:{joiners})\s*(?P<num2>{number}))?)"
    )
    keywords = {
        key: _alt(raw[key.lower()]["value"])
        for key in ("DEATH_AFTER", "DEATH_BEFORE", "LIVES_VERBS", "INJURY_AFTER", "INJURY_BEFORE")
    }
    # a filler word is never itself a death or injury word, so one phrase cannot run into the next
    filler = "(?!(?:" + "|".join(keywords.values()) + r")(?![\w-]))" + _WORD
    words = {
        **{"COUNT": count, "NUMBER": number, "ONE": _ONE, "WORD": filler, "AGE": AGE, "AGES": AGES},
        **{"NAMED": NAMED, "NAMES": NAMES, **keywords},
    }
    compiled = []
    for item in raw["patterns"]["value"]:
        if item["kind"] not in KINDS:
            raise ValueError(f"pattern {item['id']}: unknown kind {item['kind']!r}")
        template = item["template"].replace(" ", r"\s+")
        for key, value in words.items():
            template = template.replace("{" + key + "}", f"(?:{value})")
        regex = re.compile(r"(?<![\w-])" + template + r"(?![\w-])", re.IGNORECASE)
        skip = last_part(item["template"], words, re.IGNORECASE)
        compiled.append(_CountPattern(item["id"], item["kind"], int(item["priority"]), regex, skip))
    return tuple(compiled)


def count_casualties(doc: Doc, sentence: Sentence, rules: CasualtyRules) -> Casualties:
    """Killed and wounded stated in ``sentence``; 0 when none is stated.

    The rules read the sentence text (``doc`` is its parse, accepted for the
    pipeline contract): the patterns are lexical, so a blank pipeline gives the
    same answer as the full one.
    """
    text = sentence.text
    if rules.sentence_aggregate.search(text):
        return Casualties(fatalities=0, injuries=0)
    found = rules.find(text)
    kept = [h for h in _bind(found) if not _active_subject(h, found)]
    kept = [h for h in kept if not _in_subset_clause(rules, text, h)]
    claimed = aggregate_claimed(rules.clause_aggregate, KINDS, text, kept)
    kept = [h for h in kept if h not in claimed]
    fatal = _combine(rules, text, [h for h in kept if h.kind == "fatalities"])
    hurt = _combine(rules, text, [h for h in kept if h.kind == "injuries"])
    return Casualties(
        fatalities=fatal.value if fatal else 0,
        injuries=hurt.value if hurt else 0,
        fatalities_text=fatal.text if fatal else None,
        injuries_text=hurt.text if hurt else None,
    )


def _bind(hits: list[CountHit]) -> list[CountHit]:
    """Each figure belongs to one pattern: verb-bound (priority 1) first, then leftmost-longest."""
    chosen: list[CountHit] = []
    for hit in sorted(hits, key=lambda h: (h.priority, h.start, -(h.end - h.start))):
        if all(hit.count_end <= c.count_start or hit.count_start >= c.count_end for c in chosen):
            chosen.append(hit)
    return sorted(chosen, key=lambda h: h.start)


def _active_subject(hit: CountHit, hits: list[CountHit]) -> bool:
    """A loose figure whose death word opens a verb-bound phrase is the killers, not the dead: in "30 gunmen
    killed a farmer" the verb's object is counted, the subject never."""
    return hit.priority > 1 and any(o.priority == 1 and hit.count_end <= o.start < hit.end for o in hits)


def _in_subset_clause(rules: CasualtyRules, text: str, hit: CountHit) -> bool:
    start, _ = clause_bounds(text, hit.count_start, hit.count_start)
    return bool(rules.subset.search(text[start : hit.count_start]))


def _combine(rules: CasualtyRules, text: str, hits: list[CountHit]) -> CountHit | None:
    if not hits:
        return None
    if rules.combine == "max":
        return max(hits, key=lambda h: (h.value, -h.start))
    if rules.combine == "min":
        return min(hits, key=lambda h: (h.value, h.start))
    if rules.combine == "sum":
        return _joined(text, hits, sum(h.value for h in hits))
    return _combine_groups(rules, text, hits)


def _combine_groups(rules: CasualtyRules, text: str, hits: list[CountHit]) -> CountHit:
    """Lowest figure per victim group, summed over groups; the whole-toll figures bound it from below."""
    lowest: dict[str | None, CountHit] = {}
    for hit in hits:
        until = _next_conjunct(rules, text, hit, hits)
        group = (
            victim_group(rules, text, hit, until) or _conjunct(rules, text, hit, hits) or _single(text, hit)
        )
        if group not in lowest or hit.value < lowest[group].value:
            lowest[group] = hit
    whole = lowest.pop(None, None)
    summed = sum(h.value for h in lowest.values())
    if whole is not None and whole.value >= summed:
        return whole  # a whole toll at least the groups' sum may include them: the lowest total
    return _joined(text, list(lowest.values()), summed)


def _joined(text: str, hits: list[CountHit], total: int) -> CountHit:
    """One figure standing for several: its text runs from the first phrase to the last."""
    first = min(hits, key=lambda h: h.start)
    if len(hits) == 1:
        return first
    end = max(h.end for h in hits)
    return CountHit(
        first.kind,
        total,
        first.start,
        end,
        first.count_start,
        first.count_end,
        text[first.start : end],
        "+".join(h.rule_id for h in sorted(hits, key=lambda h: h.start)),
        first.priority,
    )


def _conjunct(rules: CasualtyRules, text: str, hit: CountHit, hits: list[CountHit]) -> str | None:
    """A figure coordinated with another in one phrase ("three cadres and one supporter were killed") is a
    group of its own even when its noun is not listed: one phrase that holds both figures names both."""
    for other in hits:
        inside = hit.start <= other.count_start < hit.end or other.start <= hit.count_start < other.end
        if other is hit or not inside:
            continue
        first, last = sorted((hit, other), key=lambda h: h.count_start)
        if rules.coordinator.search(text, first.count_end, last.count_start):
            return f"#conjunct@{hit.count_start}"
    return None


def _next_conjunct(rules: CasualtyRules, text: str, hit: CountHit, hits: list[CountHit]) -> int | None:
    """Where the next figure joined to ``hit`` starts ("two persons and a child"): its noun is its own."""
    later = [h.count_start for h in hits if h.count_start >= hit.count_end]
    if not later or not rules.coordinator.search(text, hit.count_end, min(later)):
        return None
    return min(later)


def _single(text: str, hit: CountHit) -> str | None:
    """One named person ("a man was killed", "Samson 54 was killed") is a group of their own, never a rival
    for a whole toll."""
    figure = text[hit.count_start : hit.count_end]
    single = hit.named or (not re.search(r"\d", figure) and hit.value == 1)
    return f"#single@{hit.count_start}" if single else None


def victim_group(rules: CasualtyRules, text: str, hit: CountHit, until: int | None = None) -> str | None:
    """The victim group a figure names ("3 troops" -> "security"); None for a whole toll ("10 people").

    ``until`` is where a figure coordinated with this one starts: "two persons and a child were injured"
    never lends the child's noun to the two.
    """
    if hit.end > hit.count_end:  # the pattern's phrase runs past the figure: the noun is inside it
        window = text[hit.count_end : hit.end]
    else:
        after = CLAUSE_BREAK.search(text, hit.count_end)
        window = text[hit.count_end : after.start() if after else len(text)]
    if until is not None and until >= hit.count_end:
        window = window[: until - hit.count_end]
    words = re.split(r"\s+", window.strip().lower())[: rules.noun_window]
    if any(re.search(r"\d", w) for w in words):
        words = words[: next(i for i, w in enumerate(words) if re.search(r"\d", w))]
    for i, word in enumerate(words):
        for noun in (" ".join(words[i : i + 2]), word.strip(".,;:'’\"")):
            if noun in rules.victim_groups:
                return rules.victim_groups[noun]
    return None
