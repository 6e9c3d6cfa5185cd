"""The Notifier port implemented with discord.py."""

from __future__ import annotations

import asyncio
import io
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.config import Config
from bot.domain.messages import ButtonStyle, OutgoingMessage, SendResult, SendStatus

if TYPE_CHECKING:
    from discord.abc import Messageable

log = logging.getLogger(__name__)

_STYLES = {
    ButtonStyle.PRIMARY: discord.ButtonStyle.primary,
    ButtonStyle.SECONDARY: discord.ButtonStyle.secondary,
    ButtonStyle.SUCCESS: discord.ButtonStyle.success,
    ButtonStyle.DANGER: discord.ButtonStyle.danger,
}
DM_CLOSED_CODES = {50007, 50278}
# Discord allows a bot 50 requests a second in all (interaction responses do not count) and
# answers the excess with global 429s, which count toward its invalid-request ban (10,000 in
# ten minutes). discord.py only reacts to a 429, so a fan-out sent as fast as the bot can
# (300+ a second) would earn a 429 for nearly every message. The notifier keeps its own
# requests under the limit instead, with a little room for the requests commands make.
GLOBAL_LIMIT = 48
GLOBAL_PERIOD = 1.0  # seconds
_SHARE_STEPS = 2 ** 20  # a shard process's share is a whole number of these parts of a request a second


def build_view(message: OutgoingMessage) -> discord.ui.View | None:
    """Turn a message's buttons into a view (their custom ids are handled by persistent items)."""
    if not message.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in message.buttons:
        view.add_item(discord.ui.Button(
            custom_id=button.custom_id, label=button.label, style=_STYLES[button.style],
            emoji=button.emoji,
        ))
    return view


def build_embed(message: OutgoingMessage) -> discord.Embed | None:
    """Turn a message's embed fields into an embed."""
    if message.embed_title is None and message.embed_description is None:
        return None
    return discord.Embed(title=message.embed_title, description=message.embed_description,
                         colour=discord.Colour.from_rgb(88, 166, 140))


def allowed_mentions(message: OutgoingMessage) -> discord.AllowedMentions:
    """Allow only the one role ping a message asks for, nothing else."""
    if message.mention_role_id is None:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(everyone=False, users=False,
                                   roles=[discord.Object(message.mention_role_id)])


