"""Fixtures shared by every level of test: a real migrated database, a fake clock, services."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Config
from bot.db.database import Database
from bot.domain.clock import FakeClock
from bot.logging_setup import cap_library_loggers
from bot.services.container import Services, build_services
from tests.support import RecordingEvents, RecordingNotifier

# A Saturday in November, mid-morning UTC: away from DST changes unless a test moves it.
DEFAULT_START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_payload_logging() -> None:
    cap_library_loggers()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only moves when the test says so."""
    return FakeClock(DEFAULT_START)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Default configuration with the database in a temporary folder."""
    return dataclasses.replace(Config(), database_path=tmp_path / "kindred.sqlite3")


@pytest.fixture
async def db(config: Config) -> AsyncIterator[Database]:
    """A real SQLite database migrated by the same code as production."""
    database = Database(config.database_path)
    await database.open()
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def notifier() -> RecordingNotifier:
    """A notifier that records what would have been sent."""
    return RecordingNotifier()


@pytest.fixture
def events() -> RecordingEvents:
    """A scheduled-events port that keeps the server's events in memory."""
    return RecordingEvents()


@pytest.fixture
async def services(config: Config, db: Database, clock: FakeClock, notifier: RecordingNotifier,
                   events: RecordingEvents) -> Services:
    """All services wired on the real database, fake clock, recording notifier and recording events."""
    return build_services(config, db, clock, notifier, events=events)
