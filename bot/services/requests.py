"""Answering a request addressed to you: what buddy requests and mentee requests share.

A member answers with `/… accept` or `/… decline` in the server (the only open request, or the
one from a named member) or with the buttons of the request's DM, which name the request by id
and incarnation (`bot.domain.keys`). The feature's service says what answering does (`_answer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from bot.db.members import MemberRepository
from bot.db.requests import Request
from bot.domain.clock import Clock
from bot.domain.keys import RowRef
from bot.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError

R = TypeVar("R", bound=Request)
R_co = TypeVar("R_co", bound=Request, covariant=True)
WHICH_REQUEST = "You have requests from {users}. Which one? Add `member:` to choose."
WHICH_REQUEST_SHOWN = 10  # anyone may ask, so the list is unbounded; a reply holds 2,000 characters


@dataclass(frozen=True, slots=True)
class RequestWords:
    """What a member is told when their answer cannot be taken (each feature words its own)."""

    no_requests: str
    none_from: str  # {user}
    gone: str
    old_button: str
    not_yours: str


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    """The result of accepting or declining a request."""

    request_id: int
    guild_id: int
    asker_user: int
    accepted: bool


class _Addressee(Protocol):
    @property
    def member_id(self) -> int: ...


class RequestSource(Protocol[R_co]):
    """Where a feature's requests are read."""

    async def request(self, request_id: int, /) -> R_co | None: ...

    async def incoming(self, member_id: int, now: datetime, /) -> Sequence[R_co]: ...


class AnswersRequests(Generic[R]):
    """Mixin for a service whose members answer requests: finds the request the answer is for."""

    words: RequestWords
    repo: RequestSource[R]
    members: MemberRepository
    clock: Clock

    async def _actor(self, guild_id: int, user_id: int) -> _Addressee:
        raise NotImplementedError

    async def _answer(self, request: R, *, accept: bool) -> AnswerOutcome:
        raise NotImplementedError

    async def accept(self, guild_id: int, user_id: int, from_user: int | None = None) -> AnswerOutcome:
        """Accept an open request (the only one, or the one from `from_user`)."""
        return await self._answer(await self._pick_incoming(guild_id, user_id, from_user), accept=True)

    async def decline(self, guild_id: int, user_id: int, from_user: int | None = None) -> AnswerOutcome:
        """Decline an open request (the only one, or the one from `from_user`)."""
        return await self._answer(await self._pick_incoming(guild_id, user_id, from_user), accept=False)

    async def answer_by_button(self, ref: RowRef, user_id: int, *, accept: bool) -> AnswerOutcome:
        """Accept or decline from the DM's buttons; only the addressed member's click counts.

        The button names the request by id and incarnation, so a DM whose request is gone never
        answers a later request that was given the same id. A button from before incarnations
        names only an id, which may be such a later request's: it answers nothing.
        """
        if ref.incarnation is None:
            raise ConflictError(self.words.old_button)
        request = await self.repo.request(ref.row_id)
        if request is None or request.incarnation != ref.incarnation:
            raise NotFoundError(self.words.gone)
        if request.addressed_user != user_id:
            raise PermissionDeniedError(self.words.not_yours)
        await self.members.touch(request.guild_id, user_id, self.clock.now())
        return await self._answer(request, accept=accept)

    async def _pick_incoming(self, guild_id: int, user_id: int, from_user: int | None) -> R:
        me = await self._actor(guild_id, user_id)
        incoming = await self.repo.incoming(me.member_id, self.clock.now())
        if from_user is not None:
            for request in incoming:
                if request.asker_user == from_user:
                    return request
            raise NotFoundError(self.words.none_from.format(user=from_user))
        if not incoming:
            raise NotFoundError(self.words.no_requests)
        if len(incoming) > 1:
            users = ", ".join(f"<@{r.asker_user}>" for r in incoming[:WHICH_REQUEST_SHOWN])
            if len(incoming) > WHICH_REQUEST_SHOWN:
                users += f" and {len(incoming) - WHICH_REQUEST_SHOWN} more"
            raise InvalidInputError(WHICH_REQUEST.format(users=users))
        return incoming[0]
