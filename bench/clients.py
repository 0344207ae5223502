"""The load generator's clients: visitors and agents of the product, speaking docs/protocol.md and
nothing else, and their counterparts on the floor (bench/floor's four frames).

A product client (``ProductClient``: one widget or one console across all its sockets) does what the
protocol page asks of a client, and nothing it does not:

- it connects (visitor: ``hello``, with its token once it has one; agent: the session cookie, then
  the server's ``welcome``) and, after any close, connects again: at once after 4408, else with the
  widget's backoff (0.5 s doubling to 10 s, each wait jittered between half and all of its step);
- per chat it keeps a level cursor (``Cursor``): the highest seq below which it has every event.
  ``message``, ``message.ack``, ``receipt`` and ``hidden`` all take a seq. It resumes (visitor
  ``resume``, agent ``chat.watch``) from the level, never from the highest seq it holds: after
  every (re)connect, at once when it holds a seq above a hole or reads a ``chat`` frame whose
  ``last_seq`` is above its level, again after ``resumed`` while ``more`` is true or a hole is left,
  again when a resume goes unanswered for 10 s, every ``CHAT_RESYNC_SECONDS`` (read from the widget
  page, as the widget does; 0: never), every 3 s while live delivery is ``degraded``, and at once
  for every chat on ``live: ok``. Never two resumes of a chat at a time;
- it sends through an outbox, in order, one message frame in flight (the next after the ack or the
  error of the one before). ``internal``, ``unavailable`` and ``rate_limited`` are retried (the same
  frame, after ``retry_after``, else 1 s doubling to 15 s) before any later one; any other error
  naming the frame's client_id drops it for good. After a reconnect the outbox goes again from its
  first frame.

What a client applies goes to the driver's ledger (bench/ledger.py): a seq it did not have, live or
in one of its own resume answers. A seq it already had is dropped, and counted as redelivered.

Agents are real users: the driver logs in through the login form (CSRF cookie, POST, ``sessionid``)
and the agent socket presents that cookie. Every socket sends the server's own ``Origin``. Only
loopback targets are accepted.

The floor's clients keep their simpler ways (the floor makes no such promises): visitors send each
message as it comes, keep an outbox that they resend after a reconnect, and resume from the last row
id they saw; agents only listen.
"""

import asyncio
import http.client
import ipaddress
import json
import random
import re
import socket
from collections import Counter, deque
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from .ledger import Ledger, now

RESUME_LIMIT = 1000  # events per resume answer (docs/protocol.md, Limits)
TIMEOUT = 30

# docs/protocol.md
RETRYABLE = frozenset({"internal", "unavailable", "rate_limited"})
CLOSE_FELL_BEHIND = 4408
CLOSE_FINAL = {4401: "not authenticated", 4403: "not an agent"}
RESUME_TIMEOUT = 10.0  # a resume unanswered this long counts as lost
DEGRADED_RESYNC = 3.0  # while live delivery is degraded, resync every chat this often
# The widget's own choices (static/chat/core/socket.js, cursor.js), which the protocol leaves open.
BACKOFF_MIN, BACKOFF_MAX = 0.5, 10.0
RETRY_MIN, RETRY_MAX = 1.0, 15.0
STALLED_RETRY = 3.0  # a hole that two answers in a row did not fill: ask this often, not in a loop
WELCOME_TIMEOUT = 10.0
# A message frame with neither ack nor error this long is counted (``unanswered_sends``), not sent
# again: the protocol has the outbox resent after a reconnect only, so a server that never answers a
# frame shows up as a stalled outbox (and lost messages), as it would in the widget.
SEND_TIMEOUT = 15.0
TICK = 0.1  # the clients' timers are checked this often


class BenchError(Exception):
    """The harness could not do what a test needs (not a measured failure of the server)."""


def require_loopback(url: str) -> None:
    """Refuse anything but this machine: the benchmark floods its target."""
    host = urlsplit(url).hostname
    if not host:
        raise BenchError(f"no host in {url!r}")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise BenchError(f"cannot resolve {host}: {exc}") from None
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_loopback:
            raise BenchError(f"refusing a non-loopback target: {url} ({address})")


