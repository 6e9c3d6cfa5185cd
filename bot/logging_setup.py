"""Logging with ids only, and at INFO only what an operator needs to read.

Kindred's own log lines carry ids, never notes, moods, counter names or message text.
Some libraries log raw payloads at DEBUG (discord.py's gateway logs every event, which
includes interaction options and message content; aiosqlite logs every call with its
SQL parameters), so those loggers are capped at INFO whatever level is asked for.

Noise is cut too: APScheduler's per-job chatter (WARNING and above still show, e.g. a
missed run), discord.py's "voice will NOT be supported" warnings (Kindred has no voice) and
"logging in" lines, and the traceback discord.py prints with every gateway reconnect (one
line instead).

`KINDRED_LOG_FORMAT=json` makes every line the process writes one JSON object (time, level,
logger, message, and the ids of what it was doing: `guild_id`, `interaction`, `sweep`), for
log shippers. Library loggers go through the same handler; warnings, uncaught errors (the
main thread's, other threads', asyncio's, finalisers') are routed through logging too, so
not even a crash prints a plain traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Any, TextIO

# Loggers that would leak member text at DEBUG.
CAPPED_AT_INFO = ("discord", "aiosqlite", "aiohttp", "asyncio")
# Loggers whose INFO lines are routine chatter ("Added job", "Job … executed successfully").
CAPPED_AT_WARNING = ("apscheduler",)


# discord.py lines that tell an operator nothing: the voice libraries Kindred does not use
# are missing; "logging in" (followed by "connected as …" or by the reason it could not).
_NOISE = (("discord.client", "voice will NOT be supported"), ("discord.client", "logging in using static token"))


# The ids a line may carry as JSON fields, from `log_context` or a call's `extra=`.
ID_FIELDS = ("guild_id", "interaction", "sweep", "command", "alert_id", "outbox_id")
_NO_IDS: Mapping[str, object] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar("kindred_log_context",
                                                                                default=_NO_IDS)


@contextlib.contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Attach ids (see ID_FIELDS) to every line logged in this block, and in tasks it starts."""
    token = _context.set({**_context.get(), **ids})
    try:
        yield
    finally:
        _context.reset(token)


def set_log_context(**ids: object) -> contextvars.Token[Mapping[str, object]]:
    """Attach ids to the rest of the current task (or to the tasks created before `reset_log_context`)."""
    return _context.set({**_context.get(), **ids})


def reset_log_context(token: contextvars.Token[Mapping[str, object]]) -> None:
    """Undo `set_log_context`."""
    _context.reset(token)


