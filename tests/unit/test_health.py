"""Health rules shared by `python -m bot status` and the ops-channel notices (SPEC §1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.health import GATEWAY, STOPPED, Observation, SweepRecord, assess, healthy, running

NOW = datetime(2027, 3, 13, 14, 5, tzinfo=UTC)
SWEEPS = [("checkin-prompts", 60), ("buddy-nudges", 3600), ("retention-purge", 86400)]


def ran(name: str, every: int, ago: timedelta, *, error: str | None = None, ok_ago: timedelta | None = None) -> SweepRecord:
    at = NOW - ago
    ok = None if error else at
    if ok_ago is not None:
        ok = NOW - ok_ago
    return SweepRecord(name, every, at, at, ok, error)


def gateway(ago: timedelta = timedelta(seconds=20), *, connected: bool = True, error: str | None = None) -> SweepRecord:
    at = NOW - ago
    return SweepRecord(GATEWAY, 60, at, at, at if connected else None, error if error else None if connected else "Disconnected")


def all_fresh(**overrides: SweepRecord) -> dict[str, SweepRecord]:
    records = {name: ran(name, every, timedelta(seconds=30)) for name, every in SWEEPS}
    records[GATEWAY] = gateway()
    records.update(overrides)
    return records


def observe(records: dict[str, SweepRecord], **kwargs: object) -> Observation:
    return Observation(now=NOW, sweeps=SWEEPS, records=records, oldest_due=kwargs.pop("oldest_due", {}),  # type: ignore[arg-type]
                       **kwargs)  # type: ignore[arg-type]


def unhealthy(observation: Observation) -> dict[str, str]:
    return {f.subject: f.detail for f in assess(observation) if not f.healthy}


def test_a_bot_whose_sweeps_and_gateway_reported_recently_is_healthy() -> None:
    findings = assess(observe(all_fresh(), oldest_due={"checkin-prompts": NOW + timedelta(hours=3)}))
    assert healthy(findings) and running(observe(all_fresh()))
    assert [f.subject for f in findings] == [
        "sweep checkin-prompts", "sweep buddy-nudges", "sweep retention-purge", "gateway", "outbox"]


@pytest.mark.parametrize(("name", "every", "ago", "silent"), [
    ("checkin-prompts", 60, timedelta(minutes=3), False),      # three intervals is still on time
    ("checkin-prompts", 60, timedelta(minutes=3, seconds=1), True),
    ("buddy-nudges", 3600, timedelta(hours=2, minutes=59), False),
    ("buddy-nudges", 3600, timedelta(hours=3, minutes=1), True),
    ("retention-purge", 86400, timedelta(days=3, minutes=1), True),
])
def test_a_sweep_silent_for_more_than_three_of_its_intervals_is_unhealthy(
        name: str, every: int, ago: timedelta, silent: bool) -> None:
    problems = unhealthy(observe(all_fresh(**{name: ran(name, every, ago)})))
    assert (f"sweep {name}" in problems) is silent
    if silent:
        assert problems[f"sweep {name}"].startswith("silent for")


def test_a_sweep_that_never_ran_is_unhealthy() -> None:
    records = all_fresh()
    del records["retention-purge"]
    assert unhealthy(observe(records)) == {"sweep retention-purge": "has never run"}


def test_a_failing_sweep_is_unhealthy_until_it_succeeds_again() -> None:
    failing = ran("checkin-prompts", 60, timedelta(seconds=10), error="DatabaseUnavailableError",
                  ok_ago=timedelta(minutes=7))
    assert unhealthy(observe(all_fresh(**{"checkin-prompts": failing}))) == {
        "sweep checkin-prompts": "failing (DatabaseUnavailableError); last success 7 min ago"}
    recovered = ran("checkin-prompts", 60, timedelta(seconds=10))
    assert unhealthy(observe(all_fresh(**{"checkin-prompts": recovered}))) == {}


@pytest.mark.parametrize(("late", "bad"), [(timedelta(minutes=5), False), (timedelta(minutes=5, seconds=1), True)])
def test_due_work_more_than_five_minutes_late_is_unhealthy(late: timedelta, bad: bool) -> None:
    problems = unhealthy(observe(all_fresh(), oldest_due={"checkin-prompts": NOW - late}))
    assert ("sweep checkin-prompts" in problems) is bad


def test_an_outbox_message_waiting_more_than_five_minutes_is_unhealthy() -> None:
    assert unhealthy(observe(all_fresh(), outbox_waiting=3, outbox_oldest_due=NOW - timedelta(minutes=9))) == {
        "outbox": "3 waiting; due work 9 min late"}
    assert unhealthy(observe(all_fresh(), outbox_waiting=3, outbox_oldest_due=NOW - timedelta(minutes=1))) == {}


def test_a_gateway_not_heard_for_more_than_three_minutes_is_unhealthy() -> None:
    # The process still records every minute (it runs), but the websocket has been closed since 14:00.
    records = all_fresh(**{GATEWAY: SweepRecord(GATEWAY, 60, NOW, NOW, NOW - timedelta(minutes=5), "Disconnected")})
    assert running(observe(records))
    assert unhealthy(observe(records)) == {"gateway": "not heard from for 5 min"}


def test_nothing_running_when_the_process_stopped_recording() -> None:
    records = {name: ran(name, every, timedelta(minutes=20)) for name, every in SWEEPS}
    records[GATEWAY] = gateway(timedelta(minutes=20))
    observation = observe(records)
    assert not running(observation)
    first = assess(observation)[0]
    assert (first.subject, first.healthy, first.detail) == ("bot", False, "nothing is running (last seen 20 min ago)")


def test_a_clean_stop_is_reported_at_once_not_after_three_minutes() -> None:
    records = all_fresh(**{GATEWAY: gateway(timedelta(seconds=5), connected=False, error=STOPPED)})
    observation = observe(records)
    assert not running(observation)
    assert assess(observation)[0].detail == "nothing is running (stopped cleanly 5 s ago)"


def test_an_empty_database_has_never_run() -> None:
    findings = assess(observe({}))
    assert findings[0].detail == "nothing is running (never started)" and not healthy(findings)


def process(gateway_ago: timedelta, *, stopped: bool = False) -> dict[str, SweepRecord]:
    records = {name: ran(name, every, gateway_ago) for name, every in SWEEPS}
    records[GATEWAY] = gateway(gateway_ago, connected=not stopped, error=STOPPED if stopped else None)
    return records


def test_several_processes_are_judged_each_and_a_killed_one_is_named() -> None:
    from bot.domain.health import assess_processes

    scopes = {"shards-0-1-of-4": process(timedelta(seconds=20)), "shards-2-3-of-4": process(timedelta(hours=2))}
    findings = assess_processes(NOW, SWEEPS, scopes, {})
    assert not healthy(findings)
    failing = [f.subject for f in findings if not f.healthy]
    assert "shards-2-3-of-4: gateway" in failing and all(s.startswith("shards-2-3-of-4") for s in failing)


def test_a_cleanly_stopped_or_long_gone_process_is_not_judged_beside_a_running_one() -> None:
    from bot.domain.health import RETIRED_AFTER, assess_processes

    scopes = {"shards-0-3-of-4": process(timedelta(seconds=20)),
              "": process(timedelta(days=2), stopped=True),  # the one process before sharding, stopped
              "shards-0-1-of-2": process(RETIRED_AFTER + timedelta(hours=1))}  # killed long ago, reported all week
    findings = assess_processes(NOW, SWEEPS, scopes, {})
    assert healthy(findings), [f for f in findings if not f.healthy]
    # One process judged: the report reads as it always did (no scope in the subjects).
    assert [f.subject for f in findings][-2:] == ["gateway", "outbox"]


def test_a_deployment_with_nothing_running_says_when_it_was_last_seen() -> None:
    from bot.domain.health import assess_processes

    scopes = {"shards-0-1-of-2": process(timedelta(days=9)), "shards-1-1-of-2": process(timedelta(days=8))}
    findings = assess_processes(NOW, SWEEPS, scopes, {})
    assert findings[0].subject == "bot" and "last seen 8 days ago" in findings[0].detail