def _dumps(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"))


def _backoff(attempt: int) -> float:
    step = min(BACKOFF_MAX, BACKOFF_MIN * 2 ** attempt)
    return step / 2 + random.random() * step / 2


class Conn:
    """One websocket and its reader task. ``on_frame`` handles each frame as it arrives;
    ``want(key)`` returns a future that ``resolve(key, frame)`` completes. Register the want before
    sending the frame it answers."""

    path = "/"

    def __init__(self, driver: "Driver", cookie: str | None = None):
        self.driver = driver
        self.cookie = cookie
        self.ws = None
        self.reader: asyncio.Task | None = None
        self._waiting: dict = {}

    async def open(self) -> None:
        base = self.driver.base_url
        require_loopback(base)
        headers = [("Cookie", self.cookie)] if self.cookie else None
        try:
            self.ws = await connect(
                "ws" + base[len("http"):] + self.path, origin=base, additional_headers=headers,
                compression=None, ping_interval=None, open_timeout=TIMEOUT, close_timeout=2, max_size=2**22,
            )
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise BenchError(f"cannot open {self.path}: {exc!r}") from None
        self.reader = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws) -> None:
        try:
            async for raw in ws:
                try:
                    self.on_frame(json.loads(raw), now())
                except (ValueError, KeyError, TypeError) as exc:  # a frame we cannot read: say so, go on
                    self.driver.errors.append({"type": "unreadable", "frame": str(raw)[:200], "error": repr(exc)})
        except ConnectionClosed:
            pass
        finally:
            if ws is self.ws:
                for future in self._waiting.values():
                    if not future.done():
                        future.set_exception(BenchError(f"{self.path} closed: {ws.close_code} {ws.close_reason}"))
                self._waiting.clear()

    def on_frame(self, frame: dict, at: float) -> None:
        raise NotImplementedError

    def want(self, key) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        return future

    def resolve(self, key, frame: dict) -> None:
        future = self._waiting.pop(key, None)
        if future is not None and not future.done():
            future.set_result(frame)

    async def send(self, frame: dict) -> None:
        await self.ws.send(_dumps(frame))

    async def ask(self, frame: dict, key, timeout: float = TIMEOUT) -> dict:
        future = self.want(key)
        await self.send(frame)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._waiting.pop(key, None)
            raise BenchError(f"no answer to {frame.get('type')} on {self.path} within {timeout} s "
                             f"(server errors so far: {self.driver.errors[-3:]})") from None

    def cut(self) -> None:
        """Drop the connection the hard way, as a network loss does: no close handshake, and
        whatever was still in the send buffer is gone."""
        self.ws.transport.abort()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await self.reader


# --- Product clients: the level cursor, the outbox, reconnects ----------------------------------------


class Cursor:
    """One chat as one client holds it: every seq up to ``level``, and the seqs ``above`` it."""

    __slots__ = ("chat", "level", "above", "known", "asked_at", "asked_level", "wanted", "not_before",
                 "last_resync", "answered", "no_progress")

    def __init__(self, chat: str):
        self.chat = chat
        self.level = 0
        self.above: set[int] = set()
        self.known = 0  # the highest ``last_seq`` a ``chat`` frame showed
        self.asked_at: float | None = None  # when the resume in flight went
        self.asked_level = 0
        self.wanted = False  # a resume is due as soon as none is in flight
        self.not_before = 0.0
        self.last_resync = now()
        self.answered = 0
        self.no_progress = 0  # answers in a row that left the level where it was, a hole remaining

    def has(self, seq: int) -> bool:
        return seq <= self.level or seq in self.above

    def take(self, seq: int) -> bool:
        """True if the seq is new to this client (it is applied), False if it had it."""
        if self.has(seq):
            return False
        self.above.add(seq)
        self._advance()
        return True

    def level_up(self, last_seq: int) -> None:
        if last_seq > self.level:
            self.level = last_seq
            self.above = {s for s in self.above if s > last_seq}
        self._advance()

    def _advance(self) -> None:
        while self.level + 1 in self.above:
            self.above.remove(self.level + 1)
            self.level += 1

    @property
    def hole(self) -> bool:
        return bool(self.above) or self.known > self.level

    @property
    def settled(self) -> bool:
        return self.answered > 0 and self.asked_at is None and not self.wanted and not self.hole


@dataclass
class Outgoing:
    client_id: str
    chat: str | None
    frame: dict
    enqueued: float = field(default_factory=now)
    attempts: int = 0


