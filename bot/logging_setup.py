"""Logging with ids only.

Kindred's own log lines carry ids, never notes, moods, counter names or message text.
Some libraries log raw payloads at DEBUG (discord.py's gateway logs every event, which
includes interaction options and message content; aiosqlite logs every call with its
SQL parameters), so those loggers are capped at INFO whatever level is asked for.
"""

from __future__ import annotations

import logging
import sys

# Loggers that would leak member text at DEBUG.
CAPPED_AT_INFO = ("discord", "aiosqlite", "apscheduler", "aiohttp", "asyncio")


def configure_logging(level: str = "INFO") -> None:
    """Configure the root logger once for the process."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_kindred", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler._kindred = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(numeric)
    cap_library_loggers()


def cap_library_loggers() -> None:
    """Keep payload-logging libraries at INFO or above."""
    for name in CAPPED_AT_INFO:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
