"""The notifier's pacing under Discord's global rate limit, on a virtual clock."""

from __future__ import annotations

import asyncio
import random

from bot.config import DEFAULT_API_BASE, BotSection, Config
from bot.discord_notifier import GLOBAL_LIMIT, RequestPacer, global_share
from bot.domain.shards import Shards
from bot.fakediscord.faults import TokenBucket


class VirtualTime:
    """A clock that only moves when someone sleeps (or works); sleepers wake at their deadline."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        deadline = self.now + seconds
        await asyncio.sleep(0)  # let every other waiter run first, as real time would
        self.now = max(self.now, deadline)


def pacer(vt: VirtualTime, limit: int, period: float = 1.0) -> RequestPacer:
    return RequestPacer(limit, period, clock=vt.clock, sleep=vt.sleep)


async def test_a_burst_up_to_the_limit_goes_at_once_and_the_next_waits_for_the_window() -> None:
    vt = VirtualTime()
    p = pacer(vt, 5)
    starts = []
    for _ in range(11):
        await p.wait()
        starts.append(vt.now - 1000.0)
    assert starts == [0.0] * 5 + [1.0] * 5 + [2.0]


async def test_never_more_than_the_limit_in_a_window_and_a_stalled_sender_catches_up() -> None:
    vt = VirtualTime()
    p = pacer(vt, 10)
    rng = random.Random(9)
    ready, starts = [], []
    for _ in range(400):
        # The sender's own work between requests: a few ms, sometimes a disk stall.
        vt.now += 0.3 if rng.random() < 0.02 else rng.uniform(0.001, 0.01)
        ready.append(vt.now)
        await p.wait()
        starts.append(vt.now)
    for i in range(10, len(starts)):
        assert starts[i] - starts[i - 10] >= 1.0 - 1e-6
        # ...and no later than needed: the window, not an even spacing, decides, so time
        # lost to a stall is made up within the window instead of pushing every later send.
        assert abs(starts[i] - max(ready[i], starts[i - 10] + 1.0)) < 1e-6


async def test_concurrent_senders_share_the_window() -> None:
    vt = VirtualTime()
    p = pacer(vt, 5)
    starts: list[float] = []

    async def send() -> None:
        await p.wait()
        starts.append(vt.now - 1000.0)

    await asyncio.gather(*(send() for _ in range(20)))
    assert sorted(starts) == [0.0] * 5 + [1.0] * 5 + [2.0] * 5 + [3.0] * 5


async def test_the_default_pace_never_trips_a_50_per_second_token_bucket() -> None:
    # What fakediscord's global limit (and Discord's, as far as it is known) enforces.
    vt = VirtualTime()
    p = RequestPacer(clock=vt.clock, sleep=vt.sleep)
    bucket = TokenBucket(50, 50, clock=vt.clock)
    rng = random.Random(3)
    for _ in range(2000):
        vt.now += 0.5 if rng.random() < 0.01 else rng.uniform(0, 0.004)
        await p.wait()
        assert bucket.take() == 0.0
    assert GLOBAL_LIMIT < 50  # room for the requests commands make


# -- shard processes share the token's global limit ----------------------------------------------

def sharded(ids: set[int], count: int, api_base: str = DEFAULT_API_BASE, *, rest_proxy: bool = False) -> Config:
    return Config(shards=Shards(count, frozenset(ids)), api_base=api_base, bot=BotSection(rest_proxy=rest_proxy))


def test_one_process_with_every_shard_takes_the_whole_limit() -> None:
    assert global_share(Config()) == GLOBAL_LIMIT
    assert global_share(sharded({0, 1, 2, 3}, 4)) == GLOBAL_LIMIT


def test_each_shard_process_takes_its_share_of_the_token_s_limit() -> None:
    assert global_share(sharded({0, 1}, 4)) == GLOBAL_LIMIT // 2
    assert global_share(sharded({3}, 4)) == GLOBAL_LIMIT // 4
    # However the shards are split, the processes together stay within the limit.
    splits = [{0, 1, 2}, {3, 4}, {5}, {6}]
    assert sum(global_share(sharded(ids, 7)) for ids in splits) <= GLOBAL_LIMIT
    assert 0 < global_share(sharded({0}, 100)) <= GLOBAL_LIMIT / 100  # a share below one, never nothing


def test_behind_a_rest_proxy_the_proxy_keeps_the_limit() -> None:
    assert global_share(sharded({0}, 4, api_base="http://nirn:8080/api/v10", rest_proxy=True)) == GLOBAL_LIMIT


def test_another_api_base_alone_is_not_taken_for_a_proxy() -> None:
    # A Discord-compatible server (or a plain forwarder) keeps the token's limit as Discord does.
    assert global_share(sharded({0}, 4, api_base="http://127.0.0.1:8080/api/v10")) == GLOBAL_LIMIT // 4


def test_one_shard_per_process_past_the_limit_s_count_still_stays_within_the_limit() -> None:
    # Review of issue 16: with more shards than the limit has requests (a pod per shard, 64 shards),
    # "at least one a second" each gives 64 a second together, and Discord answers the token
    # with 429s (and, repeated, a temporary ban) for every process. A share below one request a
    # second is still a share: one request every count/limit seconds.
    count = 64
    assert sum(global_share(sharded({i}, count)) for i in range(count)) <= GLOBAL_LIMIT


async def test_a_share_below_one_a_second_is_one_request_every_so_many_seconds() -> None:
    # The pacer a one-shard process of 64 gets: 0.75 a second, one request every 4/3 seconds.
    vt = VirtualTime()
    p = RequestPacer(global_share(sharded({5}, 64)), clock=vt.clock, sleep=vt.sleep)
    starts = []
    for _ in range(4):
        await p.wait()
        starts.append(vt.now - 1000.0)
    assert [round(s, 6) for s in starts] == [0.0, 1.333333, 2.666667, 4.0]


async def test_a_fractional_share_above_one_keeps_its_rate() -> None:
    # 48 × 5 / 7 = 34.28… a second: 34 starts in every 34 / 34.28… seconds, not 34 a second.
    vt = VirtualTime()
    share = GLOBAL_LIMIT * 5 / 7
    p = RequestPacer(share, clock=vt.clock, sleep=vt.sleep)
    for _ in range(34 * 10 + 1):
        await p.wait()
    assert abs((vt.now - 1000.0) - 10 * 34 / share) < 1e-6