class ProductClient(Conn):
    """One widget or one console of the product across its sockets (see the module's docstring).
    ``start()`` connects and keeps connecting until ``close()``; the driver's ticker calls ``tick``."""

    role = ""  # visitor, agent, audit

    def __init__(self, driver: "ProductDriver", name: str, cookie: str | None = None, *, reconnect: bool = True):
        super().__init__(driver, cookie)
        self.name = name
        self.reconnect_on_close = reconnect
        self.cursors: dict[str, Cursor] = {}
        self.outbox: deque[Outgoing] = deque()
        self.in_flight: Outgoing | None = None
        self.in_flight_at = 0.0
        self.retry_at = 0.0
        self.failures = 0  # retryable errors in a row for the outbox's first message
        self.degraded = False
        self.ready = False
        self.stopping = False
        self.failed: str | None = None
        self.connections = 0
        self.closes: list[tuple[float, int | None]] = []
        self.connected_at: list[float] = []  # when each connection had its welcome
        self.live_at: list[tuple[float, str]] = []  # when each ``live`` frame came, and its state
        self.stats: Counter = Counter()
        self._queue: asyncio.Queue | None = None
        self._writer: asyncio.Task | None = None
        self._supervisor: asyncio.Task | None = None
        self._connected = asyncio.Event()

    # --- connecting ---

    async def start(self) -> None:
        """Connect (and keep connecting after every close); return once the first ``welcome`` is in."""
        self.driver.add_client(self)
        self._supervisor = asyncio.create_task(self._run())
        try:
            await asyncio.wait_for(self._connected.wait(), TIMEOUT)
        except TimeoutError:
            await self.close()
            raise BenchError(f"{self.path}: not connected within {TIMEOUT} s ({self.failed or 'no welcome'})") from None
        if self.failed:
            raise BenchError(f"{self.path}: {self.failed}")

    async def _run(self) -> None:
        delay, attempt = 0.0, 0
        while not self.stopping and self.driver.budget.seconds_left() > 0:
            if delay:
                await asyncio.sleep(delay)
                if self.stopping:
                    break
            try:
                await self._connect()
            except (BenchError, ConnectionClosed, OSError, TimeoutError) as exc:
                code = self.ws.close_code if self.ws is not None else None
                self._disconnected()
                if code in CLOSE_FINAL:
                    self.failed = f"closed {code} ({CLOSE_FINAL[code]})"
                    break
                if not self.reconnect_on_close:
                    self.failed = f"could not connect: {exc}"
                    break
                self.stats["failed_connects"] += 1
                delay, attempt = _backoff(attempt), attempt + 1
                continue
            await self.reader  # until the socket closes
            code = self.ws.close_code
            self._disconnected()
            self.closes.append((now(), code))
            if self.stopping:
                break
            if code in CLOSE_FINAL or not self.reconnect_on_close:
                self.failed = f"closed {code}"
                break
            if code == CLOSE_FELL_BEHIND:
                self.stats["fell_behind"] += 1
                delay, attempt = 0.0, 0  # reconnect at once
            else:
                delay, attempt = _backoff(0), 1
        self._connected.set()  # whoever waits for a connection hears of the failure

    async def _connect(self) -> None:
        self.ws = None
        await self.open()
        self._queue = asyncio.Queue()
        self._writer = asyncio.create_task(self._write(self.ws, self._queue))
        welcome = self.want("welcome")
        self.greet()
        try:
            frame = await asyncio.wait_for(welcome, WELCOME_TIMEOUT)
        except TimeoutError:
            raise BenchError("no welcome") from None
        if frame.get("type") == "error":  # hello refused (e.g. rate_limited): this attempt failed
            raise BenchError(f"hello refused: {frame.get('code')}")
        self.connections += 1
        self.connected_at.append(now())
        self.ready = True
        self.on_welcome(frame)
        for cursor in self.cursors.values():
            self.request_resume(cursor)
        self.in_flight, self.retry_at = None, 0.0
        self.pump()
        self._connected.set()

    async def _write(self, ws, queue: asyncio.Queue) -> None:
        """The one writer of a socket: frames go out in the order they were posted."""
        try:
            while True:
                await ws.send(_dumps(await queue.get()))
        except ConnectionClosed:
            pass

    def _disconnected(self) -> None:
        self.ready = False
        self._connected.clear()
        self.in_flight = None
        for cursor in self.cursors.values():
            if cursor.asked_at is not None:  # gone with the socket: asked again after the reconnect
                cursor.asked_at = None
        if self._writer is not None:
            self._writer.cancel()
        self._queue = self._writer = None
        if self.ws is not None and self.ws.state.name != "CLOSED":
            self.ws.transport.abort()

    def post(self, frame: dict, *, greeting: bool = False) -> bool:
        """Queue a frame for the socket's writer; False (and nothing sent) while not connected."""
        if self._queue is None or not (self.ready or greeting):
            return False
        self._queue.put_nowait(frame)
        return True

    def greet(self) -> None:
        """What a socket sends first (visitor: ``hello``)."""

    def on_welcome(self, frame: dict) -> None:
        self.degraded = frame.get("live") == "degraded"

    async def wait_connected(self, after: int, timeout: float = TIMEOUT) -> None:
        """Until a connection later than the ``after``-th is up."""
        deadline = now() + timeout
        while not (self.ready and self.connections > after):
            if self.failed or now() > deadline:
                raise BenchError(f"{self.path}: not connected again ({self.failed or 'timed out'})")
            await asyncio.sleep(0.02)

    def cut(self) -> None:
        if self.ws is not None:
            self.ws.transport.abort()

    async def ping(self, timeout: float = TIMEOUT) -> None:
        """A round trip: the server handles a socket's frames in order, so everything sent before is done."""
        await self.wait_connected(0, timeout)
        pong = self.want("pong")
        if not self.post({"type": "ping"}):
            raise BenchError(f"{self.name}: not connected for a ping")
        try:
            await asyncio.wait_for(pong, timeout)
        except TimeoutError:
            raise BenchError(f"{self.name}: no pong within {timeout} s") from None

    async def resync(self, timeout: float = TIMEOUT) -> bool:
        """Resync every chat once, as the timer would, and wait until each is settled. False if not in time."""
        for cursor in self.cursors.values():
            self.request_resume(cursor)
        deadline = now() + timeout
        while not (self.ready and all(c.settled for c in self.cursors.values())):
            if self.failed or now() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def close(self) -> None:
        self.stopping = True
        if self._supervisor is not None and not self.ready:  # waiting to connect again: stop waiting
            self._supervisor.cancel()
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 3)
            except (TimeoutError, ConnectionClosed, OSError):
                self.ws.transport.abort()
        if self._supervisor is not None:
            try:
                await asyncio.wait_for(self._supervisor, 5)
            except (TimeoutError, asyncio.CancelledError):
                self._supervisor.cancel()
        self._disconnected()
        self.driver.remove_client(self)

    # --- frames from the server ---

    def on_frame(self, frame, at):
        kind = frame.get("type")
        if kind == "message":
            self._on_event(frame["chat"], frame["message"]["seq"], at, frame["message"])
        elif kind in ("hidden", "receipt"):
            self._on_event(frame["chat"], frame["seq"], at, None)
        elif kind == "message.ack":
            self._on_ack(frame, at)
        elif kind == "resumed":
            self._on_resumed(frame)
        elif kind == "chat":
            self._on_chat(frame["chat"])
        elif kind == "live":
            self._on_live(frame["state"])
        elif kind == "error":
            self._on_error(frame)
        elif kind == "welcome":
            self.resolve("welcome", frame)
        elif kind == "pong":
            self.resolve("pong", frame)
        elif kind == "typing":
            self.driver.typing_received += 1

    def _on_event(self, chat: str, seq: int, at: float, message: dict | None) -> None:
        cursor = self.cursors.get(chat)
        if cursor is None:
            return
        client_id = message.get("client_id") if message else None
        if not cursor.take(seq):
            self.stats["dropped_had"] += 1
            if client_id:
                self.driver.ledger.on_redelivered(client_id)
            return
        if message is not None:
            self.applied(cursor, message, at)
        if cursor.above and cursor.asked_at is None:  # a hole: ask for it at once
            self.stats["holes"] += 1
            self.request_resume(cursor)

    def applied(self, cursor: Cursor, message: dict, at: float) -> None:
        client_id = message.get("client_id")
        if client_id:
            via = "resume" if cursor.asked_at is not None else "live"
            self.driver.ledger.on_applied(client_id, message["seq"], at, role=self.role, via=via)

    def _on_ack(self, frame: dict, at: float) -> None:
        message, chat = frame["message"], frame["chat"]
        client_id, seq = message["client_id"], message["seq"]
        self.driver.ledger.on_ack(client_id, seq)
        if frame.get("duplicate"):
            self.stats["duplicate_acks"] += 1
        cursor = self.cursors.get(chat) or self.follow(chat)
        cursor.take(seq)
        if self.in_flight is not None and self.in_flight.client_id == client_id:
            self.outbox.popleft()
            self.in_flight, self.failures = None, 0
        else:  # not the one in flight (it cannot be, one socket answers in order): drop it wherever it is
            self.stats["stray_acks"] += 1
            self.outbox = deque(o for o in self.outbox if o.client_id != client_id)
        self.resolve(("ack", client_id), frame)
        if cursor.above and cursor.asked_at is None:
            self.request_resume(cursor)
        self.pump()

    def _on_resumed(self, frame: dict) -> None:
        cursor = self.cursors.get(frame["chat"])
        if cursor is None:
            return
        asked_level = cursor.asked_level
        cursor.asked_at = None
        cursor.answered += 1
        cursor.level_up(frame["last_seq"])
        if frame.get("more"):
            self.request_resume(cursor)
        elif cursor.hole:
            cursor.no_progress = cursor.no_progress + 1 if cursor.level <= asked_level else 0
            if cursor.no_progress >= 2:  # two answers in a row left it: not in a loop
                self.stats["stalled_holes"] += 1
                cursor.not_before = now() + STALLED_RETRY
            self.request_resume(cursor)
        else:
            cursor.no_progress = 0
            self._maybe_resume(cursor)  # one wanted while this one was on its way
        if cursor.settled:
            self.resolve(("settled", cursor.chat), frame)
        self.resolve(("resumed", cursor.chat), frame)

    def _on_chat(self, chat: dict) -> None:
        cursor = self.cursors.get(chat["id"])
        if cursor is None:
            self.on_new_chat(chat)
            return
        cursor.known = max(cursor.known, chat.get("last_seq") or 0)
        if cursor.known > cursor.level and cursor.asked_at is None:
            self.request_resume(cursor)

    def on_new_chat(self, chat: dict) -> None:
        """A ``chat`` frame of a chat this client does not follow."""

    def _on_live(self, state: str) -> None:
        self.stats[f"live_{state}"] += 1
        self.live_at.append((now(), state))
        self.degraded = state == "degraded"
        if not self.degraded:
            for cursor in self.cursors.values():
                self.request_resume(cursor)

    def _on_error(self, frame: dict) -> None:
        self.driver.errors.append(frame)
        code, client_id, about, chat = frame.get("code"), frame.get("client_id"), frame.get("frame"), frame.get("chat")
        if client_id and self.in_flight is not None and self.in_flight.client_id == client_id:
            if code in RETRYABLE:
                self.failures += 1
                self.stats["retried"] += 1
                wait = frame.get("retry_after")
                wait = wait if isinstance(wait, int | float) and wait >= 0 else min(
                    RETRY_MAX, RETRY_MIN * 2 ** (self.failures - 1))
                self.in_flight, self.retry_at = None, now() + wait
            else:  # refused for good: it leaves the outbox, the next goes
                self.outbox.popleft()
                self.in_flight, self.failures = None, 0
                self.stats["refused"] += 1
                self.driver.ledger.on_refused(client_id, code)
                self.resolve(("ack", client_id), frame)
                self.pump()
        elif about in ("resume", "chat.watch") and chat in self.cursors:
            cursor = self.cursors[chat]
            cursor.asked_at = None
            if code in RETRYABLE:
                wait = frame.get("retry_after")
                cursor.not_before = now() + (wait if isinstance(wait, int | float) and wait >= 0 else RETRY_MIN)
                self.request_resume(cursor)
            else:
                self.stats["resume_refused"] += 1
                self.resolve(("resumed", chat), frame)
        elif about == "chat.accept" and chat:
            self.resolve(("accepted", chat), frame)
        elif about == "hello":
            self.resolve("welcome", frame)

    # --- resumes ---

    def follow(self, chat: str) -> Cursor:
        cursor = self.cursors.get(chat)
        if cursor is None:
            cursor = self.cursors[chat] = Cursor(chat)
        return cursor

    def request_resume(self, cursor: Cursor) -> None:
        cursor.wanted = True
        self._maybe_resume(cursor)

    def _maybe_resume(self, cursor: Cursor) -> None:
        if not cursor.wanted or cursor.asked_at is not None or not self.ready or now() < cursor.not_before:
            return
        if self.post(self.resume_frame(cursor.chat, cursor.level)):
            cursor.wanted = False
            cursor.asked_at = cursor.last_resync = now()
            cursor.asked_level = cursor.level
            self.stats["resumes"] += 1

    def resume_frame(self, chat: str, after_seq: int) -> dict:
        raise NotImplementedError

    # --- the outbox ---

    def enqueue(self, chat: str | None, client_id: str, frame: dict) -> Outgoing:
        item = Outgoing(client_id, chat, frame)
        self.outbox.append(item)
        self.pump()
        return item

    def pump(self) -> None:
        """Send the outbox's first message if nothing is in flight (and no retry is waiting)."""
        if self.in_flight is not None or not self.outbox or not self.ready or now() < self.retry_at:
            return
        item = self.outbox[0]
        if self.post(item.frame):
            item.attempts += 1
            if item.attempts > 1:
                self.stats["resent"] += 1
            self.in_flight, self.in_flight_at = item, now()

    # --- timers ---

    def tick(self, t: float) -> None:
        if not self.ready:
            return
        period = DEGRADED_RESYNC if self.degraded else self.driver.resync_seconds
        for cursor in self.cursors.values():
            if cursor.asked_at is not None:
                if t - cursor.asked_at > RESUME_TIMEOUT:  # counts as lost: ask again
                    cursor.asked_at = None
                    self.stats["resumes_lost"] += 1
                    cursor.wanted = True
            elif period and t - cursor.last_resync >= period:
                cursor.wanted = True
            if cursor.wanted:
                self._maybe_resume(cursor)
        if self.in_flight is not None and t - self.in_flight_at > SEND_TIMEOUT:
            self.stats["unanswered_sends"] += 1
            self.in_flight_at = t  # counted once per SEND_TIMEOUT
        self.pump()

    def summary(self) -> Counter:
        return self.stats + Counter(connections=self.connections)

    def describe(self) -> dict:
        """Where this client stands (for a report on one that still holds messages)."""
        t = now()
        return {
            "name": self.name, "ready": self.ready, "failed": self.failed, "connections": self.connections,
            "closes": [(round(at - t, 1), code) for at, code in self.closes[-3:]],
            "outbox": len(self.outbox), "in_flight": self.in_flight and self.in_flight.client_id,
            "in_flight_for_s": round(t - self.in_flight_at, 1) if self.in_flight else None,
            "retry_in_s": round(max(0.0, self.retry_at - t), 1), "degraded": self.degraded,
            "resumes_in_flight": sum(1 for c in self.cursors.values() if c.asked_at is not None),
            "holes": sum(1 for c in self.cursors.values() if c.hole), "stats": dict(self.stats),
        }


