"""Helpers shared by cogs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.domain.countries import suggest_countries
from bot.domain.localtime import suggest_zones

if TYPE_CHECKING:
    from bot.app import KindredBot

log = logging.getLogger(__name__)

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


REPLY_LIMIT = 1900  # Discord's 2,000 characters, with room for a last line


def clip(text: str, limit: int | None = REPLY_LIMIT) -> str:
    """Keep a reply within Discord's message limit (None: no limit)."""
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def fit_lines(lines: list[str], limit: int = REPLY_LIMIT, more: str = "…") -> str:
    """Join lines, leaving out whole lines from the end (and saying so) so the reply fits a message."""
    kept = list(lines)
    while kept and len("\n".join(kept)) > limit - len(more) - 1:
        kept.pop()
    return "\n".join(kept) + ("\n" + more if len(kept) < len(lines) else "")


def guild_namer(bot: discord.Client) -> Callable[[int], str | None]:
    """Return a lookup of a server's name from the cache (for DMs that say where)."""
    def guild_name(guild_id: int) -> str | None:
        guild = bot.get_guild(guild_id)
        return guild.name if guild is not None else None
    return guild_name


async def _fetch_member(bot: discord.Client, guild_id: int, user_id: int) -> discord.Member | None | bool:
    """One REST lookup (no members intent needed): the member, False if not a member, None if it cannot tell."""
    guild = bot.get_guild(guild_id)
    if guild is None:
        return None
    try:
        return await guild.fetch_member(user_id)
    except discord.NotFound:
        return False
    except Exception:  # network trouble or a 5xx: we cannot tell
        log.warning("could not look up a member of guild %s", guild_id)
        return None


def membership_check(bot: discord.Client) -> Callable[[int, int], Awaitable[bool | None]]:
    """Return "is this user still a member of that server?": False only when Discord says no."""
    async def is_member(guild_id: int, user_id: int) -> bool | None:
        found = await _fetch_member(bot, guild_id, user_id)
        return None if found is None else found is not False
    return is_member


def role_lookup(bot: discord.Client) -> Callable[[int, int], Awaitable[set[int] | None]]:
    """Return "which roles does this member have now?" (None when Discord cannot say)."""
    async def roles(guild_id: int, user_id: int) -> set[int] | None:
        found = await _fetch_member(bot, guild_id, user_id)
        if isinstance(found, discord.Member):
            return {role.id for role in found.roles}
        return set() if found is False else None
    return roles


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
