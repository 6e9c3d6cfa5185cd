"""Prometheus metrics (`KINDRED_METRICS_ADDR`), served from the bot's event loop at `/metrics`.

Two sources. Events — interactions answered, check-ins committed, outbox outcomes, sweep runs,
crisis alerts, 429s and 5xx — are counted where they happen: the services call the `Metrics`
port (`bot.services.ports`), the Discord side reports interactions and HTTP answers. State —
outbox backlog, sweep lag, whether the database answers — is read from the database once a
minute by the scheduler, which already looks at it for health; gateway state is read from
discord.py at scrape time.

No label or value ever holds a member's id, name or anything they wrote: labels are fixed
names from code (commands from the registered tree, custom ids cut to their fixed prefix,
outbox kinds, sweep names, outcomes), checked by `_Labels` and capped in number, so even a
forged interaction cannot add a series. `docs/metrics.md` describes every metric.

Served on the event loop rather than prometheus_client's thread: a scrape that times out
then says the loop is stuck, which is worth an alert of its own.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

log = logging.getLogger(__name__)

UNANSWERED_AFTER = 60.0  # seconds; Discord drops an interaction not answered within 3
MAX_VALUES_PER_LABEL = 100  # more distinct values than this become "other"
_LABEL = re.compile(r"[a-z0-9][a-z0-9_.:/ -]{0,63}")
_CUSTOM_ID_PART = re.compile(r"[a-z][a-z-]{0,31}")
_CALLBACK = re.compile(r"/interactions/(\d+)/[^/]+/callback$")
INTERACTION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
SWEEP_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
RESPONSE_BUCKETS = (60, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400, 259200)


class _Labels:
    """Keeps label values to fixed-looking names, and their number bounded."""

    def __init__(self) -> None:
        self._seen: dict[str, set[str]] = {}

    def __call__(self, name: str, value: object) -> str:
        text = str(value)
        if not _LABEL.fullmatch(text):
            return "other"
        seen = self._seen.setdefault(name, set())
        if text not in seen:
            if len(seen) >= MAX_VALUES_PER_LABEL:
                return "other"
            seen.add(text)
        return text


def custom_id_label(custom_id: str) -> str:
    """The fixed part of a component's custom id: `kindred:buddy:accept:123` → `kindred:buddy:accept`."""
    parts = custom_id.split(":")
    if parts[0] != "kindred":
        return "other"
    fixed = ["kindred"]
    for part in parts[1:]:
        if not _CUSTOM_ID_PART.fullmatch(part):
            break
        fixed.append(part)
    return ":".join(fixed)


