"""Exception hierarchy of the engine (core layer).

Messages follow the form "<where>: expected X, was Y" so a user can find and fix the input.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "EngineError", "JournalError", "ModelError",
           "OrderingError", "SnapshotError"]


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(EngineError, ValueError):
    """A configuration file or value is invalid (names the file, key and expected type)."""


class DataError(EngineError, ValueError):
    """Input market data violates a validation rule whose policy is ``error``.

    Carries the source, 1-based file line, rule and offending value.
    """

    def __init__(self, source: str, line: int, rule: str, value: str, detail: str = "") -> None:
        self.source = source
        self.line = line
        self.rule = rule
        self.value = value
        msg = f"{source}:{line}: {rule}: {detail or 'rejected'} (value: {value})"
        super().__init__(msg)


class ModelError(EngineError, ValueError):
    """A model artifact cannot be fitted, loaded or used: names the file or data, and the
    expected and actual value (too short a training period, a sha256 mismatch, a reference
    fitted on the evaluation period)."""


class OrderingError(EngineError):
    """An event would be delivered out of (ts_event, sequence) order."""


class JournalError(EngineError):
    """A live journal cannot be read or written: names the file, the byte offset and what was
    found there (a bad checksum before the tail, an unknown record kind, a foreign file)."""


class SnapshotError(EngineError):
    """A live snapshot cannot be read or restored: names the file and what is wrong with it
    (a foreign header, a bad checksum, state of other components or another config)."""
