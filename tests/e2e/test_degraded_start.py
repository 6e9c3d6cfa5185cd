"""Crisis help never depends on the database: the bot starts and serves /crisis without one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.config import Config
from bot.domain.clock import FakeClock
from bot.tree import DATABASE_TROUBLE
from tests.e2e.helpers import Community, running_kindred
from tests.fakediscord import FakeDiscord
from tests.postgres_server import PostgresServer


async def test_starts_without_a_database_serves_crisis_and_recovers(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock,
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    config = dataclasses.replace(kindred_config, database_path=blocker / "kindred.sqlite3")
    server: PostgresServer | None = None
    if config.database_url is not None:  # a PostgreSQL database that is not there yet
        server = request.getfixturevalue("postgres_server")
        config = dataclasses.replace(config, database_url=server.url("kindred_later"))
        request.addfinalizer(lambda: server.drop_database("kindred_later") if server else None)
    alice, guild = community.alice, community.guild
    async with running_kindred(fake_discord, config, clock=clock) as bot:
        crisis = await (await fake_discord.slash("/crisis", user=alice, guild=guild, country="GB")).reply()
        assert crisis.ephemeral and "999" in crisis.text and "116 123" in crisis.text
        refused = await (await fake_discord.slash("/checkin", user=alice, guild=guild, mood=3)).reply()
        assert refused.ephemeral and refused.text == DATABASE_TROUBLE

        blocker.unlink()  # the disk comes back
        if server is not None:  # the database is made
            server.create_database(name="kindred_later", migrated=False)
        assert await bot.try_open_database()
        stored = await (await fake_discord.slash("/checkin", user=alice, guild=guild, mood=3)).reply()
        assert stored.ephemeral and stored.text != DATABASE_TROUBLE
        assert await bot.db.fetch_value("SELECT count(*) FROM checkins") == 1
