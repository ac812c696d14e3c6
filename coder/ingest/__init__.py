"""Inputs -> ``Article`` | ``Reject``: folders of .txt/.html (+ manifest.csv), .jsonl and .csv files.

Everything is streamed, one file or record at a time, in a deterministic order
(sorted file names, then record order). A whole input that cannot be read (a
missing path, an unsupported suffix) raises ``InputError``; a bad record becomes a
``Reject`` naming the file and line, and the rest still flows.

``Article.text`` is the decoded text; for HTML input it is the text left after
stripping tags (scripts/styles dropped, block elements as line breaks), so every
offset (boilerplate spans, sentences, events) points into that stripped text.
Boilerplate is marked by the rules in ``seeds/rules/boilerplate.json``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from coder.config import Settings
from coder.errors import InputError
from coder.ingest.boilerplate import BoilerplateRules, load_boilerplate_rules
from coder.ingest.readers import ARTICLE_SUFFIXES, Candidate, read_input, reject, too_long
from coder.ingest.text import Unusable, html_to_text, is_html, parse_published, parse_text_date
from coder.records import Article, Reject

__all__ = ["BoilerplateRules", "html_to_text", "iter_articles", "load_boilerplate_rules", "parse_published",
           "parse_text_date"]  # fmt: skip


def iter_articles(
    paths: Sequence[Path],
    settings: Settings,
    *,
    today: date | None = None,
    rules: BoilerplateRules | None = None,
) -> Iterator[Article | Reject]:
    """Articles and ingest rejects from folders, .txt/.html, .jsonl and .csv inputs, streamed in order.

    Raises ``InputError`` at once when an input path is missing or of an unsupported kind.
    """
    inputs = [Path(p) for p in paths]
    for path in inputs:
        _check_input(path)
    loaded = rules or load_boilerplate_rules(settings.rules_dir / "boilerplate.json")
    builder = _Builder(settings, loaded, today or date.today())
    return (
        item for path in inputs for read in read_input(path, settings, loaded) for item in builder.build(read)
    )


def _check_input(path: Path) -> None:
    if not path.exists():
        raise InputError("input not found", path=str(path))
    if not path.is_dir() and path.suffix.lower() not in (*ARTICLE_SUFFIXES, ".jsonl", ".csv"):
        raise InputError(
            "unsupported input: give a folder of .txt/.html files, a .jsonl or a .csv", path=str(path)
        )


# ---------------------------------------------------------------- checks that make an Article


class _Builder:
    """Turns candidates into Articles (or Rejects); remembers ids and texts seen in this run only."""

    def __init__(self, settings: Settings, rules: BoilerplateRules, today: date) -> None:
        self.settings = settings
        self.rules = rules
        self.today = today
        self.ids: dict[str, str] = {}
        self.texts: dict[str, str] = {}

    def build(self, item: Candidate | Reject) -> list[Article | Reject]:
        if isinstance(item, Reject):
            return [item]
        try:
            article, warnings = self._article(item)
        except Unusable as exc:
            return [reject(str(exc), item.input_file, item.input_line, article_id=item.article_id)]
        where = f"{item.input_file}:{item.input_line}" if item.input_line else item.input_file
        self.ids[article.article_id] = where
        self.texts[_text_key(article)] = where
        return [*warnings, article]

    def _article(self, c: Candidate) -> tuple[Article, list[Reject]]:
        text, html_title = c.text, None
        if c.html or is_html(text):
            text, html_title = html_to_text(text)
        if not text.strip():
            raise Unusable("empty or whitespace-only text; remove the record or give its text")
        if len(text) > self.settings.max_article_chars:
            raise Unusable(too_long(len(text), self.settings))
        if c.article_id in self.ids:
            raise Unusable(f"duplicate id of {self.ids[c.article_id]}; give each article a unique id")
        spans, title = self.rules.find(text, c.meta.get("title") or html_title, infer_title=c.infer_title)
        article = Article(
            article_id=c.article_id, text=text, title=title, published=None, published_from="none",
            source=c.meta.get("source"), url=c.meta.get("url"), input_file=c.input_file,
            input_line=c.input_line, input_sha256=c.sha256, encoding=c.encoding, boilerplate=spans,
        )  # fmt: skip
        if (first := self.texts.get(_text_key(article))) is not None:
            raise Unusable(f"duplicate text of {first}; the same article was given twice")
        return self._dated(article, c)

    def _dated(self, article: Article, c: Candidate) -> tuple[Article, list[Reject]]:
        warnings: list[Reject] = []
        raw = c.meta.get("published")
        if raw:
            try:
                published = parse_published(raw)
                self._check_not_future(published)
                return replace(article, published=published, published_from=c.meta_from), warnings
            except ValueError as exc:
                reason = f"published {exc}; ignored, the text's dateline is used if any"
                warnings.append(self._warning(c, reason, raw))
        for span in (s for s in article.boilerplate if s.label == "dateline"):
            found = article.text[span.start : span.end]
            in_text = parse_text_date(found)
            if in_text is None:
                continue
            try:
                self._check_not_future(in_text)
            except ValueError as exc:
                warnings.append(self._warning(c, f"dateline {exc}; ignored", found))
                break
            dated = replace(article, published=in_text, published_from="dateline", dateline_text=found)
            return dated, warnings
        return article, warnings

    def _check_not_future(self, published: date) -> None:
        if published > self.today:
            raise ValueError(f"{published.isoformat()} is after today ({self.today.isoformat()})")

    def _warning(self, c: Candidate, reason: str, value: str) -> Reject:
        return reject(
            reason, c.input_file, c.input_line, article_id=c.article_id, column="published",
            value=value[:200], severity="warning",
        )  # fmt: skip


def _text_key(article: Article) -> str:
    """Hash of the article's prose (boilerplate cut, whitespace and case folded) to find duplicates."""
    text, kept, cursor = article.text, [], 0
    for span in article.boilerplate:
        kept.append(text[cursor : span.start])
        cursor = max(cursor, span.end)
    kept.append(text[cursor:])
    prose = " ".join(" ".join(kept).split()).casefold() or " ".join(text.split()).casefold()
    return hashlib.sha256(prose.encode("utf-8", "surrogatepass")).hexdigest()
