"""The process log: ids only, and at INFO only what an operator needs to read."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logging_setup import configure_logging, log_context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def configured() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    hooks = sys.excepthook, threading.excepthook, sys.unraisablehook
    yield
    sys.excepthook, threading.excepthook, sys.unraisablehook = hooks
    logging.captureWarnings(False)
    root.setLevel(level)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)


def _errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_info_leaves_out_voice_warnings_and_scheduler_chatter(configured: None,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    # What discord.py and APScheduler say on every start and every sweep:
    logging.getLogger("discord.client").warning("PyNaCl is not installed, voice will NOT be supported")
    logging.getLogger("discord.client").warning("davey is not installed, voice will NOT be supported")
    logging.getLogger("discord.client").info("logging in using static token")
    logging.getLogger("apscheduler.scheduler").info('Added job "%s" to job store "%s"', "SweepScheduler._run_one",
                                                    "default")
    logging.getLogger("apscheduler.executors.default").info('Job "%s" executed successfully', "run_all_once")
    logging.getLogger("bot.app").info("connected as %s to %d guild(s)", 1, 1)
    # What an operator must still see:
    logging.getLogger("apscheduler.executors.default").warning("Run time of job %s was missed by %s", "x", "0:01:00")
    logging.getLogger("discord.client").warning("Application has an interaction endpoint URL set")
    lines = _errors(capsys)
    assert len(lines) == 3, lines
    assert "connected as 1" in lines[0] and "was missed by" in lines[1] and "interaction endpoint" in lines[2]


def test_a_reconnect_after_a_network_error_is_one_line(configured: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        # discord.py logs each gateway reconnect with logger.exception: a traceback each time.
        logging.getLogger("discord.client").exception("Attempting a reconnect in %.2fs", 4.2)
    [line] = _errors(capsys)
    assert "Attempting a reconnect in 4.20s" in line and "ConnectionResetError" in line and "reset by peer" in line


def test_the_database_pool_retrying_in_an_outage_is_one_line(configured: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    try:
        raise ConnectionRefusedError(111, "Connect call failed")
    except ConnectionRefusedError:
        # asyncpg (0.32) logs each retry to refill its pool with a traceback, while the server is down.
        logging.getLogger("asyncpg.pool").warning("Failed to restore the pool connection floor; retrying",
                                                  exc_info=True)
    [line] = _errors(capsys)
    assert "Failed to restore the pool connection floor" in line and "ConnectionRefusedError" in line


# -- KINDRED_LOG_FORMAT=json ------------------------------------------------------------

def _json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    lines = _errors(capsys)
    parsed = []
    for line in lines:
        value = json.loads(line)  # every line is one JSON object
        assert isinstance(value, dict), line
        parsed.append(value)
    return parsed


def test_json_lines_carry_time_level_logger_message_and_context_ids(configured: None,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    with log_context(guild_id=111, interaction=222):
        logging.getLogger("bot.tree").warning("command %s failed for user %s", "checkin", 333)
        with log_context(sweep="checkin-prompts"):
            logging.getLogger("discord.http").info("library line\nwith a newline")
    logging.getLogger("bot.app").info("outside", extra={"guild_id": 444})
    first, second, third = _json_lines(capsys)
    assert first["level"] == "WARNING" and first["logger"] == "bot.tree"
    assert first["message"] == "command checkin failed for user 333"
    assert (first["guild_id"], first["interaction"]) == (111, 222) and "sweep" not in first
    assert str(first["time"]).endswith("Z") and "T" in str(first["time"])
    assert second["message"] == "library line\nwith a newline" and second["sweep"] == "checkin-prompts"
    assert second["guild_id"] == 111
    assert third == {**third, "guild_id": 444, "message": "outside"} and "interaction" not in third


def test_json_exceptions_stay_on_one_line(configured: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    try:
        raise KeyError("k")
    except KeyError:
        logging.getLogger("bot.scheduling").exception("sweep %s failed", "x")
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        logging.getLogger("discord.client").exception("Attempting a reconnect in %.2fs", 4.2)
    failed, reconnect = _json_lines(capsys)
    assert failed["message"] == "sweep x failed" and failed["exc_type"] == "KeyError"
    assert "Traceback" in str(failed["exception"]) and "raise KeyError" in str(failed["exception"])
    assert "ConnectionResetError" in str(reconnect["message"]) and "exception" not in reconnect


PROGRAM = """
import asyncio, logging, sys, threading, warnings
from bot.logging_setup import asyncio_exception_handler, configure_logging
configure_logging("INFO", "json")
warnings.warn("zqxwarn old api", DeprecationWarning, stacklevel=1)
logging.getLogger("discord.gateway").warning("library warning")
logging.getLogger("bot.x").info("two %s %s", "zqx" + "only one")  # a broken log call: named, its values not shown
t = threading.Thread(target=lambda: 1 / 0)
t.start(); t.join()
class Noisy:
    def __del__(self):
        raise ValueError("in a finaliser")
Noisy()
async def main():
    asyncio.get_running_loop().set_exception_handler(asyncio_exception_handler)
    async def boom(secret):
        raise RuntimeError("task")
    task = asyncio.ensure_future(boom("zqx" + "arg"))
    await asyncio.sleep(0)
    del task
    import gc; gc.collect()
    asyncio.get_running_loop().call_soon(lambda note: 1 / 0, "zqx" + "note")
    await asyncio.sleep(0.01)
asyncio.run(main())
raise SystemError("uncaught at the top")
"""


def test_json_every_line_of_a_failing_process_is_json() -> None:
    """Warnings, thread and task errors, finalisers and the uncaught error all come out as JSON lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "KINDRED_", "PYTHONWARNINGS"))}
    result = subprocess.run([sys.executable, "-X", "dev", "-c", PROGRAM], capture_output=True, text=True, env=env,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 1
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(p, dict) and {"time", "level", "logger", "message"} <= p.keys() for p in parsed), lines
    text = "\n".join(lines)
    for expected in ("zqxwarn old api", "library warning", "could not format a log line from bot.x",
                     "ZeroDivisionError", "in a finaliser", "task", "SystemError", "uncaught at the top"):
        assert expected in text, (expected, lines)
    # The handler names what failed, not the arguments it was called with. (The canaries are built
    # at run time: Python 3.13 shows a -c program's source lines in tracebacks, as it always has a file's.)
    assert [c for c in ("zqxarg", "zqxnote", "zqxonly") if c in text] == [], lines
