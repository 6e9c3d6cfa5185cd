"""`/config resources add|remove`: crisis resources this server adds to `/crisis`.

Like `milestones`, the subgroup is a class attribute of this mixin, so it becomes a child of
`/config` when `ConfigCog` lists the mixin among its bases, and the cog's Manage Server
`interaction_check` runs for it.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.domain.contacts import shown_contact
from bot.domain.crisis.records import LocalResourceRow
from bot.domain.crisis.resources import DataFreshness
from bot.domain.plaintext import escape_markup
from bot.services.container import Services
from bot.tree import send_ephemeral
from cogs.common import country_autocomplete


def resources_text(rows: list[LocalResourceRow]) -> str:
    """List a server's own resources by name and country (contacts are in /crisis), or say there are none."""
    if not rows:
        return "none yet"
    return ", ".join(f"**{escape_markup(r.name)}** ({r.country})" for r in rows)


def crisis_data_text(fresh: DataFreshness) -> str:
    """Say how old the vetted crisis numbers are, and who re-checks them when they are too old."""
    text = fresh.describe()
    text = text[0].upper() + text[1:]
    if fresh.stale:
        text += " — please ask whoever hosts Kindred to re-check them; `/crisis` still shows them"
    return text


class ResourcesConfigMixin:
    """The server's own crisis resources."""

    services: Services

    resources = app_commands.Group(name="resources", description="Crisis resources this server adds to /crisis")

    @resources.command(name="add", description="Add a local resource shown with /crisis in this server")
    @app_commands.describe(country="Country it serves (two-letter code or name)", name="Its name, e.g. Our warmline",
                           contact="A phone number or a web address (https://…)")
    @app_commands.autocomplete(country=country_autocomplete)
    async def resources_add(self, interaction: discord.Interaction, country: app_commands.Range[str, 1, 64],
                            name: app_commands.Range[str, 1, 80], contact: app_commands.Range[str, 1, 200]) -> None:
        """Add (or update) a local resource."""
        assert interaction.guild_id is not None
        row = await self.services.crisis.add_local_resource(interaction.guild_id, country, name, contact)
        rows = await self.services.crisis.local_resources(interaction.guild_id)
        await send_ephemeral(
            interaction,
            f"Added **{escape_markup(row.name)}** ({row.country}) — {shown_contact(row.contact)}. `/crisis` shows it under “more options” for "
            f"members looking at {row.country}.\nThis server's resources: {resources_text(rows)}.")

    @resources.command(name="remove", description="Remove a local resource from /crisis in this server")
    @app_commands.describe(name="The resource to remove (pick from the list)")
    async def resources_remove(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]) -> None:
        """Remove a local resource."""
        assert interaction.guild_id is not None
        removed = await self.services.crisis.remove_local_resource(interaction.guild_id, name)
        rows = await self.services.crisis.local_resources(interaction.guild_id)
        await send_ephemeral(interaction, f"Removed **{escape_markup(removed.name)}** ({removed.country}). "
                                          f"This server's resources: {resources_text(rows)}.")

    @resources_remove.autocomplete("name")
    async def _resource_choices(self, interaction: discord.Interaction,
                                current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        rows = await self.services.crisis.local_resources(interaction.guild_id)
        typed = current.casefold()
        return [app_commands.Choice(name=f"{r.name} ({r.country})"[:100], value=str(r.resource_id))
                for r in rows if typed in r.name.casefold()][:25]
