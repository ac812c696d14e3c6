"""Ages and running totals: the figures of a casualty sentence that are not an incident's toll.

Split out of ``coder.casualties`` to keep that module within the size guideline. These helpers answer one
question of their own, whether a figure is an age ("Samson 54", "Zafar Iqbal (46)", "two men aged 25 and
30") or a running total ("taking the toll in the district to 45", "Since January, 17 ... were killed"),
and need nothing from the compiled rules but the regular expressions they are handed. Their words live in
``seeds/rules/casualties.json`` (``aggregate_markers``, ``day_of_month_before``); the grammar of an age
("(46)", ", aged 42,", "aged 25 and 30") is here, as the patterns' {AGE}, {AGES}, {NAMED} and {NAMES}.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

CLAUSE_BREAK = re.compile(r"[,;:()\u2014\u2013]|\s-\s")
# {AGE}: an age after a person ("Samson 54", "Zafar Iqbal (46)", "Samson, 54,", ", aged 42,"), never a toll;
# {NAMED}/{NAMES}: one / two or more capitalised names each with an age: every name is one victim.
AGE = r"(?:\s*\(\d{1,3}\)|\s*,\s*(?:aged\s+)?\d{1,3}\s*,|\s+aged\s+\d{1,3}|\s+\d{1,3})"
_NAME_AGE = r"(?-i:[A-Z][a-z'’]+(?:\s+[A-Z][a-z'’]+){0,3})" + AGE
_NAME_SEP = r"(?:\s*,\s*(?:and\s+)?|\s*(?:and|as\s+well\s+as)\s+)"
NAMED = rf"(?P<named>{_NAME_AGE}(?:{_NAME_SEP}{_NAME_AGE})*)"
NAMES = rf"(?P<named>{_NAME_AGE}(?:{_NAME_SEP}{_NAME_AGE})+)"
# {AGES}: the ages a group of victims is described by ("two men aged 25 and 30", ", aged between 20 and 25,"):
# a pattern may step over it between its victims and its death word, and the figures inside are ages.
_AGE_LIST = r"\d{1,3}(?:\s*(?:,|and|to|or|-|–)\s*\d{1,3})*"
AGES = rf"\s*,?\s+aged\s+(?:between\s+)?{_AGE_LIST}(?:\s*,)?"
_AGES_STATED = re.compile(rf"(?<![\w-])aged\s+(?:between\s+)?(?P<ages>{_AGE_LIST})(?![\w-])", re.I)


class Figure(Protocol):
    """What the running-total test reads of a found figure (``casualties.CountHit``)."""

    @property
    def kind(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def count_start(self) -> int: ...


F = TypeVar("F", bound=Figure)


def in_ages(text: str, position: int) -> bool:
    """True when ``position`` lies in ages stated after "aged" ("aged 25 and 30"): an age, never a toll."""
    return any(m.start("ages") <= position < m.end("ages") for m in _AGES_STATED.finditer(text))


def named_count(named: str, day_of_month_before: Iterable[str]) -> int | None:
    """How many victims a list of names with ages counts (one a name); None when a "name" is a month."""
    names = re.findall(r"([^\W\d_][\w.]*)\W*(?:aged\s+)?\d+", named)
    months = set(day_of_month_before)
    if any(word in months for word in names):
        return None  # "on January 3, died": a date, not a name and an age
    return len(names)


def aggregate_claimed(markers: re.Pattern[str], kinds: Sequence[str], text: str, hits: Sequence[F]) -> set[F]:
    """The figures that a clause marker ("this year", "taking the toll ... to") makes a running total.

    A marker claims every figure of its clause, except where it lies inside (or touches) one figure's own
    phrase: then it claims that figure alone, so in "a policeman was killed on Monday taking the death toll
    in the district to 45" only the 45 is a running total. A clause that holds a marker and no figure
    ("Since January, 17 ... were killed") claims the figures of the next clause.
    """
    claimed: set[F] = set()
    for marker in markers.finditer(text):
        start, end = clause_bounds(text, marker.start(), marker.end())
        inside = [h for h in hits if start <= h.count_start < end]
        if not inside and end < len(text):
            start, end = clause_bounds(text, end + 1, end + 1)
            inside = [h for h in hits if start <= h.count_start < end]
        for kind in kinds:
            of_kind = [h for h in inside if h.kind == kind]
            bound = [h for h in of_kind if _gap(h, marker) == 0]
            claimed.update(bound[:1] or of_kind)
    return claimed


def _gap(hit: Figure, marker: re.Match[str]) -> int:
    return max(0, marker.start() - hit.end, hit.start - marker.end())


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause around ``text[start:end]``: from the clause punctuation before it to the one after."""
    before = [m.end() for m in CLAUSE_BREAK.finditer(text, 0, start)]
    after = CLAUSE_BREAK.search(text, end)
    return (before[-1] if before else 0, after.start() if after else len(text))
