"""Fixtures for the fuzz and permission suites: the e2e world, plus services on a private event loop.

The end-to-end fixtures are the ones in `tests/e2e/conftest.py`, imported so pytest registers them
here too. Hypothesis runs each example synchronously, and pytest-asyncio's per-test loop does not
reach inside `@given`, so service-level properties use `ServiceWorld`: one event loop, one migrated
database and the wired services per test, reused by every example of that test.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.config import Config
from bot.db.database import database_for
from bot.domain.clock import FakeClock
from bot.services.container import Services, build_services
from tests.conftest import DEFAULT_START
from tests.e2e.conftest import community, fake_discord, kindred, kindred_config  # noqa: F401  (fixtures)
from tests.fuzz.support import Snapshots
from tests.support import RecordingNotifier

T = TypeVar("T")


class ServiceWorld:
    """Services on a real database, driven from synchronous hypothesis examples."""

    def __init__(self, config: Config) -> None:
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock(DEFAULT_START)
        self.notifier = RecordingNotifier()
        self.db = database_for(config)
        self.run(self.db.open())
        self.run(self.db.migrate())
        self.services: Services = build_services(config, self.db, self.clock, self.notifier)
        self.snapshots = Snapshots(config)

    def run(self, work: Awaitable[T]) -> T:
        """Run one coroutine to completion on this world's loop."""
        return self.loop.run_until_complete(work)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, for "nothing changed" checks."""
        return self.snapshots.take()

    def close(self) -> None:
        """Close the database and the loop."""
        self.snapshots.close()
        self.run(self.db.close())
        self.loop.close()


@pytest.fixture
def world(tmp_path: Path, database_url: str | None) -> Iterator[ServiceWorld]:
    """One ServiceWorld for a whole property test (every example shares it), on the test's backend."""
    w = ServiceWorld(dataclasses.replace(Config(), database_path=tmp_path / "fuzz.sqlite3", database_url=database_url))
    try:
        yield w
    finally:
        w.close()
