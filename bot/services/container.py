"""The composition of repositories and services (no Discord)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.config import Config
from bot.db.buddies import BuddyRepository
from bot.db.checkins import CheckInRepository
from bot.db.coping import CopingRepository
from bot.db.crisis import CrisisRepository
from bot.db.database import Database
from bot.db.guilds import GuildRepository
from bot.db.health import HealthRepository
from bot.db.meetings import MeetingRepository
from bot.db.members import MemberRepository
from bot.db.mentors import MentorRepository
from bot.db.outbox import OutboxRepository
from bot.db.privacy import PrivacyRepository
from bot.db.pulse import PulseRepository
from bot.db.recovery import RecoveryRepository
from bot.domain.clock import Clock
from bot.scheduling.ops import OpsNotices
from bot.scheduling.scheduler import SweepFunc, SweepScheduler
from bot.services.buddies import BuddyService
from bot.services.checkins import CheckInService, load_prompts
from bot.services.coping import COPING_FILE, CopingService, load_coping_texts
from bot.services.crisis import CrisisService, load_crisis_data
from bot.services.guild_config import GuildConfigService
from bot.services.meetings import REMINDER_KIND, MeetingService
from bot.services.mentors import MentorService
from bot.services.outbox import OutboxService, claim_owner
from bot.services.ports import Metrics, NoScheduledEvents, Notifier, NullMetrics, ScheduledEvents
from bot.services.privacy import PrivacyService
from bot.services.pulse import (
    BuddyPulse,
    CheckInPulse,
    MeetingReminderPulse,
    MentorshipPulse,
    PulseService,
    UrgePulse,
)
from bot.services.recovery import RecoveryService
from bot.services.settings import SettingsService

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Services:
    """Everything the cogs and the scheduler use, built once in `setup_hook`."""

    config: Config
    db: Database
    clock: Clock
    notifier: Notifier
    members: MemberRepository
    guilds: GuildRepository
    outbox_repo: OutboxRepository
    settings: SettingsService
    guild_config: GuildConfigService
    outbox: OutboxService
    scheduler: SweepScheduler
    privacy: PrivacyService
    checkins_repo: CheckInRepository
    checkins: CheckInService
    recovery: RecoveryService
    buddies: BuddyService
    mentors: MentorService
    meetings: MeetingService
    crisis: CrisisService
    coping: CopingService
    pulse: PulseService
    metrics: Metrics


def one_process_at_a_time(db: Database, job: str, run: SweepFunc) -> SweepFunc:
    """Wrap a sweep so that, of the processes sharing the database, only one runs it at a time."""
    async def sweep(now: datetime) -> int:
        async with db.only_one_process(job) as mine:
            if not mine:
                log.debug("%s: another process is running it", job)
                return 0
            return await run(now)
    return sweep


def build_services(config: Config, db: Database, clock: Clock, notifier: Notifier,
                   metrics: Metrics | None = None, events: ScheduledEvents | None = None, *,
                   scope: str | None = None) -> Services:
    """Wire repositories into services and register scheduled sweeps.

    `scope` names this process among several sharing one database ("" for the only one): its
    sweeps' health rows carry it, and its outbox claims are taken in its name, so that a
    restart of the same scope takes back what its predecessor held, at once. By default it is
    named after the shards the configuration gives this process (`Shards.scope`).
    """
    if scope is None:
        scope = config.shards.scope() if config.shards is not None else ""
    metrics = metrics or NullMetrics()
    events = events or NoScheduledEvents()
    members = MemberRepository(db)
    guilds = GuildRepository(db)
    checkins_repo = CheckInRepository(db)
    outbox_repo = OutboxRepository(db)
    outbox = OutboxService(outbox_repo, members, notifier, clock, batch=config.scheduler.send_batch,
                           owner=claim_owner(scope), metrics=metrics)
    shards = config.shards
    ops = (OpsNotices(notifier, config.bot.ops_channel_id,
                      process=shards.label() if shards else None)
           if config.bot.ops_channel_id else None)
    scheduler = SweepScheduler(clock, outbox, HealthRepository(db, scope),
                               default_seconds=config.scheduler.sweep_seconds, ops=ops, metrics=metrics)
    settings = SettingsService(members, guilds, clock, config)
    guild_config = GuildConfigService(guilds, clock, config)
    checkins = CheckInService(db, checkins_repo, members, guilds, settings, guild_config, clock, config,
                              load_prompts(config.data_file("prompts.toml")), metrics=metrics)
    buddy_repo = BuddyRepository(db)
    buddies = BuddyService(db, buddy_repo, members, guild_config, outbox, checkins, checkins_repo,
                           clock, config)
    recovery = RecoveryService(RecoveryRepository(db), members, settings, guild_config, clock, config, buddies=buddies)
    coping_repo = CopingRepository(db)
    coping = CopingService(db, coping_repo, outbox, clock, load_coping_texts(config.data_file(COPING_FILE)))
    # /mystats shows urges surfed beside check-ins; a hard check-in offers the member's plan.
    checkins.urge_summary = coping.urge_summary
    mentor_repo = MentorRepository(db)
    pulse = PulseService(guild_config, PulseRepository(db), clock)
    for provider in (CheckInPulse(checkins_repo), UrgePulse(coping_repo), BuddyPulse(buddy_repo),
                     MentorshipPulse(mentor_repo, clock), MeetingReminderPulse(outbox_repo, clock)):
        pulse.register(provider)
    services = Services(
        config=config, db=db, clock=clock, notifier=notifier,
        members=members, guilds=guilds, outbox_repo=outbox_repo,
        settings=settings,
        guild_config=guild_config,
        outbox=outbox, scheduler=scheduler,
        privacy=PrivacyService(db, PrivacyRepository(db), members, outbox_repo, clock, config),
        checkins_repo=checkins_repo, checkins=checkins,
        recovery=recovery,
        buddies=buddies,
        mentors=MentorService(db, mentor_repo, buddy_repo, members, guild_config, outbox, checkins,
                              checkins_repo, recovery, clock, config),
        meetings=MeetingService(db, MeetingRepository(db), members, settings, outbox, events, clock, config),
        # The crisis data is loaded here, once, and kept in memory: /crisis never needs the database.
        crisis=CrisisService(db, CrisisRepository(db), guilds, outbox, notifier, clock, config,
                             load_crisis_data(config), metrics=metrics, plans=coping.plan),
        coping=coping,
        pulse=pulse,
        metrics=metrics,
    )
    scheduler.register("checkin-prompts", checkins.sweep_prompts, oldest_due=checkins_repo.earliest_prompt_due)
    scheduler.register("checkin-reminders", checkins.sweep_reminders, oldest_due=checkins_repo.earliest_reminder_due)
    outbox.on_result("checkin.reminder", checkins.on_reminder_result)
    guild_config.on_change(checkins.on_guild_changed)
    settings.on_change(checkins.on_member_changed)
    scheduler.register("recovery-milestones", services.recovery.sweep,
                       oldest_due=services.recovery.repo.earliest_due)
    guild_config.on_change(services.recovery.on_guild_change)
    settings.on_change(services.recovery.on_member_change)
    scheduler.register("buddy-nudges", services.buddies.nudge_sweep, every_seconds=3600)
    scheduler.register("buddy-matching", services.buddies.matching_sweep, oldest_due=services.buddies.matching_due)
    services.buddies.register_delivery_hooks()
    services.privacy.before_forget(services.buddies.forget_member_in, only_for=services.buddies.members_with_ties)
    scheduler.register("mentor-requests", services.mentors.request_sweep, oldest_due=services.mentors.request_due)
    scheduler.register("mentor-nudges", services.mentors.nudge_sweep, every_seconds=3600)
    services.privacy.before_forget(services.mentors.forget_member_in, only_for=services.mentors.members_with_ties)
    scheduler.register("meeting-events", services.meetings.events_sweep, oldest_due=services.meetings.events_due)
    scheduler.register("meeting-reminders", services.meetings.reminder_sweep,
                       oldest_due=services.meetings.reminders_due)
    outbox.on_result(REMINDER_KIND, services.meetings.on_reminder_result)
    # A reminder keeps serving a member who never types a command, as a counter does.
    services.privacy.hold_while(services.meetings.members_with_reminders)
    # A counter keeps counting (and celebrating) for a member who never types a command:
    # retention must not delete someone's days just before their anniversary.
    services.privacy.hold_while(services.recovery.members_counting)
    # Retention is the whole bot's job, not a shard's: one process at a time runs it.
    scheduler.register("retention-purge", one_process_at_a_time(db, "retention-purge", services.privacy.purge),
                       every_seconds=24 * 3600)
    services.crisis.register_delivery_hooks()
    scheduler.register("urge-checkbacks", coping.sweep_checkbacks, oldest_due=coping_repo.earliest_checkback_due)
    # The crisis numbers' age crosses its limit while a bot keeps running for months. They are the
    # whole deployment's: of several shard processes, the one with shard 0 says so.
    if ops is not None and (shards is None or 0 in shards.ids):
        ops.watch(lambda now: services.crisis.freshness_finding())
    guild_config.on_change(services.crisis.on_guild_change)
    return services
