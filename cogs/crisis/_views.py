"""The alert buttons as `DynamicItem`s: `kindred:alert:ack|resolve|false:<alert id>`.

They are rebuilt from the custom id on every click, so they keep working after restarts.
Only members with Manage Server or the server's responder role may press them; anyone
else gets a kind private note and nothing changes. A press records who did what and
updates the alert's embed in place (the headline, with any member note, stays).
"""

from __future__ import annotations

import logging
import re

import discord

from bot.checks import has_manage_guild
from bot.discord_notifier import build_embed, build_view
from bot.domain.crisis.records import AlertAction
from bot.domain.messages import OutgoingMessage
from bot.tree import report_interaction_error, send_ephemeral
from cogs.common import kindred
from cogs.crisis._messages import already_reply

log = logging.getLogger(__name__)


def stopped_view(message: OutgoingMessage) -> discord.ui.View | None:
    """Return the message's buttons as a stopped view (never stored, so the DynamicItems answer clicks)."""
    view = build_view(message)
    if view is not None:
        view.stop()
    return view


class AlertButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                  template=r"kindred:alert:(?P<action>ack|resolve|false):(?P<alert_id>[0-9]{1,19})"):
    """Acknowledge, resolve, or mark a moderator alert a false alarm."""

    def __init__(self, action: AlertAction, alert_id: int) -> None:
        super().__init__(discord.ui.Button(label=action.value, custom_id=f"kindred:alert:{action.value}:{alert_id}"))
        self.action = action
        self.alert_id = alert_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View],
                             match: re.Match[str]) -> AlertButton:
        """Rebuild the button from its custom id (after restarts too)."""
        return cls(AlertAction(match["action"]), int(match["alert_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Record the press if the member may act on alerts, then show the new status on the alert."""
        user = interaction.user
        role_ids = [role.id for role in user.roles] if isinstance(user, discord.Member) else []
        try:
            if interaction.guild_id is None:
                raise LookupError("alert button outside a guild")
            result = await kindred(interaction).services.crisis.act(
                interaction.guild_id, self.alert_id, user.id, self.action,
                manage_guild=has_manage_guild(interaction), role_ids=role_ids)
        except Exception as exc:  # every failure gets a kind, private reply
            await report_interaction_error(interaction, exc, "alert button")
            return
        if not result.changed:
            await send_ephemeral(interaction, already_reply(result.alert))
            return
        # Acknowledge at once, then edit the alert when it is this edit's turn: a refresh of
        # the same alert may be in flight (waiting out a rate limit), and an older rendering
        # must never land over this one (see CrisisService.show_alert).
        await interaction.response.defer()

        async def edit_pressed(channel_id: int, message_id: int, message: OutgoingMessage) -> bool:
            await interaction.edit_original_response(embed=build_embed(message), view=stopped_view(message),
                                                     allowed_mentions=discord.AllowedMentions.none())
            return True

        posted = (interaction.channel_id, interaction.message.id) if interaction.message and interaction.channel_id else None
        await kindred(interaction).services.crisis.show_alert(self.alert_id, edit_pressed, posted=posted)