class ProductVisitor(ProductClient):
    path = "/ws/visitor/"
    role = "visitor"

    def __init__(self, driver, name, **kwargs):
        super().__init__(driver, name, **kwargs)
        self.token: str | None = None
        self.chat: str | None = None
        self.draft = ""  # drafts test: what the visitor has typed since the last message
        self.draft_sent = ""
        self.next_typing = 0.0
        self.receipts = 0.0  # faults test: > 0, report delivered and read as the widget does, coalesced over this (s)
        self.agent_seq = 0  # the highest seq of an agent message this visitor has
        self.receipt_sent = 0
        self.next_receipt = 0.0

    def greet(self):
        self.post({"type": "hello", "token": self.token} if self.token else {"type": "hello"}, greeting=True)

    def on_welcome(self, frame):
        super().on_welcome(frame)
        if frame.get("token"):
            self.token = frame["token"]
        if frame.get("chat"):
            cursor = self.follow(frame["chat"]["id"])
            cursor.known = max(cursor.known, frame["chat"].get("last_seq") or 0)

    def on_new_chat(self, chat):
        cursor = self.follow(chat["id"])
        cursor.known = chat.get("last_seq") or 0
        starting = self.in_flight is not None and self.in_flight.frame["type"] == "chat.start"
        if not starting and cursor.known > cursor.level:  # the answer to chat.start has its ack next
            self.request_resume(cursor)

    def applied(self, cursor, message, at):
        super().applied(cursor, message, at)
        if message.get("author") == "agent":
            self.agent_seq = max(self.agent_seq, message["seq"])

    def resume_frame(self, chat, after_seq):
        return {"type": "resume", "chat": chat, "after_seq": after_seq}

    def tick(self, t):
        super().tick(t)
        if self.receipts and self.ready and self.agent_seq > self.receipt_sent and t >= self.next_receipt:
            if self.post({"type": "receipt", "chat": self.chat, "delivered_up_to": self.agent_seq,
                          "read_up_to": self.agent_seq}):
                self.receipt_sent = self.agent_seq
                self.next_receipt = t + self.receipts * (0.5 + random.random())  # not in step with the others

    async def start_chat(self, client_id: str, text: str) -> None:
        answered = self.want(("ack", client_id))
        self.enqueue(None, client_id, {"type": "chat.start", "name": f"Visitor {self.name}", "text": text,
                                       "email": f"visitor-{self.name}@example.com", "client_id": client_id})
        try:
            frame = await asyncio.wait_for(answered, TIMEOUT)
        except TimeoutError:
            raise BenchError(f"chat.start not answered within {TIMEOUT} s: {self.driver.errors[-3:]}") from None
        if frame.get("type") != "message.ack":
            raise BenchError(f"chat.start refused: {frame}")
        self.chat = frame["chat"]

    async def send_message(self, client_id: str, text: str) -> None:
        self.driver.take_budget()
        self.driver.ledger.on_send(client_id, self.chat, sender="visitor")
        self.enqueue(self.chat, client_id, {"type": "message.send", "chat": self.chat, "client_id": client_id,
                                            "text": text})

    async def send_typing(self, text: str) -> None:
        self.driver.take_budget()
        self.post({"type": "typing", "chat": self.chat, "text": text})

    def cut(self) -> None:
        self._cut_at = self.connections
        super().cut()

    async def reconnect(self) -> None:
        """After ``cut``: until the client has connected again by itself (backoff, ``hello``, resume,
        the outbox from its first message)."""
        await self.wait_connected(getattr(self, "_cut_at", self.connections))


