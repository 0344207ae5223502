"""Rate limits: what one socket, visitor, agent, address or username may do in a while, all of it here.

Why one module (DESIGN.md, "Identity and trust"): a limit is only as good as the one the attacker goes
round. Kept together, the rules can be read as a whole (``RULES``), counted the same way, changed in one
place by an admin, and answered the same way: ``error`` ``rate_limited`` with ``retry_after`` seconds,
naming the refused frame and its ``client_id``. A refused frame is not acted on (a refused
``message.send`` is not stored; the client's outbox sends it again after ``retry_after``, in order), and
the socket stays open. The one exception is the number of sockets an address holds open: a socket past it
is closed at once with 4429 (``CLOSE_TOO_MANY``; a refusal at the handshake would reach the browser's
script as a bare 1006, indistinguishable from a network failure).

What counts where:

- *Per socket* counts live in the socket's own memory: they cost nothing on the hot path and hold even
  while Redis is away.
- *Per visitor, agent, address and username* counts are shared by every process: in Redis when
  ``RATE_LIMIT_REDIS_URL`` is set (``REDIS_URL`` by default), in this process's memory on the embedded
  default (one process). Each is a fixed window: the first hit starts it, ``retry_after`` is what is left
  of it. A check is one Lua script (``_COUNT``) run by redis-py's asyncio client, one round trip for all
  the shared counts of a frame: it counts the frame only if every count has room, so a refused frame
  counts nowhere and its resend after ``retry_after`` gets through. Resumes take one more round trip,
  after the answer, to count its bytes. Cost (tests/test_limits.py, ``test_cost_of_a_message_check``):
  a ``message.send`` on Redis takes about twice the process CPU of a bare redis-py PING (the script's
  arguments and reply; 650-700 µs against 340 µs on a loaded 2-CPU test machine, where the memory
  check took 26 µs). Typing frames count per socket only and never leave the process.
- *Open sockets per address* are a sorted set per address in Redis (a member per socket, scored with
  the time it lapses), refreshed by each process every ``SOCKET_REFRESH_SECONDS``, so that the sockets
  of a process that died stop counting within ``SOCKET_LEASE_SECONDS``.
- *Failed logins* per username and per address, counted by the ``user_login_failed`` signal and
  checked by ``LoginThrottleBackend`` (first in ``AUTHENTICATION_BACKENDS``, so the console's login and
  the admin's alike); ``LoginThrottleMiddleware`` answers HTTP 429 with ``Retry-After`` and says why on
  the login form. django-axes was considered (8.3 supports Django 5.2) and not taken: it has one failure
  limit for every lockout parameter, so a limit fit for one username (5) would lock a whole office out
  behind one NAT address, and one fit for the office would give every username as many guesses; its
  settings are not the admin's; it keeps every attempt in tables of its own; and its backend raises on an
  ``authenticate()`` without a request. django-ratelimit (4.1) counts requests, not wrong passwords, in
  Django's cache. Here the two limits are two rows like every other.

If Redis does not answer, the shared counts fail open (nothing is refused because Redis is away) for
``OUTAGE_RETRY_SECONDS`` before it is asked again; that is logged once when it starts and once when it
ends. Per-socket limits still hold meanwhile.

The limits are the defaults in ``RULES``, then ``settings.RATE_LIMITS`` (``{"message.visitor": (20,
10)}``, for tests and deployments), then what an admin set in Django admin (*Rate limits*, one row per
rule, blank for the default, 0 for no limit), read again at most every ``CONFIG_CACHE_SECONDS`` like
the typing preview (chat/selectors.py).
"""

import asyncio
import hashlib
import logging
import math
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.core.signals import setting_changed
from django.forms.forms import NON_FIELD_ERRORS

from . import selectors
from .calls import db
from .errors import RateLimited
from .network import client_ip, resolve_client_ip

log = logging.getLogger(__name__)

KiB = 1024
MiB = 1024 * KiB

