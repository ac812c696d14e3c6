"""Name keys: how a toponym and a gazetteer name meet (shared by the index builder and the lookups).

Names match on a normalised key (no diacritics, Arabic article or final ``h``), failing that on a looser
spelling key: Fallujah / Falluja / Al Fallujah meet.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Article tokens dropped from keys: "Al Fallujah" == "Fallujah", "Deir ez Zor" == "Deir Zor".
_ARTICLES = frozenset({"al", "el", "ar", "as", "ad", "an", "at", "az", "ash", "ath", "adh", "ed", "es", "ez"})
_APOSTROPHES = re.compile("['’‘`ʿʾ´]")  # transliteration marks vanish: "Dar'a" == "Dara"
_NON_WORD = re.compile(r"[\W_]+")
_VOWELS = frozenset("aeiou")
_DOUBLED = re.compile(r"(\w)\1+")
_LOOSE_SUBS = (("ou", "u"), ("oo", "u"), ("ee", "i"), ("q", "k"), ("ei", "ay"), ("dh", "d"), ("gh", "g"))


def normalise_name(text: str) -> str:
    """The exact matching key of a place name."""
    folded = text.casefold()
    if folded.isalpha() and folded.isascii():  # one plain word, the commonest case: no regex needed
        return _without_final_h(folded)
    if not folded.isascii():  # ASCII has no decompositions: the scan's commonest case skips the fold
        folded = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
        # Compatibility forms decompose to capitals ("𝘈", "Ａ", "Ⅳ"): fold again, or the key is not a key.
        folded = folded.casefold()
    tokens = _NON_WORD.sub(" ", _APOSTROPHES.sub("", folded)).split()
    if len(tokens) > 1:
        tokens = [t for t in tokens if t not in _ARTICLES] or tokens
    # Transliterations differ by a final h ("Fallujah"/"Falluja"); dropping it merges them.
    return " ".join(map(_without_final_h, tokens))


def _without_final_h(token: str) -> str:
    return token[:-1] if len(token) > 3 and token[-1] == "h" and token[-2] in _VOWELS else token


def loose_key(key: str) -> str:
    """A spelling-tolerant key: doubled letters, ou/u, q/k and similar variants collapse."""
    loose = _DOUBLED.sub(r"\1", key)
    for old, new in _LOOSE_SUBS:
        loose = loose.replace(old, new)
    return "~" + loose.replace(" ", "")


def key_hash(key: str) -> int:
    """A stable 48-bit hash (``hash`` is salted per process): small under delta encoding, and with ~1.1M
    keys an unknown name hits one by accident about 4 times in a billion lookups."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=6).digest(), "little")


# --- display names: the conventional English form of a GeoNames name (applied when the index is built) ---

_MARKS = str.maketrans({"‘": "'", "’": "'", "ʿ": "'", "ʾ": "'", "`": "'", "´": "'"})
_CLEAN = re.compile(r"^[A-Z][a-z]+(?:[ -](?:[A-Z][a-z]+|al|el|ad|ar|as|an|at|az|ash|ez|ed|es|de))*$")


@dataclass(frozen=True)
class NamePolicy:
    """The data of ``seeds/places/names.json``: which GeoNames names give way to an English form."""

    version: str
    article_prefixes: frozenset[str]
    min_stripped_length: int
    compound_generics: tuple[str, ...]
    compound_countries: frozenset[str]
    min_remainder_length: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NamePolicy:
        return cls(
            version=str(data["version"]),
            article_prefixes=frozenset(p.casefold() for p in data["article_prefixes"]),
            min_stripped_length=int(data["min_stripped_length"]),
            compound_generics=tuple(sorted((g.casefold() for g in data["compound_generics"]), key=len)),
            compound_countries=frozenset(data["compound_countries"]),
            min_remainder_length=int(data["min_remainder_length"]),
        )


def ascii_name(name: str) -> str:
    """Diacritics folded, transliteration marks made plain apostrophes ("Tall ‘Afar" -> "Tall 'Afar")."""
    folded = unicodedata.normalize("NFKD", name.translate(_MARKS))
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def english_name(name: str, alternates: Iterable[str], iso2: str, policy: NamePolicy) -> str:
    """A place's one display name: GeoNames' unless an attested plain form reads as English news writes it.

    1. the ASCII-folded name, if plain (letters, spaces, hyphens), without a leading Arabic article that an
       attested alternate drops, and not a run-together form of an attested spaced alternate;
    2. else the attested plain alternate with the same spelling key: without the article, split rather than
       run together, then closest in spelling to the name (then alphabetical, for determinism);
    3. one word made of a generic ("Balad", "Tall", "Kafr") + a name is split ("Baladruz" -> "Balad Ruz").
    """
    base = ascii_name(name)
    key = loose_key(normalise_name(base))
    pool = {a for a in map(ascii_name, alternates) if _CLEAN.match(a) and loose_key(normalise_name(a)) == key}
    pool |= {base} if _CLEAN.match(base) else set()
    # A mark inside a word is an ayn or hamza, which English writes as a doubled vowel ("Dar'a" -> "Daraa").
    target = re.sub(r"(?<=\w)'([aeiou])", r"\1\1", _strip_article(base, policy)).replace("'", "")
    chosen = min(pool, key=lambda a: _preference(a, pool, target, policy), default=base)
    return _split_compound(chosen, iso2, policy)


def _strip_article(name: str, policy: NamePolicy) -> str:
    head, _, rest = name.replace("-", " ", 1).partition(" ")
    strip = head.casefold() in policy.article_prefixes and len(rest) >= policy.min_stripped_length
    return rest if strip else name


def _preference(form: str, pool: set[str], target: str, policy: NamePolicy) -> tuple[bool, bool, float, str]:
    parts = _words(form)
    run_together = any(len(o) > len(parts) and "".join(o) == "".join(parts) for o in map(_words, pool))
    similarity = difflib.SequenceMatcher(None, form.casefold(), target.casefold()).ratio()
    return _strip_article(form, policy) != form, run_together, -similarity, form


def _words(text: str) -> list[str]:
    return re.split("[ -]", text.casefold())


def _split_compound(name: str, iso2: str, policy: NamePolicy) -> str:
    if iso2 not in policy.compound_countries or " " in name or "-" in name:
        return name
    # Only the longest generic the name starts with counts: "Tallaqa" is no "Tal" + "Laqa".
    generic = next((g for g in reversed(policy.compound_generics) if name.casefold().startswith(g)), "")
    rest = name[len(generic) :]
    # A vowel (or the same letter) after the generic means it is no generic: "Babila", "Khanaqin", "Dayrut".
    fits = (
        bool(generic) and len(rest) >= policy.min_remainder_length and re.search("[aeiou]", rest) is not None
    )
    if fits and rest[0].casefold() not in f"aeiouy'{generic[-1]}":
        return f"{name[: len(generic)]} {rest.capitalize()}"
    return name