class ProductAgent(ProductClient):
    """An agent's console. As ``audit`` (a fresh socket, no reconnect) it reads chats from seq 0 and
    reports what it gets as ``stored``."""

    path = "/ws/agent/"

    def __init__(self, driver, name, cookie, *, audit: bool = False):
        super().__init__(driver, name, cookie, reconnect=not audit)
        self.role = "audit" if audit else "agent"
        self.id = None

    def on_welcome(self, frame):
        super().on_welcome(frame)
        self.id = frame["agent"]["id"]

    def on_new_chat(self, chat):
        if chat.get("status") == "active" and chat.get("agent_id") == self.id:
            self.resolve(("accepted", chat["id"]), {"type": "chat", "chat": chat})

    def _on_chat(self, chat):
        super()._on_chat(chat)
        if chat["id"] in self.cursors and chat.get("status") == "active" and chat.get("agent_id") == self.id:
            self.resolve(("accepted", chat["id"]), {"type": "chat", "chat": chat})

    def applied(self, cursor, message, at):
        if self.role == "audit":
            if message.get("client_id"):
                self.driver.ledger.on_stored(message["client_id"], message["seq"])
        else:
            super().applied(cursor, message, at)

    def resume_frame(self, chat, after_seq):
        return {"type": "chat.watch", "chat": chat, "after_seq": after_seq}

    async def accept(self, chat: str) -> None:
        """``chat.accept`` (live events from then on, nothing replayed), then ``chat.watch`` from the
        level, as the protocol asks; done when that first answer is in."""
        accepted, resumed = self.want(("accepted", chat)), self.want(("resumed", chat))
        cursor = self.follow(chat)
        if not self.post({"type": "chat.accept", "chat": chat}):
            raise BenchError("agent socket not connected")
        try:
            frame = await asyncio.wait_for(accepted, TIMEOUT)
            if frame.get("type") == "error":
                raise BenchError(f"chat.accept {chat} was refused: {frame}")
            if cursor.asked_at is None and not cursor.answered:  # a hole may have asked already
                self.request_resume(cursor)
            frame = await asyncio.wait_for(resumed, TIMEOUT)
            if frame.get("type") == "error":
                raise BenchError(f"chat.watch {chat} after chat.accept was refused: {frame}")
        except TimeoutError:
            raise BenchError(f"chat.accept {chat}: no answer within {TIMEOUT} s: {self.driver.errors[-3:]}") from None

    async def send_to(self, chat: str, client_id: str) -> None:
        self.driver.take_budget()
        self.driver.ledger.on_send(client_id, chat, sender="agent")
        self.enqueue(chat, client_id, {"type": "message.send", "chat": chat, "client_id": client_id,
                                       "text": f"Thanks, **{client_id}** is noted. Anything else?"})

    async def audit(self, chat: str) -> None:
        """Read the chat from seq 0 until the level covers everything the server says it has."""
        settled = self.want(("settled", chat))
        self.request_resume(self.follow(chat))
        try:
            await asyncio.wait_for(settled, TIMEOUT)
        except TimeoutError:
            raise BenchError(f"audit of {chat}: not settled within {TIMEOUT} s") from None
        self.post({"type": "chat.unwatch", "chat": chat})