CLOSE_TOO_MANY = 4429  # too many sockets open from this address (docs/protocol.md)
CONFIG_CACHE_SECONDS = selectors.SETTINGS_CACHE_SECONDS
OUTAGE_RETRY_SECONDS = 1.0
REDIS_TIMEOUT_SECONDS = 1.0  # a check waits at most this; then OUTAGE_RETRY_SECONDS without Redis
REDIS_MAX_CONNECTIONS = 32  # per event loop; a check holds one for one round trip
SOCKET_LEASE_SECONDS = 60
SOCKET_REFRESH_SECONDS = 20


@dataclass(frozen=True)
class Rule:
    name: str
    action: str  # what is counted: see _ACTIONS
    per: str  # socket, visitor, agent, ip (the client's address, chat/network.py), username
    limit: int
    window: int  # seconds
    what: str  # for the admin: what one unit of the limit is
    bytes: bool = False  # counts bytes sent, not frames

    def describe(self, limit: int | None = None, window: int | None = None) -> str:
        limit = self.limit if limit is None else limit
        window = self.window if window is None else window
        amount = f"{limit / MiB:g} MiB" if self.bytes else f"{limit:,}"
        if self.action == "socket":
            return f"{amount} open at once"
        return f"{amount} per {window:,} s"


RULES = [
    Rule("new_visitor.ip", "new_visitor", "ip", 60, 60, "new visitors made by a hello without a token"),
    Rule("message.socket", "message", "socket", 20, 10, "messages sent (message.send)"),
    Rule("message.visitor", "message", "visitor", 30, 10, "messages sent (message.send), all the visitor's tabs"),
    Rule("message.ip", "message", "ip", 300, 10, "messages sent (message.send) by all visitors at one address"),
    Rule("chat_start.visitor", "chat_start", "visitor", 5, 600, "chats started (chat.start)"),
    Rule("chat_start.ip", "chat_start", "ip", 20, 600, "chats started (chat.start) at one address"),
    Rule("page_view.visitor", "page_view", "visitor", 30, 60, "page views reported (page.view)"),
    Rule("page_view.ip", "page_view", "ip", 300, 60, "page views reported (page.view) at one address"),
    Rule("typing.socket", "typing", "socket", 40, 10, "drafts (typing frames), visitor or agent"),
    Rule("resume.socket", "resume", "socket", 60, 60, "resume frames"),
    Rule("resume.visitor", "resume", "visitor", 120, 60, "resume frames, all the visitor's tabs"),
    Rule("resume_bytes.visitor", "resume", "visitor", 8 * MiB, 60, "bytes of messages in resume answers", True),
    Rule("resume_bytes.ip", "resume", "ip", 64 * MiB, 60, "bytes of messages in resume answers at one address",
         True),
    Rule("watch.socket", "watch", "socket", 1200, 60, "chat.watch frames of an agent socket"),
    Rule("presence.socket", "presence", "socket", 30, 60, "presence frames (page hidden or shown)"),
    Rule("rating.visitor", "rating", "visitor", 10, 600, "ratings given (chat.rate)"),
    Rule("transcript.visitor", "transcript", "visitor", 5, 600, "transcripts asked for (transcript.request)"),
    Rule("preview.socket", "preview", "socket", 120, 60, "reply previews (message.preview) of an agent socket"),
    Rule("ticket_edit.socket", "ticket_edit", "socket", 120, 60,
         "details, labels, stars, departments, assignments and transcripts sent by an agent socket"),
    Rule("upload.chat", "upload", "chat", 10, 60, "files sent in one chat (visitor and agent together)"),
    Rule("upload.ip", "upload", "ip", 60, 60, "files sent from one address"),
    Rule("blocked_hello.ip", "blocked_hello", "ip", 20, 60,
         "hellos refused because the visitor or address is blocked, per address"),
    Rule("watch_bytes.agent", "watch", "agent", 128 * MiB, 60, "bytes of messages in chat.watch answers", True),
    Rule("sockets.ip", "socket", "ip", 50, SOCKET_LEASE_SECONDS, "visitor sockets open at once from one address"),
    Rule("login.username", "login", "username", 5, 900, "failed logins for one username"),
    Rule("login.ip", "login", "ip", 20, 900, "failed logins from one address"),
]
BY_NAME = {rule.name: rule for rule in RULES}

