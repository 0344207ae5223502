"""A socket that stops reading is closed with 4408 once the server holds more than
CHAT_SOCKET_MAX_QUEUED_BYTES unsent for it (helpdesk/backpressure.py), on a real daphne.

The slow client is a visitor on a raw socket with a small receive buffer: it asks for the history of
a chat with long messages (about 0.6 MiB an answer) far more often than it reads, enough that over
50 MiB would wait in daphne without the cap. Whether the server has given up on it is read from
Redis: the visitor's consumer leaves its groups when it is told the socket is gone."""

import json
import select
import socket
import statistics
import struct
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.sync.client import connect
from websockets.typing import Origin
from websockets.uri import parse_uri

from chat import events, services
from chat.services import Actor
from tests.conftest import REDIS_URL, redis_layer_settings, require
from tests.factories import VisitorFactory, start_chat
from tests.live_server import LiveHelpdesk, server_env

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CAP = 1024 * 1024
# In the slow visitor's chat, ~4 KiB each on the wire: ~240 KiB, one resume answer (a page stops at
# about 256 KiB of messages, chat.consumers.RESUME_MAX_BYTES).
MESSAGES = 60
REQUESTED = 50 * 1024 * 1024  # what the slow client asks for and does not read
TIMEOUT = 20
GRACE = 2  # seconds, for the peer that never reads again


def live_server(tmp_path: Path, **settings) -> tuple[LiveHelpdesk, str]:
    """A daphne on the test database and Redis; returns it and its channel prefix."""
    from django.db import connection

    require(sys.platform.startswith("linux"), "needs Linux (/proc, TCP_INFO, POLLRDHUP)")
    redis_layer_settings()  # skips here, fails in CI, without Redis
    prefix = f"bp-{uuid.uuid4().hex[:8]}"
    env = server_env(connection.settings_dict, channel_prefix=prefix)
    env.update({key: str(value) for key, value in settings.items()})
    server = LiveHelpdesk(env, tmp_path / "daphne.log")
    server.start()
    return server, prefix


@pytest.fixture
def server(tmp_path):
    server, prefix = live_server(tmp_path, CHAT_SOCKET_MAX_QUEUED_BYTES=CAP)
    yield server, prefix
    server.stop()


@pytest.fixture
def short_grace_server(tmp_path):
    server, prefix = live_server(tmp_path, CHAT_SOCKET_MAX_QUEUED_BYTES=CAP, CHAT_SOCKET_CLOSE_GRACE_SECONDS=GRACE)
    yield server, prefix
    server.stop()


@pytest.fixture
def long_chat():
    """A visitor (with ``.token``) and their chat of MESSAGES long messages."""
    visitor = VisitorFactory()
    chat = start_chat(visitor)
    for i in range(MESSAGES - 1):
        services.message_post(chat_public_id=chat.public_id, actor=Actor.for_visitor(visitor.pk),
                              client_id=f"long-{i}", text=f"{i} " + "lorem ipsum " * 330)
    return visitor, chat


