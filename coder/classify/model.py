"""The event-type model: TF-IDF over words, word bigrams and word prefixes + logistic regression.

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
    from sklearn.pipeline import Pipeline

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
# Fixed zip entry time so that the same fitted model always gives the same file bytes.
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
_MEMO_ID = re.compile(r'"__id__": (\d+)')
# The vectorizer settings the fast scoring path reproduces; any other fitted vectorizer uses sklearn's.
_FAST_PARAMS = {"binary": False, "norm": "l2", "sublinear_tf": True, "use_idf": True, "dtype": np.float64}
# Types a fitted pipeline of ours is made of, beyond the ones skops trusts by default.
TRUSTED_TYPES: tuple[str, ...] = (
    "coder.classify.model.analyze",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
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


class EventTypeModel:
    """Sentence -> probability of each of the six event types."""

    def __init__(
        self,
        *,
        c: float = 4.0,
        min_df: int = 2,
        seed: int = 13,
        version: str = "event-type-unversioned",
    ) -> None:
        self.c = c
        self.min_df = min_df
        self.seed = seed
        self.version = version
        self.labels: tuple[str, ...] = EVENT_TYPES

    def _build(self) -> Pipeline:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        features = TfidfVectorizer(analyzer=analyze, sublinear_tf=True, min_df=self.min_df)
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
        pipeline.named_steps["features"].stop_words_ = None
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
        features = pipeline.named_steps["features"]
        if _fast_path_applies(features):
            proba = pipeline.named_steps["clf"].predict_proba(_tfidf(features, texts))
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


def _fast_path_applies(features: TfidfVectorizer) -> bool:
    params = features.get_params()
    return params["analyzer"] is analyze and all(params[k] == v for k, v in _FAST_PARAMS.items())


def _tfidf(features: TfidfVectorizer, texts: Sequence[str]) -> csr_matrix:
    """``features.transform(texts)`` in one sparse build: sklearn's per-document Python loop over
    feature counters was half of the scoring time, and the model scores every sentence."""
    from scipy.sparse import csr_matrix
    from sklearn.preprocessing import normalize

    vocabulary_get = features.vocabulary_.get
    rows: list[int] = []
    cols: list[int] = []
    for i, text in enumerate(texts):
        ids = [j for j in map(vocabulary_get, analyze(text)) if j is not None]
        cols += ids
        rows += [i] * len(ids)
    shape = (len(texts), len(features.vocabulary_))
    counts = csr_matrix((np.ones(len(cols)), (rows, cols)), shape=shape)  # duplicates are summed
    counts.sum_duplicates()
    counts.data = np.log(counts.data) + 1.0  # sublinear tf
    counts.data *= features.idf_[counts.indices]
    return normalize(counts, norm="l2", copy=False)


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
