"""Fault injection: closed DMs, 429s, 5xx, and an optional global rate limit.

Routes are named like discord.py's `Route`: ``"POST /channels/{channel_id}/messages"``. A rule also
matches a concrete path (``"POST /channels/123/messages"``), and a rule without a method matches
every method. ``"*"`` matches every route.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .state import User


@dataclass
class Fault:
    """One injected answer: a 429 (with `retry_after`) or a 5xx status."""

    status: int
    retry_after: float = 0.05
    is_global: bool = False
    scope: str = "user"
    after_handling: bool = False  # the request is carried out, then the answer is this error

    def headers(self) -> dict[str, str]:
        if self.status != 429:
            return {}
        headers = {
            # discord.py treats a 429 without `Via` as a Cloudflare ban and gives up.
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(self.retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + self.retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{self.retry_after:.3f}",
            "X-RateLimit-Bucket": "fakediscord-bucket",
            "X-RateLimit-Scope": self.scope,
        }
        if self.is_global:
            headers["X-RateLimit-Global"] = "true"
        return headers

    def body(self) -> dict[str, Any]:
        if self.status == 429:
            return {"message": "You are being rate limited.", "retry_after": self.retry_after, "global": self.is_global, "code": 0}
        return {"message": f"{self.status}: Internal Server Error", "code": 0}


@dataclass
class _Rule:
    route: str
    fault: Fault
    remaining: int | None  # None: use `share`
    share: float = 0.0


class TokenBucket:
    """`rate` requests per second with bursts up to `burst`."""

    def __init__(self, rate: float, burst: int | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.capacity, self.clock = rate, float(burst or max(1, int(rate))), clock
        self.tokens, self.stamp = self.capacity, clock()

    def take(self) -> float:
        """Take a token; return 0.0 on success or the seconds until one is available."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class Faults:
    """The fault knobs, reachable as ``fake.faults``."""

    def __init__(self, seed: int = 0) -> None:
        self.closed_dms: set[int] = set()
        self._rules: list[_Rule] = []
        self._random = random.Random(seed)
        self._bucket: TokenBucket | None = None
        self.injected: list[tuple[str, int]] = []  # (route, status) of every injected fault

    # DMs -------------------------------------------------------------------------------------------

    def close_dms(self, *users: User) -> None:
        """Sending a DM to these users answers 403 / 50007, as when they closed DMs from server members."""
        self.closed_dms.update(u.id for u in users)

    def open_dms(self, *users: User) -> None:
        self.closed_dms.difference_update(u.id for u in users)

    # rate limits and server errors ---------------------------------------------------------------

    def rate_limit(self, route: str = "*", *, times: int = 1, retry_after: float = 0.05, is_global: bool = False, scope: str = "user") -> None:
        """Answer the next `times` requests to `route` with 429."""
        self._rules.append(_Rule(route, Fault(429, retry_after, is_global, scope), times))

    def server_error(self, route: str = "*", *, times: int = 1, status: int = 500, after_handling: bool = False) -> None:
        """Answer the next `times` requests to `route` with `status` (discord.py retries 500/502/504/524).

        With `after_handling`, each request is carried out first (a message is created) and the error
        replaces the answer, as when Discord's edge times out after the work was done.
        """
        self._rules.append(_Rule(route, Fault(status, after_handling=after_handling), times))

    def random_rate_limits(self, share: float, *, route: str = "*", retry_after: float = 0.05) -> None:
        """Answer a seeded-random `share` (0..1) of requests to `route` with 429."""
        self._rules.append(_Rule(route, Fault(429, retry_after), None, share))

    def random_server_errors(self, share: float, *, route: str = "*", status: int = 500) -> None:
        self._rules.append(_Rule(route, Fault(status), None, share))

    def global_rate_limit(self, per_second: float, *, burst: int | None = None) -> None:
        """Answer 429 (global) once more than `per_second` requests per second arrive; for benchmarks."""
        self._bucket = TokenBucket(per_second, burst)

    def clear(self) -> None:
        """Remove every rule and the global limit (closed DMs stay)."""
        self._rules.clear()
        self._bucket = None

    # used by the REST layer ----------------------------------------------------------------------

    def check(self, method: str, template: str, path: str) -> Fault | None:
        """Return the fault to inject for this request, if any, consuming counted rules."""
        if self._bucket is not None:
            wait = self._bucket.take()
            if wait:
                return self._record(template, Fault(429, round(wait, 3), is_global=True, scope="global"))
        for rule in self._rules:
            if not _matches(rule.route, method, template, path):
                continue
            if rule.remaining is None:
                if self._random.random() < rule.share:
                    return self._record(template, rule.fault)
                continue
            if rule.remaining > 0:
                rule.remaining -= 1
                return self._record(template, rule.fault)
        return None

    def _record(self, template: str, fault: Fault) -> Fault:
        self.injected.append((template, fault.status))
        return fault


def _matches(rule: str, method: str, template: str, path: str) -> bool:
    if rule == "*":
        return True
    rule_method, _, rule_path = rule.rpartition(" ")
    if rule_method and rule_method.upper() != method:
        return False
    return rule_path in (template, path)
