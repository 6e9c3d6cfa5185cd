"""Checks before a command uses the database or the data files, so a mistake is one clear line.

`check-config` runs all of them; `run`, `sync`, `migrate` and `backup` run those they need
before touching the network or the database. Each raises `OperatorError` naming the file
or path and the problem.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Config
from bot.domain.crisis.resources import ResourceDirectory, data_freshness
from bot.domain.crisis.templates import CrisisTemplates
from bot.errors import OperatorError
from bot.services.checkins import load_prompts
from bot.services.coping import load_coping_texts
from bot.services.crisis import load_detector
from bot.services.privacy import data_statement

SQLITE_HEADER = b"SQLite format 3\x00"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _resources(path: Path) -> str:
    directory = ResourceDirectory.load(path)
    # The real date, on purpose: this is the operator asking about today.
    fresh = data_freshness(directory, datetime.now(UTC).date())
    return f"{len(directory.countries)} countries; {'WARNING: ' if fresh.stale else ''}{fresh.describe()}"


def _templates(path: Path) -> str:
    return f"templates version {CrisisTemplates.load(path).version}"


def _phrases(path: Path) -> str:
    detector = load_detector(path)  # cached: the bot starting next does not compile them again
    return f"{len(detector.rules)} rules, version {detector.version}"


def _prompts(path: Path) -> str:
    load_prompts.cache_clear()  # a check reads the file as it is now
    return f"{len(load_prompts(path))} prompts"


def _coping(path: Path) -> str:
    texts = load_coping_texts(path)
    return f"coping texts version {texts.version} ({texts.review_status}), {len(texts.sources)} sources"


def _statement(path: Path) -> str:
    text = data_statement(path)
    if not text.strip():
        raise ValueError("is empty")
    if len(text) > 4096:  # /privacy info shows it as one embed description
        raise ValueError(f"is {len(text)} characters; Discord shows at most 4096")
    return f"{len(text)} characters"


_CHECKS: dict[str, Callable[[Path], str]] = {
    "crisis_resources.toml": _resources,
    "crisis_templates.toml": _templates,
    "crisis_phrases.toml": _phrases,
    "prompts.toml": _prompts,
    "data_statement.md": _statement,
    "coping.toml": _coping,
}


def check_data_files(config: Config, *, unused: bool = True) -> list[str]:
    """Load and validate the data files the bot runs on; return a `name = path (summary)` line each.

    With `unused=False` the phrase rules are skipped where passive detection cannot run (no
    message-content intent), as the bot then never reads them.
    """
    lines = []
    for name, path in config.data_files().items():
        if name == "crisis_phrases.toml" and not unused and not config.crisis.detection_intent:
            continue
        try:
            summary = _CHECKS[name](path)
        except (OSError, ValueError) as exc:
            problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problem = problem.removeprefix(f"{path}: ")
            raise OperatorError(f"data file {name} at {path}: {_one_line(problem)}") from None
        lines.append(f"{name} = {path} ({summary})")
    return lines


def check_database_path(path: Path, *, permissions: bool = True) -> str:
    """Say whether the database at `path` can be opened or created; raise OperatorError if not.

    Nothing is created. With `permissions`, also check this user may write the file and its
    folder (SQLite writes its WAL beside the file); `run` leaves that to its degraded mode,
    which serves crisis help and retries until the file is writable.
    """
    if path.is_dir():
        raise OperatorError(f"database {path} is a folder, not a file; point KINDRED_DATABASE "
                            "or [bot] database at a file such as kindred.sqlite3 inside it")
    if path.exists():
        try:
            with path.open("rb") as fh:
                header = fh.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise OperatorError(f"database {path} cannot be read: {exc.strerror}") from None
        if header and header != SQLITE_HEADER:
            raise OperatorError(f"database {path} is not a SQLite database; restore it from a backup "
                                "or point KINDRED_DATABASE elsewhere")
        if permissions and not (os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
            raise OperatorError(f"database {path} is not writable by this user (the file and its folder "
                                "must be)")
        return f"{path} (exists)"
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise OperatorError(f"cannot create the database at {path}: {folder} is a file, not a folder")
    if permissions and not os.access(folder, os.W_OK | os.X_OK):
        raise OperatorError(f"cannot create the database at {path}: this user may not write in {folder}")
    return f"{path} (will be created)"


def database_version(path: Path) -> int | None:
    """Return the schema version of an existing database, read-only (None if there is no file yet)."""
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise OperatorError(f"database {path} cannot be read: {exc}") from None
