"""The `/buddy` group: thin adapters over BuddyService; every reply is ephemeral."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInputError
from bot.services.buddies import BuddyService
from bot.tree import send_ephemeral
from cogs.buddies._messages import (
    ACCEPTED,
    DECLINED,
    ENDED,
    NOT_A_MEMBER,
    PAUSED,
    nudge_reply,
    pool_reply,
    request_reply,
    status_reply,
)
from cogs.common import ids


def _member_of_this_server(user: discord.User | discord.Member) -> None:
    # Discord resolves a USER option to a Member only when they are in the server.
    if not isinstance(user, discord.Member):
        raise InvalidInputError(NOT_A_MEMBER)


@app_commands.guild_only()
class BuddyCog(commands.GroupCog, group_name="buddy", group_description="Accountability buddies"):
    """Buddy commands."""

    def __init__(self, buddies: BuddyService) -> None:
        self.buddies = buddies
        super().__init__()

    @app_commands.command(name="request", description="Ask a member to be your accountability buddy")
    @app_commands.describe(member="The member you'd like to ask")
    async def request(self, interaction: discord.Interaction, member: discord.User) -> None:
        """Ask someone; the request reaches them by DM."""
        guild_id, user_id = ids(interaction)
        _member_of_this_server(member)
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.buddies.request(guild_id, user_id, member.id, target_is_bot=member.bot)
        await send_ephemeral(interaction, request_reply(outcome))

    @app_commands.command(name="accept", description="Say yes to a buddy request")
    @app_commands.describe(member="Whose request (needed only if you have more than one)")
    async def accept(self, interaction: discord.Interaction, member: discord.User | None = None) -> None:
        """Accept a pending request."""
        guild_id, user_id = ids(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.buddies.accept(guild_id, user_id, member.id if member else None)
        await send_ephemeral(interaction, ACCEPTED.format(user=outcome.asker_user))

    @app_commands.command(name="decline", description="Say no, kindly, to a buddy request")
    @app_commands.describe(member="Whose request (needed only if you have more than one)")
    async def decline(self, interaction: discord.Interaction, member: discord.User | None = None) -> None:
        """Decline a pending request."""
        guild_id, user_id = ids(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.buddies.decline(guild_id, user_id, member.id if member else None)
        await send_ephemeral(interaction, DECLINED.format(user=outcome.asker_user))

    @app_commands.command(name="find", description="Join the matching pool (or leave it, if you're in it)")
    async def find(self, interaction: discord.Interaction) -> None:
        """Toggle the member's place in the matching pool."""
        guild_id, user_id = ids(interaction)
        outcome = await self.buddies.toggle_pool(guild_id, user_id)
        await send_ephemeral(interaction, pool_reply(outcome.joined, outcome.next_round, self.buddies.clock.now()))

    @app_commands.command(name="status", description="Your buddies, what they share, and your requests")
    async def status(self, interaction: discord.Interaction) -> None:
        """Show the member's buddy status."""
        guild_id, user_id = ids(interaction)
        status = await self.buddies.status(guild_id, user_id)
        await send_ephemeral(interaction, status_reply(status, self.buddies.clock.now()))

    @app_commands.command(name="nudge", description="Send a buddy a friendly nudge (once a day per pair)")
    @app_commands.describe(member="Your buddy")
    async def nudge(self, interaction: discord.Interaction, member: discord.User) -> None:
        """Nudge a buddy."""
        guild_id, user_id = ids(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.buddies.nudge(guild_id, user_id, member.id)
        await send_ephemeral(interaction, nudge_reply(outcome))

    @app_commands.command(name="pause", description="No nudges to or about you for a while")
    @app_commands.describe(days="How many days (1–30)")
    async def pause(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 30]) -> None:
        """Pause nudges."""
        guild_id, user_id = ids(interaction)
        until = await self.buddies.pause(guild_id, user_id, days)
        await send_ephemeral(interaction, PAUSED.format(ts=int(until.timestamp())))

    @app_commands.command(name="end", description="End a buddy pairing, kindly and without blame")
    @app_commands.describe(member="The buddy")
    async def end(self, interaction: discord.Interaction, member: discord.User) -> None:
        """End a pairing; the other member is told kindly."""
        guild_id, user_id = ids(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        other = await self.buddies.end(guild_id, user_id, member.id)
        await send_ephemeral(interaction, ENDED.format(user=other))
