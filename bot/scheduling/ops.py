"""Notices to the operators' channel: once when something goes wrong, once when it recovers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from bot.domain.health import Finding, SweepRecord, sweep_finding
from bot.domain.messages import OutgoingMessage
from bot.services.ports import Notifier

log = logging.getLogger(__name__)

DATABASE = "database"
TROUBLE = "⚠️ Kindred{process}: {subject} — {detail}. `python -m bot status` on the host shows more."
RECOVERED = "✅ Kindred{process}: {subject} has recovered."


class OpsNotices:
    """Tell the ops channel when a sweep falls behind or the database becomes unreachable, and when it recovers.

    Sent straight through the notifier, not the outbox: the database may be what is wrong. A
    notice names a sweep and a duration, never a member, a server or anything they wrote.
    """

    def __init__(self, notifier: Notifier, channel_id: int, *, process: str | None = None) -> None:
        self.notifier = notifier
        self.channel_id = channel_id
        # Which process speaks, where several share the channel ("shards 0-1 of 4").
        self._process = f" ({process})" if process else ""
        self._troubled: set[str] = set()
        self._watched: list[Callable[[datetime], Finding]] = []

    def watch(self, check: Callable[[datetime], Finding]) -> None:
        """Also judge `check(now)` every minute (e.g. the crisis data's age, which crosses its limit while up)."""
        self._watched.append(check)

    async def observe(self, now: datetime, sweeps: Sequence[tuple[str, int]], records: Mapping[str, SweepRecord],
                      oldest_due: Mapping[str, datetime | None], *, database_ok: bool) -> None:
        """Compare the sweeps' and the database's state with the last observation; tell what changed."""
        findings = [Finding(DATABASE, database_ok, "unreachable")]
        if database_ok:  # while it is not, every sweep fails for that one reason: one notice says it all
            findings += [sweep_finding(now, name, every, records[name], oldest_due.get(name))
                         for name, every in sweeps if name in records]  # not yet run at start-up: no news
        findings += [check(now) for check in self._watched]
        await self._tell(findings)

    async def database(self, available: bool) -> None:
        """Report the database's state outside the sweeps (a start without it, and its return)."""
        await self._tell([Finding(DATABASE, available, "unreachable")])

    async def _tell(self, findings: Sequence[Finding]) -> None:
        for finding in findings:
            if not finding.healthy and finding.subject not in self._troubled:
                self._troubled.add(finding.subject)
                await self._send(TROUBLE.format(process=self._process, subject=finding.subject, detail=finding.detail))
            elif finding.healthy and finding.subject in self._troubled:
                self._troubled.discard(finding.subject)
                await self._send(RECOVERED.format(process=self._process, subject=finding.subject))

    async def _send(self, text: str) -> None:
        result = await self.notifier.send_channel(self.channel_id, OutgoingMessage(text))
        if not result.ok:
            log.warning("could not post an ops notice to channel %s: %s", self.channel_id, result.status.value)