class PrometheusMetrics:
    """The `Metrics` port on a prometheus_client registry of its own, plus the Discord-side counts."""

    observing = True

    def __init__(self) -> None:
        # A `_created` series per counter and label set doubles the output and says nothing an operator needs.
        disable_created_metrics()
        self.registry = CollectorRegistry()
        self._label = _Labels()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.gateway_connected = Gauge("kindred_gateway_connected", "1 while the gateway websocket is open",
                                       registry=r)
        self.gateway_latency = Gauge("kindred_gateway_latency_seconds",
                                     "Time between the last heartbeat and its acknowledgement", registry=r)
        self.interactions = Counter("kindred_interactions", "Interactions received, by command and type",
                                    ["command", "type"], registry=r)
        self.interaction_latency = Histogram(
            "kindred_interaction_response_seconds",
            "From receiving an interaction to Discord accepting its first response (reply, deferral, modal)",
            ["command"], buckets=INTERACTION_BUCKETS, registry=r)
        self.interactions_unanswered = Counter(
            "kindred_interactions_unanswered", f"Interactions with no response after {UNANSWERED_AFTER:.0f} s",
            ["command"], registry=r)
        self.interaction_failures = Counter(
            "kindred_interaction_failures", "Interactions answered with an apology (reason: fault or database)",
            ["command", "reason"], registry=r)
        self.checkins = Counter("kindred_checkins", "Check-ins committed (from /checkin or the prompt's form)",
                                registry=r)
        self.outbox_messages = Counter(
            "kindred_outbox_messages", "Delivery attempts of queued messages, by kind and outcome",
            ["kind", "outcome"], registry=r)
        self.outbox_pending = Gauge("kindred_outbox_pending", "Queued messages whose time has come, not yet sent",
                                    registry=r)
        self.outbox_oldest = Gauge("kindred_outbox_oldest_pending_age_seconds",
                                   "How long the oldest of those has waited (0 when none)", registry=r)
        self.sweep_duration = Histogram("kindred_sweep_duration_seconds", "How long each sweep run took",
                                        ["sweep"], buckets=SWEEP_BUCKETS, registry=r)
        self.sweep_runs = Counter("kindred_sweep_runs", "Sweep runs, by outcome (ok or an exception class)",
                                  ["sweep", "outcome"], registry=r)
        self.sweep_last_success = Gauge("kindred_sweep_last_success_timestamp_seconds",
                                        "When each sweep last finished without an error (Unix time)",
                                        ["sweep"], registry=r)
        self.sweep_interval = Gauge("kindred_sweep_interval_seconds", "How often each sweep runs",
                                    ["sweep"], registry=r)
        self.sweep_lag_seconds = Gauge("kindred_sweep_lag_seconds",
                                       "How late the sweep's earliest unhandled due work is (0 when on time)",
                                       ["sweep"], registry=r)
        self.discord_rate_limited = Counter("kindred_discord_rate_limited",
                                            "429 answers from Discord's REST API, by X-RateLimit-Scope",
                                            ["scope"], registry=r)
        self.discord_server_errors = Counter("kindred_discord_server_errors",
                                             "5xx answers from Discord's REST API, by status", ["status"], registry=r)
        self.crisis_alerts = Counter("kindred_crisis_alerts", "Crisis alerts raised, by source and tier",
                                     ["source", "tier"], registry=r)
        self.crisis_answered = Counter("kindred_crisis_alerts_acknowledged",
                                       "Crisis alerts a moderator acted on (first action only)",
                                       ["source", "tier"], registry=r)
        self.crisis_response = Histogram("kindred_crisis_alert_first_response_seconds",
                                         "From a crisis alert being raised to a moderator's first action",
                                         ["source"], buckets=RESPONSE_BUCKETS, registry=r)
        self.database_up = Gauge("kindred_database_up", "1 while the database answers (checked every minute)",
                                 registry=r)
        self.database_errors = Counter("kindred_database_unavailable",
                                       "Work that failed because the database could not be reached, by where",
                                       ["where"], registry=r)
        self.database_up.set(1)
        # Interactions received and not answered yet: id → (started, command label).
        self._pending: OrderedDict[int, tuple[float, str]] = OrderedDict()
        # Recent interactions' command labels, for failures reported after the answer.
        self._recent: OrderedDict[int, str] = OrderedDict()

    # -- the Metrics port ---------------------------------------------------------------

    def checkin_recorded(self) -> None:
        """Count a committed check-in."""
        self.checkins.inc()

    def outbox_result(self, kind: str, outcome: str) -> None:
        """Count one delivery attempt's outcome."""
        self.outbox_messages.labels(self._label("kind", kind), self._label("outcome", outcome)).inc()

    def outbox_backlog(self, waiting: int, oldest_age_seconds: float) -> None:
        """Record the outbox backlog."""
        self.outbox_pending.set(waiting)
        self.outbox_oldest.set(max(0.0, oldest_age_seconds))

    def sweep_ran(self, sweep: str, interval_seconds: int, seconds: float, error: str | None) -> None:
        """Record a sweep run."""
        name = self._label("sweep", sweep)
        self.sweep_interval.labels(name).set(interval_seconds)
        self.sweep_duration.labels(name).observe(seconds)
        self.sweep_runs.labels(name, self._label("outcome", error or "ok")).inc()
        if error is None:
            self.sweep_last_success.labels(name).set(time.time())

    def sweep_lag(self, sweep: str, seconds: float) -> None:
        """Record how late a sweep's due work is."""
        self.sweep_lag_seconds.labels(self._label("sweep", sweep)).set(max(0.0, seconds))

    def crisis_alert_raised(self, source: str, tier: int) -> None:
        """Count a crisis alert."""
        self.crisis_alerts.labels(self._label("source", source), self._label("tier", tier)).inc()

    def crisis_alert_answered(self, source: str, tier: int, seconds: float) -> None:
        """Count a moderator's first action on an alert, and how long it took."""
        label = self._label("source", source)
        self.crisis_answered.labels(label, self._label("tier", tier)).inc()
        self.crisis_response.labels(label).observe(max(0.0, seconds))

    def database_unavailable(self, where: str) -> None:
        """Count work that failed for want of the database."""
        self.database_errors.labels(self._label("where", where)).inc()

    def database_state(self, available: bool) -> None:
        """Record whether the database answers."""
        self.database_up.set(1 if available else 0)

    # -- the Discord side ---------------------------------------------------------------

    def watch_gateway(self, connected: Callable[[], bool], latency: Callable[[], float]) -> None:
        """Read the gateway's state from discord.py at each scrape."""
        self.gateway_connected.set_function(lambda: 1.0 if connected() else 0.0)
        self.gateway_latency.set_function(latency)

    def interaction_received(self, interaction_id: int, command: str, kind: str) -> None:
        """Start timing an interaction (`command` already cut to a fixed name by the caller)."""
        now = time.perf_counter()
        label = self._label("command", command)
        self.interactions.labels(label, self._label("type", kind)).inc()
        self._pending[interaction_id] = (now, label)
        self._recent[interaction_id] = label
        while len(self._recent) > 4096:
            self._recent.popitem(last=False)
        while self._pending:
            first_id, (started, first_label) = next(iter(self._pending.items()))
            if now - started < UNANSWERED_AFTER:
                break
            del self._pending[first_id]
            self.interactions_unanswered.labels(first_label).inc()

    def interaction_answered(self, interaction_id: int) -> None:
        """Stop timing an interaction: Discord accepted its first response."""
        started = self._pending.pop(interaction_id, None)
        if started is not None:
            self.interaction_latency.labels(started[1]).observe(time.perf_counter() - started[0])

    def interaction_failed(self, interaction_id: int, reason: str) -> None:
        """Count an interaction answered with an apology."""
        command = self._recent.get(interaction_id, "unknown")
        self.interaction_failures.labels(command, self._label("reason", reason)).inc()

    def http_trace(self) -> aiohttp.TraceConfig:
        """An aiohttp trace for discord.py's HTTP session: counts 429s and 5xx, and times interaction answers."""
        trace = aiohttp.TraceConfig()

        async def on_request_end(session: aiohttp.ClientSession, context: SimpleNamespace,
                                 params: aiohttp.TraceRequestEndParams) -> None:
            status = params.response.status
            if status == 429:
                scope = params.response.headers.get("X-RateLimit-Scope", "unknown")
                self.discord_rate_limited.labels(self._label("scope", scope.lower())).inc()
            elif status >= 500:
                self.discord_server_errors.labels(self._label("status", status)).inc()
            elif status < 400 and params.method == "POST":
                answered = _CALLBACK.search(params.url.path)
                if answered is not None:
                    self.interaction_answered(int(answered.group(1)))

        trace.on_request_end.append(on_request_end)
        return trace

    # -- serving ------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)


class MetricsServer:
    """An aiohttp site on the bot's event loop answering `GET /metrics`."""

    def __init__(self, metrics: PrometheusMetrics) -> None:
        self.metrics = metrics
        self._runner: web.AppRunner | None = None
        self.address: tuple[str, int] | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on host:port (port 0: a free one); return the address bound. Raises OSError if it cannot."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/", self._index)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound: list[Any] = list(runner.addresses)
        self.address = (host, int(bound[0][1]) if bound else port)
        return self.address

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text="Kindred: metrics at /metrics\n")
