"""`/urge`'s buttons, the plan button, and the plan form.

The buttons are `DynamicItem`s: their custom ids carry what they need
(`kindred:urge:halt:<urge id>:<h|a|l|t>`, `kindred:urge:after:<urge id>:<0-10>`,
`kindred:plan:show`), so they are rebuilt from the id on every click and keep working after
restarts, on the private `/urge` reply and in the check-back DM alike. The views that carry
them on a message only describe the buttons (and expire): the dynamic items answer.

The plan form (`kindred:plan:modal`) is handled like the check-in form: discord.py keeps sent
modals keyed by custom id only, so the cog's `on_interaction` listener handles every submit
with that id (`handle_plan_submit`) and the modal object itself only describes the form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

import discord

from bot.domain.coping import PLAN_PART_MAX, Halt, PlanPart, RelapsePlan
from bot.services.coping import (
    AFTER_ID,
    HALT_ID,
    PLAN_LABELS,
    PLAN_MODAL_ID,
    PLAN_SHOW_ID,
    UrgeStart,
    after_buttons,
)
from bot.tree import report_interaction_error, send_ephemeral
from cogs.common import kindred, modal_values
from cogs.coping._messages import (
    AFTER_PLAN_TITLE,
    PLAN_CLEARED,
    PLAN_MODAL_TITLE,
    PLAN_NONE,
    PLAN_PLACEHOLDERS,
    PLAN_SAVED,
    URGE_PLAN_BUTTON,
    after_reply,
    halt_reply,
    plan_embed,
)

# Views on a sent message only describe its buttons (the dynamic items answer clicks), so
# they need not be remembered long; a reply is read within minutes.
VIEW_TIMEOUT = 120.0
NEED_GUILD = "Your plan belongs to a server — please use this inside the server."


class HaltButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                 template=r"kindred:urge:halt:(?P<urge_id>[0-9]{1,19}):(?P<need>[halt])"):
    """One of the four HALT buttons; answers from memory, so it works without the database."""

    def __init__(self, urge_id: int, need: Halt, label: str = "", emoji: str | None = None) -> None:
        super().__init__(discord.ui.Button(label=label or need.name.title(), emoji=emoji,
                                           style=discord.ButtonStyle.secondary,
                                           custom_id=HALT_ID.format(urge_id=urge_id, need=need.value)))
        self.need = need

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View],
                             match: re.Match[str]) -> HaltButton:
        """Rebuild the button from its custom id (after restarts too)."""
        return cls(int(match["urge_id"]), Halt(match["need"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Answer with the suggestions for this need, privately."""
        try:
            advice = kindred(interaction).services.coping.halt_advice(self.need)
            await send_ephemeral(interaction, halt_reply(advice))
        except Exception as exc:  # every failure gets a kind reply
            await report_interaction_error(interaction, exc, "urge HALT button")


class AfterButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                  template=r"kindred:urge:after:(?P<urge_id>[0-9]{1,19}):(?P<strength>10|[0-9])"):
    """"How strong is it now": records the answer on the member's own urge."""

    def __init__(self, urge_id: int, strength: int) -> None:
        super().__init__(discord.ui.Button(label=str(strength), style=discord.ButtonStyle.secondary,
                                           custom_id=AFTER_ID.format(urge_id=urge_id, strength=strength)))
        self.urge_id = urge_id
        self.strength = strength

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View],
                             match: re.Match[str]) -> AfterButton:
        """Rebuild the button from its custom id (after restarts too)."""
        return cls(int(match["urge_id"]), int(match["strength"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Record the strength now; a strong urge also gets `/crisis` and the member's plan."""
        try:
            result = await kindred(interaction).services.coping.record_after(
                self.urge_id, interaction.user.id, self.strength)
            if result.plan is not None:
                await send_ephemeral(interaction, after_reply(result), embed=plan_embed(result.plan, AFTER_PLAN_TITLE))
            else:
                await send_ephemeral(interaction, after_reply(result))
        except Exception as exc:  # every failure gets a kind reply
            await report_interaction_error(interaction, exc, "urge check-back button")


class PlanShowButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"kindred:plan:show"):
    """Shows the member their own plan (offered after a hard check-in and at the start of `/urge`)."""

    def __init__(self) -> None:
        super().__init__(discord.ui.Button(label=URGE_PLAN_BUTTON, emoji="📋", style=discord.ButtonStyle.primary,
                                           custom_id=PLAN_SHOW_ID))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View],
                             match: re.Match[str]) -> PlanShowButton:
        """Rebuild the button (it carries nothing: the plan is always the clicker's own)."""
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        """Show the clicker's plan, privately."""
        try:
            plan = await kindred(interaction).services.coping.plan(interaction.guild_id, interaction.user.id)
            await send_plan(interaction, plan)
        except Exception as exc:  # every failure gets a kind reply
            await report_interaction_error(interaction, exc, "plan button")


