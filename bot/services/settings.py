"""Member settings (time zone, region, quiet hours, sharing) and server settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.db.guilds import GuildRepository
from bot.db.members import MemberRepository
from bot.domain.clock import Clock
from bot.domain.countries import find_country
from bot.domain.localtime import (
    InvalidTimeOfDayError,
    InvalidTimezoneError,
    parse_hhmm,
    zone,
)
from bot.domain.settings import GuildSettings, MemberSettings, ShareCheckins
from bot.errors import InvalidInputError

MemberListener = Callable[[MemberSettings], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class EffectiveMemberSettings:
    """A member's settings with the server's and config's defaults filled in."""

    member: MemberSettings
    timezone: str
    timezone_is_own: bool
    region: str | None
    region_source: str  # "member", "server", "none"

    @property
    def tz(self) -> ZoneInfo:
        """The member's zone."""
        return zone(self.timezone)


def parse_zone_option(text: str) -> str:
    """Validate a time zone typed by a member, with a kind error."""
    try:
        zone(text.strip())
    except InvalidTimezoneError:
        raise InvalidInputError(
            f"I don't recognise “{clip_for_reply(text)}” as a time zone. Pick one from the list as you "
            "type, like `Europe/London` or `America/New_York` (a city name, not an offset like +2)."
        ) from None
    return text.strip()


def parse_time_option(text: str, what: str = "time") -> str:
    """Validate an HH:MM time typed by a member, with a kind error; return it normalised."""
    try:
        parsed = parse_hhmm(text)
    except InvalidTimeOfDayError:
        raise InvalidInputError(
            f"The {what} needs to be a 24-hour time like `07:30` or `21:00`; “{clip_for_reply(text)}” isn't one."
        ) from None
    return f"{parsed.hour:02d}:{parsed.minute:02d}"


def parse_country_option(text: str) -> str:
    """Validate a country typed by a member (ISO code or name); return the ISO code."""
    country = find_country(text)
    if country is None:
        raise InvalidInputError(
            f"I couldn't find a country called “{clip_for_reply(text)}”. Try its two-letter code, like `GB`, "
            "`US` or `IN`, or pick one from the list as you type."
        )
    return country.code


def clip_for_reply(text: str, limit: int = 40) -> str:
    """Return what a person typed, safe to quote in a reply: printable, no backticks, at most `limit` long."""
    cleaned = "".join(ch for ch in str(text) if ch.isprintable()).replace("`", "'")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


class SettingsService:
    """Reads and changes member and server settings."""

    def __init__(self, members: MemberRepository, guilds: GuildRepository, clock: Clock,
                 config: Config) -> None:
        self.members = members
        self.guilds = guilds
        self.clock = clock
        self.config = config
        self._listeners: list[MemberListener] = []

    def on_change(self, listener: MemberListener) -> None:
        """Call `listener` after a member's zone or quiet hours change (e.g. to reschedule)."""
        self._listeners.append(listener)

    async def _changed(self, member: MemberSettings) -> MemberSettings:
        for listener in self._listeners:
            await listener(member)
        return member

    async def touch(self, guild_id: int, user_id: int) -> MemberSettings:
        """Record that a member used the bot (creating their row on first use)."""
        return await self.members.touch(guild_id, user_id, self.clock.now())

    async def guild(self, guild_id: int) -> GuildSettings:
        """Return a server's settings, creating its row on first use."""
        return await self.guilds.ensure(guild_id, self.clock.now())

    def guild_timezone(self, guild: GuildSettings) -> str:
        """The server's zone, or the config default."""
        return guild.timezone or self.config.defaults.timezone

    def guild_region(self, guild: GuildSettings) -> str | None:
        """The server's default country, or the config default, or None."""
        return guild.region or self.config.defaults.region or None

    async def effective(self, guild_id: int, user_id: int) -> EffectiveMemberSettings:
        """Return a member's settings with defaults resolved (member → server → config)."""
        member = await self.touch(guild_id, user_id)
        guild = await self.guild(guild_id)
        region, source = (member.region, "member") if member.region else (
            (self.guild_region(guild), "server") if self.guild_region(guild) else (None, "none"))
        return EffectiveMemberSettings(
            member=member,
            timezone=member.timezone or self.guild_timezone(guild),
            timezone_is_own=member.timezone is not None,
            region=region,
            region_source=source,
        )

    async def set_timezone(self, guild_id: int, user_id: int, tz: str) -> MemberSettings:
        """Set a member's IANA time zone."""
        name = parse_zone_option(tz)
        await self.touch(guild_id, user_id)
        return await self._changed(await self.members.update(guild_id, user_id, timezone=name))

    async def set_region(self, guild_id: int, user_id: int, country: str) -> MemberSettings:
        """Set a member's country (for crisis resources)."""
        code = parse_country_option(country)
        await self.touch(guild_id, user_id)
        return await self.members.update(guild_id, user_id, region=code)

    async def set_quiet_hours(self, guild_id: int, user_id: int, start: str, end: str) -> MemberSettings:
        """Set quiet hours (no automatic DMs); equal start and end turn them off."""
        start_text = parse_time_option(start, "start time")
        end_text = parse_time_option(end, "end time")
        await self.touch(guild_id, user_id)
        if start_text == end_text:
            return await self._changed(await self.members.update(guild_id, user_id, quiet_start=None, quiet_end=None))
        return await self._changed(await self.members.update(guild_id, user_id, quiet_start=start_text, quiet_end=end_text))

    async def set_crisis_replies(self, guild_id: int, user_id: int, on: bool) -> MemberSettings:
        """Turn automatic crisis-support DMs on or off (moderator alerts are unaffected)."""
        await self.touch(guild_id, user_id)
        return await self.members.update(guild_id, user_id, crisis_replies=on)

    async def set_share_checkins(self, guild_id: int, user_id: int, share: str) -> MemberSettings:
        """Choose who may see check-in days and streak."""
        try:
            value = ShareCheckins(share)
        except ValueError:
            raise InvalidInputError("Choose `nobody` or `buddies`.") from None
        await self.touch(guild_id, user_id)
        return await self.members.update(guild_id, user_id, share_checkins=value.value)
