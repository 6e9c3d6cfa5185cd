"""Test doubles shared by service-level tests (no Discord)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import count

from bot.domain.messages import OutgoingMessage, SendResult, SendStatus


def names_in_text(value: object, user_id: int) -> bool:
    """Tell whether a stored value is text containing a Discord user id (a mention, a link, JSON)."""
    return isinstance(value, str) and re.search(rf"(?<![0-9]){user_id}(?![0-9])", value) is not None


@dataclass
class SentMessage:
    """One message the recording notifier delivered (or refused)."""

    target: str
    target_id: int
    message: OutgoingMessage
    nonce: str | None
    result: SendResult


@dataclass
class RecordingNotifier:
    """A Notifier that records sends and can simulate closed DMs and outages.

    Like Discord with `enforce_nonce`, a repeated nonce returns the first message
    instead of delivering a second one.
    """

    dm_closed: set[int] = field(default_factory=set)
    failing: set[int] = field(default_factory=set)
    transient_failures: int = 0
    sent: list[SentMessage] = field(default_factory=list)
    _ids: count = field(default_factory=lambda: count(1000))
    _by_nonce: dict[str, SendResult] = field(default_factory=dict)

    async def send_dm(self, user_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        """Record a DM."""
        if user_id in self.dm_closed:
            return self._record("dm", user_id, message, nonce, SendResult(SendStatus.DM_CLOSED, detail="50007"))
        return self._deliver("dm", user_id, message, nonce)

    async def send_channel(self, channel_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        """Record a channel post."""
        if channel_id in self.failing:
            return self._record("channel", channel_id, message, nonce, SendResult(SendStatus.FORBIDDEN))
        return self._deliver("channel", channel_id, message, nonce)

    def _deliver(self, target: str, target_id: int, message: OutgoingMessage, nonce: str | None) -> SendResult:
        if self.transient_failures > 0:
            self.transient_failures -= 1
            return self._record(target, target_id, message, nonce, SendResult(SendStatus.TRANSIENT, detail="503"))
        if nonce is not None and nonce in self._by_nonce:
            return self._by_nonce[nonce]
        result = SendResult(SendStatus.SENT, message_id=next(self._ids))
        if nonce is not None:
            self._by_nonce[nonce] = result
        return self._record(target, target_id, message, nonce, result)

    def _record(self, target: str, target_id: int, message: OutgoingMessage, nonce: str | None,
                result: SendResult) -> SendResult:
        self.sent.append(SentMessage(target, target_id, message, nonce, result))
        return result

    def delivered(self, target: str | None = None, target_id: int | None = None) -> list[SentMessage]:
        """Return successfully delivered messages, optionally filtered."""
        return [s for s in self.sent if s.result.ok
                and (target is None or s.target == target)
                and (target_id is None or s.target_id == target_id)]

    def dms_to(self, user_id: int) -> list[SentMessage]:
        """Return DMs delivered to a user."""
        return self.delivered("dm", user_id)

    def posts_in(self, channel_id: int) -> list[SentMessage]:
        """Return messages delivered to a channel."""
        return self.delivered("channel", channel_id)
