"""Configuration: `config.toml` (documented in `config.example.toml`) plus environment.

Precedence: built-in defaults < the TOML file < environment variables. Every key is
validated for type and range at load time and a problem names the key at fault, so
`python -m bot check-config` can say exactly what to fix.

Paths are resolved once, at load, so the bot uses the same files wherever it is started:
a relative path in the config file is relative to the file's own folder; one from an
environment variable (or the default, when there is no config file) to the working
directory. The shipped data files are `data/`, packaged as `bot/data` (a link to it); a file of the same
name in `[bot] data_dir` replaces one of them, and `[crisis] *_file` names one explicitly.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.domain.countries import find_country
from bot.domain.localtime import InvalidTimeOfDayError, InvalidTimezoneError, parse_hhmm, zone
from bot.domain.shards import Shards
from bot.errors import ConfigError

SHIPPED_DATA = Path(__file__).resolve().parent / "data"
DATA_FILES = ("prompts.toml", "crisis_resources.toml", "crisis_phrases.toml", "crisis_templates.toml",
              "data_statement.md", "coping.toml")
DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_DATABASE = "data/kindred.sqlite3"
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
LOG_FORMATS = ("text", "json")


# -- validators: each returns the clean value or raises ValueError(reason) ------------

def _int_range(lo: int, hi: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number from {lo} to {hi}")
        if not lo <= value <= hi:
            raise ValueError(f"must be from {lo} to {hi}, got {value}")
        return value
    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _zone_name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be an IANA time zone name such as \"Europe/London\"")
    try:
        zone(value)
    except InvalidTimezoneError:
        raise ValueError(f"{value!r} is not an IANA time zone name (e.g. \"America/New_York\")") from None
    return value


def _hhmm(value: Any) -> str:
    try:
        parse_hhmm(value)
    except InvalidTimeOfDayError:
        raise ValueError(f"{value!r} is not a 24-hour time like \"09:00\"") from None
    return str(value).strip()


def _country_or_empty(value: Any) -> str:
    if value == "":
        return ""
    country = find_country(value) if isinstance(value, str) else None
    if country is None:
        raise ValueError(f"{value!r} is not an ISO 3166 country code or name (e.g. \"GB\")")
    return country.code


def _snowflake_or_zero(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
        value == 0 or 10**15 <= value < 2**63
    ):
        raise ValueError("must be a Discord id (a 17–20 digit number) or 0 for none")
    return value


def _ladder(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("must be a non-empty list of day counts, e.g. [1, 7, 30]")
    days = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= 36500:
            raise ValueError(f"{item!r} is not a day count from 1 to 36500")
        days.append(item)
    return tuple(sorted(set(days)))


SWEEP_SECONDS = (5, 6, 10, 12, 15, 20, 30, 60)


def _sweep_seconds(value: Any) -> int:
    if isinstance(value, bool) or value not in SWEEP_SECONDS:
        raise ValueError(f"must divide a minute, so sweeps fall on its start: one of {', '.join(map(str, SWEEP_SECONDS))}")
    return int(value)


def _log_level(value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return value.upper()


def _log_format(value: Any) -> str:
    if not isinstance(value, str) or value.strip().lower() not in LOG_FORMATS:
        raise ValueError(f"must be one of {', '.join(LOG_FORMATS)}")
    return value.strip().lower()


def parse_host_port(value: Any) -> tuple[str, int]:
    """Split `host:port` (`[v6 address]:port` for IPv6) into its parts, or raise ValueError naming the problem."""
    example = "a host:port such as 127.0.0.1:9464 (or [::1]:9464)"
    if not isinstance(value, str) or ":" not in value:
        raise ValueError(f"must be {example}")
    host, _, port_text = value.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif "[" in host or "]" in host or ":" in host:
        raise ValueError(f"must be {example}; write an IPv6 address in brackets")
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"must be {example}; the host is missing or has spaces")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"must be {example}; the port must be a number from 0 to 65535")
    return host, int(port_text)


def _host_port_or_empty(value: Any) -> str:
    if value == "":
        return ""
    parse_host_port(value)
    return str(value).strip()


def _path(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty path")
    return value


def _path_or_empty(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a path, or \"\" for the default")
    return value.strip()


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://", "ws://", "wss://")):
        raise ValueError("must be an http(s):// or ws(s):// URL")
    return value.rstrip("/")


def check_database_url(value: str) -> str:
    """Return a PostgreSQL URL stripped of spaces (ValueError naming what is wrong).

    Its hosts and ports are read as asyncpg reads them (`host:port`, `[v6]:port`, several
    separated by commas), so a URL that cannot connect is named at start, not after the gateway.
    """
    value = value.strip()
    if not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("must be a PostgreSQL URL such as postgresql://kindred@localhost/kindred "
                         "(unset it to use the SQLite file)")
    try:
        urlsplit(value)  # what asyncpg reads the URL with first (an unclosed [ fails here)
    except ValueError as exc:
        raise ValueError(f"cannot be read as a URL ({exc}): write an IPv6 host in brackets, [::1]:5432") from None
    userinfo, _, hosts = _netloc(value).rpartition("@")
    if "@" in userinfo:
        # asyncpg splits at the first @, urllib at the last: they would disagree on the host.
        raise ValueError("has more than one @: write an @ in the user name or password as %40")
    for host in hosts.split(","):
        match = _HOST.fullmatch(host)
        if match is None:
            raise ValueError(f"has a host that cannot be read ({host!r}): write an IPv6 host in brackets, [::1]:5432")
        port = match["port"]
        if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError(f"has a port that is not a number from 1 to 65535 ({port!r})")
    return value


# One host of a PostgreSQL URL as asyncpg reads it: `[v6]`, a name or address, or nothing (the
# local socket); then `:port` or not.
_HOST = re.compile(r"(?:\[[^\[\]]+\]|[^\[\]:]*)(?::(?P<port>[^:]*))?")


def _netloc(url: str) -> str:
    """Return the part of a URL between `//` and the path, query or fragment (users and hosts)."""
    rest = url.partition("://")[2]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return rest[:end]


def redact_url(url: str) -> str:
    """Return a connection URL without its password, for messages and logs (never raises)."""
    # Read as text, not with urlsplit: urllib cannot read the port of asyncpg's several hosts.
    netloc = _netloc(url)
    userinfo, _, hosts = netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if not colon:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}:***@{hosts}{rest[len(netloc):]}"


def _spec(default: Any, check: Callable[[Any], Any], doc: str) -> Any:
    return field(default=default, metadata={"check": check, "doc": doc})


# -- sections --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BotSection:
    """[bot]: process-level settings."""

    log_level: str = _spec("INFO", _log_level, "log level (KINDRED_LOG_LEVEL overrides)")
    log_format: str = _spec("text", _log_format,
                            "text, or json: one JSON object a line (KINDRED_LOG_FORMAT overrides)")
    metrics_addr: str = _spec("", _host_port_or_empty,
                              "host:port to serve Prometheus metrics on, e.g. 127.0.0.1:9464 "
                              "(KINDRED_METRICS_ADDR overrides); empty = off")
    database: str = _spec(DEFAULT_DATABASE, _path,
                          "SQLite file (KINDRED_DATABASE overrides); relative to this file's folder")
    data_dir: str = _spec("", _path_or_empty,
                          "folder of your own data files (prompts.toml, coping.toml, crisis_*.toml, data_statement.md); each "
                          "replaces the shipped file of its name (KINDRED_DATA_DIR overrides; empty = shipped only)")
    ops_channel_id: int = _spec(0, _snowflake_or_zero,
                                "channel for operator notices (start-up, database trouble); never member data; 0 = off")
    rest_proxy: bool = _spec(False, _bool,
                             "DISCORD_API_BASE is a REST proxy (such as nirn-proxy) that keeps Discord's global rate "
                             "limit for every process of the bot, so each may use all of it; false = each shard "
                             "process keeps to its share")


@dataclass(frozen=True, slots=True)
class DefaultsSection:
    """[defaults]: what a new server starts with until a moderator changes it."""

    timezone: str = _spec("UTC", _zone_name, "server time zone until /config checkins sets one")
    region: str = _spec("", _country_or_empty, "default country for /crisis (ISO code); empty = worldwide directory")
    prompt_time: str = _spec("09:00", _hhmm, "local time of the daily check-in prompt")
    celebration_hour: int = _spec(10, _int_range(0, 23), "local hour from which milestones are celebrated")


@dataclass(frozen=True, slots=True)
class MilestonesSection:
    """[milestones]: the default ladder (servers can change theirs)."""

    ladder: tuple[int, ...] = _spec((1, 3, 7, 14, 30, 60, 90, 180, 270, 365), _ladder,
                                    "days celebrated; after the last, every further year")


@dataclass(frozen=True, slots=True)
class BuddiesSection:
    """[buddies]: defaults for accountability buddies."""

    nudge_after_days: int = _spec(2, _int_range(1, 14), "days without a check-in before the partner is nudged")
    max_buddies: int = _spec(3, _int_range(1, 5), "buddies a member may have at once")
    matching: bool = _spec(True, _bool, "whether /buddy find pairs members")
    repeat_avoid_days: int = _spec(90, _int_range(0, 3650), "days before the same two members are matched again")


@dataclass(frozen=True, slots=True)
class MentorsSection:
    """[mentors]: defaults for mentoring (servers change theirs with /config mentors)."""

    enabled: bool = _spec(True, _bool, "whether members may offer to mentor with /mentor offer")
    min_days: int = _spec(0, _int_range(0, 3650),
                          "days a mentor must have on a counter they share with the server (0 = none needed)")


@dataclass(frozen=True, slots=True)
class CrisisSection:
    """[crisis]: crisis resources and passive detection."""

    detection_intent: bool = _spec(False, _bool,
                                   "request the message-content intent so servers can enable passive detection")
    resources_file: str = _spec("", _path_or_empty,
                                "vetted crisis resources; empty = crisis_resources.toml from data_dir, else shipped")
    phrases_file: str = _spec("", _path_or_empty,
                              "passive-detection phrase rules; empty = crisis_phrases.toml from data_dir, else shipped")
    templates_file: str = _spec("", _path_or_empty,
                                "reply templates; empty = crisis_templates.toml from data_dir, else shipped")


@dataclass(frozen=True, slots=True)
class SchedulerSection:
    """[scheduler]: how often due work is looked for."""

    sweep_seconds: int = _spec(60, _sweep_seconds, "seconds between due-work sweeps, on the minute (divides 60)")
    send_batch: int = _spec(50, _int_range(1, 1000), "messages sent per outbox pass")


@dataclass(frozen=True, slots=True)
class PrivacySection:
    """[privacy]: retention."""

    retention_days: int = _spec(365, _int_range(30, 3650),
                                "delete a member's data after this many days without using the bot")
    left_guild_days: int = _spec(30, _int_range(1, 365),
                                 "delete a server's data this many days after the bot left it")


SECTIONS: dict[str, type] = {
    "bot": BotSection, "defaults": DefaultsSection, "milestones": MilestonesSection,
    "buddies": BuddiesSection, "mentors": MentorsSection, "crisis": CrisisSection, "scheduler": SchedulerSection,
    "privacy": PrivacySection,
}


@dataclass(frozen=True, slots=True)
class Config:
    """The effective configuration."""

    token: str | None = None
    database_path: Path = Path(DEFAULT_DATABASE)
    # `KINDRED_DATABASE_URL`: PostgreSQL instead of the SQLite file (None: SQLite).
    database_url: str | None = None
    # A folder whose files replace shipped data files of the same name (None: shipped only).
    data_dir: Path | None = None
    api_base: str = DEFAULT_API_BASE
    gateway_url: str | None = None
    # `KINDRED_SHARD_COUNT` + `KINDRED_SHARD_IDS`: the shards this process runs (None: every shard,
    # one process, as a bot below Discord's sharding threshold runs).
    shards: Shards | None = None
    source: str = "defaults"
    bot: BotSection = field(default_factory=BotSection)
    defaults: DefaultsSection = field(default_factory=DefaultsSection)
    milestones: MilestonesSection = field(default_factory=MilestonesSection)
    buddies: BuddiesSection = field(default_factory=BuddiesSection)
    mentors: MentorsSection = field(default_factory=MentorsSection)
    crisis: CrisisSection = field(default_factory=CrisisSection)
    scheduler: SchedulerSection = field(default_factory=SchedulerSection)
    privacy: PrivacySection = field(default_factory=PrivacySection)

    @property
    def log_level(self) -> str:
        """The effective log level."""
        return self.bot.log_level

    @property
    def log_format(self) -> str:
        """The effective log format: `text` or `json`."""
        return self.bot.log_format

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """Where to serve Prometheus metrics (host, port), or None when they are off."""
        return parse_host_port(self.bot.metrics_addr) if self.bot.metrics_addr else None

    def describe(self) -> list[str]:
        """Return `key = value` lines of the effective settings, token masked."""
        token = "(not set)" if not self.token else f"{self.token[:4]}… (set, {len(self.token)} chars)"
        lines = [
            f"source = {self.source}",
            f"DISCORD_TOKEN = {token}",
            f"database = {self.database_path}" if self.database_url is None
            else f"database = {redact_url(self.database_url)} (PostgreSQL)",
            f"data_dir = {self.data_dir or '(none: shipped data files only)'}",
            f"api_base = {self.api_base}",
            f"gateway_url = {self.gateway_url or '(Discord default)'}",
            "shards = (all, one process)" if self.shards is None
            else f"shards = {self.shards.describe()} of {self.shards.count}",
        ]
        for name in SECTIONS:
            section = getattr(self, name)
            for f in fields(section):
                value = getattr(section, f.name)
                if isinstance(value, tuple):
                    value = list(value)
                lines.append(f"{name}.{f.name} = {value!r}")
        return lines

    def data_files(self) -> dict[str, Path]:
        """Return where each data file is read from (file name → path)."""
        configured = {"crisis_resources.toml": self.crisis.resources_file,
                      "crisis_phrases.toml": self.crisis.phrases_file,
                      "crisis_templates.toml": self.crisis.templates_file}
        return {name: self.data_file(name, configured.get(name, "")) for name in DATA_FILES}

    def data_file(self, name: str, configured: str = "") -> Path:
        """Return where to read a data file: `configured` if set, else data_dir's copy, else the shipped one."""
        if configured:
            return Path(configured)
        if self.data_dir is not None and (self.data_dir / name).is_file():
            return self.data_dir / name
        return SHIPPED_DATA / name


