"""Logging with ids only, and at INFO only what an operator needs to read.

Kindred's own log lines carry ids, never notes, moods, counter names or message text.
Some libraries log raw payloads at DEBUG (discord.py's gateway logs every event, which
includes interaction options and message content; aiosqlite logs every call with its
SQL parameters), so those loggers are capped at INFO whatever level is asked for.

Noise is cut too: APScheduler's per-job chatter (WARNING and above still show, e.g. a
missed run), discord.py's "voice will NOT be supported" warnings (Kindred has no voice) and
"logging in" lines, and the traceback discord.py prints with every gateway reconnect (one
line instead).
"""

from __future__ import annotations

import logging
import sys

# Loggers that would leak member text at DEBUG.
CAPPED_AT_INFO = ("discord", "aiosqlite", "aiohttp", "asyncio")
# Loggers whose INFO lines are routine chatter ("Added job", "Job … executed successfully").
CAPPED_AT_WARNING = ("apscheduler",)


# discord.py lines that tell an operator nothing: the voice libraries Kindred does not use
# are missing; "logging in" (followed by "connected as …" or by the reason it could not).
_NOISE = (("discord.client", "voice will NOT be supported"), ("discord.client", "logging in using static token"))


class _DropNoise(logging.Filter):
    """Drop library lines that say nothing an operator needs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(record.name == name and text in str(record.msg) for name, text in _NOISE)


class _Formatter(logging.Formatter):
    """The house format; a gateway reconnect after a network error is one line, not a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        if (record.exc_info and record.exc_info[1] is not None and record.name == "discord.client"
                and str(record.msg).startswith("Attempting a reconnect")):
            exc = record.exc_info[1]
            detail = " ".join(str(exc).split())
            short = logging.makeLogRecord(record.__dict__)
            short.msg = f"{record.getMessage()} after {type(exc).__name__}" + (f": {detail}" if detail else "")
            short.args = None
            short.exc_info = None
            short.exc_text = None
            return super().format(short)
        return super().format(record)


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
    handler.setFormatter(_Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(_DropNoise())
    handler._kindred = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(numeric)
    cap_library_loggers(numeric)


def cap_library_loggers(at_least: int = logging.NOTSET) -> None:
    """Keep payload-logging libraries at INFO or above, chatty ones at WARNING (and all at `at_least`)."""
    for names, cap in ((CAPPED_AT_INFO, logging.INFO), (CAPPED_AT_WARNING, logging.WARNING)):
        floor = max(cap, at_least)
        for name in names:
            logger = logging.getLogger(name)
            if logger.getEffectiveLevel() < floor or logger.level < floor:
                logger.setLevel(floor)
