"""Boilerplate rules: which lines of an article are navigation, paywall, credits, bylines, datelines...

Rules are data (``seeds/rules/boilerplate.json``, schema ``schemas/boilerplate.schema.json``): regexes
with ids tried per line, plus line heuristics (title, caption, byline, heading) with their thresholds.
Finding is separate from applying: ``BoilerplateRules.find`` returns spans; ``coder.segment`` cuts them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coder.config import PROJECT_ROOT
from coder.errors import DataFileError
from coder.ingest.text import DecodingLimits
from coder.records import Span

DEFAULT_SCHEMA = PROJECT_ROOT / "schemas" / "boilerplate.schema.json"
_LINE = re.compile(r"[^\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_WS_RUN = re.compile(r"\s+")
# Characters that end a sentence, and the quotes/brackets that may follow them.
_FINAL = ".!?:;…"
_CLOSERS = "\"'”’»)]*_"
_NAME_WORD = re.compile(r"[A-Z][\w'’.\-]*|al-\w+|bin|ibn|van|von|de|da|del|el-\w+")


@dataclass(frozen=True)
class _LineRule:
    rule_id: str
    label: str
    scope: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class _Heuristic:
    rule_id: str
    label: str
    max_words: int = 0
    max_chars: int = 0


@dataclass(frozen=True)
class BoilerplateRules:
    """Compiled boilerplate rules (load once with ``load_boilerplate_rules``, pass to ``iter_articles``)."""

    version: str
    max_line_chars: int
    line_rules: tuple[_LineRule, ...]
    title: _Heuristic
    caption: _Heuristic
    byline: _Heuristic
    heading: _Heuristic
    decoding: DecodingLimits

    def find(self, text: str, title: str | None, *, infer_title: bool) -> tuple[tuple[Span, ...], str | None]:
        """Boilerplate spans of ``text`` and the title (given, or inferred when ``infer_title``)."""
        lines = _Lines.of(text)
        labels: dict[int, str] = {}
        prefixes: dict[int, int] = {}
        self._apply_line_rules(lines, labels, prefixes)
        title = self._mark_title(lines, labels, title, infer_title)
        self._mark_heuristics(lines, labels)
        spans = [Span(lines.start[i], lines.end[i], label) for i, label in labels.items()]
        spans += [Span(lines.start[i], end, "dateline") for i, end in prefixes.items() if i not in labels]
        return tuple(sorted(spans, key=lambda s: s.start)), title

    def _apply_line_rules(self, lines: _Lines, labels: dict[int, str], prefixes: dict[int, int]) -> None:
        notices: list[int] = []
        for i, line in enumerate(lines.text):
            rule = self._line_rule(line)
            if rule is not None:
                labels[i] = rule.label
                if rule.scope == "paragraph":
                    notices.append(i)
            elif (prefix := self._prefix(line)) is not None:
                prefixes[i] = lines.start[i] + prefix
        for i in notices:
            self._extend_notice(lines, labels, i)

    def _line_rule(self, line: str) -> _LineRule | None:
        if len(line) > self.max_line_chars:
            return None
        return next((r for r in self.line_rules if r.scope != "prefix" and r.pattern.search(line)), None)

    def _prefix(self, line: str) -> int | None:
        for rule in self.line_rules:
            found = rule.pattern.match(line) if rule.scope == "prefix" else None
            if found and found.end() < len(line):
                return len(found.group().rstrip())
        return None

    def _extend_notice(self, lines: _Lines, labels: dict[int, str], i: int) -> None:
        """A notice wrapped over several lines: the lines that continue it (no final punctuation
        before the break, no blank line, short, claimed by no rule) get its label too."""
        j = i
        while (
            lines.joined(j, j + 1)
            and lines.text[j].rstrip(_CLOSERS)[-1:] not in _FINAL
            and j + 1 not in labels
            and len(lines.text[j + 1]) <= self.max_line_chars
        ):
            j += 1
            labels[j] = labels[i]

    def _mark_title(
        self, lines: _Lines, labels: dict[int, str], title: str | None, infer: bool
    ) -> str | None:
        """Mark lines repeating ``title``; with ``infer`` (the .txt layout) and no such line, the first
        unclaimed line is the title line. Returns the given title, else the inferred one."""
        wanted = _title_key(title) if title else None
        repeats = [
            i
            for i, line in enumerate(lines.text)
            if wanted and i not in labels and _title_key(line) == wanted
        ]
        for i in repeats:
            labels[i] = self.title.label
        first = next((i for i in range(len(lines.text)) if i not in labels), None) if infer else None
        if repeats or first is None or len(lines.text[first]) > self.max_line_chars:
            return title
        labels[first] = self.title.label
        return title or lines.text[first].lstrip("#").strip().strip("*_").strip() or None

    def _mark_heuristics(self, lines: _Lines, labels: dict[int, str]) -> None:
        for i, line in enumerate(lines.text):
            if not line or i in labels or len(line) > self.max_line_chars:
                continue
            if self._is_caption(lines, labels, i):
                labels[i] = self.caption.label
            elif _is_name(line, self.byline.max_words) and any(
                labels.get(j) == "dateline" and lines.joined(i, j) for j in (i - 1, i + 1)
            ):
                labels[i] = self.byline.label
            elif self._is_heading(lines, i):
                labels[i] = self.heading.label

    def _is_caption(self, lines: _Lines, labels: dict[int, str], i: int) -> bool:
        above_credit = labels.get(i + 1) == "image_credit" and lines.joined(i, i + 1)
        return above_credit and len(lines.text[i].split()) <= self.caption.max_words

    def _is_heading(self, lines: _Lines, i: int) -> bool:
        line = lines.text[i]
        if len(lines.paragraph_of(i)) != 1 or len(line) > self.heading.max_chars:
            return False
        if len(line.split()) > self.heading.max_words or "," in line or (line[0].islower()):
            return False
        following = lines.next_nonblank(i)
        return line.rstrip(_CLOSERS)[-1:] not in _FINAL and not (following and following[0].islower())


def _title_key(line: str) -> str:
    return _WS_RUN.sub(" ", line.strip().lstrip("#").strip(" *_\"'“”‘’")).casefold()


def _is_name(line: str, max_words: int) -> bool:
    words = line.split()
    return 2 <= len(words) <= max_words and all(_NAME_WORD.fullmatch(w) for w in words)


@dataclass(frozen=True)
class _Lines:
    """Non-blank lines of a text: stripped content, offsets, and the paragraph (run of lines) of each."""

    text: list[str] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)
    para: list[int] = field(default_factory=list)
    bounds: dict[int, tuple[int, int]] = field(default_factory=dict)  # paragraph -> first, last line

    @classmethod
    def of(cls, text: str) -> _Lines:
        lines = cls()
        cursor, para = 0, 0
        for found in _LINE.finditer(text):
            gap = text[cursor : found.start()].replace("\r\n", "\n")
            cursor = found.end()
            stripped = found.group().strip()
            if len(gap) > 1 or not stripped:
                para += 1
            if stripped:
                lead = len(found.group()) - len(found.group().lstrip())
                lines._add(stripped, found.start() + lead, para)
        return lines

    def _add(self, line: str, start: int, para: int) -> None:
        first, _ = self.bounds.get(para, (len(self.text), 0))
        self.bounds[para] = (first, len(self.text))
        self.text.append(line)
        self.start.append(start)
        self.end.append(start + len(line))
        self.para.append(para)

    def paragraph_of(self, i: int) -> range:
        first, last = self.bounds[self.para[i]]
        return range(first, last + 1)

    def joined(self, i: int, j: int) -> bool:
        """Whether lines i and j are in one paragraph (no blank line between)."""
        return 0 <= j < len(self.para) and self.para[i] == self.para[j]

    def next_nonblank(self, i: int) -> str:
        return self.text[i + 1] if i + 1 < len(self.text) else ""


def load_boilerplate_rules(path: Path, schema_path: Path = DEFAULT_SCHEMA) -> BoilerplateRules:
    """Read, validate (JSON schema) and compile the boilerplate rules file."""
    import jsonschema  # only needed when rules are loaded

    data = _read_json(path)
    try:
        jsonschema.validate(data, _read_json(schema_path))
    except jsonschema.ValidationError as exc:
        raise DataFileError(f"does not match {schema_path.name}: {exc.message}", path=str(path)) from None
    macros: dict[str, str] = data["macros"]
    limits = data["decoding"]
    return BoilerplateRules(
        version=data["version"],
        max_line_chars=data["max_line_chars"]["value"],
        line_rules=tuple(_compile_rule(rule, macros, path) for rule in data["line_rules"]),
        title=_heuristic(data["title"]),
        caption=_heuristic(data["caption"]),
        byline=_heuristic(data["byline_near_dateline"]),
        heading=_heuristic(data["heading"]),
        decoding=DecodingLimits(limits["max_control_share"], limits["max_fallback_non_ascii_share"]),
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataFileError(f"cannot read: {exc.strerror}", path=str(path)) from None
    except json.JSONDecodeError as exc:
        raise DataFileError(f"invalid JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
    except UnicodeDecodeError:
        raise DataFileError("not valid UTF-8; re-save the file as UTF-8", path=str(path)) from None


def _compile_rule(rule: dict[str, Any], macros: dict[str, str], path: Path) -> _LineRule:
    pattern = rule["pattern"]
    for name, value in macros.items():
        pattern = pattern.replace("{" + name + "}", value)
    flags = 0 if rule.get("case_sensitive") else re.IGNORECASE
    try:
        compiled = re.compile(pattern, flags)
    except re.error as exc:
        raise DataFileError(f"rule {rule['id']}: bad pattern: {exc}", path=str(path)) from None
    return _LineRule(rule["id"], rule["label"], rule["scope"], compiled)


def _heuristic(data: dict[str, Any]) -> _Heuristic:
    return _Heuristic(data["id"], data["label"], data.get("max_words", 0), data.get("max_chars", 0))
