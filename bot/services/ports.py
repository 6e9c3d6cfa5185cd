"""Ports: what services need from the outside world, without naming Discord."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.domain.meetings import ChannelKind, EventOutcome, EventResult, EventSpec
from bot.domain.messages import OutgoingMessage, SendResult


class Notifier(Protocol):
    """Delivers messages. The Discord implementation lives beside the bot class."""

    async def send_dm(self, user_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        """Send a direct message to a user."""
        ...

    async def send_channel(self, channel_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        """Post a message in a channel."""
        ...


class NoSending:
    """A Notifier for processes that must never send (`status`, benchmarks of deciding and queueing)."""

    async def send_dm(self, user_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        """Refuse: nothing may be sent from here."""
        raise RuntimeError("this process does not send messages")

    async def send_channel(self, channel_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        """Refuse: nothing may be sent from here."""
        raise RuntimeError("this process does not send messages")


class ScheduledEvents(Protocol):
    """Publishes meetings as the server's scheduled events. The Discord implementation lives beside the bot class."""

    def missing_permissions(self, guild_id: int, channel_id: int | None, kind: ChannelKind | None) -> list[str] | None:
        """Name the permissions the bot lacks to publish an event there (None: it cannot tell)."""
        ...

    async def create(self, guild_id: int, spec: EventSpec) -> EventResult:
        """Create a scheduled event."""
        ...

    async def fetch(self, guild_id: int, event_id: int) -> EventResult:
        """Read an event's status (NOT_FOUND once it is deleted)."""
        ...

    async def find(self, guild_id: int, name: str, start: datetime) -> EventResult:
        """Find an open event the bot created with this name and start (one made before a crash); NOT_FOUND if none."""
        ...

    async def delete(self, guild_id: int, event_id: int) -> EventResult:
        """Delete an event (NOT_FOUND if it is already gone)."""
        ...


class NoScheduledEvents:
    """ScheduledEvents for processes that never publish (`status`, benchmarks): every request is refused as transient."""

    def missing_permissions(self, guild_id: int, channel_id: int | None, kind: ChannelKind | None) -> list[str] | None:
        """Cannot tell."""
        return None

    async def create(self, guild_id: int, spec: EventSpec) -> EventResult:
        """Refuse."""
        return EventResult(EventOutcome.TRANSIENT, detail="no events here")

    async def fetch(self, guild_id: int, event_id: int) -> EventResult:
        """Refuse."""
        return EventResult(EventOutcome.TRANSIENT, detail="no events here")

    async def find(self, guild_id: int, name: str, start: datetime) -> EventResult:
        """Refuse."""
        return EventResult(EventOutcome.TRANSIENT, detail="no events here")

    async def delete(self, guild_id: int, event_id: int) -> EventResult:
        """Refuse."""
        return EventResult(EventOutcome.TRANSIENT, detail="no events here")


class Metrics(Protocol):
    """Counts what the services do, for Prometheus (`bot.metrics`); never given a member's id or text.

    Every label is a fixed name from code — a command, an outbox kind, a sweep, an outcome —
    so nothing about a member can reach a scrape.
    """

    @property
    def observing(self) -> bool:
        """Whether anyone reads these (metrics on): then the scheduler also reads lag and backlog each minute."""
        ...

    def checkin_recorded(self) -> None:
        """A check-in was committed."""
        ...

    def outbox_result(self, kind: str, outcome: str) -> None:
        """A queued message of this kind was sent, or refused (`outcome` is a `SendStatus` value)."""
        ...

    def outbox_backlog(self, waiting: int, oldest_age_seconds: float) -> None:
        """Messages whose time has come and are not sent yet, and how long the oldest has waited."""
        ...

    def sweep_ran(self, sweep: str, interval_seconds: int, seconds: float, error: str | None) -> None:
        """A sweep that runs every `interval_seconds` ran for `seconds` (real time); `error`: exception class or None."""
        ...

    def sweep_lag(self, sweep: str, seconds: float) -> None:
        """How late the sweep's earliest unhandled due work is (0 when nothing is overdue)."""
        ...

    def crisis_alert_raised(self, source: str, tier: int) -> None:
        """A crisis alert was recorded (`source`: detection or request)."""
        ...

    def crisis_alert_answered(self, source: str, tier: int, seconds: float) -> None:
        """A moderator first acted on an alert (acknowledged, resolved or marked false) `seconds` after it was raised."""
        ...

    def database_unavailable(self, where: str) -> None:
        """Work failed because the database could not be reached (`where`: command, sweep, outbox, startup)."""
        ...

    def database_state(self, available: bool) -> None:
        """The scheduler's view, once a minute, of whether the database is reachable."""
        ...


class NullMetrics:
    """Metrics off (KINDRED_METRICS_ADDR unset): every call does nothing."""

    observing = False

    def checkin_recorded(self) -> None:
        """Do nothing."""

    def outbox_result(self, kind: str, outcome: str) -> None:
        """Do nothing."""

    def outbox_backlog(self, waiting: int, oldest_age_seconds: float) -> None:
        """Do nothing."""

    def sweep_ran(self, sweep: str, interval_seconds: int, seconds: float, error: str | None) -> None:
        """Do nothing."""

    def sweep_lag(self, sweep: str, seconds: float) -> None:
        """Do nothing."""

    def crisis_alert_raised(self, source: str, tier: int) -> None:
        """Do nothing."""

    def crisis_alert_answered(self, source: str, tier: int, seconds: float) -> None:
        """Do nothing."""

    def database_unavailable(self, where: str) -> None:
        """Do nothing."""

    def database_state(self, available: bool) -> None:
        """Do nothing."""