# What a refusal says, by action. ``{wait}``: the seconds to wait.
_REFUSALS = {
    "new_visitor": "Too many new visitors from your address. Please try again in {wait} s.",
    "message": "You are sending messages too fast. This one will go in {wait} s.",
    "chat_start": "Too many chats were started. Please try again in {wait} s.",
    "page_view": "Too many page views reported. Try again in {wait} s.",
    "typing": "Too many drafts. Try again in {wait} s.",
    "resume": "Too much history was asked for. Ask again in {wait} s.",
    "watch": "Too much history was asked for. Ask again in {wait} s.",
    "presence": "Too many presence frames. Try again in {wait} s.",
    "rating": "Too many ratings. Try again in {wait} s.",
    "transcript": "The transcript was asked for several times. Try again in {wait} s.",
    "ticket_edit": "Too many changes at once. Try again in {wait} s.",
    "preview": "Too many previews. Try again in {wait} s.",
    "upload": "Too many files at once. Send this one again in {wait} s.",
    "login": "Too many failed logins. Please try again in {minutes}.",
}


def _action(kind: str, frame) -> str | None:
    """What a frame of this socket kind counts as, if it is limited."""
    wire = getattr(frame, "WIRE_TYPE", None)
    if kind == "visitor":
        if wire == "hello":
            return None if getattr(frame, "token", None) else "new_visitor"
        return {"message.send": "message", "chat.start": "chat_start", "page.view": "page_view", "typing": "typing",
                "resume": "resume", "presence": "presence", "chat.rate": "rating",
                "transcript.request": "transcript"}.get(wire)
    if wire in _TICKET_EDITS:
        return "ticket_edit"
    if wire == "message.preview":
        return "preview"
    return {"typing": "typing", "chat.watch": "watch"}.get(wire)


_TICKET_EDITS = {"chat.details", "chat.label", "chat.star", "chat.department", "chat.assign", "transcript.send",
                 "visitor.block"}


# --- Configuration: defaults, settings.RATE_LIMITS, the admin's rows -------------------------------


@dataclass(frozen=True)
class Limit:
    rule: Rule
    limit: int  # 0: no limit
    window: int


class Config(dict):
    """Rule name -> Limit; ``by_action``: action -> the limits on it that are on (limit > 0)."""

    def __init__(self, limits: dict[str, Limit]):
        super().__init__(limits)
        self.by_action: dict[str, list[Limit]] = {}
        for limit in self.values():
            if limit.limit:
                self.by_action.setdefault(limit.rule.action, []).append(limit)


_config: tuple[float, Config] | None = None
_config_lock = threading.Lock()


def _build(rows) -> Config:
    values = {rule.name: (rule.limit, rule.window) for rule in RULES}
    for name, value in (getattr(settings, "RATE_LIMITS", None) or {}).items():
        if name not in values:
            raise ValueError(f"RATE_LIMITS names {name!r}, which is not a rate limit (chat/limits.py RULES)")
        values[name] = tuple(value)
    for name, limit, window in rows:
        if name in values:
            values[name] = (values[name][0] if limit is None else limit, values[name][1] if window is None else window)
    return Config({name: Limit(BY_NAME[name], int(limit), max(1, int(window)))
                   for name, (limit, window) in values.items()})


def _cached() -> Config | None:
    config = _config
    return config[1] if config is not None and config[0] > time.monotonic() else None


def _keep(config: Config) -> Config:
    global _config
    with _config_lock:
        _config = (time.monotonic() + CONFIG_CACHE_SECONDS, config)
    return config