def json_line(level: str, logger: str, message: str, *, created: float | None = None,
              **fields: object) -> str:
    """Render one log line as a JSON object (also used for lines printed before logging is set up)."""
    moment = datetime.now(UTC) if created is None else datetime.fromtimestamp(created, UTC)
    data: dict[str, object] = {"time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                               "level": level, "logger": logger, "message": message}
    data.update(fields)
    return json.dumps(data, ensure_ascii=False, default=str)


class _DropNoise(logging.Filter):
    """Drop library lines that say nothing an operator needs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(record.name == name and text in str(record.msg) for name, text in _NOISE)


# Library lines logged with a traceback for a network fault an operator can do nothing about
# mid-way: a gateway reconnect, the database pool retrying while the server is down.
_ONE_LINE = (("discord.client", "Attempting a reconnect"), ("asyncpg.pool", "Failed to restore the pool connection"))


def _shortened(record: logging.LogRecord) -> logging.LogRecord:
    """Such a line becomes one line, naming the error, without the traceback."""
    if (record.exc_info and record.exc_info[1] is not None
            and any(record.name == name and str(record.msg).startswith(text) for name, text in _ONE_LINE)):
        exc = record.exc_info[1]
        detail = " ".join(str(exc).split())
        short = logging.makeLogRecord(record.__dict__)
        short.msg = f"{record.getMessage()} after {type(exc).__name__}" + (f": {detail}" if detail else "")
        short.args = None
        short.exc_info = None
        short.exc_text = None
        return short
    return record


class _Formatter(logging.Formatter):
    """The house text format; a network fault's reconnect or retry is one line, not a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(_shortened(record))


class _JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the ids in context, and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        record = _shortened(record)
        fields: dict[str, object] = dict(_context.get())
        fields.update({name: getattr(record, name) for name in ID_FIELDS if hasattr(record, name)})
        if record.exc_info and record.exc_info[0] is not None:
            fields["exc_type"] = record.exc_info[0].__name__
            fields["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            fields["stack"] = record.stack_info
        return json_line(record.levelname, record.name, record.getMessage(), created=record.created, **fields)


class _Handler(logging.StreamHandler):
    """A stream handler whose own failures (a log call with the wrong arguments) are one line too."""

    def __init__(self, stream: TextIO, fmt: str) -> None:
        super().__init__(stream)
        self.json = fmt == "json"

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if not self.json:
            super().handleError(record)
            return
        kind = type(sys.exc_info()[1]).__name__
        # The arguments may hold anything: name the call site, never its values.
        with contextlib.suppress(Exception):
            self.stream.write(json_line("ERROR", "bot.logging", f"could not format a log line from {record.name} "
                                        f"({record.pathname}:{record.lineno}): {kind}") + "\n")
            self.flush()


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once for the process (`fmt`: text, or json for one object a line)."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_kindred", False):
            root.removeHandler(handler)
    handler = _Handler(sys.stderr, fmt)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
        _route_errors_through_logging()
    else:
        handler.setFormatter(_Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(_DropNoise())
    handler._kindred = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(numeric)
    cap_library_loggers(numeric)
    logging.getLogger(__name__).debug("logging at %s; payload-logging libraries (%s) at INFO at most",
                                      logging.getLevelName(numeric), ", ".join(CAPPED_AT_INFO))


_crash_log = logging.getLogger("bot.crash")


def _route_errors_through_logging() -> None:
    """Send what Python would print as a bare traceback (warnings, uncaught errors) through logging."""
    logging.captureWarnings(True)

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        _crash_log.critical("uncaught %s", kind.__name__, exc_info=(kind, exc, tb))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        _crash_log.error("uncaught %s in thread %s", args.exc_type.__name__, name,
                         exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback))

    def unraisablehook(unraisable: Any) -> None:
        kind = type(unraisable.exc_value) if unraisable.exc_value is not None else unraisable.exc_type
        # The object's repr may show data (a coroutine's arguments): name its type only.
        where = type(unraisable.object).__qualname__ if unraisable.object is not None else "?"
        _crash_log.error("%s ignored in %s", kind.__name__, where,
                         exc_info=(kind, unraisable.exc_value, unraisable.exc_traceback))

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
    sys.unraisablehook = unraisablehook


def asyncio_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Log an error asyncio could not hand to anyone, without the reprs of its callbacks and their arguments."""
    exc = context.get("exception")
    # asyncio's own message may go on with a callback's repr, arguments included: keep its words.
    what = re.match(r"[A-Za-z ,'-]*", str(context.get("message") or "")).group().strip()  # type: ignore[union-attr]
    what = what or "unhandled error in the event loop"
    subject = context.get("task") or context.get("future") or context.get("handle")
    where = f" ({type(subject).__name__})" if subject is not None else ""
    if isinstance(exc, BaseException):
        logging.getLogger("asyncio").error("%s%s: %s", what, where, type(exc).__name__,
                                           exc_info=(type(exc), exc, exc.__traceback__))
    else:
        logging.getLogger("asyncio").error("%s%s", what, where)


def cap_library_loggers(at_least: int = logging.NOTSET) -> None:
    """Keep payload-logging libraries at INFO or above, chatty ones at WARNING (and all at `at_least`)."""
    for names, cap in ((CAPPED_AT_INFO, logging.INFO), (CAPPED_AT_WARNING, logging.WARNING)):
        floor = max(cap, at_least)
        for name in names:
            logger = logging.getLogger(name)
            if logger.getEffectiveLevel() < floor or logger.level < floor:
                logger.setLevel(floor)
