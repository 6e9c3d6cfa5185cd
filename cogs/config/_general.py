"""`/config` subcommands that change columns of the server's settings row."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.services.container import Services
from bot.services.guild_config import GuildConfigView
from bot.tree import send_ephemeral
from cogs.common import (
    ON_OFF,
    channel_mention,
    country_autocomplete,
    role_mention,
    zone_autocomplete,
)

TEXT_CHANNELS = [discord.ChannelType.text, discord.ChannelType.news]


class PostableChannel(app_commands.Transformer):
    """A channel option whose picker offers only text and announcement channels.

    A category, voice channel or forum would be accepted and every prompt, celebration or
    alert posted there refused by Discord.
    """

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return TEXT_CHANNELS

    async def transform(self, interaction: discord.Interaction, value: app_commands.AppCommandChannel,
                        /) -> app_commands.AppCommandChannel:
        """Keep the resolved channel as it is."""
        return value


Channel = app_commands.Transform[app_commands.AppCommandChannel, PostableChannel]


class GeneralConfigMixin:
    """Check-ins, celebrations, alerts, crisis and buddy settings.

    Each change defers first: any change to a server's settings may move the schedules of
    all its members (a new zone or celebration hour, or the first change after a restart),
    which for a large server takes longer than Discord's 3 seconds.
    """

    services: Services

    @app_commands.command(name="checkins", description="Daily check-in prompt: channel, local time and server time zone")
    @app_commands.describe(channel="Where the daily prompt is posted", time="Local time, 24-hour HH:MM",
                           timezone="Server time zone (IANA, e.g. Europe/London)",
                           enabled="Post the daily prompt (default: true)")
    @app_commands.autocomplete(timezone=zone_autocomplete)
    async def checkins(self, interaction: discord.Interaction,
                       channel: Channel,
                       time: app_commands.Range[str, 1, 5], timezone: app_commands.Range[str, 1, 64],
                       enabled: bool | None = None) -> None:
        """Configure the daily check-in prompt."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        view = await self.services.guild_config.set_checkins(
            interaction.guild_id, channel_id=channel.id, time=time, timezone=timezone, enabled=enabled)
        state = "on" if view.guild.checkin_enabled else "off"
        await send_ephemeral(interaction, f"Daily check-in prompt is **{state}**: {channel_mention(view.guild.checkin_channel_id)} "
                                          f"at **{view.checkin_time}** ({view.timezone}).")

    @app_commands.command(name="celebrations", description="Channel for public milestone celebrations")
    @app_commands.describe(channel="Where members who chose to share celebrate milestones")
    async def celebrations(self, interaction: discord.Interaction,
                           channel: Channel) -> None:
        """Set the celebrations channel."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        view = await self.services.guild_config.set_celebrations(interaction.guild_id, channel_id=channel.id)
        await send_ephemeral(interaction, f"Milestone celebrations go to {channel_mention(view.guild.celebrations_channel_id)} "
                                          f"(from {view.celebration_hour:02d}:00 members' local time).")

    @app_commands.command(name="alerts", description="Moderators' private alert channel, and a role to ping for urgent alerts")
    @app_commands.describe(channel="A private channel only moderators can read",
                           role="Role pinged for urgent (imminent-risk) alerts")
    async def alerts(self, interaction: discord.Interaction,
                     channel: Channel,
                     role: discord.Role | None = None) -> None:
        """Set the alerts channel and responder role."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        view = await self.services.guild_config.set_alerts(
            interaction.guild_id, channel_id=channel.id, role_id=role.id if role else None)
        await send_ephemeral(interaction, f"Alerts go to {channel_mention(view.guild.alerts_channel_id)}; "
                                          f"urgent alerts ping {role_mention(view.guild.alerts_role_id)}.")

    @app_commands.command(name="crisis", description="Passive crisis detection, default country, and public nudges")
    @app_commands.describe(detection="Watch messages for signs of crisis (tell your members first)",
                           region="Default country for /crisis", public_nudge="If a DM fails, post a short /crisis reminder in the channel",
                           tier1_replies="Also DM resources for tier-1 (distress) messages, not only tiers 2-3")
    @app_commands.rename(public_nudge="public-nudge", tier1_replies="tier1-replies")
    @app_commands.choices(detection=ON_OFF, public_nudge=ON_OFF, tier1_replies=ON_OFF)
    @app_commands.autocomplete(region=country_autocomplete)
    async def crisis(self, interaction: discord.Interaction, detection: app_commands.Choice[str],
                     region: app_commands.Range[str, 1, 64] | None = None,
                     public_nudge: app_commands.Choice[str] | None = None,
                     tier1_replies: app_commands.Choice[str] | None = None) -> None:
        """Configure crisis settings."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        view = await self.services.guild_config.set_crisis(
            interaction.guild_id, detection=detection.value == "on", region=region,
            public_nudge=None if public_nudge is None else public_nudge.value == "on",
            tier1_replies=None if tier1_replies is None else tier1_replies.value == "on")
        g = view.guild
        text = (f"Passive detection is **{'on' if g.crisis_detection else 'off'}**; default country "
                f"**{view.region or 'none (worldwide directory)'}**; public nudges **{'on' if g.crisis_public_nudge else 'off'}**; "
                f"tier-1 replies **{'on' if g.crisis_tier1_replies else 'off'}**.")
        if g.crisis_detection and g.alerts_channel_id is None:
            text += ("\n⚠️ No alert channel is set, so detection cannot alert anyone and does nothing yet. "
                     "Set one with `/config alerts`.")
        if g.crisis_detection and not self.services.config.crisis.detection_intent:
            text += ("\n⚠️ This Kindred instance runs without the message-content intent, so it cannot read "
                     "messages yet. Ask whoever hosts it to set `[crisis] detection_intent = true`.")
        if g.crisis_detection:
            text += "\nPlease tell your members that automatic detection is on and what it does."
            measured = self.services.crisis.measured()
            if measured is not None:
                text += "\n" + measured.summary()
        await send_ephemeral(interaction, text)

    @app_commands.command(name="buddies", description="Accountability buddy settings")
    @app_commands.describe(nudge_after_days="Days without a check-in before a buddy is nudged (1–14)",
                           max_buddies="Buddies a member may have (1–5)", matching="Let /buddy find pair members")
    @app_commands.choices(matching=ON_OFF)
    async def buddies(self, interaction: discord.Interaction,
                      nudge_after_days: app_commands.Range[int, 1, 14] | None = None,
                      max_buddies: app_commands.Range[int, 1, 5] | None = None,
                      matching: app_commands.Choice[str] | None = None) -> None:
        """Configure buddies."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        view = await self.services.guild_config.set_buddies(
            interaction.guild_id, nudge_after_days=nudge_after_days, max_buddies=max_buddies,
            matching=None if matching is None else matching.value == "on")
        await send_ephemeral(interaction, f"Buddies: nudge after **{view.buddy_nudge_after_days}** day(s) without a check-in; "
                                          f"up to **{view.buddy_max}** buddies each; matching **{'on' if view.buddy_matching else 'off'}**.")

    @app_commands.command(name="mentors", description="Mentoring: on or off, and what a mentor needs")
    @app_commands.describe(enabled="Let members offer to mentor with /mentor offer",
                           role="Role a member needs to offer (pick @everyone for none)",
                           min_days="Days a mentor needs on a counter they share with the server (0–3650)")
    @app_commands.choices(enabled=ON_OFF)
    async def mentors(self, interaction: discord.Interaction, enabled: app_commands.Choice[str] | None = None,
                      role: discord.Role | None = None,
                      min_days: app_commands.Range[int, 0, 3650] | None = None) -> None:
        """Configure mentoring."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        view = await self.services.guild_config.set_mentors(
            interaction.guild_id, enabled=None if enabled is None else enabled.value == "on",
            role_id=role.id if role else None, min_days=min_days)
        await send_ephemeral(interaction, mentors_text(view))


def mentors_text(view: GuildConfigView) -> str:
    """Say what the server's mentor settings are."""
    if not view.mentors_enabled:
        return "Mentoring is **off**: nobody can offer, and mentorships already running go on."
    needs = []
    if view.mentor_role_id is not None:
        needs.append(f"the {role_mention(view.mentor_role_id)} role")
    if view.mentor_min_days:
        needs.append(f"at least **{view.mentor_min_days}** days on a counter they share with the server")
    return "Mentoring is **on**; mentors need " + (" and ".join(needs) if needs else "nothing in particular") + "."
