"""Server configuration changed by moderators (`/config …`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.config import Config
from bot.db.guilds import GuildRepository
from bot.domain.clock import Clock
from bot.domain.localtime import format_hhmm, parse_hhmm
from bot.domain.settings import GuildSettings
from bot.errors import InvalidInputError
from bot.services.settings import parse_country_option, parse_time_option, parse_zone_option

GuildListener = Callable[[GuildSettings], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class GuildConfigView:
    """A server's effective configuration, defaults resolved, for `/config show`."""

    guild: GuildSettings
    timezone: str
    region: str | None
    checkin_time: str
    celebration_hour: int
    buddy_nudge_after_days: int
    buddy_max: int
    buddy_matching: bool
    mentors_enabled: bool
    mentor_role_id: int | None
    mentor_min_days: int


class GuildConfigService:
    """Applies moderator configuration and tells interested features about changes."""

    def __init__(self, guilds: GuildRepository, clock: Clock, config: Config) -> None:
        self.guilds = guilds
        self.clock = clock
        self.config = config
        self._listeners: list[GuildListener] = []

    def on_change(self, listener: GuildListener) -> None:
        """Call `listener` with the new settings after every change (e.g. to reschedule)."""
        self._listeners.append(listener)

    async def get(self, guild_id: int) -> GuildSettings:
        """Return a server's stored settings (created on first use)."""
        return await self.guilds.ensure(guild_id, self.clock.now())

    async def view(self, guild_id: int) -> GuildConfigView:
        """Return a server's effective configuration."""
        return self.resolve(await self.get(guild_id))

    def resolve(self, guild: GuildSettings) -> GuildConfigView:
        """Fill a server's unset settings from the config file's defaults."""
        d = self.config.defaults
        b = self.config.buddies
        return GuildConfigView(
            guild=guild,
            timezone=guild.timezone or d.timezone,
            region=guild.region or d.region or None,
            checkin_time=format_hhmm(guild.checkin_time or parse_hhmm(d.prompt_time)),
            celebration_hour=d.celebration_hour if guild.celebration_hour is None else guild.celebration_hour,
            buddy_nudge_after_days=guild.buddy_nudge_after_days or b.nudge_after_days,
            buddy_max=guild.buddy_max or b.max_buddies,
            buddy_matching=b.matching if guild.buddy_matching is None else guild.buddy_matching,
            mentors_enabled=self.config.mentors.enabled if guild.mentors_enabled is None else guild.mentors_enabled,
            mentor_role_id=guild.mentor_role_id,
            mentor_min_days=self.config.mentors.min_days if guild.mentor_min_days is None else guild.mentor_min_days,
        )

    async def _update(self, guild_id: int, **values: object) -> GuildConfigView:
        now = self.clock.now()
        await self.guilds.ensure(guild_id, now)
        updated = await self.guilds.update(guild_id, now, **values)
        for listener in self._listeners:
            await listener(updated)
        return self.resolve(updated)

    async def set_checkins(self, guild_id: int, *, channel_id: int, time: str, timezone: str,
                           enabled: bool | None = None) -> GuildConfigView:
        """Set the check-in channel, prompt time and server zone (enabling prompts by default)."""
        return await self._update(
            guild_id,
            checkin_channel_id=channel_id,
            checkin_time=parse_time_option(time, "prompt time"),
            timezone=parse_zone_option(timezone),
            checkin_enabled=True if enabled is None else enabled,
        )

    async def set_celebrations(self, guild_id: int, *, channel_id: int,
                               hour: int | None = None) -> GuildConfigView:
        """Set where public milestone celebrations go (and optionally from which local hour)."""
        values: dict[str, object] = {"celebrations_channel_id": channel_id}
        if hour is not None:
            if not 0 <= hour <= 23:
                raise InvalidInputError("The celebration hour is a whole hour from 0 to 23.")
            values["celebration_hour"] = hour
        return await self._update(guild_id, **values)

    async def set_alerts(self, guild_id: int, *, channel_id: int, role_id: int | None) -> GuildConfigView:
        """Set the moderators' alert channel and the role pinged for urgent alerts."""
        if role_id == guild_id:
            # The @everyone role's id is the server's id: an urgent alert must reach the
            # responders, never ping the whole server.
            raise InvalidInputError("Please choose a responder role (like your moderators' role), "
                                    "not @everyone — urgent alerts should reach the people who respond.")
        return await self._update(guild_id, alerts_channel_id=channel_id, alerts_role_id=role_id)

    async def set_crisis(self, guild_id: int, *, detection: bool, region: str | None = None,
                         public_nudge: bool | None = None, tier1_replies: bool | None = None) -> GuildConfigView:
        """Turn passive detection on or off; optionally set the default country, public nudges and tier-1 DMs."""
        values: dict[str, object] = {"crisis_detection": detection}
        if region is not None:
            values["region"] = parse_country_option(region)
        if public_nudge is not None:
            values["crisis_public_nudge"] = public_nudge
        if tier1_replies is not None:
            values["crisis_tier1_replies"] = tier1_replies
        return await self._update(guild_id, **values)

    async def set_buddies(self, guild_id: int, *, nudge_after_days: int | None = None,
                          max_buddies: int | None = None, matching: bool | None = None) -> GuildConfigView:
        """Change buddy settings; options left out keep their value."""
        values: dict[str, object] = {}
        if nudge_after_days is not None:
            if not 1 <= nudge_after_days <= 14:
                raise InvalidInputError("`nudge_after_days` is from 1 to 14.")
            values["buddy_nudge_after_days"] = nudge_after_days
        if max_buddies is not None:
            if not 1 <= max_buddies <= 5:
                raise InvalidInputError("`max_buddies` is from 1 to 5.")
            values["buddy_max"] = max_buddies
        if matching is not None:
            values["buddy_matching"] = matching
        return await self._update(guild_id, **values)

    async def set_mentors(self, guild_id: int, *, enabled: bool | None = None, role_id: int | None = None,
                          min_days: int | None = None) -> GuildConfigView:
        """Change mentor settings; options left out keep their value. The @everyone role removes the role rule."""
        values: dict[str, object] = {}
        if enabled is not None:
            values["mentors_enabled"] = enabled
        if role_id is not None:
            # @everyone's id is the server's: "everyone may offer", i.e. no role needed.
            values["mentor_role_id"] = None if role_id == guild_id else role_id
        if min_days is not None:
            if not 0 <= min_days <= 3650:
                raise InvalidInputError("`min_days` is from 0 to 3650.")
            values["mentor_min_days"] = min_days
        return await self._update(guild_id, **values)
