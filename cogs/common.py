"""Helpers shared by cogs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.domain.countries import suggest_countries
from bot.domain.localtime import suggest_zones

if TYPE_CHECKING:
    from bot.app import KindredBot

ON_OFF = [app_commands.Choice(name="on", value="on"), app_commands.Choice(name="off", value="off")]


def kindred(interaction: discord.Interaction) -> KindredBot:
    """Return the bot behind an interaction."""
    return cast("KindredBot", interaction.client)


def ids(interaction: discord.Interaction) -> tuple[int, int]:
    """Return (guild id, user id) of a guild interaction."""
    assert interaction.guild_id is not None, "guild-only command invoked outside a guild"
    return interaction.guild_id, interaction.user.id


async def zone_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Suggest IANA zones for what the member typed."""
    return [app_commands.Choice(name=name, value=name) for name in suggest_zones(current, 25)]


async def country_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Suggest countries (shown with their code, valued by code)."""
    return [app_commands.Choice(name=f"{c.name} ({c.code})"[:100], value=c.code)
            for c in suggest_countries(current, 25)]


def channel_mention(channel_id: int | None) -> str:
    """Mention a channel by id, or say it is not set."""
    return f"<#{channel_id}>" if channel_id else "not set"


def role_mention(role_id: int | None) -> str:
    """Mention a role by id (replies never ping: allowed mentions are none), or say none."""
    return f"<@&{role_id}>" if role_id else "none"


def _walk(components: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(components, Mapping):
        yield components
        for key in ("components", "component"):
            yield from _walk(components.get(key))
    elif isinstance(components, list):
        for component in components:
            yield from _walk(component)


def modal_values(data: Mapping[str, Any]) -> dict[str, str]:
    """Return the text inputs of a modal submission by custom id (action rows or labels)."""
    return {c["custom_id"]: str(c.get("value") or "") for c in _walk(data.get("components"))
            if "custom_id" in c and "value" in c}
