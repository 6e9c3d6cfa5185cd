"""The request DM's Accept / Not right now buttons, as `DynamicItem`s.

Their custom ids carry the request id (`kindred:mentor:accept:<id>`,
`kindred:mentor:decline:<id>`), so they are rebuilt from the id on every click and keep
working after restarts. Only the mentor the request is addressed to can answer; anyone
else's click changes nothing and gets a kind private note.
"""

from __future__ import annotations

import logging
import re

import discord

from bot.services.mentors import ACCEPT_ID, DECLINE_ID
from bot.tree import report_interaction_error
from cogs.common import kindred
from cogs.mentors._messages import ACCEPTED_IN_DM, DECLINED_IN_DM

log = logging.getLogger(__name__)


async def answer(interaction: discord.Interaction, request_id: int, *, accept: bool) -> None:
    """Record the answer, then turn the request DM into a record of it (buttons removed)."""
    try:
        await interaction.response.defer()
        outcome = await kindred(interaction).services.mentors.answer_by_button(
            request_id, interaction.user.id, accept=accept)
    except Exception as exc:  # every failure gets a kind reply
        await report_interaction_error(interaction, exc, "mentor button")
        return
    before = interaction.message.content if interaction.message is not None else ""
    suffix = (ACCEPTED_IN_DM if accept else DECLINED_IN_DM).format(user=outcome.mentee_user)
    try:
        await interaction.edit_original_response(content=before + suffix, view=None,
                                                 allowed_mentions=discord.AllowedMentions.none())
    except discord.HTTPException:
        log.warning("could not update mentor request message for interaction %s", interaction.id)


class AcceptButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                   template=r"kindred:mentor:accept:(?P<request_id>[0-9]{1,19})"):
    """Accept a mentee's request."""

    def __init__(self, request_id: int) -> None:
        super().__init__(discord.ui.Button(label="Accept", style=discord.ButtonStyle.success, emoji="🤝",
                                           custom_id=ACCEPT_ID.format(request_id=request_id)))
        self.request_id = request_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View],
                             match: re.Match[str]) -> AcceptButton:
        """Rebuild the button from its custom id (after restarts too)."""
        return cls(int(match["request_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Accept, if the clicking member is the mentor who was asked."""
        await answer(interaction, self.request_id, accept=True)


class DeclineButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                    template=r"kindred:mentor:decline:(?P<request_id>[0-9]{1,19})"):
    """Decline a mentee's request."""

    def __init__(self, request_id: int) -> None:
        super().__init__(discord.ui.Button(label="Not right now", style=discord.ButtonStyle.secondary,
                                           custom_id=DECLINE_ID.format(request_id=request_id)))
        self.request_id = request_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View],
                             match: re.Match[str]) -> DeclineButton:
        """Rebuild the button from its custom id (after restarts too)."""
        return cls(int(match["request_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Decline, if the clicking member is the mentor who was asked."""
        await answer(interaction, self.request_id, accept=False)