def _build_section(name: str, raw: Any) -> Any:
    cls = SECTIONS[name]
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(name, "must be a table, e.g. [" + name + "]")
    known = {f.name: f for f in fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{name}.{key}", f"unknown key (known: {', '.join(known)})")
    values = {}
    for key, value in raw.items():
        try:
            values[key] = known[key].metadata["check"](value)
        except ValueError as exc:
            raise ConfigError(f"{name}.{key}", str(exc)) from None
    return cls(**values)


# The defaults of the `[crisis] *_file` keys before the data moved into the package; a config
# copied from an old example still names them.
_OLD_DATA_DEFAULTS = {f"data/{name}" for name in DATA_FILES}


def _resolve(path: str, base: Path) -> Path:
    """Return `path` made absolute against `base` (`~` expanded)."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else base / candidate


def _data_folder(value: str, base: Path, key: str) -> Path | None:
    if not value:
        return None
    folder = _resolve(value, base)
    if not folder.is_dir():
        raise ConfigError(key, f"no folder at {folder}")
    return folder


def _crisis_files(section: CrisisSection, base: Path) -> CrisisSection:
    """Resolve the explicitly named crisis data files; each must exist."""
    values = {}
    for f in fields(CrisisSection):
        value = getattr(section, f.name)
        if not f.name.endswith("_file") or not value:
            values[f.name] = value
            continue
        resolved = _resolve(value, base)
        if not resolved.is_file():
            hint = ("; the shipped data now lives inside the package, so delete this key to use it "
                    "(or put your own copy in [bot] data_dir)") if value in _OLD_DATA_DEFAULTS else ""
            raise ConfigError(f"crisis.{f.name}", f"no file at {resolved}{hint}")
        values[f.name] = str(resolved)
    return CrisisSection(**values)


def load_config(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load defaults, then the TOML file, then environment overrides; validate everything."""
    env = os.environ if env is None else env
    cwd = Path.cwd()
    if path is None and env.get("KINDRED_CONFIG"):
        path = env["KINDRED_CONFIG"]
        if not Path(path).is_file():
            raise ConfigError("KINDRED_CONFIG", f"no config file at {_resolve(str(path), cwd)}")
    if path is None and Path("config.toml").is_file():
        path = "config.toml"
    raw: dict[str, Any] = {}
    source = "defaults"
    # Relative paths in the file are relative to the file, wherever the bot is started.
    base = cwd
    if path is not None:
        config_file = _resolve(str(path), cwd)
        try:
            raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("config", f"no config file at {config_file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("config", f"{config_file} is not valid TOML: {exc}") from None
        source = str(config_file)
        base = config_file.parent
        if "token" in raw or any(isinstance(v, dict) and "token" in v for v in raw.values()):
            raise ConfigError("token", "never put the token in the file; set DISCORD_TOKEN instead")
    for key in raw:
        if key not in SECTIONS:
            raise ConfigError(key, f"unknown section (known: {', '.join(SECTIONS)})")
    sections = {name: _build_section(name, raw.get(name)) for name in SECTIONS}
    sections["crisis"] = _crisis_files(sections["crisis"], base)

    overrides = {}
    for variable, key, check in (("KINDRED_LOG_LEVEL", "log_level", _log_level),
                                 ("KINDRED_LOG_FORMAT", "log_format", _log_format),
                                 ("KINDRED_METRICS_ADDR", "metrics_addr", _host_port_or_empty)):
        if env.get(variable):
            try:
                overrides[key] = check(env[variable])
            except ValueError as exc:
                raise ConfigError(variable, str(exc)) from None
    database = _resolve(sections["bot"].database, base)
    if env.get("KINDRED_DATABASE"):
        database = _resolve(env["KINDRED_DATABASE"], cwd)
        overrides["database"] = env["KINDRED_DATABASE"]
    if env.get("KINDRED_DATA_DIR"):
        data_dir = _data_folder(env["KINDRED_DATA_DIR"].strip(), cwd, "KINDRED_DATA_DIR")
        overrides["data_dir"] = env["KINDRED_DATA_DIR"].strip()
    else:
        data_dir = _data_folder(sections["bot"].data_dir, base, "bot.data_dir")
    if overrides:
        bot_section = sections["bot"]
        values = {f.name: getattr(bot_section, f.name) for f in fields(BotSection)} | overrides
        sections["bot"] = BotSection(**values)

    api_base = DEFAULT_API_BASE
    if env.get("DISCORD_API_BASE"):
        try:
            api_base = _url(env["DISCORD_API_BASE"])
        except ValueError as exc:
            raise ConfigError("DISCORD_API_BASE", str(exc)) from None
    gateway_url = None
    if env.get("DISCORD_GATEWAY_URL"):
        try:
            gateway_url = _url(env["DISCORD_GATEWAY_URL"])
        except ValueError as exc:
            raise ConfigError("DISCORD_GATEWAY_URL", str(exc)) from None

    database_url = None
    if env.get("KINDRED_DATABASE_URL", "").strip():
        try:
            database_url = check_database_url(env["KINDRED_DATABASE_URL"])
        except ValueError as exc:
            raise ConfigError("KINDRED_DATABASE_URL", str(exc)) from None

    shards = _shards(env, database_url)
    if sections["bot"].rest_proxy and api_base == DEFAULT_API_BASE:
        raise ConfigError("bot.rest_proxy", "requests go to Discord itself: set DISCORD_API_BASE to the proxy's "
                                            "address (e.g. http://127.0.0.1:8080/api/v10), or turn rest_proxy off")
    token = (env.get("DISCORD_TOKEN") or "").strip() or None
    return Config(
        token=token,
        database_path=database,
        database_url=database_url,
        data_dir=data_dir,
        api_base=api_base,
        gateway_url=gateway_url,
        shards=shards,
        source=source,
        **sections,
    )


def _shards(env: Mapping[str, str], database_url: str | None) -> Shards | None:
    """Read KINDRED_SHARD_COUNT and KINDRED_SHARD_IDS (both or neither)."""
    count_text = env.get("KINDRED_SHARD_COUNT", "").strip()
    ids_text = env.get("KINDRED_SHARD_IDS", "").strip()
    if not count_text and not ids_text:
        return None
    if not ids_text:
        raise ConfigError("KINDRED_SHARD_IDS", "set KINDRED_SHARD_IDS with KINDRED_SHARD_COUNT: the shards this "
                                               "process runs, such as 0-1 (or all of them: 0-N)")
    if not count_text:
        raise ConfigError("KINDRED_SHARD_COUNT", "set KINDRED_SHARD_COUNT with KINDRED_SHARD_IDS: how many shards "
                                                 "the bot has in all processes together")
    if problem := Shards.count_problem(count_text):
        raise ConfigError("KINDRED_SHARD_COUNT", problem)
    count = int(count_text)
    try:
        shards = Shards(count, Shards.parse_ids(ids_text, count))
    except ValueError as exc:
        raise ConfigError("KINDRED_SHARD_IDS", str(exc)) from None
    if not shards.complete and database_url is None:
        # Another process must run the other shards, and an SQLite file has one process:
        # two of them on one file would each see the other's rows but lock each other out.
        raise ConfigError("KINDRED_SHARD_IDS", f"this process runs only shards {shards.describe()} of {count}, so "
                                               "other processes run the rest, which needs PostgreSQL: set "
                                               "KINDRED_DATABASE_URL (SQLite serves one process with every shard)")
    return shards


def example_toml() -> str:
    """Render the documented example config from the schema (kept in sync by a test)."""
    out = [
        "# Kindred configuration. Copy to config.toml and edit; every key is optional and",
        "# shows its default. Environment variables override: DISCORD_TOKEN (required to run,",
        "# never put it in this file), KINDRED_CONFIG, KINDRED_DATABASE, KINDRED_DATABASE_URL",
        "# (postgresql://… to use PostgreSQL instead of the SQLite file), KINDRED_DATA_DIR,",
        "# DISCORD_API_BASE, DISCORD_GATEWAY_URL, KINDRED_LOG_LEVEL, KINDRED_LOG_FORMAT,",
        "# KINDRED_METRICS_ADDR, KINDRED_SHARD_COUNT with KINDRED_SHARD_IDS (0,1 or 0-3: the shards",
        "# this process runs; only some of them needs KINDRED_DATABASE_URL).",
        "# Relative paths here are relative to this file's folder; relative paths in environment",
        "# variables (and the defaults, when there is no config file) to the working directory.",
    ]
    for name, cls in SECTIONS.items():
        out.append("")
        out.append(f"# {cls.__doc__}")
        out.append(f"[{name}]")
        for f in fields(cls):
            out.append(f"# {f.metadata['doc']}")
            out.append(f"{f.name} = {_toml_value(f.default)}")
    return "\n".join(out) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)