class StalledClient:
    """A websocket client on a raw socket that reads only when asked to (websockets' sans-I/O
    protocol), with a small receive buffer so that what the server sends waits in the server."""

    def __init__(self, server: LiveHelpdesk, path: str, rcvbuf: int = 16 * 1024):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(("127.0.0.1", server.port))
        self.ws = ClientProtocol(parse_uri(f"ws://127.0.0.1:{server.port}{path}"), origin=Origin(server.url),
                                 max_size=None)
        self.ws.send_request(self.ws.connect())
        self._flush()
        self.bytes_read = 0
        self.frames: list[dict] = []  # text frames read and not taken yet
        self.eof = False
        while not isinstance(response := self._events_until(lambda e: isinstance(e, Response)), Response):
            pass
        assert response.status_code == 101, response

    def _flush(self) -> None:
        for data in self.ws.data_to_send():
            if data:
                self.sock.sendall(data)
            elif not self.eof:
                self.sock.shutdown(socket.SHUT_WR)

    def _read_once(self) -> list:
        try:
            data = self.sock.recv(256 * 1024)
        except ConnectionResetError:  # the server aborts the TCP connection once the close is answered
            data = b""
        if data:
            self.bytes_read += len(data)
            self.ws.receive_data(data)
        else:
            self.eof = True
            self.ws.receive_eof()
        received = self.ws.events_received()
        self._flush()
        return received

    def _events_until(self, done):
        """Read until an event for which ``done(event)``; text frames are kept in ``frames``."""
        while not self.eof:
            found = None
            for event in self._read_once():
                if isinstance(event, Response):
                    return event
                if event.opcode is Opcode.TEXT:
                    self.frames.append(json.loads(event.data))
                if found is None and done(event):
                    found = event
            if found is not None:
                return found
        raise AssertionError("the connection ended")

    def send(self, frame: dict) -> None:
        self.ws.send_text(json.dumps(frame).encode())
        self._flush()

    def expect(self, type_: str) -> dict:
        """Read until a frame of this type; the frames before it are dropped."""
        while True:
            while self.frames:
                frame = self.frames.pop(0)
                if frame["type"] == type_:
                    return frame
            self._events_until(lambda e: e.opcode is Opcode.TEXT)

    def read_to_close(self) -> list[dict]:
        """Every text frame up to the server's close frame; the close is answered. Then reads
        until the server drops the connection."""
        self._events_until(lambda e: e.opcode is Opcode.CLOSE)
        frames, self.frames = self.frames, []
        while not self.eof:
            self._read_once()
        return frames

    def tcp_established(self) -> bool:
        info = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        return struct.unpack("B", info[:1])[0] == 1  # TCP_ESTABLISHED

    def wait_dropped(self, timeout: float) -> bool:
        """Wait, without reading, until the server ends the TCP connection (a reset or a FIN)."""
        poll = select.poll()
        poll.register(self.sock, select.POLLRDHUP)  # error and hang-up are always reported
        return bool(poll.poll(timeout * 1000))

    def close(self) -> None:
        self.sock.close()


def subscribers(prefix: str, group: str) -> int:
    """Processes subscribed to a group on the pub/sub layer: a consumer that leaves its groups (its
    ``disconnect`` ran) takes the daphne process off the group it was alone in."""
    with redis.Redis.from_url(REDIS_URL) as client:
        return dict(client.pubsub_numsub(f"{prefix}__group__{group}")).popitem()[1]


