"""The command tree: one place that turns errors into kind, ephemeral replies."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.checks import GuildOnlyError, ManageGuildRequiredError
from bot.errors import DatabaseUnavailableError, UserFacingError

log = logging.getLogger(__name__)

GENERIC_APOLOGY = (
    "Sorry — something went wrong on my side and nothing was changed. Please try again in a "
    "moment. If you need support right now, `/crisis` always works."
)
DATABASE_TROUBLE = (
    "Sorry — I can't reach my records right now, so nothing was saved. Please try again in a "
    "few minutes. If you need support right now, `/crisis` still works."
)
NEED_MANAGE_GUILD = "Only members with the **Manage Server** permission can change Kindred's server settings."
NEED_GUILD = "This command works inside a server, not in DMs."


async def send_ephemeral(interaction: discord.Interaction, content: str, **kwargs: object) -> None:
    """Reply privately, whether or not the interaction was already answered or deferred."""
    kwargs.setdefault("allowed_mentions", discord.AllowedMentions.none())
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=True, **kwargs)  # type: ignore[call-overload]
    else:
        await interaction.response.send_message(content, ephemeral=True, **kwargs)  # type: ignore[call-overload]


def user_message_for(error: BaseException) -> str | None:
    """Return what to tell the member about an error, or None for an unexpected fault."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserFacingError):
        return error.message
    if isinstance(error, ManageGuildRequiredError):
        return NEED_MANAGE_GUILD
    if isinstance(error, GuildOnlyError | app_commands.NoPrivateMessage):
        return NEED_GUILD
    if isinstance(error, app_commands.MissingPermissions):
        return NEED_MANAGE_GUILD
    if isinstance(error, DatabaseUnavailableError):
        return DATABASE_TROUBLE
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Let's take a breath — you can use this again in {error.retry_after:.0f} seconds."
    if isinstance(error, app_commands.TransformerError):
        return "I couldn't understand one of the options. Please check it and try again."
    return None


async def report_interaction_error(interaction: discord.Interaction, error: BaseException, what: str) -> None:
    """Answer any interaction's error kindly and privately; log faults with ids only.

    Used by the command tree and by buttons and modals, whose errors discord.py does not
    route through the tree.
    """
    message = user_message_for(error)
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    metrics = getattr(interaction.client, "metrics", None)
    if metrics is not None and (message is None or isinstance(original, DatabaseUnavailableError)):
        metrics.interaction_failed(interaction.id, "fault" if message is None else "database")
        if message is not None:
            metrics.database_unavailable("command")
    if message is None:
        # Never the user: beside the command ("recovery slip") their id is health data.
        log.error("%s failed (guild=%s interaction=%s): %s", what, interaction.guild_id,
                  interaction.id, type(original).__name__, exc_info=original)
        message = GENERIC_APOLOGY
    elif isinstance(original, DatabaseUnavailableError):
        log.warning("%s: database unavailable (guild=%s interaction=%s)", what, interaction.guild_id, interaction.id)
    try:
        await send_ephemeral(interaction, message)
    except discord.HTTPException:
        log.warning("could not deliver error reply for interaction %s", interaction.id)


class KindredTree(app_commands.CommandTree):
    """A CommandTree whose errors become ephemeral replies; faults are logged with ids."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Answer the member kindly; log faults with command name and ids only."""
        name = interaction.command.qualified_name if interaction.command else "?"
        await report_interaction_error(interaction, error, f"command {name}")
