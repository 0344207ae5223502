"""A real SMTP server on loopback (aiosmtpd) that keeps what it accepts, and can be told to refuse:
the next DATA commands with given replies (``451 …`` twice), a recipient for good (``550 …``), or to
hold each message until the test lets it through.

Fixtures (import ``smtp_fixture, smtp_server_fixture`` into a test module): ``smtp_server``, and
``smtp``, which points Django's SMTP backend at it and gives the test its inbox."""

import asyncio
import email
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    at: float  # time.time() when the server accepted it
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> str:
        found = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert found is not None and found.get_content_type() == content_type, f"no {content_type} part"
        return found.get_content()


class Inbox:
    """aiosmtpd's handler: every accepted message, and the refusals to make."""

    def __init__(self):
        self.received: list[Received] = []
        self.data_commands = 0  # DATA commands seen, refused or not
        self._data_replies: deque[str] = deque()
        self._refused_recipients: dict[str, str] = {}
        self._gate: threading.Event | None = None
        self._changed = threading.Condition()

    # -- what the test tells it ---------------------------------------------------------------------
    def refuse_data(self, *replies: str) -> None:
        """Answer the next DATA commands with these replies, e.g. ``"451 4.3.0 Try again later"``."""
        self._data_replies.extend(replies)

    def refuse_recipient(self, address: str, reply: str = "550 5.1.1 No such user here") -> None:
        self._refused_recipients[address.lower()] = reply

    def hold(self) -> threading.Event:
        """Keep each message's DATA unanswered until the returned event is set."""
        self._gate = threading.Event()
        return self._gate

    # -- what the test reads ------------------------------------------------------------------------
    def wait_for(self, count: int, timeout: float = 30, what=lambda r: True) -> list[Received]:
        """Wait until ``count`` accepted messages match ``what``; returns them (fails the test on timeout)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self.received if what(r)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"{len(found)} of {count} messages arrived in {timeout:g} s "
                                f"({len(self.received)} in all, {self.data_commands} DATA commands)")
                self._changed.wait(left)

    def wait_for_data_commands(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.data_commands < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"{self.data_commands} of {count} DATA commands in {timeout:g} s")
                self._changed.wait(left)

    def with_header(self, name: str, value: str) -> list[Received]:
        with self._changed:
            return [r for r in self.received if r.message[name] == value]

    # -- aiosmtpd's hooks ---------------------------------------------------------------------------
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self._refused_recipients.get(address.lower())
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._changed:
            self.data_commands += 1
            reply = self._data_replies.popleft() if self._data_replies else None
            self._changed.notify_all()
        if reply:
            return reply
        if self._gate is not None:
            gate = self._gate
            await asyncio.get_running_loop().run_in_executor(None, gate.wait, 60)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._changed:
            self.received.append(Received(time.time(), envelope.mail_from, tuple(envelope.rcpt_tos), message))
            self._changed.notify_all()
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self):
        self.inbox = Inbox()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname=self.host, port=self.port)

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.inbox._gate is not None:
            self.inbox._gate.set()
        self.controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def use_smtp(settings, server: SmtpServer | None, *, port: int | None = None) -> None:
    """Django's SMTP backend, to ``server`` (or to ``port`` on loopback, where nothing may listen)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port if server else port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10


@pytest.fixture(name="smtp_server")
def smtp_server_fixture():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(name="smtp")
def smtp_fixture(settings, smtp_server) -> Inbox:
    """Django sends through a real SMTP server on loopback; the test reads its inbox."""
    use_smtp(settings, smtp_server)
    return smtp_server.inbox
