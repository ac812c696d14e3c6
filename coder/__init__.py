"""coder: news text to validated, versioned event datasets (ACLED/CAMEO style)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__version__ = "0.1.0"


def read_dataset(
    name: str, version: str | None = "latest", table: str = "events", datasets_dir: str | Path | None = None
) -> pd.DataFrame:
    """A table of a release as a DataFrame (``version`` "latest" or None: the latest release)."""
    from coder import store
    from coder.config import Settings

    folder = Path(datasets_dir) if datasets_dir is not None else Settings.from_env().datasets_dir
    return store.read_dataset(name, version=version, table=table, datasets_dir=folder)


__all__ = ["__version__", "read_dataset"]
