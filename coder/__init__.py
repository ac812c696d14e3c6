"""coder: news text to validated, versioned event datasets (ACLED/CAMEO style)."""

__version__ = "0.1.0"
