"""Errors a member or moderator may see, kept apart from faults.

A `UserFacingError` carries a message written for a person: kind, specific, and safe
to show. The command tree turns it into an ephemeral reply; any other exception is a
fault, logged with ids and answered with a generic apology. Never show `str(exc)` of
anything else.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose message is written for the member and safe to show them."""

    kind = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(UserFacingError):
    """An option or field the member gave that we cannot use."""

    kind = "invalid"


class NotFoundError(UserFacingError):
    """Something the member asked about does not exist (or is not theirs to see)."""

    kind = "not_found"


class ConflictError(UserFacingError):
    """The request clashes with existing state (already done, limit reached)."""

    kind = "conflict"


class PermissionDeniedError(UserFacingError):
    """The member lacks the permission a command needs."""

    kind = "permission"


class NotConfiguredError(UserFacingError):
    """The server has not set up what this command needs yet."""

    kind = "not_configured"


class ServiceUnavailableError(UserFacingError):
    """A dependency (usually the database) is unavailable right now."""

    kind = "unavailable"


class DatabaseUnavailableError(Exception):
    """The database cannot be used right now (locked, read-only, missing, closed).

    A fault, not a `UserFacingError`: the command tree answers it with its own kind reply
    that points to `/crisis`. It lives here so cogs can catch it without importing `bot.db`.
    """


class MigrationError(Exception):
    """A migration failed and was rolled back."""


class OperatorError(Exception):
    """Something the person running Kindred must fix (a path, a file, the token, the network).

    The command line prints its message as one line and exits with code 2, never a traceback;
    the message names the problem and, where it can, what to do.
    """


class ConfigError(Exception):
    """The configuration file or environment is invalid; names the key at fault."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem
