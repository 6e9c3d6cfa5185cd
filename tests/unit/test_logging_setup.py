"""The process log: ids only, and at INFO only what an operator needs to read."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.logging_setup import configure_logging


@pytest.fixture
def configured() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
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