# --- Floor clients ----------------------------------------------------------------------------------


class FloorVisitor(Conn):
    """The chat, the last row id seen, and an outbox of message frames not yet acknowledged,
    resent in order after a reconnect."""

    path = "/ws/floor/visitor/"

    def __init__(self, driver: "Driver", name: str):
        super().__init__(driver)
        self.name = name
        self.chat: str | None = None
        self.last_seq = 0
        self.outbox: dict[str, dict] = {}
        self.draft = ""
        self.draft_sent = ""
        self.next_typing = 0.0

    def on_frame(self, frame, at):
        kind = frame.get("type")
        if kind == "ack":
            self.outbox.pop(frame["client_id"], None)
            self.last_seq = max(self.last_seq, frame["id"])
            self.driver.ledger.on_ack(frame["client_id"], frame["id"])
        elif kind == "message":
            self.last_seq = max(self.last_seq, frame["message"]["id"])
        elif kind == "joined":
            self.resolve(("joined", frame["chat"]), frame)
        elif kind == "resumed":
            self.resolve(("resumed", frame["chat"]), frame)
        elif kind == "error":
            self.driver.errors.append(frame)

    async def send_message(self, client_id: str, text: str) -> None:
        frame = {"type": "send", "chat": self.chat, "client_id": client_id, "text": text}
        self.outbox[client_id] = frame
        self.driver.take_budget()
        self.driver.ledger.on_send(client_id, self.chat, sender="visitor")
        await self.send(frame)

    async def send_typing(self, text: str) -> None:
        self.driver.take_budget()
        await self.send({"type": "typing", "chat": self.chat, "text": text})

    async def identify(self) -> None:
        await self.ask({"type": "join", "chat": self.chat, "role": "visitor"}, ("joined", self.chat))

    async def resume(self) -> None:
        while True:
            answer = await self.ask({"type": "resume", "chat": self.chat, "after": self.last_seq},
                                    ("resumed", self.chat))
            if not answer.get("more"):
                return

    async def reconnect(self) -> None:
        """Connect again, join, resume from the last row id seen, then resend the outbox."""
        await self.open()
        await self.identify()
        await self.resume()
        for frame in list(self.outbox.values()):
            await self.send(frame)


