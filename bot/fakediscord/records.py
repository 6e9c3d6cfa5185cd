"""What the fake saw, and waiting for it without sleeping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class UploadedFile:
    field: str
    filename: str
    data: bytes
    content_type: str | None


@dataclass
class RequestRecord:
    """One REST request as the fake received it."""

    method: str
    path: str  # without the /api/v10 prefix, e.g. /channels/123/messages
    route: str  # the template, e.g. /channels/{channel_id}/messages
    query: dict[str, str]
    json: Any = None  # the JSON body, or `payload_json` of a multipart body
    files: list[UploadedFile] = field(default_factory=list)
    status: int = 0
    response: Any = None
    at: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> str:
        return f"{self.method} {self.route}"

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} -> {self.status}>"


@dataclass
class GatewayRecord:
    """One gateway frame: direction 'recv' (from the client) or 'send' (to it)."""

    direction: str
    op: int
    event: str | None
    data: Any
    session_id: str | None
    at: float = field(default_factory=time.monotonic)

    def __repr__(self) -> str:
        return f"<{self.direction} op={self.op} {self.event or ''}>"


class Changes:
    """Wake waiters whenever something is recorded.

    Waiters also re-check every `poll` seconds, so predicates over state the fake does not own
    (e.g. the client's caches) resolve promptly too.
    """

    poll = 0.02

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], T], *, timeout: float = 10.0, what: str | None = None) -> T:
        """Return the first truthy value of `predicate()`, re-checked after each change; fail after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._event
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what or getattr(predicate, '__name__', 'condition')}")
            try:
                await asyncio.wait_for(event.wait(), min(remaining, self.poll))
            except TimeoutError:
                pass
