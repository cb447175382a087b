"""structlog set-up, done once at the entry point (core layer).

Every log line carries ``sim_time`` (ISO UTC) read from the active
:class:`~engine.core.clock.Clock`:
during replay that is the simulated time of the event being processed, since wall time means
nothing there. Event names are dotted snake_case (``replay.finished``) with key=value pairs.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from engine.core.clock import Clock
from engine.core.progress import clear_line

__all__ = ["configure_logging", "set_log_clock"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}
_active_clock: Clock | None = None


def set_log_clock(clock: Clock | None) -> None:
    """Make ``clock`` the source of ``sim_time`` on every log line (None removes it)."""
    global _active_clock
    _active_clock = clock


def _add_sim_time(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    if _active_clock is not None:
        ns = _active_clock.timestamp_ns()
        event_dict["sim_time"] = datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat()
    return event_dict


def configure_logging(json: bool | None = None, level: str = "info") -> None:
    """Configure structlog for the whole process.

    Parameters
    ----------
    json
        Render JSON lines; ``None`` picks JSON when stderr is not a terminal.
    level
        Minimum level: ``debug``, ``info``, ``warning`` or ``error``.
    """
    if level not in _LEVELS:
        raise ValueError(f"log level: expected one of {sorted(_LEVELS)}, was {level!r}")
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    tracebacks: Processor = structlog.processors.dict_tracebacks if use_json else _identity
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _add_sim_time,
        structlog.processors.StackInfoRenderer(),
        tracebacks,
        renderer,
        _clear_progress,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


def _identity(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    return event_dict


def _clear_progress(_: WrappedLogger, __: str, rendered: Any) -> Any:
    """Erase a drawn progress bar before the line is printed (it redraws at its next
    update), so a log line never continues the bar's line."""
    clear_line()
    return rendered


def _stderr_logger(*_: object) -> structlog.PrintLogger:
    # Resolve sys.stderr at use, not at configuration: a redirected or replaced stderr (pytest
    # capture, a daemon reopening its log) keeps receiving the lines.
    return structlog.PrintLogger(sys.stderr)
