"""Text of an input: decoding (BOMs, UTF-8, cautious single-byte fallback), HTML stripping, dates."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_HTML_START = re.compile(r"\s*(?:<!--.{0,500}?-->\s*)?<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)
_PUBLISHED = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.+\-Z]{0,20})?")
_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_MONTHS = (
    {name[:3]: i + 1 for i, name in enumerate(_MONTH_NAMES)}
    | {"sept": 9}
    | {name: i + 1 for i, name in enumerate(_MONTH_NAMES)}
)
_DMY = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})\b")
_MDY = re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b")
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_WS_RUN = re.compile(r"\s+")


class Unusable(Exception):
    """A record that cannot be coded; carries the reason shown in the rejects table."""


@dataclass(frozen=True)
class DecodingLimits:
    """Thresholds of seeds/rules/boilerplate.json "decoding" (see the why there)."""

    max_control_share: float
    max_fallback_non_ascii_share: float


@dataclass(frozen=True)
class _Decoded:
    text: str
    encoding: str


def decode(raw: bytes, limits: DecodingLimits) -> _Decoded:
    """UTF-8 (BOMs honoured), else cp1252/latin-1 when that is plausible; never a silent guess."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return _checked(_Decoded(raw.decode(encoding), encoding), limits)
            except UnicodeDecodeError:
                raise Unusable(
                    f"starts with a {encoding} byte-order mark but is not valid {encoding}"
                ) from None
    if b"\x00" in raw:
        raise Unusable("binary content (NUL bytes); give a text file")
    try:
        return _checked(_Decoded(raw.decode("utf-8"), "utf-8"), limits)
    except UnicodeDecodeError:
        pass
    for encoding in ("cp1252", "latin-1"):
        try:
            decoded = _Decoded(raw.decode(encoding), encoding)
        except UnicodeDecodeError:
            continue
        if _non_ascii_share(decoded.text) <= limits.max_fallback_non_ascii_share:
            return _checked(decoded, limits)
    raise Unusable("not UTF-8 and no single-byte encoding fits safely; re-save the file as UTF-8")


def _checked(decoded: _Decoded, limits: DecodingLimits) -> _Decoded:
    check_text(decoded.text, limits)
    return decoded


def check_text(text: str, limits: DecodingLimits) -> None:
    controls = len(_CONTROL.findall(text))
    if text and controls / len(text) > limits.max_control_share:
        raise Unusable(f"mostly not text ({controls} control characters); give plain text or HTML")
    if _SURROGATE.search(text):
        raise Unusable("not valid UTF-8 (undecodable bytes); re-save the file as UTF-8")


def _non_ascii_share(text: str) -> float:
    return (len(text) - len(text.encode("ascii", "ignore"))) / max(len(text), 1)


class _TextExtractor(HTMLParser):
    """Visible text of an HTML document: script/style dropped, block elements become line breaks."""

    SKIP = frozenset({"script", "style", "noscript", "template", "svg", "title"})
    # Block-level and line-breaking elements of the HTML living standard.
    BLOCK = frozenset(
        (
            "address",
            "article",
            "aside",
            "blockquote",
            "br",
            "dd",
            "div",
            "dl",
            "dt",
            "figcaption",
            "figure",
            "footer",
            "form",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "header",
            "hr",
            "li",
            "main",
            "nav",
            "ol",
            "p",
            "pre",
            "section",
            "table",
            "td",
            "th",
            "tr",
            "ul",
        )
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping.append(tag)
        if tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()
        if tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.skipping and self.skipping[-1] == "title":
            self.title.append(data)
        elif not self.skipping:
            self.parts.append(_WS_RUN.sub(" ", data))


def html_to_text(markup: str) -> tuple[str, str | None]:
    """Visible text of an HTML page (paragraphs separated by blank lines) and its <title>."""
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    paragraphs = (p.strip() for p in "".join(extractor.parts).split("\n\n"))
    title = " ".join("".join(extractor.title).split()) or None
    return "\n\n".join(p for p in paragraphs if p), title


def is_html(text: str) -> bool:
    return bool(_HTML_START.match(text[:1024]))


def parse_published(value: str) -> date:
    """A ``YYYY-MM-DD`` date (a time part after it is allowed and dropped); ValueError otherwise."""
    found = _PUBLISHED.fullmatch(value.strip())
    if not found:
        raise ValueError(f"{value!r} is not a YYYY-MM-DD date")
    return date(int(found[1]), int(found[2]), int(found[3]))


def parse_text_date(text: str) -> date | None:
    """The first complete date (day, month name and year, or ISO) in a dateline; None if none parses."""
    for pattern, order in ((_DMY, (3, 2, 1)), (_MDY, (3, 1, 2)), (_ISO, (1, 2, 3))):
        for found in pattern.finditer(text):
            year, month, day = (found[k] for k in order)
            month_no = int(month) if month.isdigit() else _MONTHS.get(month.lower())
            try:
                return date(int(year), month_no or 0, int(day))
            except ValueError:
                continue
    return None