def _read_rows_or_keep():
    try:
        return selectors.rate_limit_rows()
    except Exception:  # the database away: keep what we had (or the defaults) a while longer
        log.warning("could not read the rate limits; keeping the last ones", exc_info=True)
        return None


def current_sync() -> Config:
    config = _cached()
    if config is None:
        rows = _read_rows_or_keep()
        config = _keep(_build(rows) if rows is not None else (_config[1] if _config else _build([])))
    return config


async def current() -> Config:
    """The limits as they are now (at most CONFIG_CACHE_SECONDS old), without blocking the loop."""
    config = _cached()
    if config is None:
        rows = await db(_read_rows_or_keep)()
        config = _keep(_build(rows) if rows is not None else (_config[1] if _config else _build([])))
    return config


def forget() -> None:
    """An admin changed the limits: read them again at the next check (other processes: within
    CONFIG_CACHE_SECONDS)."""
    global _config
    with _config_lock:
        _config = None


def reset() -> None:
    """Forget the configuration and every count held in this process (tests)."""
    forget()
    _memory.clear()
    _sockets_here.clear()
    _outage.__init__()


def _settings_changed(setting, **kwargs):
    if setting.startswith("RATE_LIMIT"):
        reset()


setting_changed.connect(_settings_changed)


# --- Counting ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    key: str
    amount: int
    limit: int
    window_ms: int


@dataclass(frozen=True)
class Verdict:
    refused: int | None  # the index of the entry at its limit
    wait_ms: int = 0
    remaining: tuple[int, ...] = ()


class MemoryCounts:
    """Fixed windows in this process's memory: a socket's own counts, and the shared ones on the
    embedded default. Thread-safe (logins are counted on Django's request threads)."""

    def __init__(self):
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (used, window ends at)
        self._lock = threading.Lock()
        self._ops = 0

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()

    def take(self, entries: list[Entry], mode: str = "take") -> Verdict:
        """``take``: count every entry if each has room, else count none and say which has not;
        ``dry``: only look; ``add``: count without looking (bytes already sent)."""
        now = time.monotonic()
        with self._lock:
            self._ops += 1
            if self._ops % 1000 == 0:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            if mode != "add":
                for index, entry in enumerate(entries):
                    used, ends = self._live(entry.key, now)
                    if used + max(entry.amount, 1) > entry.limit:
                        return Verdict(index, int((ends - now) * 1000) if used else entry.window_ms)
            remaining = []
            for entry in entries:
                used, ends = self._live(entry.key, now)
                if mode != "dry" and entry.amount > 0:
                    if not used:
                        ends = now + entry.window_ms / 1000
                    used += entry.amount
                    self._counts[entry.key] = (used, ends)
                remaining.append(entry.limit - used)
            return Verdict(None, 0, tuple(remaining))

    def _live(self, key: str, now: float) -> tuple[int, float]:
        used, ends = self._counts.get(key, (0, 0.0))
        return (used, ends) if ends > now else (0, 0.0)


# KEYS: the counters. ARGV[1]: take, dry or add; then amount, limit and window (ms) of each key.
# Returns {0, 0, remaining of each key...}, or {i, ms until key i has room again}.
_COUNT = """
local mode = ARGV[1]
if mode ~= 'add' then
  for i, key in ipairs(KEYS) do
    local amount, limit = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
    local used = tonumber(redis.call('GET', key) or '0')
    if used + math.max(amount, 1) > limit then
      local wait = redis.call('PTTL', key)
      if wait < 0 then wait = tonumber(ARGV[3 * i + 1]) end
      return {i, wait}
    end
  end
end
local result = {0, 0}
for i, key in ipairs(KEYS) do
  local amount, limit, window = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i]), ARGV[3 * i + 1]
  local used
  if mode ~= 'dry' and amount > 0 then
    used = redis.call('INCRBY', key, amount)
    if used == amount then redis.call('PEXPIRE', key, window) end
  else
    used = tonumber(redis.call('GET', key) or '0')
  end
  result[#result + 1] = limit - used
end
return result
"""

