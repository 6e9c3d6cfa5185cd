"""A minimal discord.py client exercising what Kindred uses, to prove the fake against real discord.py."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import discord
from discord import app_commands

from bot.app import cancel_ready_wait
from bot.fakediscord import FakeDiscord, discord_endpoints

TIMEZONES = ["Europe/London", "Europe/Lisbon", "America/New_York", "Asia/Kolkata"]


class FeedbackModal(discord.ui.Modal, title="How are you?"):
    mood: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(label="Mood 1-5", custom_id="mood", max_length=1)
    note: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(label="Note", custom_id="note", required=False)

    def __init__(self) -> None:
        super().__init__(custom_id="mini:feedback:modal")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"mood={self.mood.value} note={self.note.value!r}", ephemeral=True)


class Panel(discord.ui.View):
    """A persistent view: fixed custom ids, no timeout, registered in setup_hook."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Hello", custom_id="mini:hello")
    async def hello(self, interaction: discord.Interaction, button: discord.ui.Button[Panel]) -> None:
        await interaction.response.send_message(f"hello {interaction.user.name}", ephemeral=True)

    @discord.ui.button(label="Feedback", custom_id="mini:feedback")
    async def feedback(self, interaction: discord.Interaction, button: discord.ui.Button[Panel]) -> None:
        await interaction.response.send_modal(FeedbackModal())

    @discord.ui.button(label="Later", custom_id="mini:later")
    async def later(self, interaction: discord.Interaction, button: discord.ui.Button[Panel]) -> None:
        await interaction.response.defer()  # on a component: deferred update (type 6)
        await interaction.edit_original_response(content="updated later")

    @discord.ui.button(label="Done", custom_id="mini:done")
    async def done(self, interaction: discord.Interaction, button: discord.ui.Button[Panel]) -> None:
        await interaction.response.edit_message(content="closed", view=None)


class MiniBot(discord.Client):
    def __init__(self, **options: object) -> None:
        intents = options.pop("intents", None) or discord.Intents.default()
        super().__init__(intents=intents, guild_ready_timeout=0.05, **options)  # type: ignore[arg-type]
        self.tree = app_commands.CommandTree(self)
        self.seen: list[discord.Message] = []
        self.resumed = asyncio.Event()
        _register(self.tree)

    async def setup_hook(self) -> None:
        self.add_view(Panel())

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s pause before re-identifying (the fake has no identify rate limit)."""

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)

    async def on_resumed(self) -> None:
        self.resumed.set()


def _register(tree: app_commands.CommandTree[MiniBot]) -> None:
    @tree.command(description="Answer pong")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong", ephemeral=True)

    @tree.command(description="Echo every option type")
    @app_commands.describe(text="text")
    async def echo(interaction: discord.Interaction, text: str, count: int, flag: bool, who: discord.Member,
                   where: discord.TextChannel, role: discord.Role, ratio: float, public: bool = False) -> None:
        perms = who.guild_permissions.manage_guild if isinstance(who, discord.Member) else None
        await interaction.response.send_message(
            f"text={text} count={count} flag={flag} who={who.name} manage={perms} where={where.name} role={role.name} ratio={ratio} "
            f"caller_manage={interaction.permissions.manage_guild} app_send={interaction.app_permissions.send_messages}",
            ephemeral=not public,
        )

    settings = app_commands.Group(name="settings", description="Your settings")

    @settings.command(name="timezone", description="Set your time zone")
    async def timezone(interaction: discord.Interaction, tz: str) -> None:
        await interaction.response.send_message(f"zone set to {tz}", ephemeral=True)

    @timezone.autocomplete("tz")
    async def timezone_complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in TIMEZONES if z.lower().startswith(current.lower())]

    quiet = app_commands.Group(name="quiet", description="Quiet hours", parent=settings)

    @quiet.command(name="set", description="Set quiet hours")
    @app_commands.choices(level=[app_commands.Choice(name="soft", value="soft"), app_commands.Choice(name="strict", value="strict")])
    async def quiet_set(interaction: discord.Interaction, start: str, level: str = "soft") -> None:
        await interaction.response.send_message(f"quiet from {start} ({level})", ephemeral=True)

    tree.add_command(settings)

    @tree.command(description="Manage-server only")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def admin(interaction: discord.Interaction) -> None:
        ok = interaction.permissions.manage_guild
        await interaction.response.send_message("admin ok" if ok else "you need Manage Server", ephemeral=True)

    @tree.command(description="Defer, then follow up")
    async def slow(interaction: discord.Interaction, edit: bool = False) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        if edit:
            await interaction.edit_original_response(content="done (edited)")
        else:
            await interaction.followup.send("done (followup)", ephemeral=True)
        await interaction.followup.send("and one more", ephemeral=True)

    @tree.command(description="Reply, then read the reply back")
    async def peek(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first", ephemeral=True)
        original = await interaction.original_response()
        await interaction.followup.send(f"original={original.content} ephemeral={original.flags.ephemeral}", ephemeral=True)

    @tree.command(description="Post the panel")
    async def panel(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("posted", ephemeral=True)
        assert interaction.channel is not None
        await interaction.channel.send("Panel", view=Panel())  # type: ignore[union-attr]

    @tree.command(description="Export a file")
    async def export(interaction: discord.Interaction) -> None:
        data = io.BytesIO(b'{"moods": [3, 4]}')
        await interaction.response.send_message("your data", file=discord.File(data, "export.json"), ephemeral=True)

    @tree.command(description="DM someone")
    async def dm(interaction: discord.Interaction, who: discord.User) -> None:
        await interaction.response.defer(ephemeral=True)
        try:
            await who.send("a kind word")
        except discord.Forbidden as exc:
            await interaction.followup.send(f"dm refused {exc.status} {exc.code}", ephemeral=True)
        else:
            await interaction.followup.send("dm sent", ephemeral=True)

    @tree.command(description="Send one message twice with the same nonce")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        channel = interaction.channel
        first = await channel.send("exactly once", nonce="kindred-1")  # type: ignore[union-attr]
        second = await channel.send("exactly once", nonce="kindred-1")  # type: ignore[union-attr]
        await first.add_reaction("🎉")
        await interaction.followup.send(f"same={first.id == second.id}", ephemeral=True)


@asynccontextmanager
async def running(fake: FakeDiscord, **options: object) -> AsyncIterator[MiniBot]:
    """Run a MiniBot against `fake` until the block ends; commands are synced globally first."""
    with discord_endpoints(fake.api_base, fake.gateway_url):
        client = MiniBot(**options)
        # Entering the client sets it up (discord.py's own idiom), so wait_until_ready() may be
        # awaited before the start task has run: since Python 3.12, asyncio.wait_for awaits its
        # coroutine at once in this task instead of scheduling it after `start`.
        async with client:
            task = asyncio.create_task(client.start(fake.token), name="minibot")
            try:
                await asyncio.wait_for(client.wait_until_ready(), 10)
                await client.tree.sync()
                yield client
            finally:
                await client.close()
                cancel_ready_wait(client)
                await asyncio.wait_for(task, 10)
