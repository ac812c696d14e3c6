"""An exact, faster stand-in for a pipeline's ``attribute_ruler`` (built from its own patterns).

The attribute ruler of en_core_web_sm maps each fine tag to POS and morphology, then applies about
120 exceptions (pronoun features, auxiliaries, ...). spaCy runs it as a ``Matcher`` over every doc and
builds a ``Span`` per match: it cost nearly as much as the parser. Almost every pattern tests one
token, and what it tests (tag, lower-case form, dependency, is-space) takes few distinct values, so
the merged writes of all one-token patterns are computed once per distinct combination and cached;
the few multi-token patterns are checked only where their first token matches.

Exactness (the release must not change): the ruler's semantics are kept — every pattern is matched
on the doc as it was before any write (the ``Matcher`` runs once, then writes), and the writes are
applied in pattern order, later patterns overriding earlier ones, through spaCy's own
``set_token_attrs`` with the ruler's own normalised attributes. ``build`` returns ``None`` for a
ruler with anything this cannot express (operators, other attributes, other predicates), and the
caller keeps the original component then.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from spacy.pipeline import AttributeRuler
    from spacy.tokens import Doc
    from spacy.vocab import Vocab
    from thinc.types import Ints2d

# Token attributes a pattern may test: strings (compared by their hash, as the Matcher does) and
# lexical flags. ``TEXT`` is the Matcher's alias of ``ORTH``.
STRING_ATTRS = {"ORTH": "ORTH", "TEXT": "ORTH", "LOWER": "LOWER", "NORM": "NORM", "TAG": "TAG", "DEP": "DEP"}
FLAG_ATTRS = {"IS_SPACE", "IS_PUNCT", "IS_ALPHA", "IS_DIGIT"}

Test = Callable[[tuple[int, ...]], bool]


# A signature's merged one-token writes, and the multi-token rules that may start at such a token.
_Cached = tuple[dict[int, Any], tuple["_Rule", ...]]


class Unsupported(Exception):
    """A pattern the fast path cannot express exactly (the original ruler is kept)."""


@dataclass(frozen=True)
class _Rule:
    order: int  # the ruler's pattern index: later rules override earlier ones
    tests: tuple[Test, ...]  # one per token of the pattern
    target: int  # which token of the match gets the attributes
    attrs: dict[int, Any]  # the ruler's normalised attributes


@dataclass(frozen=True)
class _Column:
    """What the tests can tell apart in one attribute: a value some test names stands for itself; any
    other value only by the answers of the column's regular expressions (one class, mostly)."""

    named: frozenset[int]
    regexes: tuple[re.Pattern[str], ...]

    def classify(self, value: int, vocab: Vocab) -> object:
        if value in self.named:
            return value
        return ("other", *(bool(regex.search(vocab.strings[value])) for regex in self.regexes))


class FastAttributeRuler:
    """Callable on a Doc like the ``attribute_ruler`` it was built from, with the same result."""

    def __init__(
        self, vocab: Vocab, names: Sequence[str], columns: Sequence[_Column], rules: Sequence[_Rule]
    ):
        self.vocab = vocab
        self.names: list[int | str] = list(names)  # the token attributes the rules test, in row order
        self.columns = list(columns)
        self.single = [rule for rule in rules if len(rule.tests) == 1]
        self.multi = [rule for rule in rules if len(rule.tests) > 1]
        # Per column, value -> class; a token's classes (its signature) decide every test on it, so the
        # merged one-token writes and the multi-token rules that may start there are cached by signature.
        self._classes: list[dict[int, object]] = [{} for _ in columns]
        self._cache: dict[tuple[object, ...], _Cached] = {}

    def __call__(self, doc: Doc) -> Doc:
        from spacy.tokens._retokenize import set_token_attrs

        if not len(doc):
            return doc
        # every test reads the doc as it was before any write, as the Matcher does
        table = doc.to_array(self.names)
        rows = [tuple(row) for row in table.tolist()]
        pending: dict[int, list[_Rule]] = {}  # token -> multi-token rules that target it
        for i, signature in enumerate(self._signatures(table.T.tolist())):
            writes, starts = self._cache.get(signature) or self._learn(signature, rows[i])
            for rule in starts:  # a match targets a token at or after its start
                self._match(rule, rows, i, pending)
            if i in pending:
                writes = self._merged(rows[i], pending.pop(i))
            if writes:
                set_token_attrs(doc[i], writes)
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        for doc in docs:
            yield self(doc)

    def _signatures(self, columns: list[list[int]]) -> list[tuple[object, ...]]:
        """Each token's classes, a column at a time."""
        classed = []
        for column, classes, values in zip(self.columns, self._classes, columns, strict=True):
            for value in set(values).difference(classes):
                classes[value] = column.classify(value, self.vocab)
            classed.append(list(map(classes.__getitem__, values)))
        return list(zip(*classed, strict=True))

    def _learn(self, signature: tuple[object, ...], row: tuple[int, ...]) -> _Cached:
        """Any row of a signature answers every test as this one does."""
        writes: dict[int, Any] = {}
        for rule in self.single:
            if rule.tests[0](row):
                writes.update(rule.attrs)
        starts = tuple(rule for rule in self.multi if rule.tests[0](row))
        found = self._cache[signature] = (writes, starts)
        return found

    @staticmethod
    def _match(rule: _Rule, rows: list[tuple[int, ...]], start: int, pending: dict[int, list[_Rule]]) -> None:
        """Note the target of ``rule`` if it matches from ``start`` (its first token already did)."""
        end = start + len(rule.tests)
        if end <= len(rows) and all(
            test(row) for test, row in zip(rule.tests[1:], rows[start + 1 : end], strict=True)
        ):
            pending.setdefault(start + rule.target % len(rule.tests), []).append(rule)

    def _merged(self, row: tuple[int, ...], multi: list[_Rule]) -> dict[int, Any]:
        """A token a multi-token rule targets: every matching rule's writes again, in pattern order."""
        matched = [rule for rule in self.single if rule.tests[0](row)] + multi
        writes: dict[int, Any] = {}
        for rule in sorted(matched, key=lambda rule: rule.order):
            writes.update(rule.attrs)
        return writes