# KEYS[1]: the address's open sockets. ARGV: limit, lease (ms), this socket. 1: counted, 0: at the limit.
_OPEN = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS: addresses' sets; ARGV[1]: lease (ms), then the socket of each key. Extends their leases.
_REFRESH = """
local t = redis.call('TIME')
local lapses = t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, lapses, ARGV[i + 1])
  redis.call('PEXPIRE', key, ARGV[1])
end
return #KEYS
"""


def _args(entries: list[Entry], mode: str) -> list:
    args = [mode]
    for entry in entries:
        args += [entry.amount, entry.limit, entry.window_ms]
    return args


def _verdict(reply) -> Verdict:
    refused, wait = int(reply[0]), int(reply[1])
    if refused:
        return Verdict(refused - 1, wait)
    return Verdict(None, 0, tuple(int(r) for r in reply[2:]))


def _pool_options() -> dict:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {"max_connections": REDIS_MAX_CONNECTIONS, "timeout": REDIS_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_TIMEOUT_SECONDS, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "retry": Retry(NoBackoff(), 0)}


class AsyncRedisCounts:
    """The shared counts in Redis for one event loop (redis-py's asyncio connections belong to one)."""

    def __init__(self, url: str):
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        options = {**_pool_options(), "retry": Retry(NoBackoff(), 0)}  # the asyncio client's own Retry
        self.client = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(url, **options))
        self.count = self.client.register_script(_COUNT)
        self.open = self.client.register_script(_OPEN)
        self.refresh = self.client.register_script(_REFRESH)
        self.leases: dict[str, str] = {}  # socket -> its address's key, for the sockets open in this loop
        self.refresher: asyncio.Task | None = None

    async def take(self, entries: list[Entry], mode: str) -> Verdict:
        return _verdict(await self.count(keys=[e.key for e in entries], args=_args(entries, mode)))

    async def open_socket(self, key: str, member: str, limit: int) -> bool:
        if not await self.open(keys=[key], args=[limit, SOCKET_LEASE_SECONDS * 1000, member]):
            return False
        self.leases[member] = key
        if self.refresher is None:
            self.refresher = asyncio.get_running_loop().create_task(self._refresh_leases(), name="socket-leases")
        return True

    def lease_without_redis(self, key: str, member: str) -> None:
        """Opened while Redis was away: counted from the next refresh on."""
        self.leases[member] = key

    async def close_socket(self, member: str) -> None:
        key = self.leases.pop(member, None)
        if key is not None:
            await self.client.zrem(key, member)

    async def _refresh_leases(self) -> None:
        try:
            while self.leases:
                await asyncio.sleep(SOCKET_REFRESH_SECONDS)
                leases = list(self.leases.items())
                for start in range(0, len(leases), 500):
                    batch = leases[start:start + 500]
                    try:
                        await self.refresh(keys=[key for _, key in batch],
                                           args=[SOCKET_LEASE_SECONDS * 1000] + [member for member, _ in batch])
                        _outage.answered()
                    except _REDIS_ERRORS as exc:
                        _outage.failed(exc)
        finally:
            self.refresher = None


class SyncRedisCounts:
    """The shared counts in Redis for Django's request threads (logins)."""

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(url, **_pool_options()))
        self.count = self.client.register_script(_COUNT)

    def take(self, entries: list[Entry], mode: str) -> Verdict:
        return _verdict(self.count(keys=[e.key for e in entries], args=_args(entries, mode)))


def _redis_errors():
    from redis.exceptions import RedisError

    return (RedisError, OSError, asyncio.TimeoutError)


_REDIS_ERRORS = _redis_errors()
_memory = MemoryCounts()
_async_redis: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncRedisCounts]]" = (
    weakref.WeakKeyDictionary())
_sync_redis: dict[str, SyncRedisCounts] = {}
_sync_redis_lock = threading.Lock()


