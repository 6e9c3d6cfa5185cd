"""`/config milestones add|remove|reset`: the server's milestone ladder.

The subgroup is a class attribute of this mixin. discord.py's CogMeta collects app
commands and groups from every class in the MRO, so a `Group` declared here becomes a
child of the `/config` group when `ConfigCog` (a GroupCog) lists this mixin among its
bases, and its commands are bound to the cog (so the cog's Manage Server
`interaction_check` runs for them too). `tests/unit/test_config_milestones_cog.py`
checks that registration.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.services.container import Services
from bot.tree import send_ephemeral
from cogs.recovery._messages import ladder_text


class MilestonesConfigMixin:
    """The milestone ladder."""

    services: Services

    milestones = app_commands.Group(name="milestones", description="This server's milestone ladder")

    @milestones.command(name="add", description="Add a milestone (or change its description)")
    @app_commands.describe(days="Days in recovery, e.g. 45", description="Optional words shown with the celebration")
    async def milestones_add(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 36500],
                             description: app_commands.Range[str, 1, 100] | None = None) -> None:
        """Add a milestone."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)  # every counter moves with the ladder
        ladder = await self.services.recovery.add_milestone(interaction.guild_id, days, description)
        await send_ephemeral(interaction, f"Added the {days}-day milestone. Milestones: {ladder_text(ladder)}.")

    @milestones.command(name="remove", description="Remove a milestone from the ladder")
    @app_commands.describe(days="The milestone's number of days")
    async def milestones_remove(self, interaction: discord.Interaction,
                                days: app_commands.Range[int, 1, 36500]) -> None:
        """Remove a milestone."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)  # every counter moves with the ladder
        ladder = await self.services.recovery.remove_milestone(interaction.guild_id, days)
        await send_ephemeral(interaction, f"Removed the {days}-day milestone. Milestones: {ladder_text(ladder)}.")

    @milestones.command(name="reset", description="Go back to the default ladder")
    async def milestones_reset(self, interaction: discord.Interaction) -> None:
        """Restore the default ladder."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)  # every counter moves with the ladder
        ladder = await self.services.recovery.reset_milestones(interaction.guild_id)
        await send_ephemeral(interaction, f"Back to the default. Milestones: {ladder_text(ladder)}.")
