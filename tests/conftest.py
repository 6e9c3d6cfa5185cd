"""Fixtures shared by every level of test: a real migrated database, a fake clock, services.

Every test that uses the database (`db`, `services`, `kindred`, `kindred_config`, `bot_process`)
runs once per backend: SQLite, and PostgreSQL on a server the suite starts itself (see
`tests/postgres_server.py`). `--backend sqlite` or `--backend postgresql` runs one half only.
A test that is about SQLite itself (its files, pragmas, locks) is marked `sqlite_only`.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Config
from bot.db.database import POSTGRESQL, SQLITE, Database, database_for
from bot.domain.clock import FakeClock
from bot.logging_setup import cap_library_loggers
from bot.services.container import Services, build_services
from tests.postgres_server import PostgresServer, find_bindir
from tests.support import RecordingEvents, RecordingNotifier

# A Saturday in November, mid-morning UTC: away from DST changes unless a test moves it.
DEFAULT_START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
# Fixtures that mean "this test uses the database": such a test runs on each backend.
DATABASE_FIXTURES = frozenset({"db", "services", "kindred", "kindred_config", "bot_process", "world"})
POSTGRES_MISSING = ("PostgreSQL is not installed (initdb and pg_ctl not found on PATH, in /usr/lib/postgresql/N/bin "
                    "or KINDRED_POSTGRES_BINDIR; Debian: apt-get install postgresql), "
                    "so the PostgreSQL half of the suite cannot run")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", choices=(SQLITE, POSTGRESQL, "both"), default="both",
                     help="run database tests on SQLite, PostgreSQL, or both (default)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each database test once per selected backend (and each test that asks for `backend` itself)."""
    if "backend" not in metafunc.fixturenames:
        return
    asks = "backend" in inspect.signature(metafunc.function).parameters
    if not asks and not DATABASE_FIXTURES & set(metafunc.fixturenames):
        return
    chosen = metafunc.config.getoption("--backend")
    backends: list[object] = [SQLITE, POSTGRESQL] if chosen == "both" else [chosen]
    if metafunc.definition.get_closest_marker("sqlite_only"):
        backends = [SQLITE if chosen != POSTGRESQL else
                    pytest.param(SQLITE, marks=pytest.mark.skip(reason="about SQLite itself; this run is --backend postgresql"))]
    metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole run (skipped without the binaries; CI fails instead)."""
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("KINDRED_REQUIRE_POSTGRES") == "1":
            pytest.fail(POSTGRES_MISSING)
        pytest.skip(POSTGRES_MISSING)
    server = PostgresServer(bindir)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The database engine this run of the test uses ("sqlite" unless parametrised)."""
    return str(getattr(request, "param", SQLITE))


@pytest.fixture
def new_database_url(backend: str, request: pytest.FixtureRequest) -> Callable[..., str | None]:
    """Factory: a fresh PostgreSQL database for this test, migrated or empty (None on SQLite), dropped after it."""

    def new(*, migrated: bool = True) -> str | None:
        if backend != POSTGRESQL:
            return None
        server: PostgresServer = request.getfixturevalue("postgres_server")
        name = server.create_database(migrated=migrated)
        request.addfinalizer(lambda: server.drop_database(name))
        return server.url(name)

    return new


@pytest.fixture
def database_url(new_database_url: Callable[..., str | None]) -> str | None:
    """A fresh, migrated PostgreSQL database for this test (None on SQLite)."""
    return new_database_url()


@pytest.fixture(autouse=True)
def _no_payload_logging() -> None:
    cap_library_loggers()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only moves when the test says so."""
    return FakeClock(DEFAULT_START)


@pytest.fixture
def config(tmp_path: Path, database_url: str | None) -> Config:
    """Default configuration with the database in a temporary folder (or a fresh PostgreSQL database)."""
    return dataclasses.replace(Config(), database_path=tmp_path / "kindred.sqlite3", database_url=database_url)


@pytest.fixture
async def db(config: Config) -> AsyncIterator[Database]:
    """A real database (SQLite, or PostgreSQL) migrated by the same code as production."""
    database = database_for(config)
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
