"""Article -> Sentences with exact character offsets (rule-based, abbreviation-aware, no spaCy).

Cheap on purpose: it runs on every article before anything is parsed. Line breaks
are hard boundaries; inside a line a sentence ends at '.', '!', '?' or an ellipsis
(plus closing quotes/brackets) followed by space and a character that is not lower
case, unless the word before a period is an abbreviation from
``seeds/rules/abbreviations.json``. Each boilerplate span of the article is cut
on its own, so its sentences carry the boilerplate label and never merge with prose.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from coder.config import PROJECT_ROOT
from coder.errors import DataFileError
from coder.records import Article, Sentence, stable_id

DEFAULT_ABBREVIATIONS = PROJECT_ROOT / "seeds" / "rules" / "abbreviations.json"
_LISTS = ("never_final", "before_number", "final_only_before_starter", "sentence_starters")
# Runs of characters that are not line breaks (the line breaks of str.splitlines).
_LINE = re.compile(r"[^\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
# A sentence-final mark, the quotes/brackets that close with it, and space after it.
_END = re.compile(r"(?:[.!?]+|…)[.!?…]*[\"'”’»)\]]*(?=\s)")
_NEXT = re.compile(r"\S+")
_OPENERS = "\"'“‘«([*_"
_INITIALS = re.compile(r"[A-Za-z](?:\.[A-Za-z])*")
_LIST_NUMBER = re.compile(r"\d{1,3}|[A-Za-z]")


@dataclass(frozen=True)
class Segmenter:
    """The abbreviation lists that decide whether a period ends a sentence."""

    version: str
    never_final: frozenset[str]
    before_number: frozenset[str]
    final_only_before_starter: frozenset[str]
    sentence_starters: frozenset[str]

    @classmethod
    def load(cls, path: Path = DEFAULT_ABBREVIATIONS) -> Segmenter:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            lists = {name: frozenset(_strings(data[name]["items"])) for name in _LISTS}
            return cls(version=str(data["version"]), **lists)
        except OSError as exc:
            raise DataFileError(f"cannot read: {exc.strerror}", path=str(path)) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise DataFileError(f"malformed abbreviations file: {exc!r}", path=str(path)) from None

    def split(self, article: Article) -> list[Sentence]:
        """Sentences of the article in text order, each boilerplate span cut separately."""
        pieces = [
            (start, end, label)
            for region_start, region_end, label in _regions(article)
            for start, end in self.pieces(article.text, region_start, region_end)
        ]
        return [
            Sentence(
                sentence_id=stable_id(article.article_id, start, end),
                article_id=article.article_id,
                index=index,
                start_char=start,
                end_char=end,
                text=article.text[start:end],
                boilerplate=label,
            )
            for index, (start, end, label) in enumerate(pieces)
        ]

    def pieces(self, text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
        """Offsets of the sentences of ``text[start:end]``, stripped of surrounding whitespace."""
        for line in _LINE.finditer(text, start, end):
            cursor = line.start()
            for mark in _END.finditer(text, line.start(), line.end()):
                following = _NEXT.search(text, mark.end(), line.end())
                if following and self._ends_sentence(text, cursor, mark, following.group()):
                    yield from _stripped(text, cursor, mark.end())
                    cursor = following.start()
            yield from _stripped(text, cursor, line.end())

    def _ends_sentence(self, text: str, cursor: int, mark: re.Match[str], following: str) -> bool:
        first = following[0]
        if first.islower():
            return False  # "responsibly... leaving", '?" he asked', "a.m. local time"
        punct = mark.group().rstrip("\"'”’»)]")
        if punct != "." or len(mark.group()) > 1:
            return True  # '!', '?', an ellipsis, or a period closed by a quote ('said."')
        word = _word_before(text, cursor, mark.start())
        if word in self.never_final or not word:
            return False
        if word in self.before_number and first.isdigit():
            return False
        if _LIST_NUMBER.fullmatch(word) and _only_space(text, cursor, mark.start() - len(word)):
            return False  # a list number or letter opening the line: "1. Skip to content"
        if word in self.final_only_before_starter or _INITIALS.fullmatch(word):
            return following.lstrip(_OPENERS).rstrip(",;:") in self.sentence_starters
        return True


def _strings(items: object) -> list[str]:
    if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
        raise ValueError("items must be a list of non-empty strings")
    return items


def _word_before(text: str, cursor: int, stop: int) -> str:
    """The word that ends at ``stop`` (without leading quotes/brackets), within the current sentence."""
    begin = stop
    while begin > cursor and not text[begin - 1].isspace():
        begin -= 1
    return text[begin:stop].lstrip(_OPENERS)


def _only_space(text: str, start: int, stop: int) -> bool:
    return not text[start:stop].strip(_OPENERS + " \t")


def _stripped(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end


def _regions(article: Article) -> Iterator[tuple[int, int, str | None]]:
    """The text cut into prose and boilerplate ranges (spans clipped so they never overlap)."""
    cursor, size = 0, len(article.text)
    for span in sorted(article.boilerplate, key=lambda s: (s.start, s.end)):
        start, end = max(span.start, cursor), min(span.end, size)
        if start >= end:
            continue
        if cursor < start:
            yield cursor, start, None
        yield start, end, span.label
        cursor = end
    if cursor < size:
        yield cursor, size, None


@cache
def default_segmenter() -> Segmenter:
    """The segmenter of the repository's abbreviation file, read once (an immutable value)."""
    return Segmenter.load(DEFAULT_ABBREVIATIONS)


def split_sentences(article: Article, segmenter: Segmenter | None = None) -> list[Sentence]:
    """Sentences of ``article`` with exact offsets: ``article.text[s.start_char:s.end_char] == s.text``."""
    return (segmenter or default_segmenter()).split(article)
