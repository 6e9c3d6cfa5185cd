"""Fixtures for the fake server's own regression suite (a minimal discord.py client, no Kindred)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.fakediscord import FakeDiscord, Guild, User
from tests.harness.minibot import MiniBot, running


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
def guild(fake: FakeDiscord) -> Guild:
    return fake.add_guild("Circle", channels=["general", "check-ins"])


@pytest.fixture
def alice(fake: FakeDiscord, guild: Guild) -> User:
    user = fake.add_user("alice")
    fake.add_member(guild, user)
    return user


@pytest.fixture
def mod(fake: FakeDiscord, guild: Guild) -> User:
    user = fake.add_user("mod")
    fake.add_member(guild, user, manage_guild=True)
    return user


@pytest.fixture
async def mini(fake: FakeDiscord, guild: Guild, alice: User, mod: User) -> AsyncIterator[MiniBot]:
    async with running(fake) as client:
        yield client
