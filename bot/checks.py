"""Permission checks shared by every moderator command."""

from __future__ import annotations

import discord
from discord import app_commands


class ManageGuildRequiredError(app_commands.CheckFailure):
    """The member lacks Manage Server in this server."""


class GuildOnlyError(app_commands.CheckFailure):
    """The command only makes sense inside a server."""


def has_manage_guild(interaction: discord.Interaction) -> bool:
    """Tell whether the invoking member may manage this server, as Discord computed it now.

    `interaction.permissions` is resolved by Discord for this member in this channel at
    invocation time, so it reflects role changes and per-server command overrides that
    the default-permission hint alone would not.
    """
    if interaction.guild_id is None:
        return False
    perms = interaction.permissions
    return perms.manage_guild or perms.administrator


def require_manage_guild(interaction: discord.Interaction) -> bool:
    """Raise unless the member has Manage Server (usable as a cog `interaction_check`)."""
    if interaction.guild_id is None:
        raise GuildOnlyError()
    if not has_manage_guild(interaction):
        raise ManageGuildRequiredError()
    return True


def require_guild(interaction: discord.Interaction) -> bool:
    """Raise unless the command runs in a server."""
    if interaction.guild_id is None:
        raise GuildOnlyError()
    return True