class _Outage:
    """Redis did not answer: fail open, and ask again after OUTAGE_RETRY_SECONDS. Said once each way."""

    def __init__(self):
        self.down = False
        self.retry_at = 0.0

    def skipping(self) -> bool:
        return self.down and time.monotonic() < self.retry_at

    def failed(self, exc) -> None:
        self.retry_at = time.monotonic() + OUTAGE_RETRY_SECONDS
        if not self.down:
            self.down = True
            log.warning("rate limits: Redis is not answering (%s); per-visitor, per-address and per-username "
                        "limits are not enforced until it is back (per-socket ones still are)", exc)

    def answered(self) -> None:
        if self.down:
            self.down = False
            log.warning("rate limits: Redis is back; every limit is enforced again")


_outage = _Outage()


def _redis_url() -> str:
    return getattr(settings, "RATE_LIMIT_REDIS_URL", "") or ""


def _prefix() -> str:
    return getattr(settings, "RATE_LIMIT_PREFIX", "") or "limits:"


def _async_counts(url: str) -> AsyncRedisCounts:
    loop = asyncio.get_running_loop()
    per_url = _async_redis.setdefault(loop, {})
    if url not in per_url:
        per_url[url] = AsyncRedisCounts(url)
    return per_url[url]


def _sync_counts(url: str) -> SyncRedisCounts:
    with _sync_redis_lock:
        if url not in _sync_redis:
            _sync_redis[url] = SyncRedisCounts(url)
        return _sync_redis[url]


async def _shared(entries: list[Entry], mode: str = "take") -> Verdict | None:
    """The shared counts' verdict; None when Redis is away (fail open)."""
    if not entries:
        return Verdict(None)
    url = _redis_url()
    if not url:
        return _memory.take(entries, mode)
    if _outage.skipping():
        return None
    try:
        verdict = await _async_counts(url).take(entries, mode)
    except _REDIS_ERRORS as exc:
        _outage.failed(exc)
        return None
    _outage.answered()
    return verdict


def _shared_sync(entries: list[Entry], mode: str = "take") -> Verdict | None:
    if not entries:
        return Verdict(None)
    url = _redis_url()
    if not url:
        return _memory.take(entries, mode)
    if _outage.skipping():
        return None
    try:
        verdict = _sync_counts(url).take(entries, mode)
    except _REDIS_ERRORS as exc:
        _outage.failed(exc)
        return None
    _outage.answered()
    return verdict


def _key(limit: Limit, subject) -> str:
    return f"{_prefix()}{limit.rule.name}:{subject}"


def _entry(limit: Limit, subject, amount: int) -> Entry:
    return Entry(_key(limit, subject), amount, limit.limit, limit.window * 1000)


def _wait_seconds(wait_ms: int) -> int:
    return max(1, math.ceil(wait_ms / 1000))


# --- Sockets ----------------------------------------------------------------------------------------


@dataclass
class Allowance:
    """What a frame may still take: for resumes, the bytes of messages its answer may hold."""

    bytes_left: float = math.inf
    spend_on: list[Limit] = field(default_factory=list)
    subjects: dict = field(default_factory=dict)

    async def spend(self, sent: int) -> None:
        """The answer went out with ``sent`` bytes of messages: count them."""
        if sent > 0 and self.spend_on:
            await _shared([_entry(limit, self.subjects[limit.rule.per], sent) for limit in self.spend_on], "add")


