"""Guild scheduled events: Discord's validation and permission rules, and the gateway events.

Routes (in rest.py): GET/POST /guilds/{guild_id}/scheduled-events and GET/PATCH/DELETE
/guilds/{guild_id}/scheduled-events/{event_id}. Rules modelled on Discord's documentation:

- Fields: name 1-100 characters, description up to 1000, privacy level 2 (guild only), a start
  time in the future (by `fake.clock`, so tests on a fake clock agree with the bot) and an end
  after it. EXTERNAL events need `entity_metadata.location` (1-100) and an end time and have no
  channel; VOICE events need a voice channel, STAGE_INSTANCE events a stage channel.
- At most 100 scheduled or active events per server (30038).
- Status moves only SCHEDULED -> ACTIVE, SCHEDULED -> CANCELED, ACTIVE -> COMPLETED; a finished
  event cannot be changed (180000), and only a scheduled event's start may move.
- The bot's permissions: creating needs Create Events (Manage Events, which Discord migrated to
  include it, is accepted too); changing or deleting an event the bot created needs either,
  anyone else's needs Manage Events. Guild-level for EXTERNAL; in the event's channel for the
  others, which also need View Channel and Connect (VOICE) or Manage Channels, Mute Members and
  Move Members (STAGE_INSTANCE). Missing ones: 403/50013.
- GET of a deleted event: 404/10070. Lists show scheduled and active events only.
- GUILD_SCHEDULED_EVENT_CREATE/UPDATE/DELETE go only to sessions with the GUILD_SCHEDULED_EVENTS
  intent (1 << 16), as on Discord.

Not modelled: Discord's own status automation (external events starting and ending by
themselves, unstarted events cancelled hours later, voice and stage events ending when the
channel empties); tests move an event's status with `fake.set_event_status`. Nor recurrence
rules, cover images, or the users subscribed to an event beyond a `user_count`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .state import (
    ACTIVE,
    CANCELED,
    COMPLETED,
    CONNECT,
    CREATE_EVENTS,
    EXTERNAL,
    GUILD_ONLY,
    GUILD_STAGE_VOICE,
    GUILD_VOICE,
    INTENT_GUILD_SCHEDULED_EVENTS,
    MANAGE_CHANNELS,
    MANAGE_EVENTS,
    MOVE_MEMBERS,
    MUTE_MEMBERS,
    SCHEDULED,
    STAGE_INSTANCE,
    VIEW_CHANNEL,
    VOICE_EVENT,
    ApiError,
    Guild,
    ScheduledEvent,
)

if TYPE_CHECKING:
    from .server import FakeDiscord

MAX_OPEN_EVENTS = 100
TRANSITIONS = {(SCHEDULED, ACTIVE), (SCHEDULED, CANCELED), (ACTIVE, COMPLETED)}
CHANNEL_TYPE_FOR = {VOICE_EVENT: GUILD_VOICE, STAGE_INSTANCE: GUILD_STAGE_VOICE}
# What the bot needs in the event's channel besides the event permission itself.
CHANNEL_NEEDS = {VOICE_EVENT: VIEW_CHANNEL | CONNECT, STAGE_INSTANCE: VIEW_CHANNEL | MANAGE_CHANNELS | MUTE_MEMBERS | MOVE_MEMBERS}


def invalid(field: str, code: str, message: str) -> ApiError:
    """Discord's 400/50035 with the field's nested error, as discord.py prints it."""
    return ApiError(400, 50035, "Invalid Form Body", errors={field: {"_errors": [{"code": code, "message": message}]}})


def _time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise invalid(field, "DATE_TIME_TYPE_CONVERT", "Could not interpret the value as a date-time.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(field, "DATE_TIME_TYPE_CONVERT", "Could not interpret the value as a date-time.") from None
    if parsed.tzinfo is None:
        raise invalid(field, "DATE_TIME_TYPE_CONVERT", "Could not interpret the value as a date-time.")
    return parsed


def _text(value: Any, field: str, low: int, high: int) -> str:
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise invalid(field, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
    return value


class ScheduledEvents:
    """The scheduled-events routes and the test-facing actions on events."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.world = fake.world

    # -- lookups ---------------------------------------------------------------------------------

    def event(self, guild: Guild, event_id: int | str) -> ScheduledEvent:
        event = self.world.scheduled_events.get(int(event_id))
        if event is None or event.deleted or event.guild_id != guild.id:
            raise ApiError(404, 10070, "Unknown Guild Scheduled Event")
        return event

    def in_guild(self, guild: Guild, *, include_closed: bool = False) -> list[ScheduledEvent]:
        return [e for e in self.world.scheduled_events.values()
                if e.guild_id == guild.id and not e.deleted and (include_closed or e.is_open)]

    # -- permissions -----------------------------------------------------------------------------

    def _bot_permissions(self, guild: Guild, entity_type: int, channel_id: int | None) -> int:
        bot = self.world.bot
        if entity_type == EXTERNAL or channel_id is None:
            return guild.base_permissions(bot)
        channel = guild.channel_by_id(channel_id)
        return guild.base_permissions(bot) if channel is None else guild.permissions_in(channel, bot)

    def _require(self, guild: Guild, entity_type: int, channel_id: int | None, *, event: ScheduledEvent | None) -> None:
        perms = self._bot_permissions(guild, entity_type, channel_id)
        if event is None or event.creator_id == self.world.bot.id:
            allowed = bool(perms & (CREATE_EVENTS | MANAGE_EVENTS))
        else:
            allowed = bool(perms & MANAGE_EVENTS)
        extra = CHANNEL_NEEDS.get(entity_type, 0)
        if not allowed or perms & extra != extra:
            raise ApiError(403, 50013, "Missing Permissions")

    def _can_view(self, guild: Guild, event: ScheduledEvent) -> bool:
        if event.entity_type == EXTERNAL or event.channel_id is None:
            return True
        return bool(self._bot_permissions(guild, event.entity_type, event.channel_id) & VIEW_CHANNEL)

    # -- validation ------------------------------------------------------------------------------

    def _check_entity(self, guild: Guild, entity_type: int, channel_id: Any, location: Any, end: datetime | None) -> tuple[int | None, str | None]:
        if entity_type not in (STAGE_INSTANCE, VOICE_EVENT, EXTERNAL):
            raise invalid("entity_type", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3}.")
        if entity_type == EXTERNAL:
            if channel_id is not None:
                raise invalid("channel_id", "GUILD_SCHEDULED_EVENT_CHANNEL_NOT_ALLOWED", "External events cannot have a channel.")
            if end is None:
                raise invalid("scheduled_end_time", "BASE_TYPE_REQUIRED", "This field is required")
            return None, _text(location, "entity_metadata.location", 1, 100)
        if channel_id is None:
            raise invalid("channel_id", "BASE_TYPE_REQUIRED", "This field is required")
        channel = guild.channel_by_id(int(channel_id))
        if channel is None:
            raise invalid("channel_id", "GUILD_SCHEDULED_EVENT_INVALID_CHANNEL", "Unknown channel.")
        if channel.type != CHANNEL_TYPE_FOR[entity_type]:
            raise invalid("channel_id", "GUILD_SCHEDULED_EVENT_INVALID_CHANNEL_TYPE",
                          "The channel type does not match the event's entity type.")
        return channel.id, None

    def _future(self, start: datetime) -> None:
        if start <= self.fake.clock():
            raise invalid("scheduled_start_time", "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST", "Cannot schedule event in the past.")

    # -- routes ------------------------------------------------------------------------------------

    def list_events(self, guild: Guild, query: dict[str, str]) -> list[dict[str, Any]]:
        counts = query.get("with_user_count") in ("1", "true", "True")
        return [e.payload(self.world.users, with_user_count=counts) for e in self.in_guild(guild) if self._can_view(guild, e)]

    def get_event(self, guild: Guild, event_id: str, query: dict[str, str]) -> dict[str, Any]:
        event = self.event(guild, event_id)
        if not self._can_view(guild, event):
            raise ApiError(403, 50001, "Missing Access")
        return event.payload(self.world.users, with_user_count=query.get("with_user_count") in ("1", "true", "True"))

    async def create(self, guild: Guild, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        name = _text(body.get("name"), "name", 1, 100)
        if body.get("privacy_level") != GUILD_ONLY:
            raise invalid("privacy_level", "BASE_TYPE_CHOICES", "Value must be one of {2}.")
        entity_type = body.get("entity_type")
        start = _time(body.get("scheduled_start_time"), "scheduled_start_time")
        end = _time(body["scheduled_end_time"], "scheduled_end_time") if body.get("scheduled_end_time") is not None else None
        description = body.get("description")
        if description is not None:
            description = _text(description, "description", 0, 1000) or None
        metadata = body.get("entity_metadata") or {}
        channel_id, location = self._check_entity(guild, entity_type, body.get("channel_id"),  # type: ignore[arg-type]
                                                  metadata.get("location") if isinstance(metadata, dict) else None, end)
        self._require(guild, entity_type, channel_id, event=None)  # type: ignore[arg-type]
        self._future(start)
        if end is not None and end <= start:
            raise invalid("scheduled_end_time", "GUILD_SCHEDULED_EVENT_END_BEFORE_START", "The end must be after the start.")
        if len(self.in_guild(guild)) >= MAX_OPEN_EVENTS:
            raise ApiError(400, 30038, "Maximum number of guild events reached (100)")
        event = ScheduledEvent(self.world.snowflake(), guild.id, name, entity_type, start, end,  # type: ignore[arg-type]
                               channel_id=channel_id, location=location, description=description,
                               creator_id=self.world.bot.id)
        self.world.scheduled_events[event.id] = event
        await self.dispatch("GUILD_SCHEDULED_EVENT_CREATE", event)
        return event.payload(self.world.users)

    async def modify(self, guild: Guild, event_id: str, body: Any) -> dict[str, Any]:
        event = self.event(guild, event_id)
        if not isinstance(body, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        self._require(guild, event.entity_type, event.channel_id, event=event)
        if event.status in (COMPLETED, CANCELED):
            raise ApiError(400, 180000, "Cannot update a finished event")
        name = _text(body["name"], "name", 1, 100) if "name" in body else event.name
        if "privacy_level" in body and body["privacy_level"] != GUILD_ONLY:
            raise invalid("privacy_level", "BASE_TYPE_CHOICES", "Value must be one of {2}.")
        start = _time(body["scheduled_start_time"], "scheduled_start_time") if "scheduled_start_time" in body else event.start
        end = event.end
        if "scheduled_end_time" in body:
            end = None if body["scheduled_end_time"] is None else _time(body["scheduled_end_time"], "scheduled_end_time")
        description = event.description
        if "description" in body:
            description = None if body["description"] is None else (_text(body["description"], "description", 0, 1000) or None)
        entity_type = body.get("entity_type", event.entity_type)
        channel_id: Any = body["channel_id"] if "channel_id" in body else event.channel_id
        metadata = body.get("entity_metadata")
        location = metadata.get("location") if isinstance(metadata, dict) else event.location
        if entity_type != EXTERNAL:
            location = None  # Discord silently discards entity_metadata of non-external events
        channel_id, location = self._check_entity(guild, entity_type, channel_id, location, end)
        if (entity_type, channel_id) != (event.entity_type, event.channel_id):
            self._require(guild, entity_type, channel_id, event=event)
        status = body.get("status", event.status)
        if status != event.status and (event.status, status) not in TRANSITIONS:
            raise invalid("status", "GUILD_SCHEDULED_EVENT_INVALID_STATUS_TRANSITION", "Invalid status transition.")
        if start != event.start:
            if event.status != SCHEDULED:
                raise invalid("scheduled_start_time", "GUILD_SCHEDULED_EVENT_CANNOT_RESCHEDULE", "Only a scheduled event can move.")
            self._future(start)
        if end is not None and end <= start:
            raise invalid("scheduled_end_time", "GUILD_SCHEDULED_EVENT_END_BEFORE_START", "The end must be after the start.")
        event.history.append(event.payload(self.world.users))
        event.name, event.start, event.end, event.description = name, start, end, description
        event.entity_type, event.channel_id, event.location, event.status = entity_type, channel_id, location, status
        await self.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", event)
        return event.payload(self.world.users)

    async def delete(self, guild: Guild, event_id: str) -> None:
        event = self.event(guild, event_id)
        self._require(guild, event.entity_type, event.channel_id, event=event)
        event.deleted = True
        await self.dispatch("GUILD_SCHEDULED_EVENT_DELETE", event)

    # -- the gateway -------------------------------------------------------------------------------

    async def dispatch(self, name: str, event: ScheduledEvent) -> None:
        payload = event.payload(self.world.users)
        await self.fake.gateway.dispatch(
            name, lambda session: payload if session.intents & INTENT_GUILD_SCHEDULED_EVENTS else None,
            guild_id=int(payload["guild_id"]))
        self.fake.changes.notify()