def rss_peak(server: LiveHelpdesk) -> int:
    """The daphne process's peak resident memory so far, in bytes."""
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def wait_for(condition, what: str, timeout: float = TIMEOUT, between=lambda: None):
    """Run ``between`` (a ping round trip, say) until ``condition()``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        between()


class FastClient:
    """A second, normal visitor on the same server, timing ping/pong round trips."""

    def __init__(self, server: LiveHelpdesk):
        self.connection = connect(f"ws://127.0.0.1:{server.port}/ws/visitor/", origin=server.url, open_timeout=10)
        self.round_trips: list[float] = []

    def __enter__(self):
        self.socket = self.connection.__enter__()
        self.socket.send(json.dumps({"type": "hello"}))
        self.expect("welcome")
        return self

    def __exit__(self, *exc):
        return self.connection.__exit__(*exc)

    def expect(self, type_: str) -> dict:
        while (frame := json.loads(self.socket.recv(timeout=TIMEOUT)))["type"] != type_:
            pass
        return frame

    def ping(self) -> None:
        started = time.monotonic()
        self.socket.send(json.dumps({"type": "ping"}))
        self.expect("pong")
        self.round_trips.append(time.monotonic() - started)


def test_a_socket_that_stops_reading_is_closed_with_4408_and_others_stay_fast(server, long_chat):
    server, prefix = server
    visitor, chat = long_chat
    slow = StalledClient(server, "/ws/visitor/")
    try:
        with FastClient(server) as fast:
            slow.send({"type": "hello", "token": visitor.token})
            slow.expect("welcome")
            # One answer read in full: it is under the cap, and the server's memory is warm.
            slow.send({"type": "resume", "chat": chat.public_id, "after_seq": 0})
            before = slow.bytes_read
            assert slow.expect("resumed")["last_seq"] == MESSAGES
            answer = slow.bytes_read - before
            assert CAP / 8 < answer < CAP, answer
            for _ in range(20):
                fast.ping()
            group = events.visitor_group(visitor.pk)
            assert subscribers(prefix, group) == 1
            rss_before = rss_peak(server)

            # Ask for far more than the cap and stop reading.
            asked = REQUESTED // answer + 1
            started = time.monotonic()
            for _ in range(asked):
                slow.send({"type": "resume", "chat": chat.public_id, "after_seq": 0})
            wait_for(lambda: subscribers(prefix, group) == 0, "the slow socket's consumer to disconnect",
                     between=fast.ping)
            gone_after = time.monotonic() - started
            # The server keeps serving others while the slow socket holds its full buffer.
            for _ in range(50):
                fast.ping()
            rss_growth = rss_peak(server) - rss_before

            read_started, read_before = time.monotonic(), slow.bytes_read
            frames = slow.read_to_close()
            read_time = time.monotonic() - read_started
            trips = sorted(fast.round_trips)
            print(f"\nasked {asked} answers of {answer} B ({asked * answer / 2**20:.1f} MiB); "
                  f"consumer gone after {gone_after * 1000:.0f} ms; server peak RSS +{rss_growth / 2**20:.2f} MiB; "
                  f"slow client then read {(slow.bytes_read - read_before) / 2**20:.2f} MiB to the close "
                  f"in {read_time * 1000:.0f} ms; fast client {len(trips)} round trips, "
                  f"median {statistics.median(trips) * 1000:.1f} ms, max {trips[-1] * 1000:.1f} ms")
    finally:
        slow.close()

    assert asked * answer > REQUESTED
    assert slow.ws.close_rcvd is not None, "the server dropped the connection without a close frame"
    assert (slow.ws.close_rcvd.code, slow.ws.close_rcvd.reason) == (4408, "fell behind: reconnect and resume")
    # What was queued before the close arrives whole and in order; only the tail was dropped.
    seqs = [f["message"]["seq"] for f in frames if f["type"] == "message"]
    assert seqs and seqs == [n % MESSAGES + 1 for n in range(len(seqs))]
    # The cap and the kernel's socket buffers, not the 50 MiB asked for.
    assert slow.bytes_read - read_before < 16 * 2**20
    assert rss_growth < 4 * CAP, f"daphne's peak memory grew by {rss_growth} bytes"
    assert max(fast.round_trips) < 1.0, fast.round_trips


def test_a_peer_that_never_reads_again_is_dropped_after_the_grace(short_grace_server, long_chat):
    server, prefix = short_grace_server
    visitor, chat = long_chat
    slow = StalledClient(server, "/ws/visitor/")
    try:
        slow.send({"type": "hello", "token": visitor.token})
        slow.expect("welcome")
        group = events.visitor_group(visitor.pk)
        started = time.monotonic()
        for _ in range(40):  # ~24 MiB asked for
            slow.send({"type": "resume", "chat": chat.public_id, "after_seq": 0})
        wait_for(lambda: subscribers(prefix, group) == 0, "the slow socket's consumer to disconnect")
        gone = time.monotonic()
        assert slow.tcp_established(), "dropped before the grace"
        assert slow.wait_dropped(TIMEOUT), "the server did not drop the connection"
        dropped = time.monotonic()
        assert not slow.tcp_established()
        print(f"\nconsumer gone {(gone - started) * 1000:.0f} ms after the flood began, "
              f"connection dropped {dropped - gone:.2f} s after that (grace {GRACE} s)")
    finally:
        slow.close()
    assert dropped - started >= GRACE  # the close came after the flood began
    assert dropped - gone < GRACE + 5
