"""The event-type model: TF-IDF over words, word bigrams and word prefixes, and over character
3- to 5-grams of words, + logistic regression.

It is the cheap first pass that scores every sentence, so it stays linear and
sparse. It follows the scikit-learn estimator contract: hyper-parameters are
stored as given in ``__init__``, learned state ends in ``_``. Files are written
with skops and read back with an explicit allow-list of types, never pickle;
a missing, corrupted, altered or foreign file raises ``ModelError``.

scikit-learn, skops and scipy (~4 CPU s to import) are imported by the functions that fit, score,
save or load, not with this module: a process that only records which model codes (the Dask
driver) reads ``model.json`` through ``ModelStandIn`` and never pays for them.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from coder.errors import ModelError
from coder.records import EVENT_TYPES

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline

# What fitting, scoring and loading import: a process that codes imports them ahead of its first batch
# (``dask_engine``'s fork server), one that only records the version never does.
HEAVY_MODULES = (
    "scipy.sparse",
    "sklearn.feature_extraction.text",
    "sklearn.linear_model",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "skops.io",
)
MODEL_FILE = "model.skops"
META_FILE = "model.json"
FORMAT = "coder.event-type.v1"
_TOKEN = re.compile(r"[a-z0-9]+")
_CHAR_SIZES = (3, 4, 5)
# Fixed zip entry time so that the same fitted model always gives the same file bytes.
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
_MEMO_ID = re.compile(r'"__id__": (\d+)')
# The vectorizer settings the fast scoring path reproduces; any other fitted vectorizer uses sklearn's.
_FAST_PARAMS = {"binary": False, "norm": "l2", "sublinear_tf": True, "use_idf": True, "dtype": np.float64}
# Types a fitted pipeline of ours is made of, beyond the ones skops trusts by default.
TRUSTED_TYPES: tuple[str, ...] = (
    "coder.classify.model.analyze",
    "coder.classify.model.char_grams",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
)


def analyze(text: str) -> list[str]:
    """Features of a sentence: words, word bigrams and 4-letter word prefixes.

    Prefixes stand in for character n-grams ("bombed", "bombing", "bombers" share
    "~bomb") at a fraction of their cost: the model scores every sentence, so the
    analyzer is the throughput bottleneck.
    """
    tokens = _TOKEN.findall(text.lower())
    bigrams = [f"{a} {b}" for a, b in pairwise(tokens)]
    prefixes = [f"~{t[:4]}" for t in tokens if len(t) > 4]
    return tokens + bigrams + prefixes


def char_grams(text: str) -> list[str]:
    """Character 3- to 5-grams of each space-separated word, padded with a space each side (what
    scikit-learn's ``char_wb`` gives): inflections and compounds ("airstrikes", "air-strike") share
    features, and punctuation stays with its word (a quote mark opening '"we' marks speech)."""
    grams: list[str] = []
    for token in text.lower().split():
        padded = f" {token} "
        for n in _CHAR_SIZES:
            grams += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return grams


class EventTypeModel:
    """Sentence -> probability of each of the six event types."""

    def __init__(
        self,
        *,
        c: float = 4.0,
        # min_df 3 and character n-grams (min_df 3): macro-F1 0.845 -> 0.859 by 5-fold cross-validation on
        # the training split (models/event-type/cv_comparison.json, scripts/compare_models.py).
        min_df: int = 3,
        char_min_df: int | None = 3,
        seed: int = 13,
        version: str = "event-type-unversioned",
    ) -> None:
        self.c = c
        self.min_df = min_df
        self.char_min_df = char_min_df  # None: no character n-grams
        self.seed = seed
        self.version = version
        self.labels: tuple[str, ...] = EVENT_TYPES

    def _build(self) -> Pipeline:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, Pipeline

        features: TfidfVectorizer | FeatureUnion
        features = TfidfVectorizer(analyzer=analyze, sublinear_tf=True, min_df=self.min_df)
        if self.char_min_df is not None:
            # Two blocks, each normalised on its own: words and n-grams weigh alike whatever their counts.
            chars = TfidfVectorizer(analyzer=char_grams, sublinear_tf=True, min_df=self.char_min_df)
            features = FeatureUnion([("words", features), ("chars", chars)])
        # Balanced weights: airstrikes and arms transfers are rare in every corpus; their recall matters.
        classifier = LogisticRegression(
            C=self.c, class_weight="balanced", max_iter=3000, random_state=self.seed
        )
        return Pipeline([("features", features), ("clf", classifier)])

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> EventTypeModel:
        unknown = sorted(set(labels) - set(EVENT_TYPES))
        if unknown:
            raise ModelError(f"training labels outside the event types: {unknown}")
        pipeline = self._build().fit(list(texts), list(labels))
        # The pruned-term set is only for introspection and would dominate the file size.
        for vectorizer in _vectorizers(pipeline.named_steps["features"]):
            vectorizer.stop_words_ = None
        self.pipeline_ = pipeline
        return self

    def _fitted(self) -> Pipeline:
        pipeline: Pipeline | None = getattr(self, "pipeline_", None)
        if pipeline is None:
            raise ModelError("the event-type model is not fitted")
        return pipeline

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities as an array with one column per ``self.labels`` (zero for unseen classes)."""
        pipeline = self._fitted()
        vectorizers = _vectorizers(pipeline.named_steps["features"])
        if all(map(_fast_path_applies, vectorizers)):
            proba = pipeline.named_steps["clf"].predict_proba(_features(vectorizers, texts))
        else:
            proba = pipeline.predict_proba(list(texts))
        full = np.zeros((len(texts), len(self.labels)))
        columns = [self.labels.index(str(label)) for label in pipeline.classes_]
        full[:, columns] = proba
        return full

    def predict_scores(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """For each text, label -> probability (the six labels, summing to 1)."""
        if not texts:
            return []
        rows = self.predict_proba(texts).tolist()
        return [dict(zip(self.labels, row, strict=True)) for row in rows]

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        best = self.predict_proba(texts).argmax(axis=1)
        return [self.labels[i] for i in best]

    def save(self, model_dir: Path, extra: dict[str, Any] | None = None) -> None:
        """Write ``model.skops`` and ``model.json`` (version, hyper-parameters, file checksum)."""
        import sklearn
        import skops.io as sio

        model_dir.mkdir(parents=True, exist_ok=True)
        path = model_dir / MODEL_FILE
        path.write_bytes(_normalised_zip(sio.dumps(self._fitted())))
        meta = {
            "format": FORMAT,
            "version": self.version,
            "labels": list(self.labels),
            "params": self.get_params(),
            "sklearn_version": sklearn.__version__,
            "model_sha256": _sha256(path),
        } | (extra or {})
        (model_dir / META_FILE).write_text(
            json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )

    def get_params(self) -> dict[str, Any]:
        return {
            "c": self.c,
            "min_df": self.min_df,
            "char_min_df": self.char_min_df,
            "seed": self.seed,
        }

    @classmethod
    def load(cls, model_dir: Path) -> EventTypeModel:
        meta = _read_meta(model_dir)
        path = _checked_file(model_dir, meta)
        pipeline = _load_pipeline(path)
        params = meta.get("params", {})
        model = cls(
            c=float(params.get("c", 4.0)),
            min_df=int(params.get("min_df", 2)),
            char_min_df=None if params.get("char_min_df") is None else int(params["char_min_df"]),
            seed=int(params.get("seed", 13)),
            version=str(meta["version"]),
        )
        model.pipeline_ = pipeline
        return model


@dataclass(frozen=True)
class ModelStandIn:
    """The installed model's version and checksum, read from ``model.json`` (the model file's checksum
    checked) without scikit-learn or skops, for a process that records which model codes (a release
    manifest) but scores nothing (the Dask driver). It refuses to score."""

    version: str
    model_sha256: str
    labels: tuple[str, ...] = EVENT_TYPES

    @classmethod
    def load(cls, model_dir: Path) -> ModelStandIn:
        """The same refusals as ``EventTypeModel.load`` for missing, foreign or corrupted files, but
        the types inside the file, which only skops can list, are checked where the model loads."""
        meta = _read_meta(model_dir)
        _checked_file(model_dir, meta)
        return cls(version=str(meta["version"]), model_sha256=str(meta["model_sha256"]))

    def predict_proba(self, texts: Sequence[str]) -> NoReturn:
        self._refuse()

    def predict_scores(self, texts: Sequence[str]) -> NoReturn:
        self._refuse()

    def predict(self, texts: Sequence[str]) -> NoReturn:
        self._refuse()

    def _refuse(self) -> NoReturn:
        # Scoring with no model would code every sentence as nothing, silently.
        raise ModelError(f"the event-type model stand-in ({self.version}) cannot score; load the model")


def _checked_file(model_dir: Path, meta: dict[str, Any]) -> Path:
    """The model file, present and matching the checksum ``model.json`` records."""
    path = model_dir / MODEL_FILE
    if not path.is_file():
        raise ModelError("model file is missing; run `coder train` or `make model`", path=str(path))
    if _sha256(path) != meta.get("model_sha256"):
        raise ModelError("model file does not match the checksum in model.json (corrupted?)", path=str(path))
    return path


def _vectorizers(features: TfidfVectorizer | FeatureUnion) -> list[TfidfVectorizer]:
    """The vectorizers of the features step, in the order their columns come."""
    from sklearn.pipeline import FeatureUnion

    if isinstance(features, FeatureUnion):
        if features.transformer_weights is not None:
            return [features]  # weighted blocks: not ours, sklearn scores them
        return [part for _, part in features.transformer_list]
    return [features]


def _fast_path_applies(features: Any) -> bool:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not isinstance(features, TfidfVectorizer):
        return False
    params = features.get_params()
    analyzers = (analyze, char_grams)
    return params["analyzer"] in analyzers and all(params[k] == v for k, v in _FAST_PARAMS.items())


def _features(vectorizers: list[TfidfVectorizer], texts: Sequence[str]) -> csr_matrix:
    """What the features step gives: one vectorizer's matrix, or the union's blocks side by side."""
    from scipy.sparse import hstack

    if len(vectorizers) == 1:
        return _tfidf(vectorizers[0], texts)
    return hstack([_tfidf(v, texts) for v in vectorizers], format="csr")


def _tfidf(features: TfidfVectorizer, texts: Sequence[str]) -> csr_matrix:
    """``features.transform(texts)`` in one sparse build: sklearn's per-document Python loop over
    feature counters was half of the scoring time, and the model scores every sentence."""
    from sklearn.preprocessing import normalize

    counts = _char_counts(features, texts) if features.analyzer is char_grams else _counts(features, texts)
    counts.sum_duplicates()
    counts.data = np.log(counts.data) + 1.0  # sublinear tf
    counts.data *= features.idf_[counts.indices]
    return normalize(counts, norm="l2", copy=False)


def _counts(features: TfidfVectorizer, texts: Sequence[str]) -> csr_matrix:
    """Text x feature counts, from the analyzer's features (duplicate entries are summed later)."""
    vocabulary_get = features.vocabulary_.get
    cols: list[int] = []
    ends = [0]
    for text in texts:
        cols += [j for j in map(vocabulary_get, features.analyzer(text)) if j is not None]
        ends.append(len(cols))
    return _ones(cols, ends, len(features.vocabulary_))


def _char_counts(features: TfidfVectorizer, texts: Sequence[str]) -> csr_matrix:
    """Text x n-gram counts as (text x word counts) @ (word x n-gram counts): a word's n-grams are its
    own, so each distinct word of the batch is cut once (a batch repeats most of its words) and the
    sum over a text's words is a sparse product, not a Python loop over ~400 n-grams a sentence."""
    vocabulary_get = features.vocabulary_.get
    row_of: dict[str, int] = {}
    word_cols: list[int] = []
    word_ends = [0]
    text_cols: list[int] = []
    text_ends = [0]
    for text in texts:
        for word in text.lower().split():
            row = row_of.get(word)
            if row is None:
                row = row_of[word] = len(row_of)
                padded = f" {word} "
                word_cols += [
                    j
                    for n in _CHAR_SIZES
                    for i in range(len(padded) - n + 1)
                    if (j := vocabulary_get(padded[i : i + n])) is not None
                ]
                word_ends.append(len(word_cols))
            text_cols.append(row)
        text_ends.append(len(text_cols))
    words = _ones(word_cols, word_ends, len(features.vocabulary_))
    words.sum_duplicates()
    return _ones(text_cols, text_ends, len(row_of)) @ words


def _ones(cols: list[int], ends: list[int], width: int) -> csr_matrix:
    """A CSR matrix of ones from each row's column list (``ends``: where each row's columns end)."""
    from scipy.sparse import csr_matrix

    indices = np.array(cols, dtype=np.int32)
    return csr_matrix(
        (np.ones(len(indices)), indices, np.array(ends, dtype=np.int32)), shape=(len(ends) - 1, width)
    )


def _read_meta(model_dir: Path) -> dict[str, Any]:
    path = model_dir / META_FILE
    if not path.is_file():
        raise ModelError("model metadata is missing; run `coder train` or `make model`", path=str(path))
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"model metadata is unreadable: {exc}", path=str(path)) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "version" not in meta:
        raise ModelError(f"not a {FORMAT} model (foreign or old metadata)", path=str(path))
    if tuple(meta.get("labels", ())) != EVENT_TYPES:
        raise ModelError(f"model labels {meta.get('labels')} differ from {list(EVENT_TYPES)}", path=str(path))
    return meta


def _load_pipeline(path: Path) -> Pipeline:
    import skops.io as sio
    from sklearn.pipeline import Pipeline

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError, OSError) as exc:
        raise ModelError(f"model file is corrupted: {exc}", path=str(path)) from exc
    foreign = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if foreign:
        raise ModelError(f"model file holds types we do not trust: {foreign}", path=str(path))
    try:
        pipeline = sio.load(path, trusted=list(TRUSTED_TYPES))
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError, OSError) as exc:
        raise ModelError(f"model file cannot be loaded: {exc}", path=str(path)) from exc
    if not isinstance(pipeline, Pipeline) or not set(map(str, pipeline.classes_)) <= set(EVENT_TYPES):
        raise ModelError("model file does not hold an event-type pipeline", path=str(path))
    return pipeline


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _normalised_zip(data: bytes) -> bytes:
    """Rewrite skops' zip with fixed entry times and array names from write order, not ``id()``.

    skops names array entries by the Python object id, which changes from run to
    run; renaming them (and their references in schema.json) makes the same
    fitted model give the same file bytes.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        names = [n for n in src.namelist() if n != "schema.json"]
        renamed = {n: f"{i:05d}{Path(n).suffix}" for i, n in enumerate(names)}
        schema = src.read("schema.json").decode("utf-8")
        for old, new in renamed.items():
            schema = schema.replace(f'"{old}"', f'"{new}"')
        schema = _renumber_ids(schema)
        _write(dst, "schema.json", schema.encode("utf-8"))
        for old, new in renamed.items():
            _write(dst, new, src.read(old))
    return out.getvalue()


def _renumber_ids(schema: str) -> str:
    """Replace skops' memo ids (object ids) by their order of first appearance."""
    order: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f'"__id__": {order.setdefault(match.group(1), len(order))}'

    return _MEMO_ID.sub(number, schema)


def _write(archive: zipfile.ZipFile, name: str, payload: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, payload)