def build(ruler: object) -> FastAttributeRuler | None:
    """The fast equivalent of ``ruler`` (an ``AttributeRuler``), or ``None`` when it is something
    else or one of its patterns is beyond it."""
    from spacy.pipeline import AttributeRuler

    if type(ruler) is not AttributeRuler:  # a subclass may match or write differently
        return None
    vocab = ruler.vocab
    try:
        patterns = [(order, _patterns(ruler, order)) for order in range(len(ruler.attrs))]
        specs = [spec for _, alternatives in patterns for pattern in alternatives for spec in pattern]
        names = sorted({_name(key) for spec in specs for key in spec})
        index = {name: i for i, name in enumerate(names)}
        rules = [
            _Rule(order, tuple(_test(spec, index, vocab) for spec in pattern), ruler.indices[order], attrs)
            for (order, alternatives), attrs in zip(patterns, ruler.attrs, strict=True)
            for pattern in alternatives
        ]
        columns = [_column(name, specs) for name in names]
    except Unsupported:
        return None
    return FastAttributeRuler(vocab, names, columns, rules)


def _patterns(ruler: AttributeRuler, order: int) -> list[list[dict[str, Any]]]:
    patterns: list[list[dict[str, Any]]] = ruler.matcher.get(str(order))[1]
    if not patterns or any(not pattern for pattern in patterns):
        raise Unsupported(f"pattern {order} is empty")
    index = ruler.indices[order]
    if any(not -len(pattern) <= index < len(pattern) for pattern in patterns):
        raise Unsupported(f"pattern {order}: index {index} out of range")
    return patterns


def _name(key: str) -> str:
    key = key.upper()
    if key in STRING_ATTRS:
        return STRING_ATTRS[key]
    if key in FLAG_ATTRS:
        return key
    raise Unsupported(f"token attribute {key!r}")


def _column(name: str, specs: list[dict[str, Any]]) -> _Column:
    """Every value a test on this attribute names, and its regular expressions."""
    if name in FLAG_ATTRS:
        return _Column(frozenset([0, 1]), ())
    values = [value for spec in specs for key, value in spec.items() if _name(key) == name]
    named = {_hash(v) for v in values if isinstance(v, str)}
    regexes = []
    for value in (v for v in values if isinstance(v, dict)):
        for op, arg in value.items():
            if op == "REGEX":
                regexes.append(re.compile(arg))
            else:
                named.update(_hash(a) for a in arg)
    return _Column(frozenset(named), tuple(regexes))


def _test(spec: dict[str, Any], index: dict[str, int], vocab: Vocab) -> Test:
    checks = [_check(index[_name(key)], _name(key), value, vocab) for key, value in spec.items()]
    return lambda row: all(check(row) for check in checks)


