"""Named exceptions. Each carries the data a user needs to act on it.

The CLI turns any ``CoderError`` into a one-line message and an exit code;
anything else is a bug and shows a traceback only under ``--debug``.
"""

from __future__ import annotations


class CoderError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        super().__init__(self.describe())

    def describe(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return f"{where}{self.message}"


class InputError(CoderError):
    """An input file or record cannot be read at all (the whole input, not one record)."""

    exit_code = 2


class ConfigError(CoderError):
    """A setting, environment variable or installed pipeline is wrong."""

    exit_code = 2


class DataFileError(CoderError):
    """A rules, actors, taxonomy, gazetteer or schema data file is malformed."""

    exit_code = 2


class ModelError(CoderError):
    """A model file is missing, corrupted, foreign, or holds types we do not trust."""

    exit_code = 2


class ValidationFailed(CoderError):
    """A build's tables failed validation beyond what may be quarantined."""

    exit_code = 3


class ReleaseError(CoderError):
    """A release cannot be written, found, or read."""

    exit_code = 4


class ReleaseExists(ReleaseError):
    """A release with that version already exists and releases are immutable."""


class ReleaseLocked(ReleaseError):
    """Another build of the same dataset holds the lock."""


class IntegrityError(ReleaseError):
    """A release's files do not match the checksums in its manifest."""

    exit_code = 5


class StrictModeRejects(CoderError):
    """``--strict`` was given and the build rejected at least one input."""

    exit_code = 6


class WorkerDied(CoderError):
    """A worker process ended without answering (killed, out of memory)."""
