"""`/privacy info|export|delete`: what is stored, a copy of it, and deleting it."""

from __future__ import annotations

import io

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import KindredBot
from bot.services.privacy import PrivacyService
from bot.tree import report_interaction_error, send_ephemeral
from cogs.common import ids, kindred

CONFIRM_ID = "kindred:privacy:confirm-delete"

EXPORT_READY = ("Here is everything Kindred stores about you in this server ({rows} records). "
                "It's only visible to you — keep it somewhere safe, as it includes your notes.")
DELETE_ASK = ("This deletes **everything** Kindred stores about you in this server: settings, check-ins and "
              "notes, pledges, recovery counters and their history, buddy pairs and requests, reminders, and "
              "alert records about you. Buddies will be told kindly that the pairing ended (nothing else). "
              "It can't be undone. If you'd like a copy first, use `/privacy export`.\n\n"
              "To go ahead, press the button within 5 minutes.")
INFO_INTRO = "Here's exactly what Kindred keeps, and how to take it with you or delete it."
NOTHING_STORED = "Kindred has nothing stored about you in this server, so there's nothing to delete."
DELETE_DONE = ("Done — everything Kindred stored about you in this server has been deleted, and nothing more "
               "is scheduled for you. You're always welcome back.")


class ConfirmDeleteButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                          template=r"kindred:privacy:confirm-delete"):
    """The persistent confirm button; it only acts for the member with a pending request."""

    def __init__(self) -> None:
        super().__init__(discord.ui.Button(label="Delete my data", style=discord.ButtonStyle.danger,
                                           custom_id=CONFIRM_ID))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View],
                             match: object) -> ConfirmDeleteButton:
        """Rebuild the button from its custom id (after restarts too)."""
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        """Delete the clicking member's data if they asked within the window."""
        if interaction.guild_id is None:
            await send_ephemeral(interaction, "This button only works inside the server where you asked.")
            return
        guild_id, user_id = ids(interaction)
        try:
            await kindred(interaction).services.privacy.confirm_delete(guild_id, user_id)
        except Exception as error:  # buttons bypass the command tree's error handler
            await report_interaction_error(interaction, error, "privacy confirm button")
            return
        await send_ephemeral(interaction, DELETE_DONE)


@app_commands.guild_only()
class PrivacyCog(commands.GroupCog, group_name="privacy", group_description="What Kindred stores about you"):
    """Data rights commands."""

    def __init__(self, privacy: PrivacyService) -> None:
        self.privacy = privacy
        super().__init__()

    @app_commands.command(name="info", description="What Kindred stores, why, for how long, and how to delete it")
    async def info(self, interaction: discord.Interaction) -> None:
        """Show the data statement (as an embed: it is longer than a message may be)."""
        embed = discord.Embed(description=self.privacy.data_statement(), colour=discord.Colour.from_rgb(88, 166, 140))
        await send_ephemeral(interaction, INFO_INTRO, embed=embed)

    @app_commands.command(name="export", description="Get a file with everything Kindred stores about you here")
    async def export(self, interaction: discord.Interaction) -> None:
        """Send the member their export as an ephemeral attachment."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id, user_id = ids(interaction)
        export = await self.privacy.export(guild_id, user_id)
        await interaction.followup.send(
            EXPORT_READY.format(rows=export.row_count), ephemeral=True,
            file=discord.File(io.BytesIO(export.data), filename=export.filename),
            allowed_mentions=discord.AllowedMentions.none())

    @app_commands.command(name="delete", description="Delete everything Kindred stores about you in this server")
    async def delete(self, interaction: discord.Interaction) -> None:
        """Ask for confirmation with the persistent confirm button."""
        guild_id, user_id = ids(interaction)
        if await self.privacy.request_delete(guild_id, user_id) is None:
            await send_ephemeral(interaction, NOTHING_STORED)
            return
        view = discord.ui.View(timeout=None)
        view.add_item(ConfirmDeleteButton())
        await send_ephemeral(interaction, DELETE_ASK, view=view)


async def setup(bot: KindredBot) -> None:
    """Register the persistent confirm button, then the cog."""
    bot.add_dynamic_items(ConfirmDeleteButton)
    await bot.add_cog(PrivacyCog(bot.services.privacy))
