"""Whether a deployment is healthy: pure rules over what the running bot records in the database.

`python -m bot status` (another process) and the running bot's ops-channel notices apply the
same rules, SPEC §1: unhealthy when nothing is running, when a sweep or the gateway has been
silent for more than three of its intervals, or when due work is more than five minutes late.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

LATE_AFTER = timedelta(minutes=5)
SILENT_INTERVALS = 3
GATEWAY = "gateway"
GATEWAY_INTERVAL_SECONDS = 60  # the running bot records the gateway once a minute
STOPPED = "Stopped"  # the gateway record's error after a clean shutdown


@dataclass(frozen=True, slots=True)
class SweepRecord:
    """What the running bot last recorded about one sweep (or the gateway)."""

    name: str
    interval_seconds: int
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_ok_at: datetime | None = None
    last_error: str | None = None  # an exception class name, never a message


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything a health check looks at, read at `now`."""

    now: datetime
    sweeps: Sequence[tuple[str, int]]  # the sweeps this version runs: (name, interval in seconds)
    records: Mapping[str, SweepRecord]  # by name, with GATEWAY
    oldest_due: Mapping[str, datetime | None]  # by sweep name: the earliest unhandled due instant, if known
    outbox_waiting: int = 0
    outbox_oldest_due: datetime | None = None  # the earliest pending message whose time has come


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of a health report."""

    subject: str
    healthy: bool
    detail: str


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _late(now: datetime, due: datetime | None) -> str | None:
    if due is None or now - due <= LATE_AFTER:
        return None
    return f"due work {_ago(now - due)} late"


def sweep_finding(now: datetime, name: str, interval_seconds: int, record: SweepRecord | None,
                  oldest_due: datetime | None) -> Finding:
    """Judge one sweep: silent, failing, late, or on time."""
    subject = f"sweep {name}"
    if record is None or record.last_finished_at is None:
        return Finding(subject, False, "has never run")
    silent_for = now - record.last_finished_at
    if silent_for > timedelta(seconds=SILENT_INTERVALS * interval_seconds):
        return Finding(subject, False, f"silent for {_ago(silent_for)} (runs every {_ago(timedelta(seconds=interval_seconds))})")
    if record.last_error is not None and (record.last_ok_at is None or record.last_ok_at < record.last_finished_at):
        since = ("it has never succeeded" if record.last_ok_at is None
                 else f"last success {_ago(now - record.last_ok_at)} ago")
        return Finding(subject, False, f"failing ({record.last_error}); {since}")
    late = _late(now, oldest_due)
    if late is not None:
        return Finding(subject, False, late)
    return Finding(subject, True, f"ran {_ago(silent_for)} ago; due work on time")


def gateway_finding(now: datetime, record: SweepRecord | None) -> Finding:
    """Judge the gateway connection by when the running bot last heard it."""
    if record is None or record.last_ok_at is None:
        return Finding(GATEWAY, False, "never heard from")
    silent_for = now - record.last_ok_at
    if silent_for > timedelta(seconds=SILENT_INTERVALS * record.interval_seconds):
        return Finding(GATEWAY, False, f"not heard from for {_ago(silent_for)}")
    return Finding(GATEWAY, True, f"heard {_ago(silent_for)} ago")


def outbox_finding(now: datetime, waiting: int, oldest_due: datetime | None) -> Finding:
    """Judge the outbox: messages whose time has come should not wait long."""
    late = _late(now, oldest_due)
    if late is not None:
        return Finding("outbox", False, f"{waiting} waiting; {late}")
    return Finding("outbox", True, f"{waiting} waiting")


def assess(observation: Observation) -> list[Finding]:
    """Return a finding per sweep, the gateway and the outbox (the first says if nothing runs at all)."""
    now = observation.now
    findings = [sweep_finding(now, name, interval, observation.records.get(name), observation.oldest_due.get(name))
                for name, interval in observation.sweeps]
    findings.append(gateway_finding(now, observation.records.get(GATEWAY)))
    findings.append(outbox_finding(now, observation.outbox_waiting, observation.outbox_oldest_due))
    if not running(observation):
        gateway = observation.records.get(GATEWAY)
        if gateway is not None and gateway.last_error == STOPPED and gateway.last_finished_at is not None:
            seen = f"stopped cleanly {_ago(now - gateway.last_finished_at)} ago"
        else:
            seen_at = [r.last_finished_at for r in observation.records.values() if r.last_finished_at is not None]
            seen = f"last seen {_ago(now - max(seen_at))} ago" if seen_at else "never started"
        findings.insert(0, Finding("bot", False, f"nothing is running ({seen})"))
    return findings


def assess_processes(now: datetime, sweeps: Sequence[tuple[str, int]],
                     scopes: Mapping[str, Mapping[str, SweepRecord]], oldest_due: Mapping[str, datetime | None],
                     *, outbox_waiting: int = 0, outbox_oldest_due: datetime | None = None) -> list[Finding]:
    """Judge a deployment of one or several processes (shards), each recording under its scope.

    Judged: every process that is running, or that stopped without a clean stop within
    `RETIRED_AFTER` (killed, or hung: it is named as not heard from). Due work and the outbox
    are the whole deployment's. One such process (or none) reads as `assess` does.
    """
    judged = {scope: records for scope, records in scopes.items() if _judged(records.get(GATEWAY), now)}
    if len(judged) <= 1:
        # None is judged: the most recently heard record says when it stopped or was last seen.
        records = (next(iter(judged.values())) if judged
                   else max(scopes.values(), key=lambda r: _heard(r.get(GATEWAY)), default={}))
        return assess(Observation(now, sweeps, records, oldest_due, outbox_waiting, outbox_oldest_due))
    findings: list[Finding] = []
    for scope in sorted(judged):
        records = judged[scope]
        own = [sweep_finding(now, name, interval, records.get(name), None) for name, interval in sweeps]
        own.append(gateway_finding(now, records.get(GATEWAY)))
        findings += [Finding(f"{scope}: {f.subject}", f.healthy, f.detail) for f in own]
    for name, _ in sweeps:
        if oldest_due.get(name) is not None:
            late = _late(now, oldest_due[name])
            findings.append(Finding(f"sweep {name}", late is None, late or "due work on time"))
    findings.append(outbox_finding(now, outbox_waiting, outbox_oldest_due))
    return findings


# A process that stopped without a clean stop this long ago is taken as retired (re-sharded
# away, say), not as one still owed its work: it was reported unhealthy all that time.
RETIRED_AFTER = timedelta(days=7)


def _heard(record: SweepRecord | None) -> datetime:
    return record.last_finished_at if record is not None and record.last_finished_at is not None else datetime.min.replace(tzinfo=UTC)


def _judged(record: SweepRecord | None, now: datetime) -> bool:
    if record is None or record.last_finished_at is None:
        return False
    if gateway_alive(record, now):
        return True
    return record.last_error != STOPPED and now - record.last_finished_at <= RETIRED_AFTER


def running(observation: Observation) -> bool:
    """Tell whether a bot process is running: it records the gateway's state every minute, connected or not."""
    return gateway_alive(observation.records.get(GATEWAY), observation.now)


def gateway_alive(record: SweepRecord | None, now: datetime) -> bool:
    """Tell whether the gateway record is a running bot's: recent, and not its clean stop."""
    return (record is not None and record.last_finished_at is not None and record.last_error != STOPPED
            and now - record.last_finished_at <= timedelta(seconds=SILENT_INTERVALS * record.interval_seconds))


def healthy(findings: Sequence[Finding]) -> bool:
    """Tell whether every finding is healthy."""
    return all(f.healthy for f in findings)