class FloorAgent(Conn):
    path = "/ws/floor/agent/"

    def __init__(self, driver, *, audit: bool = False):
        super().__init__(driver)
        self.audit_mode = audit

    def on_frame(self, frame, at):
        kind = frame.get("type")
        if kind == "message":
            message = frame["message"]
            if self.audit_mode:
                self.driver.ledger.on_stored(message["client_id"], message["id"])
            else:
                self.driver.ledger.on_applied(message["client_id"], message["id"], at, role="agent", via="live")
        elif kind == "typing":
            self.driver.typing_received += 1
        elif kind == "joined":
            self.resolve(("joined", frame["chat"]), frame)
        elif kind == "resumed":
            self.resolve(("resumed", frame["chat"]), frame)
        elif kind == "error":
            self.driver.errors.append(frame)

    async def start(self) -> None:
        await self.open()

    async def accept(self, chat: str) -> None:
        await self.ask({"type": "join", "chat": chat, "role": "agent"}, ("joined", chat))

    async def audit(self, chat: str) -> None:
        after = 0
        while True:
            answer = await self.ask({"type": "resume", "chat": chat, "after": after}, ("resumed", chat))
            if not answer.get("more"):
                return
            after = answer["last"]


# --- Drivers: how each server is spoken to -----------------------------------------------------------


class Driver:
    """Makes the clients of one server and holds what they report: the current test's ledger, the
    error frames, the count of drafts agents received, and the run's message budget."""

    kind = ""

    def __init__(self, base_url: str, budget: "Budget"):
        require_loopback(base_url)
        self.base_url = base_url
        self.budget = budget
        self.ledger = Ledger()
        self.errors: list[dict] = []
        self.typing_received = 0

    def take_budget(self) -> None:
        self.budget.take()

    async def login_agents(self, count: int) -> None:
        """Obtain what the agents need to connect (nothing on the floor)."""

    async def new_agent(self, index: int, *, audit: bool = False):
        raise NotImplementedError

    async def open_chat(self, name: str, agent):
        """A visitor with a chat that ``agent`` has taken, ready for messages."""
        raise NotImplementedError

    async def open_idle(self, name: str):
        """A visitor socket as an idle widget leaves it: connected and identified, no chat."""
        raise NotImplementedError


