"""What `python -m bot status` reports: the running bot's own records, judged by bot/domain/health.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.crisis.resources import DataFreshness, data_freshness
from bot.domain.health import Finding, assess_processes, healthy
from bot.services.container import Services


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The findings at `now`, and the crisis data's age (a warning, never "unhealthy")."""

    now: datetime
    findings: list[Finding]
    crisis_data: DataFreshness

    @property
    def healthy(self) -> bool:
        """Whether every finding is healthy."""
        return healthy(self.findings)


async def health_report(services: Services) -> HealthReport:
    """Read what the running processes recorded (sweep runs, gateways, due work, outbox) and judge it."""
    now = services.clock.now()
    scheduler = services.scheduler
    oldest = {s.name: await s.oldest_due() for s in scheduler.sweeps if s.oldest_due is not None}
    waiting, oldest_pending = await services.outbox_repo.backlog(now)
    findings = assess_processes(now, [(s.name, s.every_seconds) for s in scheduler.sweeps],
                                await scheduler.health.every_scope(), oldest,
                                outbox_waiting=waiting, outbox_oldest_due=oldest_pending)
    return HealthReport(now, findings, data_freshness(services.crisis.directory, now.date()))
