"""The gateway websocket: HELLO, IDENTIFY/READY, heartbeats, dispatch, RESUME with replay, and outages."""

from __future__ import annotations

import asyncio
import json
import uuid
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import WSMsgType, web

from .records import Changes, GatewayRecord
from .state import World

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 7, 9, 10, 11
CLIENT_CLOSES = (1000, 1001)  # a client closing with these ends its session; anything else may resume
REPLAY_BUFFER = 1000

EventData = dict[str, Any] | Callable[["Session"], dict[str, Any] | None]


class Connection:
    """One websocket. zlib-stream compression when the client asks for it (discord.py does)."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, gateway: Gateway) -> None:
        self.request, self.ws, self.gateway = request, ws, gateway
        self.session: Session | None = None
        self.heartbeats: asyncio.Task[None] | None = None
        self._zlib = zlib.compressobj() if gateway.compress and request.query.get("compress") == "zlib-stream" else None

    async def send(self, frame: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        text = json.dumps(frame)
        self.gateway.record("send", frame, self.session)
        try:
            if self._zlib is not None:
                await self.ws.send_bytes(self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH))
            else:
                await self.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            pass  # the client went away; the session buffers for a resume


class Session:
    """A gateway session: survives its connection and replays what the client missed on RESUME."""

    def __init__(self, intents: int, shard: list[int] | None) -> None:
        self.id = uuid.uuid4().hex
        self.intents, self.shard = intents, shard
        self.seq = 0
        self.connection: Connection | None = None
        self.state = "connected"  # connected | disconnected | closed
        self.buffer: deque[tuple[int, dict[str, Any]]] = deque(maxlen=REPLAY_BUFFER)
        self.lock = asyncio.Lock()

    def sees(self, guild_id: int | None) -> bool:
        """Tell whether this session gets a server's events: Discord sends each server's through one
        shard, (guild_id >> 22) % count, and direct messages through shard 0."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return shard_id == (0 if guild_id is None else (guild_id >> 22) % count)

    async def _send_dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Number, buffer and (if connected) send one event. Call with `lock` held."""
        self.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
        self.buffer.append((self.seq, frame))
        if self.connection is not None:
            await self.connection.send(frame)


class Gateway:
    def __init__(self, world: World, changes: Changes, *, heartbeat_interval_ms: int, compress: bool, resume_url: Callable[[], str]) -> None:
        self.world, self.changes = world, changes
        self.heartbeat_interval_ms, self.compress = heartbeat_interval_ms, compress
        self._resume_url = resume_url
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.log: list[GatewayRecord] = []
        self.resume_gate = asyncio.Event()
        self.resume_gate.set()
        # Seconds between heartbeat requests (op 1) the server sends on its own; None: only answer
        # the client's. A client on a fast-forwarded clock needs them: libfaketime does not translate
        # timed waits in threads, so discord.py's heartbeat thread never wakes, while its receive
        # timeout (on the fast clock) expires after a moment of silence.
        self.server_heartbeat_s: float | None = None

    # queries ---------------------------------------------------------------------------------------

    def record(self, direction: str, frame: dict[str, Any], session: Session | None) -> None:
        data = frame.get("d")
        if frame.get("op") == IDENTIFY and isinstance(data, dict):
            data = {**data, "token": "<redacted>"}
        self.log.append(GatewayRecord(direction, frame.get("op", -1), frame.get("t"), data, session.id if session else None))
        self.changes.notify()

    def received(self, op: int) -> list[GatewayRecord]:
        return [r for r in self.log if r.direction == "recv" and r.op == op]

    def sent(self, event: str) -> list[GatewayRecord]:
        return [r for r in self.log if r.direction == "send" and r.event == event]

    @property
    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.state != "closed"]

    @property
    def connected_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.state == "connected"]

    # dispatch --------------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: EventData, *, guild_id: int | None = None) -> int:
        """Send an event to every live session (buffered while one is disconnected); return how many got it.

        `data` may be a function of the session returning the payload, or None to skip that session
        (intents decide what a session may see). With shards, only the session of the shard of
        `guild_id` gets it (None: a direct message, shard 0).
        """
        delivered = 0
        for session in self.live_sessions:
            if not session.sees(guild_id):
                continue
            payload = data(session) if callable(data) else data
            if payload is None:
                continue
            async with session.lock:
                await session._send_dispatch(event, payload)
            delivered += 1
        return delivered

    # outages ---------------------------------------------------------------------------------------

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT on every connection; discord.py closes and RESUMEs."""
        for conn in list(self.connections):
            await conn.send({"op": RECONNECT, "d": None})

    async def close_connections(self, code: int = 4000) -> None:
        """Close every connection from the server side with `code` (4000: unknown error, resumable)."""
        for conn in list(self.connections):
            self._detach(conn)
            await conn.ws.close(code=code, message=b"fakediscord closed the connection")

    def abort_connections(self) -> None:
        """Drop every connection's TCP transport without a close frame."""
        for conn in list(self.connections):
            self._detach(conn)
            if conn.request.transport is not None:
                conn.request.transport.abort()

    @asynccontextmanager
    async def outage(self, how: str = "close") -> AsyncIterator[None]:
        """Disconnect the client (`how`: "reconnect" (op 7), "close" (4000) or "abort") and hold its RESUME.

        Events dispatched inside the block are buffered; on exit the RESUME goes through, missed events
        are replayed, and the block's exit waits for RESUMED.
        """
        before = len(self.sent("RESUMED"))
        sessions = self.connected_sessions
        if not sessions:
            raise RuntimeError("no connected gateway session to disconnect")
        self.resume_gate.clear()
        try:
            if how == "reconnect":
                await self.request_reconnect()
            elif how == "close":
                await self.close_connections(4000)
            elif how == "abort":
                self.abort_connections()
            else:
                raise ValueError(f"unknown outage {how!r}; use 'reconnect', 'close' or 'abort'")
            await self.changes.wait_for(lambda: all(s.state != "connected" for s in sessions), timeout=10, what="the client to disconnect")
            yield
        finally:
            self.resume_gate.set()
        await self.changes.wait_for(lambda: len(self.sent("RESUMED")) > before, timeout=15, what="the client to RESUME")

    # the websocket handler ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        conn = Connection(request, ws, self)
        self.connections.append(conn)
        try:
            await conn.send({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fakediscord"]}})
            if self.server_heartbeat_s is not None:
                conn.heartbeats = asyncio.create_task(self._request_heartbeats(conn))
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                self.record("recv", frame, conn.session)
                await self._on_frame(conn, frame)
        finally:
            if conn.heartbeats is not None:
                conn.heartbeats.cancel()
            self._detach(conn, close_code=ws.close_code)
        return ws

    async def _request_heartbeats(self, conn: Connection) -> None:
        while not conn.ws.closed and self.server_heartbeat_s is not None:
            await asyncio.sleep(self.server_heartbeat_s)  # read each time: a test may change the pace
            await conn.send({"op": HEARTBEAT, "d": None})

    def _detach(self, conn: Connection, close_code: int | None = None) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
        session = conn.session
        if session is not None and session.connection is conn:
            session.connection = None
            session.state = "closed" if close_code in CLIENT_CLOSES else "disconnected"
        self.changes.notify()

    async def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d") or {}
        if op == HEARTBEAT:
            await conn.send({"op": HEARTBEAT_ACK, "d": None})
        elif op == IDENTIFY:
            await self._identify(conn, data)
        elif op == RESUME:
            await self._resume(conn, data)
        # presence updates, member requests, voice states: recorded, otherwise ignored

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self.world.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard")
        if shard is not None and not (isinstance(shard, list) and len(shard) == 2
                                      and all(isinstance(n, int) for n in shard) and 0 <= shard[0] < shard[1]):
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        session = Session(int(data.get("intents", 0)), shard)
        self.sessions[session.id] = session
        world = self.world
        async with session.lock:
            session.connection, conn.session = conn, session
            ready: dict[str, Any] = {
                "v": 10,
                "user": {**world.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0, "email": None},
                "guilds": [{"id": str(g.id), "unavailable": True} for g in world.guilds.values() if session.sees(g.id)],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": self._resume_url(),
                "application": {"id": str(world.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "geo_ordered_rtc_regions": [],
                "guild_join_requests": [],
                "_trace": ["fakediscord"],
            }
            if session.shard is not None:
                ready["shard"] = session.shard
            await session._send_dispatch("READY", ready)
            for guild in [g for g in world.guilds.values() if session.sees(g.id)]:
                await session._send_dispatch("GUILD_CREATE", world.guild_payload(guild, intents=session.intents))

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        await self.resume_gate.wait()
        session = self.sessions.get(data.get("session_id", ""))
        if session is None or session.state == "closed" or data.get("token") != self.world.token:
            await conn.send({"op": INVALID_SESSION, "d": False})
            return
        async with session.lock:
            old = session.connection
            if old is not None and old is not conn:
                old.session = None
                await old.ws.close(code=4000)
            session.connection, conn.session, session.state = conn, session, "connected"
            last_seen = int(data.get("seq") or 0)
            for seq, frame in list(session.buffer):
                if seq > last_seen:
                    await conn.send(frame)
            await session._send_dispatch("RESUMED", {"_trace": ["fakediscord"]})
