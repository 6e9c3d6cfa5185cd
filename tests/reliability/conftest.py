"""Reliability tests reuse the end-to-end fixtures (the fake Discord, the community, Kindred)."""

from __future__ import annotations

from tests.e2e.conftest import bot_process, community, fake_discord, kindred, kindred_config

__all__ = ["bot_process", "community", "fake_discord", "kindred", "kindred_config"]
