"""Reliability tests reuse the end-to-end fixtures (the fake Discord, the community, Kindred)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import bot_process, community, fake_discord, kindred, kindred_config

__all__ = ["bot_process", "community", "fake_discord", "kindred", "kindred_config"]

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark reliability tests that run the bot against the fake Discord with `e2e`, as under tests/e2e."""
    for item in items:
        if HERE in item.path.parents and "fake_discord" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)
