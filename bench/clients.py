"""The load generator's clients: visitors and agents of the product, speaking docs/protocol.md and
nothing else, and their counterparts on the floor (bench/floor's four frames).

Visitors go the widget's way: ``hello`` (a token comes back in ``welcome``), ``chat.start``, then
``message.send`` with a client_id, an outbox of unacknowledged messages resent after a reconnect, and
``resume`` from the last seq seen. Agents are real users: the driver logs in through the login form
(CSRF cookie, POST, ``sessionid``) and the agent socket presents that cookie; agents take chats with
``chat.accept`` and record when each message reaches them. Every socket sends the server's own
``Origin``. Only loopback targets are accepted.
"""

import asyncio
import http.client
import ipaddress
import json
import re
import socket
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from .ledger import Ledger, now

RESUME_LIMIT = 1000  # events per resume answer (docs/protocol.md, Limits)
TIMEOUT = 30


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


# --- Visitors ---------------------------------------------------------------------------------------


class Visitor(Conn):
    """What every visitor keeps: its chat, the last seq (row id) it has seen, and an outbox of
    message frames not yet acknowledged, resent in order after a reconnect."""

    def __init__(self, driver: "Driver", name: str):
        super().__init__(driver)
        self.name = name
        self.chat: str | None = None
        self.last_seq = 0
        self.outbox: dict[str, dict] = {}
        self.draft = ""  # drafts test: what the visitor has typed since the last message
        self.draft_sent = ""
        self.next_typing = 0.0

    def _acked(self, client_id: str, seq: int) -> None:
        self.outbox.pop(client_id, None)
        self.last_seq = max(self.last_seq, seq)
        self.driver.ledger.on_ack(client_id)
        self.resolve(("ack", client_id), {})

    def _error(self, frame: dict) -> None:
        self.driver.errors.append(frame)
        client_id = frame.get("client_id")
        if client_id and frame.get("code") != "internal":  # refused for good: it leaves the outbox
            self.outbox.pop(client_id, None)

    async def send_message(self, client_id: str, text: str) -> None:
        frame = self.message_frame(client_id, text)
        self.outbox[client_id] = frame
        self.driver.take_budget()
        self.driver.ledger.on_send(client_id, self.chat)
        await self.send(frame)

    async def send_typing(self, text: str) -> None:
        self.driver.take_budget()
        await self.send(self.typing_frame(text))

    async def reconnect(self) -> None:
        """Connect again, identify, resume from the last seq seen, then resend the outbox."""
        await self.open()
        await self.identify()
        await self.resume()
        for frame in list(self.outbox.values()):
            await self.send(frame)

    def message_frame(self, client_id: str, text: str) -> dict:
        raise NotImplementedError

    def typing_frame(self, text: str) -> dict:
        raise NotImplementedError

    async def identify(self) -> None:
        raise NotImplementedError

    async def resume(self) -> None:
        raise NotImplementedError


class ProductVisitor(Visitor):
    path = "/ws/visitor/"

    def __init__(self, driver, name):
        super().__init__(driver, name)
        self.token: str | None = None

    def on_frame(self, frame, at):
        kind = frame.get("type")
        if kind == "message.ack":
            self._acked(frame["message"]["client_id"], frame["message"]["seq"])
        elif kind == "message":
            self.last_seq = max(self.last_seq, frame["message"]["seq"])
        elif kind == "welcome":
            self.resolve("welcome", frame)
        elif kind == "chat":
            self.resolve("chat", frame)
        elif kind == "resumed":
            self.resolve(("resumed", frame["chat"]), frame)
        elif kind == "error":
            self._error(frame)

    async def identify(self) -> None:
        welcome = await self.ask({"type": "hello", "token": self.token} if self.token else {"type": "hello"},
                                 "welcome")
        if welcome.get("token"):
            self.token = welcome["token"]

    async def start_chat(self, client_id: str, text: str) -> None:
        ack = self.want(("ack", client_id))
        frame = await self.ask({"type": "chat.start", "name": f"Visitor {self.name}", "text": text,
                                "email": f"visitor-{self.name}@example.com", "client_id": client_id}, "chat")
        self.chat = frame["chat"]["id"]
        await asyncio.wait_for(ack, TIMEOUT)

    async def resume(self) -> None:
        while True:
            before = self.last_seq
            answer = await self.ask({"type": "resume", "chat": self.chat, "after_seq": before},
                                    ("resumed", self.chat))
            if answer["last_seq"] - before < RESUME_LIMIT:
                return

    def message_frame(self, client_id, text):
        return {"type": "message.send", "chat": self.chat, "client_id": client_id, "text": text}

    def typing_frame(self, text):
        return {"type": "typing", "chat": self.chat, "text": text}


class FloorVisitor(Visitor):
    path = "/ws/floor/visitor/"

    def on_frame(self, frame, at):
        kind = frame.get("type")
        if kind == "ack":
            self._acked(frame["client_id"], frame["id"])
        elif kind == "message":
            self.last_seq = max(self.last_seq, frame["message"]["id"])
        elif kind == "joined":
            self.resolve(("joined", frame["chat"]), frame)
        elif kind == "resumed":
            self.resolve(("resumed", frame["chat"]), frame)
        elif kind == "error":
            self._error(frame)

    async def identify(self) -> None:
        await self.ask({"type": "join", "chat": self.chat, "role": "visitor"}, ("joined", self.chat))

    async def resume(self) -> None:
        while True:
            answer = await self.ask({"type": "resume", "chat": self.chat, "after": self.last_seq},
                                    ("resumed", self.chat))
            if not answer.get("more"):
                return

    def message_frame(self, client_id, text):
        return {"type": "send", "chat": self.chat, "client_id": client_id, "text": text}

    def typing_frame(self, text):
        return {"type": "typing", "chat": self.chat, "text": text}