async def send_plan(interaction: discord.Interaction, plan: RelapsePlan | None) -> None:
    """Reply privately with the plan, or with how to write one."""
    if plan is None:
        await send_ephemeral(interaction, PLAN_NONE)
    else:
        await send_ephemeral(interaction, "", embed=plan_embed(plan))


def urge_view(start: UrgeStart, *, dms_closed: bool = False) -> discord.ui.View:
    """The `/urge` reply's buttons: HALT and the plan; with DMs closed, the answer buttons too."""
    view = discord.ui.View(timeout=VIEW_TIMEOUT)
    urge_id = start.urge.urge_id if start.urge is not None else 0
    for advice in start.texts.halt:
        view.add_item(HaltButton(urge_id, advice.need, advice.label, advice.emoji))
    if start.plan is not None:
        view.add_item(PlanShowButton())
    if dms_closed and start.urge is not None:
        for button in after_buttons(start.urge.urge_id):
            view.add_item(discord.ui.Button(label=button.label, custom_id=button.custom_id,
                                            style=discord.ButtonStyle.secondary, row=None))
    return view


def plan_button_view() -> discord.ui.View:
    """A view with just the "My plan" button."""
    view = discord.ui.View(timeout=VIEW_TIMEOUT)
    view.add_item(PlanShowButton())
    return view


class PlanModal(discord.ui.Modal, title=PLAN_MODAL_TITLE):
    """The plan form, prefilled with the current plan; every part optional, up to 500 characters."""

    def __init__(self, plan: RelapsePlan | None) -> None:
        super().__init__(custom_id=PLAN_MODAL_ID, timeout=None)
        for part in PlanPart:
            self.add_item(discord.ui.TextInput(
                label=PLAN_LABELS[part], custom_id=part.value, style=discord.TextStyle.paragraph,
                placeholder=PLAN_PLACEHOLDERS[part], required=False, max_length=PLAN_PART_MAX,
                default=plan.part(part) if plan is not None else None))

    # on_submit is deliberately the default no-op: see the module docstring.


async def handle_plan_submit(interaction: discord.Interaction) -> None:
    """Save the plan from the form, then reply privately with it."""
    if interaction.guild_id is None:
        await send_ephemeral(interaction, NEED_GUILD)
        return
    values = modal_values(cast("Mapping[str, Any]", interaction.data or {}))
    try:
        plan = await kindred(interaction).services.coping.save_plan(
            interaction.guild_id, interaction.user.id, {p.value: values.get(p.value) for p in PlanPart})
    except Exception as error:  # every failure gets a kind reply; faults are logged by report_interaction_error
        await report_interaction_error(interaction, error, "plan modal")
        return
    if plan is None:
        await send_ephemeral(interaction, PLAN_CLEARED)
    else:
        await send_ephemeral(interaction, PLAN_SAVED, embed=plan_embed(plan))
