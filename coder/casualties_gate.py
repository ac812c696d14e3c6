"""A cheap search that tells a casualty pattern cannot match a sentence, so its full search is skipped.

Half the patterns open on a figure (``{COUNT}``: a number word, "a", a name) and end on the word that
makes it a toll ("killed", "were wounded"). Searched as a whole, such a pattern starts a trial at every
figure of a sentence and walks up to six filler words from each; that was most of the casualty stage's
time, and most event sentences hold none of those words. Every match of a pattern contains a match of
each of its mandatory top-level parts, and a regex search tries every start position and backtracks
through every way to match there; so the part that ends a pattern, searched alone over the same text
with the same flags (same case folding, same lookarounds), is found whenever the pattern is. When it is
not found, the skipped search would have found nothing: no result changes. A pattern that opens on a
keyword fails fast at each position by itself; a search for its last part would cost more than it
saves (measured on the bench sentences), so it gets no gate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Placeholders a pattern is never gated on: figures and filler match in nearly every sentence, so a
# search for them alone costs about what the whole pattern does.
NOT_GATES = frozenset({"COUNT", "NUMBER", "ONE", "WORD", "AGE", "AGES", "NAMED", "NAMES"})
_PLACEHOLDER = re.compile(r"\{([A-Z_]+)\}")
_QUANTIFIER = re.compile(r"(?:\?|\*|\+|\{\d*,?\d*\})[?+]?")  # greedy, lazy or possessive
_LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")


def last_part(template: str, words: Mapping[str, str], flags: int) -> re.Pattern[str] | None:
    """The last mandatory top-level part of ``template`` (a group or a word placeholder), compiled
    alone as the pattern is (spaces as ``\\s+``, placeholders expanded); None when there is none."""
    parts = top_level_parts(template)
    if parts is None or not _opens_on_figure(parts):
        return None
    for part, optional in reversed(parts):
        name = _PLACEHOLDER.fullmatch(part)
        if optional or part.startswith(_LOOKAROUND) or (name is None and not part.startswith("(")):
            continue
        if name is not None and (name.group(1) in NOT_GATES or name.group(1) not in words):
            continue
        expanded = part.replace(" ", r"\s+")
        for key, value in words.items():
            expanded = expanded.replace("{" + key + "}", f"(?:{value})")
        try:
            return re.compile(expanded, flags)
        except re.error:  # a part that refers to a group outside it: no gate, the full search decides
            return None
    return None


def _opens_on_figure(parts: list[tuple[str, bool]]) -> bool:
    first = next((part for part, _ in parts if not part.startswith(_LOOKAROUND)), "")
    return any(name in NOT_GATES for name in _PLACEHOLDER.findall(first))


def top_level_parts(template: str) -> list[tuple[str, bool]] | None:
    """The template's top-level parts (group, class, escape, placeholder or character), each with
    whether a quantifier makes it optional or repeatable; None when the top level has alternatives."""
    parts: list[tuple[str, bool]] = []
    i = 0
    while i < len(template):
        if template[i] == "|":
            return None
        end = _part_end(template, i)
        quantifier = _QUANTIFIER.match(template, end)
        parts.append((template[i:end], quantifier is not None))
        i = end if quantifier is None else quantifier.end()
    return parts


def _part_end(template: str, i: int) -> int:
    """Where the part starting at ``i`` ends (groups and classes whole, escapes kept)."""
    placeholder = _PLACEHOLDER.match(template, i)
    if placeholder is not None:
        return placeholder.end()
    depth, j = 0, i
    while j < len(template):
        char = template[j]
        if char == "\\":
            j += 2
        elif char == "[":
            j = template.index("]", j + 2) + 1
        else:
            depth += {"(": 1, ")": -1}.get(char, 0)
            j += 1
        if depth == 0:
            return j
    raise ValueError(f"unbalanced pattern template: {template!r}")
