"""The `/recovery` group: thin adapters over RecoveryService; every reply is ephemeral."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.services.recovery import RecoveryService
from bot.tree import send_ephemeral
from cogs.common import ids
from cogs.recovery import _messages as text

VISIBILITY = [app_commands.Choice(name=v, value=v) for v in ("private", "buddies", "server")]
CELEBRATE = [app_commands.Choice(name=v, value=v) for v in ("channel", "dm", "off")]


@app_commands.guild_only()
class RecoveryCog(commands.GroupCog, group_name="recovery",
                  group_description="Count your days in recovery and celebrate milestones"):
    """Recovery counters."""

    def __init__(self, recovery: RecoveryService) -> None:
        self.recovery = recovery
        super().__init__()

    async def counter_names(self, interaction: discord.Interaction,
                            current: str) -> list[app_commands.Choice[str]]:
        """Suggest the member's own counter names (never anyone else's)."""
        if interaction.guild_id is None:
            return []
        needle = current.strip().casefold()
        names = await self.recovery.names(interaction.guild_id, interaction.user.id)
        return [app_commands.Choice(name=n, value=n) for n in names if needle in n.casefold()][:25]

    @app_commands.command(name="start", description="Start counting days from a date")
    @app_commands.describe(date="The first day, as YYYY-MM-DD (today or earlier)",
                           name="A name for this counter, e.g. alcohol (default: recovery)",
                           visibility="Who can see it (default: private, only you)")
    @app_commands.choices(visibility=VISIBILITY)
    @app_commands.autocomplete(name=counter_names)
    async def start(self, interaction: discord.Interaction, date: app_commands.Range[str, 1, 32],
                    name: app_commands.Range[str, 1, 40] | None = None,
                    visibility: app_commands.Choice[str] | None = None) -> None:
        """Start a counter or correct its start date."""
        guild_id, user_id = ids(interaction)
        result = await self.recovery.start(guild_id, user_id, date, name,
                                           visibility.value if visibility else None)
        await send_ephemeral(interaction, text.clip(text.started(result)))

    @app_commands.command(name="show", description="Your counters, or what another member shares with you")
    @app_commands.describe(member="Someone else (you'll see only what they chose to share)",
                           name="One counter by name")
    @app_commands.autocomplete(name=counter_names)
    async def show(self, interaction: discord.Interaction, member: discord.User | None = None,
                   name: app_commands.Range[str, 1, 40] | None = None) -> None:
        """Show counters."""
        guild_id, user_id = ids(interaction)
        owner = member.id if member is not None else None
        result = await self.recovery.show(guild_id, user_id, owner, name)
        if result.own:
            await send_ephemeral(interaction, text.clip(text.show_own(result.counters)))
        else:
            assert member is not None
            await send_ephemeral(interaction, text.clip(text.show_shared(member.mention, result.counters)))

    @app_commands.command(name="slip", description="Record a slip; your longest streak and total days stay")
    @app_commands.describe(name="Which counter (if you have more than one)",
                           date="The day of the slip, YYYY-MM-DD (default: today)")
    @app_commands.autocomplete(name=counter_names)
    async def slip(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 40] | None = None,
                   date: app_commands.Range[str, 1, 32] | None = None) -> None:
        """Record a slip."""
        guild_id, user_id = ids(interaction)
        result = await self.recovery.slip(guild_id, user_id, name, date)
        await send_ephemeral(interaction, text.slipped(result))

    @app_commands.command(name="settings", description="Who sees a counter, and how milestones are celebrated")
    @app_commands.describe(name="Which counter", visibility="private, buddies or server",
                           celebrate="In the celebrations channel (needs visibility server), by DM, or off")
    @app_commands.choices(visibility=VISIBILITY, celebrate=CELEBRATE)
    @app_commands.autocomplete(name=counter_names)
    async def settings(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 40],
                       visibility: app_commands.Choice[str] | None = None,
                       celebrate: app_commands.Choice[str] | None = None) -> None:
        """Change a counter's settings."""
        guild_id, user_id = ids(interaction)
        result = await self.recovery.update_settings(
            guild_id, user_id, name, visibility.value if visibility else None,
            celebrate.value if celebrate else None)
        await send_ephemeral(interaction, text.settings_changed(result))

    @app_commands.command(name="remove", description="Delete one counter and its history")
    @app_commands.describe(name="Which counter")
    @app_commands.autocomplete(name=counter_names)
    async def remove(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 40]) -> None:
        """Delete a counter."""
        guild_id, user_id = ids(interaction)
        removed = await self.recovery.remove(guild_id, user_id, name)
        await send_ephemeral(interaction, text.REMOVED.format(name=removed))

    @app_commands.command(name="history", description="Start dates, slips, longest streak and total days")
    @app_commands.describe(name="One counter by name (default: all of yours)")
    @app_commands.autocomplete(name=counter_names)
    async def history(self, interaction: discord.Interaction,
                      name: app_commands.Range[str, 1, 40] | None = None) -> None:
        """Show a counter's history."""
        guild_id, user_id = ids(interaction)
        counters = await self.recovery.history(guild_id, user_id, name)
        await send_ephemeral(interaction, text.clip(text.history(counters)))
