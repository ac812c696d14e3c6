"""Event dates relative to the publication date, with ACLED time precision.

Finding and applying are separate (as in spaCy's span_ruler): ``DateRules.find``
turns a text into ``DateHit``s, each a date *range* with a precision and the id
of the rule that fired; ``resolve_date`` then chooses between event-time and
report-time hits with the dependency parse and picks one day inside the range.
Every phrase and policy lives in ``seeds/rules/dates.json``; this module only
knows the calendar arithmetic of each resolution kind.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coder.errors import DataFileError
from coder.records import Article, Event, EventDate, Sentence

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span

RULES_FILE = "dates.json"
_ORDINAL = r"(?:st|nd|rd|th)?"
_CAPITALISED_GROUPS = ("month", "mon", "wd")


@dataclass(frozen=True)
class DateRange:
    """A closed range of days the text allows, with its ACLED precision."""

    first: date
    last: date
    precision: int


@dataclass(frozen=True)
class DateHit:
    """A date phrase found in a text: sentence-relative offsets, the rule that fired, the range."""

    start: int
    end: int
    text: str
    rule_id: str
    span: DateRange | None  # None for anaphoric phrases until an anchor is applied
    after_anchor: tuple[int, int, int] | None = None  # (first, last) day offsets from an anchor, precision


Resolver = Callable[[re.Match[str], date], DateRange | None]


@dataclass(frozen=True)
class _Template:
    """A pattern before its {MONTH}/{WEEKDAY}/... placeholders are filled from the data file."""

    rule_id: str
    template: str
    resolve: Resolver | None
    anaphoric: tuple[str | int, int] | None = None


@dataclass(frozen=True)
class _Pattern:
    rule_id: str
    regex: re.Pattern[str]
    resolve: Resolver | None
    anaphoric: tuple[str | int, int] | None = None  # (days or "count", precision)


def _alt(words: Mapping[str, object] | list[str]) -> str:
    ordered = sorted(words, key=lambda w: (-len(w), w))  # longest first so "a couple of" beats "a"
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in ordered)


def _phrase(text: str) -> str:
    return text.replace(" ", r"\s+")


def _day_range(day: date, precision: int = 1) -> DateRange:
    return DateRange(day, day, precision)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_range(year: int, month: int) -> DateRange:
    return DateRange(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]), 3)


def _shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def _recent_month_year(published: date, month: int, strict: bool) -> int:
    """Year of the most recent ``month`` on or before (strict: before) the publication month."""
    if month < published.month or (month == published.month and not strict):
        return published.year
    return published.year - 1


def _recent_weekday(published: date, weekday: int, strict: bool) -> date:
    delta = (published.weekday() - weekday) % 7
    return published - timedelta(days=7 if strict and delta == 0 else delta)


@dataclass(frozen=True)
class DateRules:
    """The compiled date phrases of ``dates.json`` and the policies that go with them."""

    version: str
    patterns: tuple[_Pattern, ...]
    reporting_lemmas: frozenset[str]
    non_reporting_objects: frozenset[str]
    number_words: Mapping[str, int]
    range_point: str
    no_date_precision: int
    no_date_reason: str
    report_time_reason: str

    @classmethod
    def load(cls, path: Path) -> DateRules:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls.from_dict(raw)
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, re.error) as exc:
            raise DataFileError(f"cannot load date rules: {exc}", path=str(path)) from exc

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DateRules:
        no_date = raw["no_date"]["value"]
        return cls(
            version=raw["version"],
            patterns=_compile(raw),
            reporting_lemmas=frozenset(raw["reporting_lemmas"]["value"]),
            non_reporting_objects=frozenset(raw["non_reporting_objects"]["value"]),
            number_words=dict(raw["number_words"]["value"]),
            range_point=raw["range_point"]["value"],
            no_date_precision=int(no_date["time_precision"]),
            no_date_reason=no_date["date_reason"],
            report_time_reason=raw["report_time_reason"]["value"],
        )

    def find(self, text: str, published: date | None) -> list[DateHit]:
        """Non-overlapping date phrases of ``text``, leftmost-longest, resolved where possible."""
        candidates: list[DateHit] = []
        for pattern in self.patterns:
            for match in pattern.regex.finditer(text):
                hit = self._hit(pattern, match, published)
                if hit is not None:
                    candidates.append(hit)
        candidates.sort(key=lambda h: (h.start, -(h.end - h.start)))
        chosen: list[DateHit] = []
        for hit in candidates:
            if not chosen or hit.start >= chosen[-1].end:
                chosen.append(hit)
        return chosen

    def _hit(self, pattern: _Pattern, match: re.Match[str], published: date | None) -> DateHit | None:
        if not _capitalised(match):
            return None
        where = (match.start(), match.end(), match.group(0), pattern.rule_id)
        if pattern.anaphoric is not None:
            days, precision = pattern.anaphoric
            first, last = (1, self.count(match.group("count"))) if days == "count" else (int(days), int(days))
            return DateHit(*where, span=None, after_anchor=(first, last, precision))
        if pattern.resolve is None or (published is None and not match.groupdict().get("year")):
            return None  # a relative phrase means nothing without a publication date
        span = pattern.resolve(match, published or date.max)
        return DateHit(*where, span=span) if span is not None else None

    def count(self, text: str) -> int:
        word = re.sub(r"\s+", " ", text.strip().lower())
        return int(word) if word.isdigit() else self.number_words[word]

    def point(self, span: DateRange, published: date | None) -> date:
        """The one day coded for a range: its middle (ACLED), never after publication."""
        last = min(span.last, published) if published is not None and span.first <= published else span.last
        if self.range_point == "first":
            return span.first
        return span.first + (last - span.first) // 2


def _capitalised(match: re.Match[str]) -> bool:
    """Month and weekday names count only when capitalised ('may' and 'march' are verbs)."""
    groups = match.groupdict()
    return all(groups.get(g) is None or groups[g][0].isupper() for g in _CAPITALISED_GROUPS)


def _compile(raw: Mapping[str, Any]) -> tuple[_Pattern, ...]:
    months: dict[str, int] = raw["months"]["value"]
    abbreviations: dict[str, int] = raw["month_abbreviations"]["value"]
    weekdays: dict[str, int] = raw["weekdays"]["value"]
    all_months = {**months, **abbreviations}
    words = {
        "MONTH": _alt(months),
        "MON": "(?:" + _alt(all_months) + r")\.?",
        "WEEKDAY": _alt(weekdays),
        "DAYPART": _alt(raw["day_parts"]["value"]),
        "COUNT": r"\d{1,2}|" + _alt(raw["number_words"]["value"]),
    }
    patterns = _calendar_patterns(all_months, weekdays, raw) + _phrase_patterns(raw)
    return tuple(_Pattern(p.rule_id, _expand(p.template, words), p.resolve, p.anaphoric) for p in patterns)


def _expand(template: str, words: Mapping[str, str]) -> re.Pattern[str]:
    for key, value in words.items():
        template = template.replace("{" + key + "}", f"(?:{value})")
    return re.compile(r"(?<![\w-])" + template + r"(?![\w-])", re.IGNORECASE)


def _lookup(table: Mapping[str, int], word: str) -> int:
    return table[word.lower().rstrip(".")]


def _calendar_patterns(
    months: Mapping[str, int], weekdays: Mapping[str, int], raw: Mapping[str, Any]
) -> list[_Template]:
    """Calendar grammar (day, month, year orders); the words come from the data file."""

    def month_day(m: re.Match[str], pub: date) -> DateRange | None:
        month, day = _lookup(months, m.group("mon")), int(m.group("day"))
        if m.group("year"):
            found = _safe_date(int(m.group("year")), month, day)
        else:
            found = _safe_date(pub.year, month, day)
            if found is not None and found > pub:
                found = _safe_date(pub.year - 1, month, day)
        return _day_range(found) if found else None

    def iso(m: re.Match[str], pub: date) -> DateRange | None:
        found = _safe_date(int(m.group("year")), int(m.group("mnum")), int(m.group("day")))
        return _day_range(found) if found else None

    def month_year(m: re.Match[str], pub: date) -> DateRange:
        return _month_range(int(m.group("year")), _lookup(months, m.group("month")))

    def named_month(strict: bool) -> Resolver:
        def resolve(m: re.Match[str], pub: date) -> DateRange:
            month = _lookup(months, m.group("month"))
            return _month_range(_recent_month_year(pub, month, strict), month)

        return resolve

    def weekday(m: re.Match[str], pub: date) -> DateRange:
        strict = bool(m.group("last"))
        return _day_range(_recent_weekday(pub, _lookup(weekdays, m.group("wd")), strict))

    def fixed_day(m: re.Match[str], pub: date) -> DateRange | None:
        month, day = raw["fixed_days"]["value"][re.sub(r"\s+", " ", m.group(0).lower())]
        found = _safe_date(pub.year, month, day)
        if found is not None and found > pub:
            found = _safe_date(pub.year - 1, month, day)
        return _day_range(found) if found else None

    day = r"(?P<day>\d{1,2})" + _ORDINAL
    lead = r"(?:on\s+)?(?:(?P<wd>{WEEKDAY}),?\s+)?"
    year = r"(?:,?\s+(?P<year>\d{4}))?"
    return [
        _Template("explicit.month_day", lead + r"(?P<mon>{MON})\s+" + day + year, month_day),
        _Template("explicit.day_month", lead + day + r"\s+(?:of\s+)?(?P<mon>{MONTH})" + year, month_day),
        _Template("explicit.iso", r"(?P<year>\d{4})-(?P<mnum>\d{2})-(?P<day>\d{2})", iso),
        _Template("explicit.month_year", r"(?:in\s+)?(?P<month>{MONTH}),?\s+(?P<year>\d{4})", month_year),
        _Template("month.last", r"last\s+(?P<month>{MONTH})", named_month(strict=True)),
        _Template(
            "month.in", r"(?:in|during|early|late|mid-?)\s*(?P<month>{MONTH})", named_month(strict=False)
        ),
        _Template(
            "weekday", r"(?:(?P<last>last|this\s+past)\s+|on\s+)?(?P<wd>{WEEKDAY})(?:\s+{DAYPART})?", weekday
        ),
        _Template("fixed_day", _alt(raw["fixed_days"]["value"]), fixed_day),
    ]


def _phrase_patterns(raw: Mapping[str, Any]) -> list[_Template]:
    relative: dict[str, int] = raw["relative_days"]["value"]

    def relative_day(m: re.Match[str], pub: date) -> DateRange:
        return _day_range(pub + timedelta(days=relative[re.sub(r"\s+", " ", m.group("rel").lower())]))

    def ago(m: re.Match[str], pub: date) -> DateRange:
        count = _count(raw, m.group("count"))
        unit = m.group("unit").lower().rstrip("s")
        if unit == "day":
            return _day_range(pub - timedelta(days=count))
        if unit == "week":
            return _day_range(pub - timedelta(days=7 * count), precision=2)
        return _month_range(*_shift_month(pub.year, pub.month, -count))

    patterns = [
        _Template("relative.day", r"(?P<rel>" + _alt(relative) + r")(?:\s+{DAYPART})?", relative_day),
        _Template("relative.ago", r"(?P<count>{COUNT})\s+(?P<unit>days?|weeks?|months?)\s+ago", ago),
    ]
    for period in raw["periods"]["value"]:
        patterns.append(_Template(f"period.{period['id']}", _phrase(period["phrase"]), _period(period)))
    for item in raw["anaphoric"]["value"]:
        template = _phrase(item["phrase"]).replace("{COUNT}", "(?P<count>{COUNT})")
        anaphoric = (item["days"], int(item["precision"]))
        patterns.append(_Template(f"anaphoric.{item['id']}", template, None, anaphoric))
    return patterns


def _count(raw: Mapping[str, Any], text: str) -> int:
    word = re.sub(r"\s+", " ", text.strip().lower())
    return int(word) if word.isdigit() else int(raw["number_words"]["value"][word])


def _period(period: Mapping[str, Any]) -> Resolver:
    unit, offset, precision = period["unit"], int(period["offset"]), int(period["precision"])

    def resolve(m: re.Match[str], pub: date) -> DateRange:
        if unit == "week":
            start = pub - timedelta(days=pub.weekday()) + timedelta(weeks=offset)
            return DateRange(start, min(start + timedelta(days=6), pub), precision)
        if unit == "weekend":
            sunday = _recent_weekday(pub, 6, strict=False)
            return DateRange(sunday - timedelta(days=1), sunday, precision)
        if unit == "days":
            return DateRange(pub + timedelta(days=offset), pub, precision)
        year, month = _shift_month(pub.year, pub.month, offset)
        whole = _month_range(year, month)
        return DateRange(whole.first, min(whole.last, pub), precision)

    return resolve


INHERITED_REASON = "inherited from the event sentence just before, in the same paragraph"


def resolve_date(
    doc: Doc, sentence: Sentence, article: Article, rules: DateRules, previous: Event | None = None
) -> EventDate | None:
    """The event date of ``sentence`` (``doc`` is its parse), or None when nothing dates it.

    Order: the stated date of ``previous`` (the event coded just before) when the sentence has no
    date phrase and follows it directly in its paragraph; an event-time phrase; an anaphoric phrase
    against the paragraph's earlier date; a report-time phrase (the event is on or before it); the
    publication date (``no_date`` policy). None without publication date and absolute date.
    """
    published = article.published
    hits = rules.find(sentence.text, published)
    if not hits and (inherited := _inherited(sentence, article, previous, rules)) is not None:
        return inherited
    anchor = _paragraph_anchor(rules, sentence, article) if any(h.span is None for h in hits) else None
    resolved = [h for h in (_anchored(h, anchor) for h in hits) if h.span is not None]
    event_time = [h for h in resolved if not _is_report_time(doc, h, rules)]
    if event_time:
        # an explicit calendar date outranks a relative phrase when both date the event
        hit = min(event_time, key=lambda h: (not h.rule_id.startswith("explicit"), h.start))
        assert hit.span is not None
        return EventDate(rules.point(hit.span, published), hit.span.precision, hit.text, _reason(hit))
    if resolved:
        return _report_time(rules, resolved[0], published)
    if published is None:
        return None
    return EventDate(published, rules.no_date_precision, None, rules.no_date_reason)


def _inherited(
    sentence: Sentence, article: Article, previous: Event | None, rules: DateRules
) -> EventDate | None:
    """An undated event sentence right after a dated one goes on with its story ("Gunmen attacked on
    Monday. A second bomb exploded nearby."): only a date stated for the event (no publication fallback,
    no report date, no statement's date) passes on, and never across another sentence or a paragraph break."""
    when = previous.when if previous is not None else None
    if previous is None or when is None or when.date_text is None or previous.end_char > sentence.start_char:
        return None
    between = article.text[previous.end_char : sentence.start_char]
    said = previous.classification.event_type == "statement"  # dates a saying, not what it is about
    if between.strip() or "\n" in between or when.date_reason == rules.report_time_reason or said:
        return None
    return EventDate(when.event_date, when.time_precision, when.date_text, INHERITED_REASON)


def _reason(hit: DateHit) -> str:
    if hit.after_anchor is not None:
        return f"relative to earlier date in paragraph ({hit.rule_id})"
    if hit.rule_id.startswith("explicit"):
        return f"explicit date ({hit.rule_id})"
    return f"relative to publication ({hit.rule_id})"


def _report_time(rules: DateRules, hit: DateHit, published: date | None) -> EventDate:
    """Only the report is dated: the event happened on or before it, so the day is known to the week."""
    assert hit.span is not None
    precision = max(hit.span.precision, rules.no_date_precision)
    return EventDate(rules.point(hit.span, published), precision, hit.text, rules.report_time_reason)


def _anchored(hit: DateHit, anchor: DateRange | None) -> DateHit:
    if hit.after_anchor is None or anchor is None:
        return hit
    first, last, precision = hit.after_anchor
    span = DateRange(
        anchor.first + timedelta(days=first),
        anchor.last + timedelta(days=last),
        max(precision, anchor.precision),
    )
    return DateHit(hit.start, hit.end, hit.text, hit.rule_id, span, hit.after_anchor)


def _paragraph_anchor(rules: DateRules, sentence: Sentence, article: Article) -> DateRange | None:
    """The last resolvable date phrase before the sentence in its paragraph (a line of the article)."""
    start = article.text.rfind("\n", 0, sentence.start_char) + 1
    before = article.text[start : sentence.start_char]
    spans = [h.span for h in rules.find(before, article.published) if h.span is not None]
    return spans[-1] if spans else None


def _is_report_time(doc: Doc, hit: DateHit, rules: DateRules) -> bool:
    """True when the phrase's head path meets a reporting verb before any other verb.

    Without a dependency parse (blank pipeline) every phrase counts as event time.
    """
    if not doc.has_annotation("DEP"):
        return False
    span = doc.char_span(hit.start, hit.end, alignment_mode="expand")
    if span is None:
        return False
    verb = _governing_verb(span)
    if verb is None or _lemma(verb) not in rules.reporting_lemmas:
        return False
    return not any(
        c.dep_ in ("dobj", "obj") and _lemma(c) in rules.non_reporting_objects for c in verb.children
    )


def _lemma(token: Any) -> str:
    return str(token.lemma_ or token.lower_).lower()


def _governing_verb(span: Span) -> Any:
    token = span.root
    while token.head is not token:
        token = token.head
        if token.pos_ in ("VERB", "AUX") or token.dep_ == "ROOT":
            return token
    return None
