"""The place rules of ``seeds/places/rules.json``: entity labels, relative cues, stop names, demonyms."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS  # "More", "Nor", "Same" also name villages somewhere

from coder.errors import DataFileError
from coder.geo.names import normalise_name


@dataclass(frozen=True)
class Locating:
    """When a place named just before a relative phrase is the event's and the phrase's place only locates
    it ("Marea countryside north of Aleppo", "Balad Ruz, 70 km north-east of Baghdad")."""

    cues: frozenset[str]  # ids of the relative cues that locate a place named before them
    max_gap_chars: int  # the most text between the located place and the locating one
    gap_breaks: re.Pattern[str]  # text between them that starts another clause or item ("X and Y")
    max_km: float  # a located place outside the locating one's province must lie this close

    @classmethod
    def load(cls, data: dict[str, Any]) -> Locating:
        return cls(
            cues=frozenset(data["cues"]), max_gap_chars=int(data["max_gap_chars"]),
            gap_breaks=re.compile(data["gap_breaks"], re.IGNORECASE), max_km=float(data["max_km"]),
        )  # fmt: skip


@dataclass(frozen=True)
class GeoRules:
    """The data of ``seeds/places/rules.json``."""

    version: str
    entity_labels: frozenset[str]
    relative_before: tuple[tuple[str, re.Pattern[str]], ...]  # (cue id, pattern)
    relative_after: tuple[tuple[str, re.Pattern[str]], ...]
    province_words: frozenset[str]
    settlement_words: frozenset[str]
    stop_keys: frozenset[str]
    demonyms: dict[str, str]
    context_min_population: int
    max_ngram: int
    min_name_length: int
    inherit_min_precision: int
    country_only: dict[str, Any]
    actor_country: dict[str, Any]
    locating: Locating
    # Keys of words that may stand beside a place name without making it a longer name: stop names,
    # demonyms, province and settlement words ("In Aleppo", "Deir Ezzor Governorate", "Homs City").
    beside_name_keys: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        words = {normalise_name(w) for w in self.province_words | self.settlement_words}
        object.__setattr__(self, "beside_name_keys", self.stop_keys | set(self.demonyms) | words)

    @classmethod
    def load(cls, path: Path) -> GeoRules:
        data = read_json(path)
        try:
            return cls(
                version=str(data["version"]), entity_labels=frozenset(data["entity_labels"]),
                relative_before=_cues(data["relative_before"]), relative_after=_cues(data["relative_after"]),
                province_words=frozenset(w.casefold() for w in data["province_words"]),
                settlement_words=frozenset(w.casefold() for w in data["settlement_words"]),
                stop_keys=frozenset(normalise_name(n) for n in [*data["stop_names"], *STOP_WORDS]),
                demonyms={normalise_name(k): v for k, v in data["demonyms"].items()},
                context_min_population=int(data["context_min_population"]), max_ngram=int(data["max_ngram"]),
                min_name_length=int(data["min_name_length"]),
                inherit_min_precision=int(data["inherit_min_precision"]),
                country_only=dict(data["country_only"]), actor_country=dict(data["actor_country"]),
                locating=Locating.load(data["locating"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise DataFileError(f"malformed place rules ({exc!r})", path=str(path)) from None


def _cues(items: list[dict[str, str]]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((c["id"], re.compile(c["pattern"], re.IGNORECASE)) for c in items)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataFileError(f"cannot read ({exc})", path=str(path)) from None
    return data if isinstance(data, dict) else {}  # a non-object fails later as "malformed", with the path
