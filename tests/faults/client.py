"""A client of the live protocol, written from docs/protocol.md and the issue 13 spec alone (not
from the server's code, nor from the widget's): what a third party scripting the widget or the
console would write, and what the drills watch.

One ``Client`` is one visitor widget or one agent console across all its sockets:

- it connects (visitor: ``hello``, with its token once it has one; agent: the session cookie and the
  server's ``welcome``), and after any close connects again with a short backoff, at once after 4408,
  moving to the next server URL it knows when one refuses;
- per chat it keeps a *level* cursor: the highest seq below which it has every event. It resumes
  (visitor ``resume``, agent ``chat.watch``) from the level after every (re)connect, as soon as it
  holds a seq above a hole, again while ``resumed`` says ``more`` or a hole remains, when a ``chat``
  frame shows a ``last_seq`` above the level, on a timer, and again when a resume goes unanswered;
  ``hidden`` and ``receipt`` count as seqs like messages;
- sends go through an outbox, in order, one message frame in flight: the next goes after the ack or
  the error of the previous one. ``internal``, ``unavailable`` and ``rate_limited`` are retried (the
  same frame, after a delay); any other error naming the frame's ``client_id`` drops it for good.
  After a reconnect the outbox is sent again from its first frame;
- ``live: degraded`` (in ``welcome`` or as a frame) makes it resync every chat every second (the
  widget's 3 s, shortened for the drills); ``live: ok`` resyncs every chat at once.

Everything it applies (messages, receipts, hidden seqs, chat states; live, by resume or as its own
ack) goes to ``log``, in order, with when and on which socket: the drills count from it, and
``rebuild`` replays it onto a starting state to compare with a fresh read.
"""

import asyncio
import copy
import json
import random
import socket
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

RETRYABLE = frozenset({"internal", "unavailable", "rate_limited"})
CLOSE_FELL_BEHIND = 4408
RESUME_TIMEOUT = 10.0  # a resume unanswered this long counts as lost (spec 3)
WELCOME_TIMEOUT = 10.0
TICK = 0.05
CHECK_EVERY = 0.02


def now() -> float:
    return time.monotonic()


class DrillTimeout(AssertionError):
    """A condition a drill waited for did not come within its deadline."""


