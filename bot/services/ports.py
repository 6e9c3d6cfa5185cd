"""Ports: what services need from the outside world, without naming Discord."""

from __future__ import annotations

from typing import Protocol

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
