"""Ops-channel notices: once when something goes wrong, once when it recovers, never about members."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.health import Finding, SweepRecord
from bot.scheduling.ops import OpsNotices
from tests.support import RecordingNotifier

OPS = 123
NOW = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)


def texts(notifier: RecordingNotifier) -> list[str]:
    return [s.message.content for s in notifier.posts_in(OPS)]


async def test_a_failing_sweep_and_the_database_are_each_announced_once_then_their_recovery() -> None:
    notifier = RecordingNotifier()
    ops = OpsNotices(notifier, OPS)
    failing = {"buddy-matching": SweepRecord("buddy-matching", 60, NOW, NOW, None, "ValueError")}
    fine = {"buddy-matching": SweepRecord("buddy-matching", 60, NOW, NOW, NOW, None)}
    sweeps = [("buddy-matching", 60)]
    for _ in range(3):
        await ops.observe(NOW, sweeps, failing, {}, database_ok=True)
    await ops.observe(NOW, sweeps, failing, {}, database_ok=False)  # one notice for the database, none per sweep
    await ops.observe(NOW, sweeps, fine, {}, database_ok=True)
    assert texts(notifier) == [
        "⚠️ Kindred: sweep buddy-matching — failing (ValueError); it has never succeeded. "
        "`python -m bot status` on the host shows more.",
        "⚠️ Kindred: database — unreachable. `python -m bot status` on the host shows more.",
        "✅ Kindred: database has recovered.",
        "✅ Kindred: sweep buddy-matching has recovered.",
    ]


async def test_a_database_unreachable_from_the_start_is_announced_and_so_is_its_recovery() -> None:
    notifier = RecordingNotifier()
    ops = OpsNotices(notifier, OPS)
    await ops.database(False)  # the bot started without its database: crisis help from memory, retrying
    await ops.database(False)
    await ops.database(True)
    assert texts(notifier) == ["⚠️ Kindred: database — unreachable. `python -m bot status` on the host shows more.",
                               "✅ Kindred: database has recovered."]


async def test_watched_conditions_such_as_stale_crisis_data_are_announced_when_they_change() -> None:
    notifier = RecordingNotifier()
    ops = OpsNotices(notifier, OPS)
    checked = {"days": 80}
    ops.watch(lambda now: Finding("crisis data", checked["days"] <= 90, f"numbers last checked {checked['days']} days ago"))
    for days in (80, 91, 92, 93):  # a bot that keeps running for months crosses the line while up
        checked["days"] = days
        await ops.observe(NOW + timedelta(days=days), [], {}, {}, database_ok=True)
    assert texts(notifier) == ["⚠️ Kindred: crisis data — numbers last checked 91 days ago. "
                               "`python -m bot status` on the host shows more."]


async def test_a_shard_process_names_itself_in_its_notices() -> None:
    # Several processes share one ops channel: each notice says whose it is.
    notifier = RecordingNotifier()
    ops = OpsNotices(notifier, OPS, process="shards 0-1 of 4")
    await ops.database(False)
    await ops.database(True)
    assert texts(notifier) == [
        "⚠️ Kindred (shards 0-1 of 4): database — unreachable. `python -m bot status` on the host shows more.",
        "✅ Kindred (shards 0-1 of 4): database has recovered."]