def global_share(config: Config) -> float:
    """Return how many requests a second this process may start: its share of the token's limit.

    Discord counts the global limit per bot token, not per process. A process running some of
    the shards takes the same fraction of the limit, so the processes together stay under it
    however the shards are split. The share may be below one (a process per shard past 48
    shards: one request every count/48 seconds); a floor of one would add up past the limit.
    Requests sent through a REST proxy (`DISCORD_API_BASE`, such as nirn-proxy) are paced by the
    proxy, which sees every process's requests (`[bot] rest_proxy`): there each process may use
    the whole limit. Another `DISCORD_API_BASE` alone is not taken for one: a Discord-compatible
    server, or a plain forwarder, limits the token as Discord does.
    """
    shards = config.shards
    if shards is None or shards.complete or config.bot.rest_proxy:
        return GLOBAL_LIMIT
    # Rounded down to a multiple of 2**-20: such floats add up exactly, so the processes' shares
    # never sum past the limit by a rounding error (and none is zero below 48 × 2**20 shards).
    return (GLOBAL_LIMIT * len(shards.ids) * _SHARE_STEPS // shards.count) / _SHARE_STEPS


def _where(dm: bool, target: int) -> str:
    """Name a send's destination for the log: a channel by its id, a DM never by whom.

    The outbox's next line names the message's kind ("urge.checkback", "crisis.dm"), and a
    member's id beside that is a record of their health in the host's journal.
    """
    return "a DM" if dm else f"channel {target}"


class RequestPacer:
    """Let at most `limit` requests start in any `period` seconds (a sliding window).

    A fractional `limit` (a shard process's share) keeps its rate: `floor(limit)` starts (at
    least one) in every `period × floor(limit) / limit` seconds; below one, one start every
    `period / limit` seconds.

    A window rather than an even spacing: a short burst goes out at once, and a sender held
    up for a moment (a slow disk under the outbox's commits) catches up within the same
    second instead of losing that time. At most `limit` starts in every window also means
    at most `limit` × (1 + t) in any t seconds, so a token bucket of `limit` per second with
    bursts of `limit` (how Discord's limits usually behave) never refuses one either.
    """

    def __init__(self, limit: float = GLOBAL_LIMIT, period: float = GLOBAL_PERIOD, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        if limit <= 0:
            raise ValueError(f"a pacer needs a positive limit, not {limit}")
        self.limit = max(1, math.floor(limit))
        self.period = period * self.limit / limit
        self.clock = clock
        self.sleep = sleep
        self._starts: deque[float] = deque(maxlen=self.limit)  # the last `limit` start times

    async def wait(self) -> None:
        """Return when one more request may start, and count it as started."""
        while True:
            now = self.clock()
            # Waiters re-check after sleeping: another may have taken the slot meanwhile.
            delay = self._starts[0] + self.period - now if len(self._starts) == self.limit else 0.0
            if delay < 1e-6:  # (not <= 0: float rounding must not leave a waiter sleeping for nothing)
                self._starts.append(now)
                return
            await self.sleep(delay)


class DiscordNotifier:
    """Sends OutgoingMessages through a discord.py client."""

    def __init__(self, client: discord.Client, *, pacer: RequestPacer | None = None) -> None:
        self.client = client
        self.pacer = pacer or RequestPacer()

    async def send_dm(self, user_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        """Open (or reuse) the DM channel and send."""
        try:
            channel = await self._dm_channel(user_id)
        except discord.HTTPException as exc:
            return self._failure(exc, dm=True, target=user_id)
        except (TimeoutError, aiohttp.ClientError, OSError):
            return SendResult(SendStatus.TRANSIENT, detail="network")
        return await self._send(channel, message, nonce, dm=True, target=user_id)

    async def _dm_channel(self, user_id: int) -> discord.DMChannel:
        user = self.client.get_user(user_id)
        if user is not None and user.dm_channel is not None:
            return user.dm_channel  # discord.py remembers recent DM channels: no request
        await self.pacer.wait()
        return await self.client.create_dm(discord.Object(user_id))

    async def send_channel(self, channel_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        """Post in a channel by id without fetching it first."""
        channel = self.client.get_partial_messageable(channel_id)
        return await self._send(channel, message, nonce, dm=False, target=channel_id)

    async def _send(self, channel: Messageable, message: OutgoingMessage, nonce: str | None,
                    *, dm: bool, target: int) -> SendResult:
        kwargs: dict[str, object] = {"allowed_mentions": allowed_mentions(message)}
        view = build_view(message)
        embed = build_embed(message)
        if view is not None:
            # Send the buttons as components only: a live view would be stored for this
            # message id and shadow the persistent handlers the cogs registered, so clicks
            # would reach this callback-less copy. A stopped view is never stored.
            view.stop()
            kwargs["view"] = view
        if embed is not None:
            kwargs["embed"] = embed
        if nonce is not None:
            kwargs["nonce"] = nonce
        if message.attachment is not None:
            kwargs["file"] = discord.File(io.BytesIO(message.attachment.data), filename=message.attachment.filename)
        await self.pacer.wait()
        try:
            sent = await channel.send(message.content or None, **kwargs)  # type: ignore[call-overload]
        except discord.HTTPException as exc:
            return self._failure(exc, dm=dm, target=target)
        except (TimeoutError, aiohttp.ClientError, OSError):
            log.warning("network error sending to %s", _where(dm, target))
            return SendResult(SendStatus.TRANSIENT, detail="network")
        if message.react:
            await self.pacer.wait()
            try:
                await sent.add_reaction(message.react)
            except discord.HTTPException:
                log.warning("could not add reaction to message %s in %s", sent.id, _where(dm, target))
        return SendResult(SendStatus.SENT, message_id=sent.id)

    @staticmethod
    def _failure(exc: discord.HTTPException, *, dm: bool, target: int) -> SendResult:
        if isinstance(exc, discord.Forbidden):
            if dm or exc.code in DM_CLOSED_CODES:
                return SendResult(SendStatus.DM_CLOSED, detail=str(exc.code))
            return SendResult(SendStatus.FORBIDDEN, detail=str(exc.code))
        if isinstance(exc, discord.NotFound):
            return SendResult(SendStatus.NOT_FOUND, detail=str(exc.code))
        if isinstance(exc, discord.DiscordServerError) or exc.status == 429:
            log.warning("discord %s sending to %s", exc.status, _where(dm, target))
            return SendResult(SendStatus.TRANSIENT, detail=str(exc.status))
        log.warning("discord rejected a message to %s: %s/%s", _where(dm, target), exc.status, exc.code)
        return SendResult(SendStatus.REJECTED, detail=f"{exc.status}/{exc.code}")