class Hub:
    """Wakes whoever waits for a condition over several clients when any of them changes."""

    def __init__(self):
        self._waiters: list[asyncio.Future] = []

    def changed(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def until(self, predicate, timeout: float, what: str) -> float:
        """Wait until ``predicate()`` holds; the time it did. Raises ``DrillTimeout`` at the deadline.
        The predicate is checked after a change, at most every ``CHECK_EVERY`` s (a drill's clients
        apply thousands of frames a second; a predicate may count them all)."""
        deadline = now() + timeout
        while not predicate():
            checked = now()
            remaining = deadline - checked
            if remaining <= 0:
                raise DrillTimeout(f"{what}: not within {timeout:g} s")
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                # Woken by a change; the cap re-checks conditions that time alone makes true.
                await asyncio.wait_for(waiter, min(remaining, 0.5))
            except TimeoutError:
                pass
            pause = CHECK_EVERY - (now() - checked)
            if pause > 0:
                await asyncio.sleep(pause)  # pacing the checks; the wait itself is on the change
        return now()


# --- State: what a client shows, rebuilt from the events it applied --------------------------------

MESSAGE_FIELDS = ("id", "seq", "author", "author_name", "event", "client_id", "html", "created_at")
RECEIPT_FIELDS = ("delivered_at", "read_at")


def new_state() -> dict:
    return {"chat": None, "messages": {}}


def apply(state: dict, role: str, kind: str, body) -> None:
    """One applied event onto a chat's state. Visitors are not told receipts (a receipt's seq is
    ``hidden`` to them), so their state holds no receipt times."""
    if kind == "chat":
        state["chat"] = {k: v for k, v in body.items() if k != "last_seq"}
    elif kind == "message":
        fields = MESSAGE_FIELDS + (RECEIPT_FIELDS if role == "agent" else ())
        state["messages"][body["seq"]] = {f: body.get(f) for f in fields}
    elif kind == "times" and role == "agent":
        # Receipt times: a ``receipt`` frame's entries, or a message frame (for a seq the client may
        # have already) carrying them as they stand. Each time is set once. (``receipt`` and
        # ``hidden`` themselves only take their seq.)
        for entry in body:
            message = state["messages"].get(entry["seq"])
            if message is not None:
                for f in RECEIPT_FIELDS:
                    if entry.get(f) is not None:
                        message[f] = entry[f]


def rebuild(start: dict, role: str, events) -> dict:
    state = copy.deepcopy(start)
    for event in events:
        apply(state, role, event.kind, event.body)
    return state


@dataclass
class Applied:
    kind: str  # message, receipt, hidden, chat, times
    chat: str
    seq: int | None
    via: str  # live, resume (while a resume of the chat was in flight), ack
    at: float
    conn: int
    body: object = None
    client_id: str | None = None
    author: str | None = None


class Cursor:
    """The level cursor of one chat."""

    def __init__(self, chat: str):
        self.chat = chat
        self.level = 0
        self.above: set[int] = set()
        self.resume_at: float | None = None  # when the resume in flight was sent
        # The last_seq of the ``chat`` frame that opened the answer in flight: events up to it may be the
        # answer's; those above it, and any before the answer opened, came live.
        self.answer_bound: int | None = None
        self.last_resync = now()
        self.again = False  # a resync was wanted while one was in flight
        self.chat_last_seq = 0  # the highest ``chat.last_seq`` seen
        self.resumes_sent = 0
        self.resumes_answered = 0
        self.resumes_lost = 0
        self.reasons: Counter = Counter()  # why resumes were sent
        self.answer_times: list[float] = []  # seconds from a resume to its ``resumed``
        self.holes: list[tuple[float, int, int]] = []  # (when, level, lowest seq above it) of each hole seen

    def has(self, seq: int) -> bool:
        return seq <= self.level or seq in self.above

    def take(self, seq: int) -> None:
        self.above.add(seq)
        self._advance()

    def level_up(self, last_seq: int) -> None:
        """``resumed``: every event with seq <= ``last_seq`` is had."""
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
        return bool(self.above)

    @property
    def settled(self) -> bool:
        return self.resume_at is None and not self.above and not self.again and self.resumes_answered > 0


@dataclass
class Outgoing:
    client_id: str
    text: str
    index: int  # this client's send order
    chat: str | None = None
    start: dict | None = None  # chat.start fields (name, email)
    enqueued: float = field(default_factory=now)
    first_sent: float | None = None
    sent: float | None = None
    attempts: int = 0
    acked: float | None = None
    seq: int | None = None
    duplicate: bool = False
    refused: dict | None = None

    @property
    def latency(self) -> float | None:
        return None if self.acked is None else self.acked - self.first_sent


@dataclass
class Connection:
    number: int
    url: str
    opened: float
    welcome: dict | None = None
    welcomed: float | None = None
    closed: float | None = None
    close_code: int | None = None  # from the server's close frame; None: no close frame came
    close_reason: str = ""
    cut: bool = False  # this client aborted it
    frames: int = 0

    @property
    def live_at_welcome(self):
        return None if self.welcome is None else self.welcome.get("live")


def tcp_state(sock) -> str:
    """The kernel's TCP state of a socket (Linux TCP_INFO): ESTABLISHED while the peer holds it,
    CLOSE_WAIT after its FIN, CLOSE after a reset."""
    names = {1: "ESTABLISHED", 7: "CLOSE", 8: "CLOSE_WAIT"}
    try:
        state = struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0]
    except OSError as exc:
        return f"unknown ({exc})"
    return names.get(state, str(state))


