"""The request DM's Accept / Not right now buttons, as `DynamicItem`s.

Their custom ids carry the request's id and incarnation (`kindred:buddy:accept:<id>.<incarnation>`,
`kindred:buddy:decline:<id>.<incarnation>`), so they are rebuilt on every click, keep working
after restarts, and never answer a later request that was given a deleted one's id. Ids from
before incarnations (`<id>` alone) still match, and the service answers them kindly without
changing anything. Only the member the request is addressed to can answer; anyone else's
click changes nothing and gets a kind private note.
"""

from __future__ import annotations

import logging
import re

import discord

from bot.domain.keys import REF_PATTERN, RowRef
from bot.services.buddies import ACCEPT_ID, DECLINE_ID
from bot.tree import report_interaction_error
from cogs.buddies._messages import ACCEPTED_IN_DM, DECLINED_IN_DM
from cogs.common import kindred

log = logging.getLogger(__name__)


async def answer(interaction: discord.Interaction, request: RowRef, *, accept: bool) -> None:
    """Record the answer, then turn the request DM into a record of it (buttons removed)."""
    try:
        # Accepting tells the requester by DM, which may take a moment.
        await interaction.response.defer()
        outcome = await kindred(interaction).services.buddies.answer_by_button(
            request, interaction.user.id, accept=accept)
    except Exception as exc:  # every failure gets a kind reply
        await report_interaction_error(interaction, exc, "buddy button")
        return
    before = interaction.message.content if interaction.message is not None else ""
    suffix = (ACCEPTED_IN_DM if accept else DECLINED_IN_DM).format(user=outcome.requester_user)
    try:
        await interaction.edit_original_response(content=before + suffix, view=None,
                                                 allowed_mentions=discord.AllowedMentions.none())
    except discord.HTTPException:
        log.warning("could not update buddy request message for interaction %s", interaction.id)


class AcceptButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                   template=rf"kindred:buddy:accept:(?P<request>{REF_PATTERN})"):
    """Accept a buddy request."""

    def __init__(self, request: RowRef) -> None:
        super().__init__(discord.ui.Button(label="Accept", style=discord.ButtonStyle.success, emoji="🤝",
                                           custom_id=ACCEPT_ID.format(ref=request)))
        self.request = request

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View],
                             match: re.Match[str]) -> AcceptButton:
        """Rebuild the button from its custom id (after restarts too)."""
        return cls(RowRef.parse(match["request"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Accept, if the clicking member is the one who was asked."""
        await answer(interaction, self.request, accept=True)


class DeclineButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                    template=rf"kindred:buddy:decline:(?P<request>{REF_PATTERN})"):
    """Decline a buddy request."""

    def __init__(self, request: RowRef) -> None:
        super().__init__(discord.ui.Button(label="Not right now", style=discord.ButtonStyle.secondary,
                                           custom_id=DECLINE_ID.format(ref=request)))
        self.request = request

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View],
                             match: re.Match[str]) -> DeclineButton:
        """Rebuild the button from its custom id (after restarts too)."""
        return cls(RowRef.parse(match["request"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Decline, if the clicking member is the one who was asked."""
        await answer(interaction, self.request, accept=False)
