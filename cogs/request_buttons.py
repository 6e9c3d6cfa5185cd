"""The request DM's Accept / Not right now buttons, as `DynamicItem`s: made here for buddies and mentors.

Their custom ids carry the request's id and incarnation (`kindred:buddy:accept:<id>.<incarnation>`,
`kindred:mentor:decline:<id>.<incarnation>`, …), so they are rebuilt on every click, keep working
after restarts, and never answer a later request that was given a deleted one's id. Ids from
before incarnations (`<id>` alone) still match, and the service answers them kindly without
changing anything. Only the member the request is addressed to can answer; anyone else's
click changes nothing and gets a kind private note.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Protocol

import discord

from bot.domain.keys import REF_PATTERN, RowRef
from bot.services.container import Services
from bot.services.requests import AnswerOutcome
from bot.tree import report_interaction_error
from cogs.common import kindred

log = logging.getLogger(__name__)

Button = discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]]


class Answering(Protocol):
    """A service whose requests are answered with these buttons (`bot.services.requests`)."""

    async def answer_by_button(self, ref: RowRef, user_id: int, *, accept: bool) -> AnswerOutcome: ...


def request_buttons(feature: str, service: Callable[[Services], Answering], *, accept_id: str, decline_id: str,
                    accepted: str, declined: str) -> tuple[type[Button], type[Button]]:
    """Return the Accept and Decline button classes of a feature's request DMs.

    `accept_id` and `decline_id` are the service's custom id formats (with `{ref}`); `accepted`
    and `declined` are what the DM says after the answer (with `{user}`, the member who asked).
    """

    async def answer(interaction: discord.Interaction, request: RowRef, *, accept: bool) -> None:
        """Record the answer, then turn the request DM into a record of it (buttons removed)."""
        try:
            # Accepting tells the member who asked by DM, which may take a moment.
            await interaction.response.defer()
            outcome = await service(kindred(interaction).services).answer_by_button(
                request, interaction.user.id, accept=accept)
        except Exception as exc:  # every failure gets a kind reply
            await report_interaction_error(interaction, exc, f"{feature} button")
            return
        before = interaction.message.content if interaction.message is not None else ""
        suffix = (accepted if accept else declined).format(user=outcome.asker_user)
        try:
            await interaction.edit_original_response(content=before + suffix, view=None,
                                                     allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException:
            log.warning("could not update %s request message for interaction %s", feature, interaction.id)

    def template(custom_id: str) -> str:
        prefix, _, _ = custom_id.partition("{ref}")
        return re.escape(prefix) + rf"(?P<request>{REF_PATTERN})"

    class AcceptButton(Button, template=template(accept_id)):
        """Accept the request."""

        def __init__(self, request: RowRef) -> None:
            super().__init__(discord.ui.Button(label="Accept", style=discord.ButtonStyle.success, emoji="🤝",
                                               custom_id=accept_id.format(ref=request)))
            self.request = request

        @classmethod
        async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View],
                                 match: re.Match[str]) -> AcceptButton:
            """Rebuild the button from its custom id (after restarts too)."""
            return cls(RowRef.parse(match["request"]))

        async def callback(self, interaction: discord.Interaction) -> None:
            """Accept, if the clicking member is the one who was asked."""
            await answer(interaction, self.request, accept=True)

    class DeclineButton(Button, template=template(decline_id)):
        """Decline the request."""

        def __init__(self, request: RowRef) -> None:
            super().__init__(discord.ui.Button(label="Not right now", style=discord.ButtonStyle.secondary,
                                               custom_id=decline_id.format(ref=request)))
            self.request = request

        @classmethod
        async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View],
                                 match: re.Match[str]) -> DeclineButton:
            """Rebuild the button from its custom id (after restarts too)."""
            return cls(RowRef.parse(match["request"]))

        async def callback(self, interaction: discord.Interaction) -> None:
            """Decline, if the clicking member is the one who was asked."""
            await answer(interaction, self.request, accept=False)

    return AcceptButton, DeclineButton