class SocketLimits:
    """One socket's limits. ``person`` is the visitor's or agent's id once known."""

    def __init__(self, scope, kind: str):
        self.kind = kind  # visitor or agent
        self.ip = client_ip(scope)
        self.person: int | None = None
        self.own = MemoryCounts()

    async def check(self, frame) -> Allowance | None:
        """Count ``frame`` against its limits, or raise ``RateLimited`` (it then counts nowhere). For
        a resume, what its answer may still send."""
        action = _action(self.kind, frame)
        if action is None:
            return None
        config = _cached() or await current()
        subjects = {"socket": "", "ip": self.ip, self.kind: self.person}
        own, shared, byte_limits = [], [], []
        for limit in config.by_action.get(action, ()):
            rule = limit.rule
            if subjects.get(rule.per) is None:
                continue
            if rule.per == "socket":
                own.append(Entry(rule.name, 1, limit.limit, limit.window * 1000))
                continue
            if rule.bytes:
                byte_limits.append((limit, len(shared)))
            shared.append(_entry(limit, subjects[rule.per], 0 if rule.bytes else 1))
        if own:
            verdict = self.own.take(own, "dry")
            if verdict.refused is not None:
                raise _refusal(action, verdict.wait_ms)
        verdict = await _shared(shared)
        if verdict is not None and verdict.refused is not None:
            raise _refusal(action, verdict.wait_ms)
        if own:
            self.own.take(own, "add")
        if not byte_limits:
            return None
        allowance = Allowance(subjects=subjects)
        for limit, index in byte_limits:
            allowance.spend_on.append(limit)
            if verdict is not None:
                allowance.bytes_left = min(allowance.bytes_left, verdict.remaining[index])
        return allowance


async def upload_check(*, chat: int, ip: str | None) -> None:
    """Count one file sent in ``chat`` from ``ip`` (``upload.chat``, ``upload.ip``), or raise
    ``RateLimited`` (it then counts nowhere)."""
    config = _cached() or await current()
    subjects = {"chat": chat, "ip": ip}
    entries = [_entry(limit, subjects[limit.rule.per], 1) for limit in config.by_action.get("upload", ())
               if subjects.get(limit.rule.per) is not None]
    verdict = await _shared(entries)
    if verdict is not None and verdict.refused is not None:
        raise _refusal("upload", verdict.wait_ms)


def _blocked_hello_entries(config: Config, ip: str | None) -> list[Entry]:
    if ip is None:
        return []
    return [_entry(limit, ip, 1) for limit in config.by_action.get("blocked_hello", ())]


async def blocked_hello_room(ip: str | None) -> bool:
    """May a hello from ``ip`` be asked about blocks (a database read)? No once the address has had
    ``blocked_hello.ip`` hellos refused as blocked in the window: a blocked visitor's widget
    reconnecting in a loop is then closed with 4429 before it costs anything."""
    verdict = await _shared(_blocked_hello_entries(_cached() or await current(), ip), "dry")
    return verdict is None or verdict.refused is None


async def blocked_hello_count(ip: str | None) -> None:
    """A hello from ``ip`` was refused as blocked: count it."""
    await _shared(_blocked_hello_entries(_cached() or await current(), ip), "add")


def _refusal(action: str, wait_ms: int) -> RateLimited:
    wait = _wait_seconds(wait_ms)
    return RateLimited(_REFUSALS[action].format(wait=wait), retry_after=wait)


_sockets_here: dict[str, int] = {}  # address -> open visitor sockets, on the embedded default