# --- Agents -----------------------------------------------------------------------------------------


class Agent(Conn):
    """An agent's socket. Live messages go to the ledger as ``live``; an auditing agent (``audit``)
    resumes chats from the start and reports what it gets as ``stored``."""

    def __init__(self, driver, cookie=None, *, audit: bool = False):
        super().__init__(driver, cookie)
        self.audit_mode = audit
        self.page: dict[str, int] = {}  # audit: events received in the current resume answer, per chat
        self.lock = asyncio.Lock()

    def _message(self, chat: str, client_id: str | None, seq: int, at: float, *, from_visitor: bool) -> None:
        if self.audit_mode:
            self.page[chat] = self.page.get(chat, 0) + 1
            if from_visitor and client_id:
                self.driver.ledger.on_stored(client_id, seq)
        elif from_visitor and client_id:
            self.driver.ledger.on_live(client_id, seq, at)

    async def audit(self, chat: str) -> None:
        raise NotImplementedError


class ProductAgent(Agent):
    path = "/ws/agent/"

    def on_frame(self, frame, at):
        kind = frame.get("type")
        if kind == "message":
            message = frame["message"]
            self._message(frame["chat"], message.get("client_id"), message["seq"], at,
                          from_visitor=message["author"] == "visitor")
        elif kind == "typing":
            self.driver.typing_received += 1
        elif kind == "chat":
            chat = frame["chat"]
            if chat["status"] == "active" and chat["agent_id"] == getattr(self, "id", None):
                self.resolve(("accepted", chat["id"]), frame)
        elif kind == "resumed":
            self.resolve(("resumed", frame["chat"]), frame)
        elif kind == "pong":
            self.resolve("pong", frame)
        elif kind == "welcome":
            self.resolve("welcome", frame)
        elif kind == "error":
            self.driver.errors.append(frame)

    async def start(self) -> None:
        welcome = self.want("welcome")
        await self.open()
        try:
            frame = await asyncio.wait_for(welcome, TIMEOUT)
        except TimeoutError:
            raise BenchError("no welcome on the agent socket") from None
        self.id = frame["agent"]["id"]

    async def accept(self, chat: str) -> None:
        """``chat.accept``, then a ``ping``: a consumer handles one frame at a time, so the pong
        proves the accept has finished, the chat's group joined, before the visitor writes."""
        async with self.lock:
            accepted = self.want(("accepted", chat))
            await self.send({"type": "chat.accept", "chat": chat})
            await self.ask({"type": "ping"}, "pong")
            if not accepted.done():
                raise BenchError(f"chat.accept {chat} was not accepted: {self.driver.errors[-3:]}")

    async def audit(self, chat: str) -> None:
        after = 0
        while True:
            self.page[chat] = 0
            answer = await self.ask({"type": "chat.watch", "chat": chat, "after_seq": after}, ("resumed", chat))
            if self.page[chat] < RESUME_LIMIT:
                break
            after = answer["last_seq"]
        await self.send({"type": "chat.unwatch", "chat": chat})


class FloorAgent(Agent):
    path = "/ws/floor/agent/"

    def on_frame(self, frame, at):
        kind = frame.get("type")
        if kind == "message":
            message = frame["message"]
            self._message(frame["chat"], message["client_id"], message["id"], at, from_visitor=True)
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

    async def new_agent(self, index: int, *, audit: bool = False) -> Agent:
        raise NotImplementedError

    async def open_chat(self, name: str, agent: Agent) -> Visitor:
        """A visitor with a chat that ``agent`` has taken, ready for messages."""
        raise NotImplementedError

    async def open_idle(self, name: str) -> Visitor:
        """A visitor socket as an idle widget leaves it: connected and identified, no chat."""
        raise NotImplementedError


class ProductDriver(Driver):
    kind = "product"

    def __init__(self, base_url, budget, credentials: list[tuple[str, str]]):
        super().__init__(base_url, budget)
        self.credentials = credentials
        self.cookies: list[str] = []

    async def login_agents(self, count):
        """One login per agent (fewer if fewer logins are known: sockets then share sessions)."""
        if not self.credentials:
            raise BenchError("no agent login known (--agent-login USER:PASSWORD)")
        self.cookies = list(await asyncio.gather(
            *(asyncio.to_thread(login, self.base_url, user, password) for user, password in self.credentials[:count])
        ))

    async def new_agent(self, index, *, audit=False):
        agent = ProductAgent(self, self.cookies[index % len(self.cookies)], audit=audit)
        await agent.start()
        return agent

    async def open_chat(self, name, agent):
        visitor = ProductVisitor(self, name)
        await visitor.open()
        await visitor.identify()
        await visitor.start_chat(f"start-{name}", f"Hello, this is visitor {name}. I have a question.")
        await agent.accept(visitor.chat)
        return visitor

    async def open_idle(self, name):
        visitor = ProductVisitor(self, name)
        await visitor.open()
        await visitor.identify()
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


def login(base_url: str, username: str, password: str) -> str:
    """Log in through the login form as a browser does; return the ``Cookie`` value of the session."""
    require_loopback(base_url)
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
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