def _check(col: int, name: str, value: Any, vocab: Vocab) -> Test:
    if name in FLAG_ATTRS:
        if not isinstance(value, bool):
            raise Unsupported(f"{name}: {value!r}")
        return lambda row: bool(row[col]) == value
    if isinstance(value, str):
        wanted = _hash(value)
        return lambda row: row[col] == wanted
    if isinstance(value, dict) and len(value) == 1:
        ((op, arg),) = value.items()
        if op in ("IN", "NOT_IN") and isinstance(arg, list) and all(isinstance(a, str) for a in arg):
            members = frozenset(_hash(a) for a in arg)
            return (lambda row: row[col] in members) if op == "IN" else (lambda row: row[col] not in members)
        if op == "REGEX" and isinstance(arg, str):
            regex = re.compile(arg)
            return lambda row: bool(regex.search(vocab.strings[row[col]]))
    raise Unsupported(f"{name}: {value!r}")


def _hash(text: str) -> int:
    """The id the Matcher compares (the empty string is 0, an attribute never set); like the
    Matcher's ``IN``, this adds nothing to the vocabulary's strings."""
    from spacy.strings import get_string_id

    return int(get_string_id(text))


class FastLemmatizer:
    """Callable on a Doc like the rule ``lemmatizer`` it wraps, with the same result.

    spaCy's rule lemmatizer already caches its answer by (form, POS, morphology), which is all its
    rules read; it still builds a Token, a MorphAnalysis and a Python string for every token. This
    keeps the answer by the same key as a string id, read and written as arrays; a key seen for the
    first time runs the wrapped lemmatizer's own rule code (``_SetIndexRules``). Like it (``overwrite``
    off), it leaves lemmas already set (by the attribute ruler) alone."""

    def __init__(self, lemmatizer: Any) -> None:
        self.lemmatizer = lemmatizer
        self._rules = _SetIndexRules(lemmatizer)
        self._lemmas: dict[tuple[int, int, int], int] = {}

    def __call__(self, doc: Doc) -> Doc:
        import numpy
        from spacy.attrs import LEMMA, MORPH, ORTH, POS

        if not len(doc):
            return doc
        table = doc.to_array([ORTH, POS, MORPH, LEMMA])
        lemmas = self._lemmas
        column = [
            lemma or lemmas.get((orth, pos, morph)) or self._learn(doc, i, (orth, pos, morph))
            for i, (orth, pos, morph, lemma) in enumerate(table.tolist())
        ]
        doc.from_array([LEMMA], cast("Ints2d", numpy.asarray(column, dtype=numpy.uint64).reshape(-1, 1)))
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        for doc in docs:
            yield self(doc)

    def _learn(self, doc: Doc, i: int, key: tuple[int, int, int]) -> int:
        lemma = self._lemmas[key] = int(doc.vocab.strings.add(self._rules.lemmatize(doc[i])[0]))
        return lemma


class _SetIndexRules:
    """The wrapped lemmatizer's own ``rule_lemmatize``, run on what it reads of its lemmatizer (cache,
    ``is_base_form``, lookups) with one change: the lemma index of each part of speech as a set.

    spaCy keeps each index as a list (57,528 nouns) and tests every candidate form with ``in``: a linear
    scan that was most of a new word's cost. Membership of a string in a list and in a set of the
    same strings is the same, and the rule code reads the index only by ``in`` (and its truth), so the
    lemmas are the same."""

    def __init__(self, lemmatizer: Any) -> None:
        from spacy.lookups import Table

        self.cache = lemmatizer.cache  # shared, as when the lemmatizer itself is asked
        self.is_base_form = lemmatizer.is_base_form
        self._rule_lemmatize = type(lemmatizer).rule_lemmatize
        self._lookups = lemmatizer.lookups
        self._index = Table(name="lemma_index")
        for pos, words in self._lookups.get_table("lemma_index", {}).items():
            self._index[pos] = frozenset(words)

    @property
    def lookups(self) -> _SetIndexRules:
        return self

    def get_table(self, name: str, default: Any = None) -> Any:
        return self._index if name == "lemma_index" else self._lookups.get_table(name, default)

    def lemmatize(self, token: Any) -> list[str]:
        return cast("list[str]", self._rule_lemmatize(self, token))


def build_lemmatizer(lemmatizer: object) -> FastLemmatizer | None:
    """The fast equivalent of spaCy's own (English) rule lemmatizer, or ``None`` for any other: another
    mode or subclass may read more of the token than its form, POS and morphology."""
    from spacy.lang.en.lemmatizer import EnglishLemmatizer
    from spacy.pipeline import Lemmatizer

    if type(lemmatizer) not in (Lemmatizer, EnglishLemmatizer):
        return None
    if getattr(lemmatizer, "mode", None) != "rule" or getattr(lemmatizer, "overwrite", True):
        return None
    return FastLemmatizer(lemmatizer)