class SocketsPerAddress:
    """ASGI middleware for the visitor socket: at most ``sockets.ip`` open at once from one address.
    One more is accepted and closed at once with CLOSE_TOO_MANY (4429)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        ip = client_ip(scope)
        limit = (_cached() or await current())["sockets.ip"]
        if ip is None or not limit.limit:
            return await self.application(scope, receive, send)
        url, member = _redis_url(), uuid.uuid4().hex
        key = f"{_prefix()}sockets.ip:{ip}"
        counts = _async_counts(url) if url else None
        if not await _open(counts, key, member, ip, limit.limit):
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_TOO_MANY,
                        "reason": "too many sockets from your address"})
            return None
        try:
            return await self.application(scope, receive, send)
        finally:
            _close(counts, member, ip)


async def _open(counts: AsyncRedisCounts | None, key: str, member: str, ip: str, limit: int) -> bool:
    if counts is None:
        if _sockets_here.get(ip, 0) >= limit:
            return False
        _sockets_here[ip] = _sockets_here.get(ip, 0) + 1
        return True
    if not _outage.skipping():
        try:
            opened = await counts.open_socket(key, member, limit)
            _outage.answered()
            return opened
        except _REDIS_ERRORS as exc:
            _outage.failed(exc)
    counts.lease_without_redis(key, member)
    return True


_closing: set[asyncio.Task] = set()


def _close(counts: AsyncRedisCounts | None, member: str, ip: str) -> None:
    """Not awaited: the socket's task may be cancelled; the lease is let go in a task of its own."""
    if counts is None:
        left = _sockets_here.get(ip, 1) - 1
        if left > 0:
            _sockets_here[ip] = left
        else:
            _sockets_here.pop(ip, None)
        return

    async def let_go():
        try:
            await counts.close_socket(member)
        except _REDIS_ERRORS:  # it lapses within SOCKET_LEASE_SECONDS
            counts.leases.pop(member, None)

    task = asyncio.get_running_loop().create_task(let_go())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def sockets_per_address(application):
    return SocketsPerAddress(application)


# --- Logins -----------------------------------------------------------------------------------------


def _username_subject(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _login_entries(request, username: str | None, amount: int) -> list[Entry]:
    config = current_sync()
    subjects = {"ip": request_ip(request), "username": _username_subject(username) if username else None}
    return [_entry(limit, subjects[limit.rule.per], amount) for limit in config.by_action.get("login", ())
            if subjects.get(limit.rule.per) is not None]


def request_ip(request) -> str | None:
    """As chat/network.py's client_ip, from a Django request (ASGI or not)."""
    return resolve_client_ip(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


def login_wait(request, username: str | None) -> int | None:
    """Seconds until a login for ``username`` from this request's address may be tried, or None."""
    verdict = _shared_sync(_login_entries(request, username, 0), "dry")
    if verdict is None or verdict.refused is None:
        return None
    return _wait_seconds(verdict.wait_ms)


class LoginThrottleBackend(BaseBackend):
    """First in AUTHENTICATION_BACKENDS: refuses every login, right password or not, for a username or
    from an address with too many failed logins lately. Logs in no one itself. Calls without a
    request (scripts, the test client) are not throttled."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        wait = login_wait(request, username)
        if wait is not None:
            request.login_retry_after = wait
            raise PermissionDenied("too many failed logins")
        return None

    def get_user(self, user_id):
        """For sessions that name this backend (``force_login`` takes the first one): as ModelBackend."""
        return ModelBackend().get_user(user_id)


def _count_failed_login(sender, credentials, request=None, **kwargs):
    if request is None or getattr(request, "login_retry_after", None):
        return  # refused by the throttle: not another failure
    _shared_sync(_login_entries(request, credentials.get("username"), 1), "add")


user_login_failed.connect(_count_failed_login, dispatch_uid="chat.limits.failed_login")


class LoginThrottleMiddleware:
    """A login refused by the throttle is answered 429 with Retry-After, and the form says why."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        wait = getattr(request, "login_retry_after", None)
        if wait:
            response.status_code = 429
            response["Retry-After"] = str(wait)
        return response

    def process_template_response(self, request, response):
        wait = getattr(request, "login_retry_after", None)
        form = (response.context_data or {}).get("form") if wait else None
        if form is not None and getattr(form, "_errors", None) is not None:
            minutes = math.ceil(wait / 60)
            text = _REFUSALS["login"].format(minutes=f"{minutes} minute{'s' if minutes != 1 else ''}")
            form._errors[NON_FIELD_ERRORS] = form.error_class([text])
        return response


# --- Admin ------------------------------------------------------------------------------------------


def ensure_rows() -> None:
    """One row per rule in Django admin, blank (the default) until an admin sets it."""
    from .models import RateLimit

    have = set(RateLimit.objects.values_list("name", flat=True))
    RateLimit.objects.bulk_create([RateLimit(name=rule.name) for rule in RULES if rule.name not in have])