class Client:
    def __init__(self, hub: Hub, role: str, urls: list[str], *, name: str, cookie: str | None = None,
                 token: str | None = None, resync_seconds: float = 2.0, degraded_resync_seconds: float = 1.0,
                 receipts: bool = False, max_queue: int | None = 16, rcvbuf: int | None = None):
        assert role in ("visitor", "agent")
        self.hub, self.role, self.urls, self.name = hub, role, list(urls), name
        self.cookie, self.token = cookie, token
        self.resync_seconds = resync_seconds  # 0: never (then only holes, chat frames and live ok resync)
        self.degraded_resync_seconds = degraded_resync_seconds
        self.receipts = receipts  # visitor: report delivered/read agent messages, as the widget does
        self.max_queue, self.rcvbuf = max_queue, rcvbuf

        self.cursors: dict[str, Cursor] = {}
        self.states: dict[str, dict] = {}
        self.log: list[Applied] = []
        self.applied_ids: dict[str, set[str]] = {}  # chat -> client_ids of the messages applied
        # Every message frame that came, applied or dropped: a seq that came once, in a resume answer,
        # never came live; one that came twice came live too (and again by a resume).
        self.message_frames: Counter = Counter()  # (chat, seq) -> frames
        self.outbox: deque[Outgoing] = deque()
        self.items: list[Outgoing] = []  # every message ever queued, in order
        self.in_flight: Outgoing | None = None
        self.retry_at = 0.0
        self.retries: Counter = Counter()  # retryable error codes seen
        self.errors: list[tuple[float, int, dict]] = []
        self.client_errors: list[str] = []  # frames that broke this client (a bug here or in the server)
        self.dropped = 0  # frames for seqs already had
        self.connections: list[Connection] = []
        self.connect_failures: list[tuple[float, str, str]] = []
        self.cuts: list[float] = []
        self.cut_every = 0  # abort the socket after every n-th first send of a message
        self.first_sends = 0
        self.live: str | None = None
        self.live_log: list[tuple[float, int, str]] = []
        self.accepted: set[str] = set()
        self.agent_id = None
        self.pongs = 0
        self.receipts_sent = 0
        self._receipt_sent_up_to = 0
        self._receipt_last = 0.0
        self._agent_seq_max: dict[str, int] = {}

        self.ws = None
        self.conn: Connection | None = None
        self.ready = False
        self._reading = asyncio.Event()
        self._reading.set()
        self._url_at = 0
        self._backoff = 0.0
        self._stopping = False
        self._tasks: list[asyncio.Task] = []

    # --- Life -------------------------------------------------------------------------------------

    async def start(self, timeout: float = 20) -> None:
        """Connect and keep connected; returns once the first ``welcome`` came."""
        self._tasks = [asyncio.create_task(self._life()), asyncio.create_task(self._tick())]
        await self.hub.until(lambda: self.ready, timeout, f"{self.name}: welcome")

    async def stop(self) -> None:
        self._stopping = True
        ws = self.ws
        if ws is not None:
            if self._reading.is_set():
                try:
                    await asyncio.wait_for(ws.close(), 3)
                except (TimeoutError, ConnectionClosed, OSError):
                    ws.transport.abort()
            else:
                ws.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _life(self) -> None:
        while not self._stopping:
            url = self.urls[self._url_at % len(self.urls)]
            try:
                ws = await self._open(url)
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                status = exc.response.status_code if isinstance(exc, InvalidStatus) else None
                self.connect_failures.append((now(), url, f"HTTP {status}" if status else repr(exc)))
                self._url_at += 1  # that server may be gone: try the next one
                await asyncio.sleep(self._next_backoff())
                continue
            conn = Connection(number=len(self.connections) + 1, url=url, opened=now())
            self.connections.append(conn)
            await self._serve(ws, conn)
            if self._stopping:
                return
            if conn.close_code != CLOSE_FELL_BEHIND:  # 4408: at once, no backoff
                await asyncio.sleep(self._next_backoff())

    def _next_backoff(self) -> float:
        self._backoff = min(max(0.02, self._backoff * 2), 1.0)
        return self._backoff * random.uniform(0.5, 1.0)

    async def _open(self, url: str):
        parts = urlsplit(url)
        sock = None
        if self.rcvbuf:
            # A small receive buffer, set before connecting so that the window is small too: a reader
            # that stops reading fills the server's buffer after a few KiB instead of megabytes.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            sock.setblocking(False)
            try:
                await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port)), 5)
            except BaseException:
                sock.close()
                raise
        path = "/ws/visitor/" if self.role == "visitor" else "/ws/agent/"
        headers = [("Cookie", self.cookie)] if self.cookie else None
        return await connect(
            f"ws://{parts.netloc}{path}", origin=url, additional_headers=headers, compression=None,
            ping_interval=None, open_timeout=10, close_timeout=2, max_queue=self.max_queue, max_size=2**22,
            sock=sock,
        )

    async def _serve(self, ws, conn: Connection) -> None:
        self.ws, self.conn, self.ready = ws, conn, False
        self.in_flight = None
        self.retry_at = 0.0
        for cursor in self.cursors.values():
            cursor.resume_at = cursor.answer_bound = None
            cursor.again = False
        self.hub.changed()
        try:
            if self.role == "visitor":
                await self._send({"type": "hello", "token": self.token} if self.token else {"type": "hello"})
            while True:
                await self._reading.wait()
                raw = await ws.recv()
                conn.frames += 1
                try:
                    await self._handle(json.loads(raw), conn)
                except Exception as exc:  # a frame this client cannot read: the drill reports it
                    self.client_errors.append(f"{exc!r} on {str(raw)[:300]}")
                self.hub.changed()
        except ConnectionClosed as exc:
            if exc.rcvd is not None:
                conn.close_code, conn.close_reason = exc.rcvd.code, exc.rcvd.reason
        finally:
            conn.closed = now()
            self.ws, self.ready, self.in_flight = None, False, None
            self.hub.changed()

    async def _tick(self) -> None:
        """Timers: the welcome deadline, lost resumes, periodic resync, retries, receipts."""
        while True:
            await asyncio.sleep(TICK)
            t = now()
            conn = self.conn
            if self.ws is not None and not self.ready and conn and t - conn.opened > WELCOME_TIMEOUT:
                self.abort()
                continue
            if not self.ready or not self._reading.is_set():
                continue  # a client that does not read (a frozen tab) sends nothing either
            interval = self.degraded_resync_seconds if self.live == "degraded" else self.resync_seconds
            for cursor in list(self.cursors.values()):
                if cursor.resume_at is not None:
                    if t - cursor.resume_at > RESUME_TIMEOUT:
                        cursor.resumes_lost += 1
                        await self._resume(cursor, "timeout")
                elif interval and t - cursor.last_resync >= interval:
                    await self._resume(cursor, "timer")
            if self.in_flight is None and self.outbox and t >= self.retry_at:
                await self._pump()
            if self.receipts:
                await self._maybe_receipt(t)

    def cut_after_every(self, n: int) -> None:
        """From now on abort the socket right after every ``n``-th message first sent (0: stop)."""
        self.cut_every, self.first_sends = n, 0

    def abort(self) -> None:
        if self.ws is not None:
            self.ws.transport.abort()

    def cut(self) -> None:
        """Drop the socket the hard way, as a network loss does: no close handshake."""
        if self.ws is not None:
            self.conn.cut = True
            self.cuts.append(now())
            self.ws.transport.abort()

    def pause_reading(self) -> None:
        """Stop reading the socket: with a small ``max_queue`` and ``rcvbuf`` the TCP window closes
        and what the server sends waits on the server."""
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def socket_tcp_state(self) -> str:
        ws = self.ws
        if ws is None:
            return "no socket"
        return tcp_state(ws.transport.get_extra_info("socket"))

    async def _send(self, frame: dict) -> bool:
        ws = self.ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(frame))
            return True
        except (ConnectionClosed, OSError):
            return False

    # --- Frames ------------------------------------------------------------------------------------

    async def _handle(self, frame: dict, conn: Connection) -> None:
        kind = frame.get("type")
        if kind == "welcome":
            await self._on_welcome(frame, conn)
        elif kind == "live":
            await self._on_live(frame.get("state"), conn)
        elif kind == "chat":
            await self._on_chat(frame["chat"], conn)
        elif kind == "message":
            await self._on_message(frame["chat"], frame["message"], conn)
        elif kind == "message.ack":
            await self._on_ack(frame, conn)
        elif kind == "receipt":
            await self._on_seq(frame["chat"], frame["seq"], conn, "receipt", frame.get("messages", []))
        elif kind == "hidden":
            await self._on_seq(frame["chat"], frame["seq"], conn, "hidden", None)
        elif kind == "resumed":
            await self._on_resumed(frame, conn)
        elif kind == "error":
            await self._on_error(frame, conn)
        elif kind == "pong":
            self.pongs += 1
        # pages, page.view, typing, agent.typing: nothing to keep

    async def _on_welcome(self, frame: dict, conn: Connection) -> None:
        conn.welcome, conn.welcomed = frame, now()
        self.ready = True
        self._backoff = 0.0
        if self.role == "visitor":
            self.token = frame.get("token") or self.token
            chat = frame.get("chat")
            if chat and not self.cursors:  # another widget of this visitor started it
                self._follow(chat["id"])
        else:
            self.agent_id = frame["agent"]["id"]
        self.live = frame.get("live")
        self.live_log.append((now(), conn.number, str(self.live)))
        for cursor in list(self.cursors.values()):
            await self._resume(cursor, "connect")
        await self._pump()

    async def _on_live(self, state: str, conn: Connection) -> None:
        before, self.live = self.live, state
        self.live_log.append((now(), conn.number, state))
        if state == "ok" and before != "ok":
            for cursor in list(self.cursors.values()):
                if cursor.resume_at is None:
                    await self._resume(cursor, "live_ok")
                else:
                    cursor.again = True

    async def _on_chat(self, chat: dict, conn: Connection) -> None:
        chat_id = chat["id"]
        if self.role == "visitor" and chat_id not in self.cursors and self.in_flight and self.in_flight.start:
            self._follow(chat_id)  # the chat this client's chat.start opened
            self.in_flight.chat = chat_id
        if self.role == "agent" and chat["status"] == "active" and chat.get("agent_id") == self.agent_id:
            self.accepted.add(chat_id)
        cursor = self.cursors.get(chat_id)
        if cursor is None:
            return
        if cursor.resume_at is not None and cursor.answer_bound is None:
            cursor.answer_bound = chat.get("last_seq") or 0  # a resume answer opens with the chat's state
        self._record("chat", chat_id, None, conn, chat)
        cursor.chat_last_seq = max(cursor.chat_last_seq, chat.get("last_seq") or 0)
        if cursor.chat_last_seq > cursor.level and cursor.resume_at is None:
            await self._resume(cursor, "chat_frame")

    async def _on_message(self, chat: str, message: dict, conn: Connection, via: str | None = None) -> None:
        cursor = self.cursors.get(chat)
        if cursor is None:
            return
        seq = message["seq"]
        self.message_frames[chat, seq] += 1
        if cursor.has(seq):
            self.dropped += 1
            if self.role == "agent" and any(message.get(f) for f in RECEIPT_FIELDS):
                self._record("times", chat, seq, conn, [message])
            return
        cursor.take(seq)
        self._record("message", chat, seq, conn, message, via=via)
        if self.role == "visitor" and message.get("author") == "agent":
            self._agent_seq_max[chat] = max(self._agent_seq_max.get(chat, 0), seq)
        await self._after_take(cursor)

    async def _on_seq(self, chat: str, seq: int, conn: Connection, kind: str, body) -> None:
        cursor = self.cursors.get(chat)
        if cursor is None:
            return
        if kind == "receipt":
            self._record("times", chat, seq, conn, body)  # the times hold even when the seq is had
        if cursor.has(seq):
            self.dropped += 1
            return
        cursor.take(seq)
        self._record(kind, chat, seq, conn, None)
        await self._after_take(cursor)

    async def _after_take(self, cursor: Cursor) -> None:
        if cursor.hole and (not cursor.holes or cursor.holes[-1][1] != cursor.level):
            cursor.holes.append((now(), cursor.level, min(cursor.above)))
        if cursor.hole and cursor.resume_at is None:
            await self._resume(cursor, "hole")

    async def _on_ack(self, frame: dict, conn: Connection) -> None:
        message = frame["message"]
        await self._on_message(frame["chat"], message, conn, via="ack")
        item = self.in_flight
        if item is not None and item.client_id == message.get("client_id"):
            item.acked, item.seq, item.duplicate = now(), message["seq"], bool(frame.get("duplicate"))
            item.chat = frame["chat"]
            self.outbox.popleft()
            self.in_flight = None
            await self._pump()

    async def _on_resumed(self, frame: dict, conn: Connection) -> None:
        cursor = self.cursors.get(frame["chat"])
        if cursor is None:
            return
        if cursor.resume_at is not None:
            cursor.answer_times.append(now() - cursor.resume_at)
        cursor.resume_at = cursor.answer_bound = None
        cursor.resumes_answered += 1
        cursor.level_up(frame["last_seq"])
        if frame.get("more") or cursor.hole or cursor.again or cursor.chat_last_seq > cursor.level:
            await self._resume(cursor, "after_resumed")

    async def _on_error(self, frame: dict, conn: Connection) -> None:
        self.errors.append((now(), conn.number, frame))
        code, client_id, about = frame.get("code"), frame.get("client_id"), frame.get("frame")
        item = self.in_flight
        if client_id and item is not None and client_id == item.client_id:
            self.in_flight = None
            if code in RETRYABLE:
                self.retries[code] += 1
                self.retry_at = now() + float(frame.get("retry_after") or 0.2)
            else:
                item.refused = frame
                self.outbox.popleft()
                await self._pump()
        elif about in ("resume", "chat.watch") and frame.get("chat") in self.cursors:
            cursor = self.cursors[frame["chat"]]
            cursor.resume_at = cursor.answer_bound = None  # the timer asks again
        elif about == "hello" or not self.ready:
            self.abort()  # not greeted: connect again

    def _record(self, kind, chat, seq, conn, body, via=None) -> None:
        if via is None:
            cursor = self.cursors.get(chat)
            in_answer = (cursor is not None and cursor.resume_at is not None and cursor.answer_bound is not None
                         and (seq is None or seq <= cursor.answer_bound))
            via = "resume" if in_answer else "live"
        event = Applied(kind=kind, chat=chat, seq=seq, via=via, at=now(), conn=conn.number, body=body)
        if kind == "message":
            event.client_id, event.author = body.get("client_id"), body.get("author")
            if event.client_id:
                self.applied_ids.setdefault(chat, set()).add(event.client_id)
        self.log.append(event)
        apply(self.states.setdefault(chat, new_state()), self.role, kind, body)

    # --- Requests ----------------------------------------------------------------------------------

    def _follow(self, chat: str) -> Cursor:
        cursor = self.cursors.get(chat)
        if cursor is None:
            cursor = self.cursors[chat] = Cursor(chat)
            self.states.setdefault(chat, new_state())
        return cursor

    async def follow(self, chat: str) -> None:
        """Follow a chat from seq 0 (agents: ``chat.watch``), and on every reconnect from its level."""
        cursor = self._follow(chat)
        if self.ready and cursor.resume_at is None and cursor.resumes_sent == 0:
            await self._resume(cursor, "follow")

    async def _resume(self, cursor: Cursor, reason: str) -> None:
        cursor.reasons[reason] += 1
        cursor.resume_at = cursor.last_resync = now()
        cursor.answer_bound = None
        cursor.again = False
        cursor.resumes_sent += 1
        kind = "resume" if self.role == "visitor" else "chat.watch"
        await self._send({"type": kind, "chat": cursor.chat, "after_seq": cursor.level})

    async def _pump(self) -> None:
        """Send the outbox's first frame if nothing is in flight."""
        if not self.ready or self.in_flight is not None or not self.outbox or now() < self.retry_at:
            return
        item = self.outbox[0]
        self.in_flight = item
        first = item.first_sent is None
        item.sent = now()
        item.attempts += 1
        if first:
            item.first_sent = item.sent
        if item.start is not None and item.chat is None:
            frame = {"type": "chat.start", **item.start, "text": item.text, "client_id": item.client_id}
        else:
            frame = {"type": "message.send", "chat": item.chat, "client_id": item.client_id, "text": item.text}
        await self._send(frame)
        if first:
            self.first_sends += 1
            if self.cut_every and self.first_sends % self.cut_every == 0:
                self.cut()

    def enqueue(self, client_id: str, text: str, chat: str | None = None, start: dict | None = None) -> Outgoing:
        item = Outgoing(client_id=client_id, text=text, index=len(self.items), chat=chat, start=start)
        self.items.append(item)
        self.outbox.append(item)
        if self.in_flight is None:
            asyncio.ensure_future(self._pump())
        return item

    async def upload(self, chat: str, client_id: str, name: str, data: bytes, url: str, tries: int = 30) -> Outgoing:
        """A file, as docs/protocol.md "Files" says: POST the bytes with the visitor's token, the
        ``client_id`` and the name; after a lost connection, a 429 or a 5xx send the same again (after
        ``retry_after`` when given), any other error is final. The answer's message is applied like an
        ack; the broadcast of it may come too (dropped as a seq had)."""
        assert self.role == "visitor" and self.token, "uploads are sent by a visitor with a token"
        item = Outgoing(client_id=client_id, text=name, index=len(self.items), chat=chat)
        self.items.append(item)
        item.first_sent = now()
        for _ in range(tries):
            item.attempts += 1
            status, body, wait = await asyncio.to_thread(self._post_file, url, chat, client_id, name, data)
            if status in (200, 201):
                item.acked, item.seq, item.duplicate = now(), body["message"]["seq"], bool(body.get("duplicate"))
                if self.conn is not None:
                    await self._on_message(chat, body["message"], self.conn, via="ack")
                return item
            if status is not None and status < 500 and status != 429:
                item.refused = body.get("error", {"code": str(status)})
                return item
            self.retries[f"upload {status}"] += 1
            await asyncio.sleep(wait)
        item.refused = {"code": "gave up"}
        return item

    def _post_file(self, url: str, chat: str, client_id: str, name: str, data: bytes):
        request = urllib.request.Request(
            f"{url}/chat/{urllib.parse.quote(chat)}/uploads/", data=data, method="POST",
            headers={"X-Visitor-Token": self.token, "X-Client-Id": client_id,
                     "X-File-Name": urllib.parse.quote(name), "Content-Type": "application/octet-stream"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read()), 0
        except urllib.error.HTTPError as error:
            try:
                body = json.loads(error.read())
            except ValueError:
                body = {}
            wait = float(body.get("error", {}).get("retry_after") or error.headers.get("Retry-After") or 0.5)
            return error.code, body, wait
        except OSError:  # refused, reset, timed out: send it again
            return None, {}, 0.5

    async def start_chat(self, name: str, email: str, text: str, client_id: str, timeout: float = 15) -> str:
        item = self.enqueue(client_id, text, start={"name": name, "email": email})
        await self.hub.until(lambda: item.acked or item.refused, timeout, f"{self.name}: chat.start answered")
        assert item.refused is None, f"{self.name}: chat.start refused: {item.refused}"
        return item.chat

    async def accept(self, chat: str, timeout: float = 15) -> None:
        """``chat.accept`` (which replays nothing), then follow the chat from seq 0."""
        errors = len(self.errors)
        await self._send({"type": "chat.accept", "chat": chat})
        await self.hub.until(lambda: chat in self.accepted or len(self.errors) > errors, timeout,
                             f"{self.name}: chat.accept answered")
        assert chat in self.accepted, f"{self.name}: chat.accept refused: {self.errors[errors:]}"
        await self.follow(chat)

    async def ping(self, timeout: float = 10) -> None:
        """A round trip: the server handles a socket's frames in order, so everything sent before
        has been handled when the pong comes."""
        pongs = self.pongs
        await self._send({"type": "ping"})
        await self.hub.until(lambda: self.pongs > pongs, timeout, f"{self.name}: pong")

    async def _maybe_receipt(self, t: float) -> None:
        """As the widget does: report the agent messages this visitor got, at most every 0.3 s."""
        for chat, up_to in self._agent_seq_max.items():
            if up_to > self._receipt_sent_up_to and t - self._receipt_last >= 0.3:
                if await self._send({"type": "receipt", "chat": chat, "delivered_up_to": up_to, "read_up_to": up_to}):
                    self._receipt_sent_up_to, self._receipt_last = up_to, t
                    self.receipts_sent += 1

    # --- What a drill reads --------------------------------------------------------------------------

    def level(self, chat: str) -> int:
        return self.cursors[chat].level

    def settled(self, chat: str, level: int | None = None) -> bool:
        cursor = self.cursors.get(chat)
        return (self.ready and cursor is not None and cursor.settled
                and (level is None or cursor.level >= level))

    @property
    def outbox_empty(self) -> bool:
        return not self.outbox

    def applied_messages(self, chat: str) -> list[Applied]:
        return [e for e in self.log if e.kind == "message" and e.chat == chat]

    def timeline(self, since: float) -> str:
        """Each socket: when it opened, was greeted and closed (seconds after ``since``), how, and
        how many frames it read."""
        def at(t):
            return "-" if t is None else f"{t - since:.2f}"
        return "; ".join(
            f"#{c.number} :{urlsplit(c.url).port} open {at(c.opened)} welcome {at(c.welcomed)} "
            f"closed {at(c.closed)} {'cut' if c.cut else c.close_code} frames {c.frames}"
            for c in self.connections)

    def describe(self) -> str:
        closes = Counter(c.close_code if not c.cut else "cut" for c in self.connections if c.closed)
        errors = Counter(f.get("code") for _, _, f in self.errors)
        lost = sum(c.resumes_lost for c in self.cursors.values())
        reasons = sum((c.reasons for c in self.cursors.values()), Counter())
        slowest = max((t for c in self.cursors.values() for t in c.answer_times), default=0)
        acks = [i.latency for i in self.items if i.latency is not None]
        live = []
        for _, _, state in self.live_log:  # the changes, not every welcome that repeated the state
            if not live or live[-1] != state:
                live.append(state)
        return (f"{self.name}: connections={len(self.connections)} closes={dict(closes)} "
                f"connect_failures={len(self.connect_failures)} errors={dict(errors)} retries={dict(self.retries)} "
                f"resumes={dict(reasons)} slowest_resume={slowest:.2f}s resumes_lost={lost} "
                f"ack_max={max(acks, default=0):.2f}s "
                f"live={live} dropped_dups={self.dropped}")
