"""The Manage-Server check uses the permissions Discord computed for this invocation."""

from __future__ import annotations

from types import SimpleNamespace

import discord
import pytest
from discord import app_commands

from bot.checks import (
    GuildOnlyError,
    ManageGuildRequiredError,
    has_manage_guild,
    require_manage_guild,
)
from bot.errors import InvalidInputError
from bot.tree import NEED_GUILD, NEED_MANAGE_GUILD, user_message_for


def interaction(guild_id: int | None, **perms: bool) -> discord.Interaction:
    return SimpleNamespace(guild_id=guild_id, permissions=discord.Permissions(**perms))  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("perms", "allowed"),
    [({}, False), ({"manage_messages": True, "kick_members": True}, False),
     ({"manage_guild": True}, True), ({"administrator": True}, True)],
)
def test_manage_guild_matrix(perms: dict[str, bool], allowed: bool) -> None:
    assert has_manage_guild(interaction(1, **perms)) is allowed
    if allowed:
        assert require_manage_guild(interaction(1, **perms)) is True
    else:
        with pytest.raises(ManageGuildRequiredError):
            require_manage_guild(interaction(1, **perms))


def test_dm_is_refused_even_with_permissions() -> None:
    with pytest.raises(GuildOnlyError):
        require_manage_guild(interaction(None, administrator=True))


def test_errors_map_to_kind_messages_and_faults_to_none() -> None:
    assert user_message_for(ManageGuildRequiredError()) == NEED_MANAGE_GUILD
    assert user_message_for(GuildOnlyError()) == NEED_GUILD
    wrapped = app_commands.CommandInvokeError.__new__(app_commands.CommandInvokeError)
    wrapped.original = InvalidInputError("Please pick a mood from 1 to 5.")
    assert user_message_for(wrapped) == "Please pick a mood from 1 to 5."
    assert user_message_for(KeyError("note text must never be shown")) is None