class ProductDriver(Driver):
    kind = "product"

    def __init__(self, base_url, budget, credentials: list[tuple[str, str]]):
        super().__init__(base_url, budget)
        self.credentials = credentials
        self.cookies: list[str] = []
        self.resync_seconds = 0.0
        self.clients: set[ProductClient] = set()
        self._ticker: asyncio.Task | None = None

    async def login_agents(self, count):
        """One login per agent (fewer if fewer logins are known: sockets then share sessions), and the
        resync period the widget page hands its script."""
        if not self.credentials:
            raise BenchError("no agent login known (--agent-login USER:PASSWORD)")
        self.cookies = list(await asyncio.gather(
            *(asyncio.to_thread(login, self.base_url, user, password) for user, password in self.credentials[:count])
        ))
        self.resync_seconds = await asyncio.to_thread(resync_seconds, self.base_url)

    def add_client(self, client: ProductClient) -> None:
        self.clients.add(client)
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick())

    def remove_client(self, client: ProductClient) -> None:
        self.clients.discard(client)

    async def _tick(self) -> None:
        while self.clients:
            await asyncio.sleep(TICK)
            t = now()
            for client in list(self.clients):
                client.tick(t)

    async def new_agent(self, index, *, audit=False):
        agent = ProductAgent(self, "audit" if audit else f"agent-{index}", self.cookies[index % len(self.cookies)],
                             audit=audit)
        await agent.start()
        return agent

    async def open_chat(self, name, agent):
        visitor = ProductVisitor(self, name)
        await visitor.start()
        await visitor.start_chat(f"start-{name}", f"Hello, this is visitor {name}. I have a question.")
        await agent.accept(visitor.chat)
        return visitor

    async def open_idle(self, name):
        visitor = ProductVisitor(self, name)
        await visitor.start()
        return visitor


class FloorDriver(Driver):
    kind = "floor"

    async def new_agent(self, index, *, audit=False):
        agent = FloorAgent(self, audit=audit)
        await agent.start()
        return agent

    async def open_chat(self, name, agent):
        visitor = FloorVisitor(self, name)
        visitor.chat = name
        await visitor.open()
        await visitor.identify()
        await agent.accept(visitor.chat)
        return visitor

    async def open_idle(self, name):
        visitor = FloorVisitor(self, name)
        visitor.chat = f"idle-{name}"
        await visitor.open()
        await visitor.identify()
        return visitor


class Budget:
    """Every run is bounded: at most ``max_messages`` message and draft frames, and a deadline."""

    def __init__(self, max_messages: int, max_seconds: float):
        self.max_messages = max_messages
        self.used = 0
        self.deadline = now() + max_seconds

    def take(self) -> None:
        self.used += 1
        if self.used > self.max_messages:
            raise BenchError(f"message budget of {self.max_messages} exhausted")

    def seconds_left(self) -> float:
        return self.deadline - now()


def _http(base_url: str):
    require_loopback(base_url)
    parts = urlsplit(base_url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)


def resync_seconds(base_url: str) -> float:
    """``CHAT_RESYNC_SECONDS`` as the widget reads it: its page's ``data-resync-ms``."""
    conn = _http(base_url)
    try:
        conn.request("GET", "/widget/")
        response = conn.getresponse()
        found = re.search(r'data-resync-ms="(\d+)"', response.read().decode())
        if response.status != 200 or not found:
            raise BenchError(f"widget page: HTTP {response.status}, no data-resync-ms")
        return int(found.group(1)) / 1000
    finally:
        conn.close()


def login(base_url: str, username: str, password: str) -> str:
    """Log in through the login form as a browser does; return the ``Cookie`` value of the session."""
    conn = _http(base_url)
    try:
        conn.request("GET", "/accounts/login/")
        response = conn.getresponse()
        page = response.read().decode()
        csrf = _cookies(response).get("csrftoken")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if response.status != 200 or not csrf or not token:
            raise BenchError(f"login page: HTTP {response.status}, no CSRF cookie or token")
        body = urlencode({"csrfmiddlewaretoken": token.group(1), "username": username, "password": password,
                          "next": ""})
        conn.request("POST", "/accounts/login/", body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}",
            "Origin": base_url, "Referer": f"{base_url}/accounts/login/",
        })
        response = conn.getresponse()
        response.read()
        session = _cookies(response).get("sessionid")
        if response.status != 302 or not session:
            raise BenchError(f"login as {username}: HTTP {response.status}, no session cookie")
        return f"sessionid={session}"
    finally:
        conn.close()


def _cookies(response) -> dict[str, str]:
    jar = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}
