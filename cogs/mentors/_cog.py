"""The `/mentor` group: thin adapters over MentorService; every reply is ephemeral."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInputError
from bot.services.mentors import MentorService
from bot.tree import send_ephemeral
from cogs.common import ON_OFF, ids
from cogs.mentors._messages import (
    ACCEPTED,
    DECLINED,
    ENDED,
    NOT_A_MEMBER,
    WITHDRAWN,
    find_reply,
    offer_reply,
    request_reply,
    sharing_reply,
    status_reply,
    stop_reply,
)


def _member_of_this_server(user: discord.User | discord.Member) -> None:
    # Discord resolves a USER option to a Member only when they are in the server.
    if not isinstance(user, discord.Member):
        raise InvalidInputError(NOT_A_MEMBER)


def _on(choice: app_commands.Choice[str] | None) -> bool | None:
    return None if choice is None else choice.value == "on"


@app_commands.guild_only()
class MentorCog(commands.GroupCog, group_name="mentor", group_description="Mentors: one-on-one guidance"):
    """Mentor commands."""

    def __init__(self, mentors: MentorService) -> None:
        self.mentors = mentors
        super().__init__()

    @app_commands.command(name="offer", description="Offer to mentor newer members (again: change your offer)")
    @app_commands.describe(focus="What you can help with, e.g. “alcohol, early recovery”",
                           capacity="How many mentees at once (1–5, default 2)")
    async def offer(self, interaction: discord.Interaction, focus: app_commands.Range[str, 1, 60] | None = None,
                    capacity: app_commands.Range[int, 1, 5] | None = None) -> None:
        """Offer to mentor; the server's requirements are checked."""
        guild_id, user_id = ids(interaction)
        roles = [role.id for role in interaction.user.roles] if isinstance(interaction.user, discord.Member) else []
        outcome = await self.mentors.offer(guild_id, user_id, focus=focus, capacity=capacity, role_ids=roles)
        await send_ephemeral(interaction, offer_reply(outcome))

    @app_commands.command(name="stop", description="Stop offering for now (your mentees keep you)")
    async def stop(self, interaction: discord.Interaction) -> None:
        """Stop offering."""
        guild_id, user_id = ids(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await send_ephemeral(interaction, stop_reply(await self.mentors.stop(guild_id, user_id)))

    @app_commands.command(name="find", description="Mentors with room: their focus and how your daytimes overlap")
    @app_commands.describe(focus="Only mentors whose focus mentions this")
    async def find(self, interaction: discord.Interaction, focus: app_commands.Range[str, 1, 60] | None = None) -> None:
        """List mentors with room."""
        guild_id, user_id = ids(interaction)
        await send_ephemeral(interaction, find_reply(await self.mentors.find(guild_id, user_id, focus), focus))

    @app_commands.command(name="request", description="Ask a mentor to mentor you")
    @app_commands.describe(member="The mentor", message="A short note only they will see (up to 200 characters)")
    async def request(self, interaction: discord.Interaction, member: discord.User,
                      message: app_commands.Range[str, 1, 200] | None = None) -> None:
        """Ask a mentor; the request reaches them by DM."""
        guild_id, user_id = ids(interaction)
        _member_of_this_server(member)
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.mentors.request(guild_id, user_id, member.id, message, mentor_is_bot=member.bot)
        await send_ephemeral(interaction, request_reply(outcome))

    @app_commands.command(name="status", description="Your mentor and mentees, and what each shares")
    async def status(self, interaction: discord.Interaction) -> None:
        """Show the member's mentoring."""
        guild_id, user_id = ids(interaction)
        await send_ephemeral(interaction, status_reply(await self.mentors.status(guild_id, user_id)))

    @app_commands.command(name="end", description="End a mentorship kindly, either side (or withdraw your request)")
    @app_commands.describe(member="Your mentor or mentee")
    async def end(self, interaction: discord.Interaction, member: discord.User) -> None:
        """End a mentorship; the other is told kindly."""
        guild_id, user_id = ids(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.mentors.end(guild_id, user_id, member.id)
        await send_ephemeral(interaction, (WITHDRAWN if outcome.withdrawn else ENDED).format(user=outcome.other_user))

    @app_commands.command(name="accept", description="Say yes to a mentee's request")
    @app_commands.describe(member="Whose request (needed only if you have more than one)")
    async def accept(self, interaction: discord.Interaction, member: discord.User | None = None) -> None:
        """Accept a waiting request."""
        guild_id, user_id = ids(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.mentors.accept(guild_id, user_id, member.id if member else None)
        await send_ephemeral(interaction, ACCEPTED.format(user=outcome.asker_user))

    @app_commands.command(name="decline", description="Say not right now, kindly, to a mentee's request")
    @app_commands.describe(member="Whose request (needed only if you have more than one)")
    async def decline(self, interaction: discord.Interaction, member: discord.User | None = None) -> None:
        """Decline a waiting request."""
        guild_id, user_id = ids(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.mentors.decline(guild_id, user_id, member.id if member else None)
        await send_ephemeral(interaction, DECLINED.format(user=outcome.asker_user))

    @app_commands.command(name="share", description="Choose what your mentor sees (nothing unless you say)")
    @app_commands.describe(checkins="Your last check-in day and streak (never moods or notes)",
                           counters="Your recovery counters' names and days")
    @app_commands.choices(checkins=ON_OFF, counters=ON_OFF)
    async def share(self, interaction: discord.Interaction, checkins: app_commands.Choice[str] | None = None,
                    counters: app_commands.Choice[str] | None = None) -> None:
        """Set (or show) what the member's mentor sees."""
        guild_id, user_id = ids(interaction)
        outcome = await self.mentors.share(guild_id, user_id, checkins=_on(checkins), counters=_on(counters))
        await send_ephemeral(interaction, sharing_reply(outcome))
