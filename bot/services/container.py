"""The composition of repositories and services (no Discord)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config
from bot.db.database import Database
from bot.db.guilds import GuildRepository
from bot.db.members import MemberRepository
from bot.db.outbox import OutboxRepository
from bot.db.privacy import PrivacyRepository
from bot.domain.clock import Clock
from bot.scheduling.scheduler import SweepScheduler
from bot.services.guild_config import GuildConfigService
from bot.services.outbox import OutboxService
from bot.services.ports import Notifier
from bot.services.privacy import PrivacyService
from bot.services.settings import SettingsService


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


def build_services(config: Config, db: Database, clock: Clock, notifier: Notifier) -> Services:
    """Wire repositories into services and register scheduled sweeps."""
    members = MemberRepository(db)
    guilds = GuildRepository(db)
    outbox_repo = OutboxRepository(db)
    outbox = OutboxService(outbox_repo, members, notifier, clock, batch=config.scheduler.send_batch)
    scheduler = SweepScheduler(clock, outbox, default_seconds=config.scheduler.sweep_seconds)
    services = Services(
        config=config, db=db, clock=clock, notifier=notifier,
        members=members, guilds=guilds, outbox_repo=outbox_repo,
        settings=SettingsService(members, guilds, clock, config),
        guild_config=GuildConfigService(guilds, clock, config),
        outbox=outbox, scheduler=scheduler,
        privacy=PrivacyService(db, PrivacyRepository(db), members, clock, config),
    )
    scheduler.register("retention-purge", services.privacy.purge, every_seconds=24 * 3600)
    return services
