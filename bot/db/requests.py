"""What a buddy request and a mentee request share: one member asks another, who answers before it expires."""

from __future__ import annotations

from datetime import datetime

from bot.domain.keys import RowRef


class Request:
    """Base of a request row's dataclass: open until answered or expired, named by id and incarnation.

    Subclasses are frozen slots dataclasses with these fields, and say who asked and who was asked.
    """

    __slots__ = ()
    request_id: int
    guild_id: int
    status: str
    expires_at: datetime
    incarnation: str | None

    @property
    def asker_user(self) -> int:
        """The member who asked."""
        raise NotImplementedError

    @property
    def addressed_user(self) -> int:
        """The member who was asked, the only one whose answer counts."""
        raise NotImplementedError

    def is_open(self, now: datetime) -> bool:
        """Tell whether the request can still be answered."""
        return self.status == "pending" and now < self.expires_at

    @property
    def ref(self) -> RowRef:
        """How dedupe keys and buttons name this request (`bot.domain.keys`)."""
        return RowRef(self.request_id, self.incarnation)
