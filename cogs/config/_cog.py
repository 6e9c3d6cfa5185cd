"""The `/config` group: every subcommand requires Manage Server, checked at run time."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import require_manage_guild
from bot.services.container import Services
from bot.tree import send_ephemeral
from cogs.common import channel_mention, role_mention
from cogs.config._general import GeneralConfigMixin, mentors_text
from cogs.config._milestones import MilestonesConfigMixin
from cogs.config._pulse import PulseConfigMixin
from cogs.config._resources import ResourcesConfigMixin, crisis_data_text, resources_text
from cogs.recovery._messages import ladder_text


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class ConfigCog(GeneralConfigMixin, MilestonesConfigMixin, ResourcesConfigMixin, PulseConfigMixin, commands.GroupCog,
                group_name="config",
                group_description="Kindred server settings (Manage Server)"):
    """Moderator configuration."""

    def __init__(self, services: Services) -> None:
        self.services = services
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        """Enforce Manage Server at run time: servers can override the default permissions."""
        return require_manage_guild(interaction)

    @app_commands.command(name="show", description="Show all of Kindred's settings for this server")
    async def show(self, interaction: discord.Interaction) -> None:
        """Show the server's effective settings."""
        assert interaction.guild_id is not None
        view = await self.services.guild_config.view(interaction.guild_id)
        g = view.guild
        lines = [
            "**Kindred settings for this server**",
            f"• Time zone: **{view.timezone}**",
            f"• Daily check-in: **{'on' if g.checkin_enabled else 'off'}** in {channel_mention(g.checkin_channel_id)} at **{view.checkin_time}**",
            f"• Celebrations: {channel_mention(g.celebrations_channel_id)} from **{view.celebration_hour:02d}:00** local time",
            f"• Alerts: {channel_mention(g.alerts_channel_id)}; urgent alerts ping {role_mention(g.alerts_role_id)}",
            f"• Crisis detection: **{'on' if g.crisis_detection else 'off'}**; default country **{view.region or 'none'}**; "
            f"public nudges **{'on' if g.crisis_public_nudge else 'off'}**; tier-1 replies **{'on' if g.crisis_tier1_replies else 'off'}**",
            f"• Crisis resources added here: {resources_text(await self.services.crisis.local_resources(g.guild_id))}",
            f"• {crisis_data_text(self.services.crisis.data_freshness())}",
            f"• Buddies: nudge after **{view.buddy_nudge_after_days}** day(s); up to **{view.buddy_max}** each; "
            f"matching **{'on' if view.buddy_matching else 'off'}**",
            f"• Mentors: {mentors_text(view)}",
            f"• Milestones: {ladder_text(await self.services.recovery.ladder(g.guild_id))}",
        ]
        await send_ephemeral(interaction, "\n".join(lines))
