"""Configuration loading: defaults, file, environment, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DATA_FILES, DEFAULT_API_BASE, example_toml, load_config, redact_url
from bot.domain.shards import Shards
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no config.toml here
    config = load_config(env={})
    assert config.source == "defaults"
    assert config.token is None
    assert config.api_base == DEFAULT_API_BASE
    assert config.gateway_url is None
    assert config.database_path == tmp_path / "data" / "kindred.sqlite3"  # resolved once, at start
    assert config.defaults.timezone == "UTC"
    assert config.milestones.ladder == (1, 3, 7, 14, 30, 60, 90, 180, 270, 365)


def test_committed_example_matches_schema_and_loads() -> None:
    example = ROOT / "config.example.toml"
    assert example.read_text(encoding="utf-8") == example_toml(), (
        "config.example.toml is out of date: regenerate it with "
        "`python -c \"from bot.config import example_toml; print(example_toml(), end='')\" > config.example.toml`"
    )
    assert load_config(example, env={}).source == str(example)


def test_file_values_and_environment_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, """
[bot]
log_level = "warning"
database = "from-file.sqlite3"
[defaults]
timezone = "Asia/Kolkata"
region = "gb"
prompt_time = "7:05"
[milestones]
ladder = [30, 7, 7, 1]
""")
    config = load_config(path, env={
        "DISCORD_TOKEN": " secret-token ",
        "KINDRED_DATABASE": "/tmp/override.sqlite3",
        "DISCORD_API_BASE": "http://127.0.0.1:9999/api/v10/",
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9999/gateway",
        "KINDRED_LOG_LEVEL": "debug",
    })
    assert config.token == "secret-token"
    assert str(config.database_path) == "/tmp/override.sqlite3"
    assert config.api_base == "http://127.0.0.1:9999/api/v10"
    assert config.gateway_url == "ws://127.0.0.1:9999/gateway"
    assert config.log_level == "DEBUG"
    assert config.defaults.timezone == "Asia/Kolkata"
    assert config.defaults.region == "GB"
    assert config.defaults.prompt_time == "7:05"
    assert config.milestones.ladder == (1, 7, 30)


@pytest.mark.parametrize(
    ("value", "host", "port"),
    [("127.0.0.1:9464", "127.0.0.1", 9464), ("0.0.0.0:9100", "0.0.0.0", 9100), ("localhost:0", "localhost", 0),
     ("[::1]:9464", "::1", 9464), (" metrics.internal:80 ", "metrics.internal", 80)],
)
def test_metrics_address_is_host_and_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, host: str,
                                          port: int) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={"KINDRED_METRICS_ADDR": value})
    assert config.metrics_address == (host, port)


def test_metrics_are_off_and_logs_are_text_unless_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.metrics_address is None
    assert config.log_format == "text"
    path = write(tmp_path, '[bot]\nlog_format = "json"\nmetrics_addr = "127.0.0.1:9464"\n')
    from_file = load_config(path, env={})
    assert from_file.log_format == "json" and from_file.metrics_address == ("127.0.0.1", 9464)
    overridden = load_config(path, env={"KINDRED_LOG_FORMAT": "TEXT", "KINDRED_METRICS_ADDR": "127.0.0.1:9100"})
    assert overridden.log_format == "text" and overridden.metrics_address == ("127.0.0.1", 9100)


def test_kindred_config_env_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\ntimezone = "Europe/Berlin"\n')
    assert load_config(env={"KINDRED_CONFIG": str(path)}).defaults.timezone == "Europe/Berlin"
    with pytest.raises(ConfigError) as info:
        load_config(env={"KINDRED_CONFIG": str(tmp_path / "missing.toml")})
    assert info.value.key == "KINDRED_CONFIG"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[defaults]\ntimezone = "GMT+2"\n', "defaults.timezone"),
        ('[defaults]\ntimezone = "Mars/Olympus"\n', "defaults.timezone"),
        ('[defaults]\ntimezone = 5\n', "defaults.timezone"),
        ('[defaults]\nprompt_time = "25:00"\n', "defaults.prompt_time"),
        ('[defaults]\nprompt_time = "9am"\n', "defaults.prompt_time"),
        ('[defaults]\nregion = "Atlantis"\n', "defaults.region"),
        ('[defaults]\ncelebration_hour = 24\n', "defaults.celebration_hour"),
        ('[bot]\nops_channel_id = 12345\n', "bot.ops_channel_id"),
        ('[bot]\nops_channel_id = "123456789012345678"\n', "bot.ops_channel_id"),
        ('[bot]\nlog_level = "LOUD"\n', "bot.log_level"),
        ('[bot]\nlog_format = "xml"\n', "bot.log_format"),
        ('[bot]\nmetrics_addr = "0.0.0.0"\n', "bot.metrics_addr"),
        ('[bot]\ncolour = "blue"\n', "bot.colour"),
        ('[buddies]\nmax_buddies = 9\n', "buddies.max_buddies"),
        ('[buddies]\nmatching = "yes"\n', "buddies.matching"),
        ('[milestones]\nladder = []\n', "milestones.ladder"),
        ('[milestones]\nladder = [0, 7]\n', "milestones.ladder"),
        ('[privacy]\nretention_days = 7\n', "privacy.retention_days"),
        ('[nonsense]\nx = 1\n', "nonsense"),
        ('bot = 3\n', "bot"),
        ('[bot]\ntoken = "abc"\n', "token"),
        ('[bot\n', "config"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    assert info.value.key == key
    assert info.value.problem


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"DISCORD_API_BASE": "discord.com/api"}, "DISCORD_API_BASE"),
        ({"DISCORD_GATEWAY_URL": "gateway"}, "DISCORD_GATEWAY_URL"),
        ({"KINDRED_LOG_LEVEL": "chatty"}, "KINDRED_LOG_LEVEL"),
        ({"KINDRED_LOG_FORMAT": "yaml"}, "KINDRED_LOG_FORMAT"),
        ({"KINDRED_METRICS_ADDR": "9100"}, "KINDRED_METRICS_ADDR"),
        ({"KINDRED_METRICS_ADDR": "localhost"}, "KINDRED_METRICS_ADDR"),
        ({"KINDRED_METRICS_ADDR": "127.0.0.1:http"}, "KINDRED_METRICS_ADDR"),
        ({"KINDRED_METRICS_ADDR": "127.0.0.1:70000"}, "KINDRED_METRICS_ADDR"),
        ({"KINDRED_METRICS_ADDR": ":9100"}, "KINDRED_METRICS_ADDR"),
        ({"KINDRED_METRICS_ADDR": "[::1:9100"}, "KINDRED_METRICS_ADDR"),
        ({"KINDRED_METRICS_ADDR": "two words:9100"}, "KINDRED_METRICS_ADDR"),
    ],
)
def test_bad_environment_names_the_variable(tmp_path: Path, env: dict[str, str], key: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(env=env)
    assert info.value.key == key


def test_describe_masks_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    token = "MTAxNTk.abcdefghijklmnopqrstuvwxyz0123456789"
    text = "\n".join(load_config(env={"DISCORD_TOKEN": token}).describe())
    assert token not in text
    assert "abcdefghijklmnopqrstuvwxyz" not in text
    assert "DISCORD_TOKEN = MTAx… (set," in text


# -- where files are: the same wherever the bot is started --------------------------------------

def test_relative_paths_in_the_file_resolve_against_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    etc, elsewhere = tmp_path / "etc", tmp_path / "elsewhere"
    etc.mkdir()
    elsewhere.mkdir()
    (etc / "own").mkdir()
    (etc / "rules").mkdir()
    (etc / "rules" / "phrases.toml").write_text("", encoding="utf-8")
    path = write(etc, '[bot]\ndatabase = "state/kindred.sqlite3"\ndata_dir = "own"\n'
                      '[crisis]\nphrases_file = "rules/phrases.toml"\n')
    for cwd in (tmp_path, elsewhere, etc):
        monkeypatch.chdir(cwd)
        for config in (load_config(path, env={}), load_config(env={"KINDRED_CONFIG": str(path)})):
            assert config.database_path == etc / "state" / "kindred.sqlite3"
            assert config.data_dir == etc / "own"
            assert config.data_files()["crisis_phrases.toml"] == etc / "rules" / "phrases.toml"


def test_paths_from_the_environment_resolve_against_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    config = load_config(env={"KINDRED_DATABASE": "db/k.sqlite3", "KINDRED_DATA_DIR": "mine"})
    assert config.database_path == tmp_path / "db" / "k.sqlite3"
    assert config.data_dir == tmp_path / "mine"


def test_the_shipped_data_is_package_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    package = ROOT / "bot"
    for name in DATA_FILES:
        found = config.data_file(name)
        assert found.is_file() and package in found.parents, (name, found)


def test_a_data_folder_overrides_the_shipped_files_one_by_one(tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    (own / "prompts.toml").write_text('prompts = ["What helped today?"]\n', encoding="utf-8")
    config = load_config(write(tmp_path, '[bot]\ndata_dir = "own"\n'), env={})
    assert config.data_file("prompts.toml") == own / "prompts.toml"
    assert config.data_file("crisis_resources.toml") == load_config(env={}).data_file("crisis_resources.toml")


@pytest.mark.parametrize(
    ("text", "env", "key", "says"),
    [
        ('[bot]\ndata_dir = "missing"\n', {}, "bot.data_dir", "no folder at"),
        ("", {"KINDRED_DATA_DIR": "missing"}, "KINDRED_DATA_DIR", "no folder at"),
        ('[crisis]\nresources_file = "data/crisis_resources.toml"\n', {}, "crisis.resources_file",
         "shipped data now lives inside the package"),
    ],
)
def test_a_data_path_that_is_not_there_names_the_key(tmp_path: Path, text: str, env: dict[str, str], key: str,
                                                     says: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env=env)
    assert info.value.key == key and says in info.value.problem and str(tmp_path) in info.value.problem


# -- shards: KINDRED_SHARD_COUNT + KINDRED_SHARD_IDS ---------------------------------------------

PG = {"KINDRED_DATABASE_URL": "postgresql://kindred@localhost/kindred"}


@pytest.mark.parametrize(("ids", "expected"), [
    ("0,1", {0, 1}), ("2-3", {2, 3}), ("0-1,3", {0, 1, 3}), (" 3 , 1 ", {1, 3}), ("0-0", {0}), ("00-003", {0, 1, 2, 3}),
])
def test_shard_ids_are_a_list_or_a_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         ids: str, expected: set[int]) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={**PG, "KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": ids})
    assert config.shards == Shards(4, frozenset(expected))


def test_no_shard_variables_means_one_process_with_every_shard(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(env={}).shards is None


def test_every_shard_in_one_process_runs_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={"KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "0-3"})
    assert config.shards == Shards(4, frozenset(range(4)))
    assert config.shards.complete


@pytest.mark.parametrize(("env", "key", "words"), [
    ({"KINDRED_SHARD_COUNT": "4"}, "KINDRED_SHARD_IDS", "set KINDRED_SHARD_IDS"),
    ({"KINDRED_SHARD_IDS": "0-1"}, "KINDRED_SHARD_COUNT", "set KINDRED_SHARD_COUNT"),
    ({"KINDRED_SHARD_COUNT": "0", "KINDRED_SHARD_IDS": "0"}, "KINDRED_SHARD_COUNT", "whole number"),
    ({"KINDRED_SHARD_COUNT": "four", "KINDRED_SHARD_IDS": "0"}, "KINDRED_SHARD_COUNT", "whole number"),
    ({"KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "4"}, "KINDRED_SHARD_IDS", "0 to 3"),
    ({"KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "2-5"}, "KINDRED_SHARD_IDS", "0 to 3"),
    ({"KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "3-1"}, "KINDRED_SHARD_IDS", "3-1"),
    ({"KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "a,b"}, "KINDRED_SHARD_IDS", "0,1 or 0-3"),
    ({"KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "0,,1"}, "KINDRED_SHARD_IDS", "0,1 or 0-3"),
    ({"KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "-1"}, "KINDRED_SHARD_IDS", "0,1 or 0-3"),
    # Some of the shards: other processes run the rest, and SQLite has one process.
    ({"KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "0-1"}, "KINDRED_SHARD_IDS", "KINDRED_DATABASE_URL"),
    # Digits are ASCII digits: Python's int() reads "٣" (Arabic-Indic three) as 3.
    ({**PG, "KINDRED_SHARD_COUNT": "٤", "KINDRED_SHARD_IDS": "0"}, "KINDRED_SHARD_COUNT", "whole number"),
    ({**PG, "KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "٣"}, "KINDRED_SHARD_IDS", "0,1 or 0-3"),
    ({**PG, "KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "0-٣"}, "KINDRED_SHARD_IDS", "0,1 or 0-3"),
    # Past Shards.MAX_COUNT (65,536) is a typo, not a bot: said before any range is built.
    ({**PG, "KINDRED_SHARD_COUNT": "65537", "KINDRED_SHARD_IDS": "0"}, "KINDRED_SHARD_COUNT", "65,536"),
    ({**PG, "KINDRED_SHARD_COUNT": "100000", "KINDRED_SHARD_IDS": "0-99999"}, "KINDRED_SHARD_COUNT", "65,536"),
    # Numbers past what int() reads from text (4,300 digits) are named too, not a traceback.
    ({**PG, "KINDRED_SHARD_COUNT": "9" * 5000, "KINDRED_SHARD_IDS": "0"}, "KINDRED_SHARD_COUNT", "65,536"),
    ({**PG, "KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "9" * 5000}, "KINDRED_SHARD_IDS", "0 to 3"),
    ({**PG, "KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "0-" + "9" * 5000}, "KINDRED_SHARD_IDS", "0 to 3"),
])
def test_bad_shard_settings_name_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              env: dict[str, str], key: str, words: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(env=env)
    assert info.value.key == key
    assert words in info.value.problem
    assert "\n" not in str(info.value)


def test_a_shard_count_past_the_cap_is_refused_before_its_ids_are_read(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Review of issue 16: the count was only checked against the ids, so this built a set of
    # 10**12 shard ids (MemoryError) before anything said the count is wrong.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(env={**PG, "KINDRED_SHARD_COUNT": "1000000000000", "KINDRED_SHARD_IDS": "0-999999999999"})
    assert info.value.key == "KINDRED_SHARD_COUNT" and "65,536" in info.value.problem


def test_shards_past_the_cap_are_refused_before_a_range_is_built() -> None:
    # The domain refuses them too, whoever reads shard ids: parse_ids checks the count (and each
    # id against it) before it expands a range, so no range it builds is longer than the cap.
    with pytest.raises(ValueError, match="65,536"):
        Shards.parse_ids("0-999999999999", 10 ** 12)
    with pytest.raises(ValueError, match="65,536"):
        Shards(Shards.MAX_COUNT + 1, frozenset({0}))
    assert len(Shards.parse_ids(f"0-{Shards.MAX_COUNT - 1}", Shards.MAX_COUNT)) == Shards.MAX_COUNT


def test_describe_shows_the_shards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    lines = load_config(env={**PG, "KINDRED_SHARD_COUNT": "4", "KINDRED_SHARD_IDS": "3,0-1"}).describe()
    assert "shards = 0-1,3 of 4" in lines
    assert "shards = (all, one process)" in load_config(env={}).describe()


def test_a_rest_proxy_needs_an_api_base_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "[bot]\nrest_proxy = true\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.key == "bot.rest_proxy" and "DISCORD_API_BASE" in info.value.problem
    config = load_config(path, env={"DISCORD_API_BASE": "http://127.0.0.1:8080/api/v10"})
    assert config.bot.rest_proxy


@pytest.mark.parametrize("url", ["postgresql://kindred@[::1/kindred", "postgresql://kindred@db:99999/kindred",
                                 "postgresql://kindred@db:0/kindred", "postgresql://kindred@db:5432x/kindred",
                                 "postgresql://kindred@db:٥٤٣٢/kindred",
                                 "postgresql://kindred@db1:5432,[::1:5433/kindred",
                                 "postgresql://kindred:p@ss@db/kindred"])
def test_a_database_url_that_cannot_be_read_is_named_at_load_not_a_traceback_later(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    # Review of issue 16: an unclosed IPv6 bracket passed load_config, then `check-config` died in
    # redact_url with urllib's "ValueError: Invalid IPv6 URL" traceback (and `run` only fails later,
    # after connecting to Discord); a port out of range passed check-config as fine.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(env={"KINDRED_DATABASE_URL": url})
    assert info.value.key == "KINDRED_DATABASE_URL"
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://kindred@localhost/kindred", "postgresql://kindred@localhost/kindred"),
    ("postgresql://kindred:s3cret@db.example:6432/kindred?sslmode=require",
     "postgresql://kindred:***@db.example:6432/kindred?sslmode=require"),
    ("postgresql://kindred:s3cret@[::1]:5433/kindred", "postgresql://kindred:***@[::1]:5433/kindred"),
    # asyncpg's several hosts (tried in turn): urllib cannot read their port, asyncpg can.
    ("postgresql://kindred:s3cret@db1:5432,db2:5433/kindred", "postgresql://kindred:***@db1:5432,db2:5433/kindred"),
    ("postgres://kindred:s3cret@/kindred?host=/run/postgresql", "postgres://kindred:***@/kindred?host=/run/postgresql"),
])
def test_every_database_url_load_config_accepts_is_shown_without_its_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, shown: str) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={"KINDRED_DATABASE_URL": url})
    assert config.database_url == url
    assert redact_url(url) == shown
    assert not any("s3cret" in line for line in config.describe())
