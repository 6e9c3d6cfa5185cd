"""The ScheduledEvents port implemented with discord.py's HTTP client.

Requests go straight through `client.http` with ids, so nothing depends on a cache of
scheduled events: the bot runs without the GUILD_SCHEDULED_EVENTS intent and asks Discord
on its own schedule instead (see `bot.services.meetings`). The permission check before
`/meeting add` reads the cached server (channels, roles and the bot's own member come
with the `guilds` intent) and names what Discord would refuse.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import aiohttp
import discord

from bot.discord_notifier import RequestPacer
from bot.domain.meetings import ChannelKind, EventOutcome, EventResult, EventSpec, EventStatus

log = logging.getLogger(__name__)

GUILD_ONLY = 2
ENTITY_TYPES = {ChannelKind.STAGE: 1, ChannelKind.VOICE: 2, None: 3}
STATUSES = {1: EventStatus.SCHEDULED, 2: EventStatus.ACTIVE, 3: EventStatus.COMPLETED, 4: EventStatus.CANCELED}
OPEN = (1, 2)
# What Discord asks of the bot in the event's channel besides Manage (or Create) Events.
CHANNEL_NEEDS: dict[ChannelKind, tuple[tuple[str, str], ...]] = {
    ChannelKind.VOICE: (("view_channel", "View Channel"), ("connect", "Connect")),
    ChannelKind.STAGE: (("view_channel", "View Channel"), ("manage_channels", "Manage Channels"),
                        ("mute_members", "Mute Members"), ("move_members", "Move Members")),
}


def _result(data: dict[str, Any]) -> EventResult:
    return EventResult(EventOutcome.OK, int(data["id"]), STATUSES.get(int(data.get("status", 1))))


def _failure(exc: BaseException, what: str, guild_id: int) -> EventResult:
    if isinstance(exc, discord.Forbidden):
        log.warning("scheduled event %s refused in guild %s: missing permissions (%s)", what, guild_id, exc.code)
        return EventResult(EventOutcome.FORBIDDEN, detail=str(exc.code))
    if isinstance(exc, discord.NotFound):
        return EventResult(EventOutcome.NOT_FOUND, detail=str(exc.code))
    if isinstance(exc, discord.HTTPException) and exc.status < 500 and exc.status != 429:
        log.warning("scheduled event %s rejected in guild %s: %s/%s", what, guild_id, exc.status, exc.code)
        return EventResult(EventOutcome.INVALID, detail=f"{exc.status}/{exc.code}")
    log.warning("scheduled event %s in guild %s: Discord unreachable or busy (%s)", what, guild_id, type(exc).__name__)
    return EventResult(EventOutcome.TRANSIENT, detail=type(exc).__name__)


class DiscordScheduledEvents:
    """Creates, reads and deletes a server's scheduled events."""

    def __init__(self, client: discord.Client, *, pacer: RequestPacer | None = None) -> None:
        self.client = client
        self.pacer = pacer or RequestPacer()

    def missing_permissions(self, guild_id: int, channel_id: int | None, kind: ChannelKind | None) -> list[str] | None:
        """Name what the bot lacks to publish an event there (None when the server or channel is not cached)."""
        guild = self.client.get_guild(guild_id)
        me = guild.me if guild is not None else None
        if guild is None or me is None:
            return None
        if kind is None or channel_id is None:
            perms = me.guild_permissions
        else:
            channel = guild.get_channel(channel_id)
            if channel is None:
                return None
            perms = channel.permissions_for(me)
        missing = [] if perms.manage_events or perms.create_events else ["Manage Events"]
        for flag, name in CHANNEL_NEEDS.get(kind, ()) if kind is not None else ():
            if not getattr(perms, flag):
                missing.append(name)
        return missing

    async def _call(self, what: str, guild_id: int, request: Any) -> tuple[Any, EventResult | None]:
        await self.pacer.wait()
        try:
            return await request, None
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            return None, _failure(exc, what, guild_id)

    async def create(self, guild_id: int, spec: EventSpec) -> EventResult:
        """Create the event for one occurrence."""
        payload: dict[str, Any] = {
            "name": spec.name, "privacy_level": GUILD_ONLY, "entity_type": ENTITY_TYPES[spec.channel_kind],
            "scheduled_start_time": spec.start.isoformat(), "scheduled_end_time": spec.end.isoformat(),
        }
        if spec.description:
            payload["description"] = spec.description
        if spec.channel_kind is None:
            payload["entity_metadata"] = {"location": spec.location}
        else:
            payload["channel_id"] = spec.channel_id
        data, failed = await self._call("create", guild_id, self.client.http.create_guild_scheduled_event(
            guild_id, **payload))
        return failed or _result(data)

    async def fetch(self, guild_id: int, event_id: int) -> EventResult:
        """Read an event's status."""
        data, failed = await self._call("fetch", guild_id, self.client.http.get_scheduled_event(
            guild_id, event_id, False))
        return failed or _result(data)

    async def find(self, guild_id: int, name: str, start: datetime) -> EventResult:
        """Find an open event this bot created with this name and start."""
        data, failed = await self._call("list", guild_id, self.client.http.get_scheduled_events(guild_id, False))
        if failed is not None:
            return failed
        me = self.client.user.id if self.client.user else None
        for event in data:
            if (event.get("name") == name and int(event.get("status", 0)) in OPEN
                    and event.get("creator_id") is not None and int(event["creator_id"]) == me
                    and datetime.fromisoformat(event["scheduled_start_time"]) == start):
                return _result(event)
        return EventResult(EventOutcome.NOT_FOUND)

    async def delete(self, guild_id: int, event_id: int) -> EventResult:
        """Delete an event."""
        _, failed = await self._call("delete", guild_id, self.client.http.delete_scheduled_event(guild_id, event_id))
        return failed or EventResult(EventOutcome.OK, event_id)
