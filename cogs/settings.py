"""`/settings …`: a member's time zone, region, quiet hours and sharing choices."""

from __future__ import annotations

from datetime import UTC

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import KindredBot
from bot.domain.countries import find_country
from bot.domain.localtime import format_hhmm, local_now, zone
from bot.services.settings import SettingsService
from bot.tree import send_ephemeral
from cogs.common import ON_OFF, country_autocomplete, ids, kindred, zone_autocomplete

# Member-facing wording, reviewed in one place.
TIMEZONE_SET = "Got it — your days now follow **{tz}**. It's {local} there now."
REGION_SET = "Thanks — `/crisis` will show resources for **{name}** first."
QUIET_SET = "Quiet hours set: no automatic DMs from me between **{start}** and **{end}** your time."
QUIET_OFF = "Quiet hours are off (start and end were the same)."
CRISIS_REPLIES_ON = ("Crisis-support DMs are **on**: if this server uses automatic detection and a message "
                     "of yours looks like you might be struggling, I'll DM you some resources.")
CRISIS_REPLIES_OFF = ("Crisis-support DMs are **off**. Moderators may still be alerted so a person can check "
                      "in, and `/crisis` always works.")
SHARE_SET = {"nobody": "Your check-ins are private — buddies see nothing about them.",
             "buddies": "Your buddies can now see your last check-in day and your check-in streak "
                        "(never your mood or notes)."}
DM_CLOSED_NOTE = ("Note: when I last tried to DM you ({when} UTC) Discord said your DMs are closed to me, "
                  "so I paused DMs for a week. Now that you've used a command I'll try again; to receive DMs, "
                  "allow direct messages from this server's members in your privacy settings.")


@app_commands.guild_only()
class SettingsCog(commands.GroupCog, group_name="settings", group_description="Your personal Kindred settings"):
    """Member settings commands."""

    def __init__(self, settings: SettingsService) -> None:
        self.settings = settings
        super().__init__()

    @app_commands.command(name="timezone", description="Set your time zone so your days are your local days")
    @app_commands.describe(tz="Your IANA time zone, e.g. Europe/London (start typing a city)")
    @app_commands.autocomplete(tz=zone_autocomplete)
    async def timezone(self, interaction: discord.Interaction, tz: app_commands.Range[str, 1, 64]) -> None:
        """Set the member's time zone."""
        guild_id, user_id = ids(interaction)
        member = await self.settings.set_timezone(guild_id, user_id, tz)
        assert member.timezone is not None
        local = local_now(self.settings.clock.now(), zone(member.timezone))
        await send_ephemeral(interaction, TIMEZONE_SET.format(tz=member.timezone, local=local.strftime("%H:%M on %a %d %b")))

    @app_commands.command(name="region", description="Set your country so /crisis shows the right numbers")
    @app_commands.describe(country="Country name or two-letter code, e.g. GB")
    @app_commands.autocomplete(country=country_autocomplete)
    async def region(self, interaction: discord.Interaction, country: app_commands.Range[str, 1, 64]) -> None:
        """Set the member's country."""
        guild_id, user_id = ids(interaction)
        member = await self.settings.set_region(guild_id, user_id, country)
        found = find_country(member.region or "")
        await send_ephemeral(interaction, REGION_SET.format(name=found.name if found else member.region))

    @app_commands.command(name="quiet-hours", description="Hours when Kindred sends you no automatic DMs")
    @app_commands.describe(start="Start, 24-hour HH:MM (e.g. 22:00)", end="End, 24-hour HH:MM (e.g. 07:30)")
    async def quiet_hours(self, interaction: discord.Interaction, start: app_commands.Range[str, 1, 5],
                          end: app_commands.Range[str, 1, 5]) -> None:
        """Set quiet hours."""
        guild_id, user_id = ids(interaction)
        member = await self.settings.set_quiet_hours(guild_id, user_id, start, end)
        if member.quiet_start is None or member.quiet_end is None:
            await send_ephemeral(interaction, QUIET_OFF)
            return
        await send_ephemeral(interaction, QUIET_SET.format(start=format_hhmm(member.quiet_start),
                                                           end=format_hhmm(member.quiet_end)))

    @app_commands.command(name="crisis-replies", description="Turn automatic crisis-support DMs on or off")
    @app_commands.describe(state="on or off")
    @app_commands.choices(state=ON_OFF)
    async def crisis_replies(self, interaction: discord.Interaction, state: app_commands.Choice[str]) -> None:
        """Opt in or out of crisis DMs."""
        guild_id, user_id = ids(interaction)
        member = await self.settings.set_crisis_replies(guild_id, user_id, state.value == "on")
        await send_ephemeral(interaction, CRISIS_REPLIES_ON if member.crisis_replies else CRISIS_REPLIES_OFF)

    @app_commands.command(name="share-checkins", description="Choose who can see your check-in day and streak")
    @app_commands.describe(with_="nobody, or your buddies")
    @app_commands.rename(with_="with")
    @app_commands.choices(with_=[app_commands.Choice(name="nobody", value="nobody"),
                                 app_commands.Choice(name="buddies", value="buddies")])
    async def share_checkins(self, interaction: discord.Interaction, with_: app_commands.Choice[str]) -> None:
        """Choose check-in sharing."""
        guild_id, user_id = ids(interaction)
        member = await self.settings.set_share_checkins(guild_id, user_id, with_.value)
        await send_ephemeral(interaction, SHARE_SET[member.share_checkins.value])

    @app_commands.command(name="show", description="See your Kindred settings")
    async def show(self, interaction: discord.Interaction) -> None:
        """Show the member's effective settings."""
        guild_id, user_id = ids(interaction)
        before = await self.settings.members.get(guild_id, user_id)
        eff = await self.settings.effective(guild_id, user_id)
        m = eff.member
        region = find_country(eff.region).name if eff.region and find_country(eff.region) else None
        lines = [
            "**Your Kindred settings in this server**",
            f"• Time zone: **{eff.timezone}**" + ("" if eff.timezone_is_own else " (the server's — set yours with `/settings timezone`)"),
            "• Country for `/crisis`: " + (f"**{region}**" + (" (server default)" if eff.region_source == "server" else "")
                                            if region else "not set (`/settings region`)"),
            "• Quiet hours: " + (f"**{format_hhmm(m.quiet_start)}–{format_hhmm(m.quiet_end)}**"
                                 if m.quiet_start and m.quiet_end else "none"),
            f"• Crisis-support DMs: **{'on' if m.crisis_replies else 'off'}**",
            f"• Check-ins shared with: **{m.share_checkins.value}**",
        ]
        for provider in kindred(interaction).settings_show_providers:
            lines.extend(await provider(guild_id, user_id))
        if before is not None and before.dm_closed_at is not None:
            lines.append("")
            lines.append(DM_CLOSED_NOTE.format(when=before.dm_closed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")))
        await send_ephemeral(interaction, "\n".join(lines))


async def setup(bot: KindredBot) -> None:
    """Add the settings cog."""
    await bot.add_cog(SettingsCog(bot.services.settings))
