"""The transcript email through a real Celery worker (its own process, on the test database), the Redis
broker (a queue of the test's own) and a real SMTP server on loopback: the email arrives with both
parts and its signed links; a server that answers 451 twice still gets it exactly once; a worker that
was down when the chat ended sends it when it starts; and beat's sweep sends one whose broker message
was lost."""

import time

import pytest
from django.db import connection

from chat.services import Actor, chat_end
from helpdesk.celery import app as celery_app
from tests.conftest import REDIS_URL, _answers, require
from tests.factories import start_chat
from tests.smtp import smtp_fixture, smtp_server_fixture  # noqa: F401 (fixtures)
from tests.test_transcript_email import BASE, LINK_RE, TO, email_row, marker, ticket_with_transcript
from tests.worker import CeleryWorker, forget_queue, new_queue, queue_length, worker_env
from tickets import links, services
from tickets.mail import message_id
from tickets.models import TicketEvent, TranscriptEmail

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue(settings):
    """Tasks the test sends go to the Redis broker, on a queue of its own."""
    require(bool(REDIS_URL) and _answers(REDIS_URL), f"Redis is not reachable at REDIS_URL={REDIS_URL or '(unset)'}")
    name = new_queue()
    eager = celery_app.conf.task_always_eager
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    celery_app.conf.task_always_eager = False
    yield name
    celery_app.conf.task_always_eager = eager
    forget_queue(name)


@pytest.fixture
def start_worker(tmp_path, queue, smtp_server, settings):
    settings.HELPDESK_BASE_URL, settings.DEFAULT_FROM_EMAIL = BASE, "help@acme.example"  # as the worker's
    workers = []

    def start(*, beat: bool = False, **extra) -> CeleryWorker:
        env = worker_env(connection.settings_dict, queue, {
            "EMAIL_HOST": smtp_server.host, "EMAIL_PORT": str(smtp_server.port), "EMAIL_TIMEOUT": "10",
            "DEFAULT_FROM_EMAIL": "help@acme.example", "HELPDESK_REPLY_TO": "support@acme.example",
            "HELPDESK_NAME": "Acme Help", "HELPDESK_BASE_URL": BASE,
            "TRANSCRIPT_RETRY_BACKOFF_MAX": "1",  # retries within a second, not minutes
            **{k: str(v) for k, v in extra.items()},
        })
        worker = CeleryWorker(env, tmp_path / "worker.log", beat=beat, workdir=tmp_path).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_for_state(email: TranscriptEmail, state: str, worker: CeleryWorker, timeout: float = 30) -> TranscriptEmail:
    deadline = time.monotonic() + timeout
    while True:
        email.refresh_from_db()
        if email.state == state:
            return email
        if time.monotonic() > deadline:
            pytest.fail(f"email {email.pk} is {email.state}, not {state}, after {timeout:g} s "
                        f"({email.attempts} attempts, {email.last_error!r}):\n{worker.tail()}")
        time.sleep(0.05)


def test_a_real_worker_sends_the_transcript(start_worker, smtp):
    worker = start_worker()
    ticket = ticket_with_transcript()

    email = services.transcript_email_request(ticket_id=ticket.pk, reason=TranscriptEmail.Reason.AUTOMATIC)

    [got] = smtp.wait_for(1)
    assert got.subject == f"Your chat with Acme Help — {ticket.ref}"
    assert got.message["Reply-To"] == "support@acme.example"
    assert got.message["Message-ID"] == message_id(email)
    text, html = got.part("text/plain"), got.part("text/html")
    assert "[23:58] Sam Visitor:" in text and "<p>Sorry! <strong>Order number?</strong></p>" in html
    for part in (text, html):
        [(ref, token)] = LINK_RE.findall(part)
        assert links.attachment_link_check(token.replace("%3A", ":"), ref) == TO  # signed by the worker
    email = wait_for_state(email, TranscriptEmail.State.SENT, worker)
    assert email.attempts == 1
    assert ticket.timeline.filter(kind=TicketEvent.Kind.EMAIL_SENT).get().detail == f"to {TO}"


def test_a_server_that_says_later_twice_still_gets_it_exactly_once(start_worker, smtp):
    worker = start_worker()
    smtp.refuse_data("451 4.3.0 Try again later", "451 4.3.0 Try again later")
    ticket = ticket_with_transcript()

    email = services.transcript_email_request(ticket_id=ticket.pk, reason=TranscriptEmail.Reason.AGENT)

    smtp.wait_for(1)
    email = wait_for_state(email, TranscriptEmail.State.SENT, worker)
    assert email.attempts == 3
    marker(smtp)
    assert len(smtp.with_header("Message-ID", message_id(email))) == 1
    assert smtp.data_commands == 4  # refused, refused, accepted; then the marker
    first = f"Could not send to {TO} yet, trying again: SMTP refused: 451 4.3.0 Try again later"
    assert list(ticket.timeline.filter(kind__in=[TicketEvent.Kind.EMAIL_FAILED, TicketEvent.Kind.EMAIL_SENT])
                .values_list("kind", "detail")) == [(TicketEvent.Kind.EMAIL_FAILED, first),
                                                    (TicketEvent.Kind.EMAIL_SENT, f"to {TO}")]


def test_a_worker_that_was_down_when_the_chat_ended_sends_it_when_it_starts(start_worker, smtp, queue):
    chat = start_chat(email="kim@example.com", name="Kim")
    chat_end(chat_public_id=chat.public_id, actor=Actor.for_visitor(chat.visitor_id))
    email = TranscriptEmail.objects.get(ticket_id=chat.ticket_id)
    assert email.state == TranscriptEmail.State.PENDING
    assert queue_length(queue) == 1  # the task waits in Redis; no worker has it

    worker = start_worker()

    [got] = smtp.wait_for(1)
    assert got.rcpt_tos == ("kim@example.com",)
    assert "Hello, I need help" in got.part("text/plain")
    wait_for_state(email, TranscriptEmail.State.SENT, worker)


def test_beat_sweeps_up_an_email_whose_task_was_lost(start_worker, smtp):
    """No broker message at all (lost with a Redis that restarted empty): beat's sweep finds the row."""
    ticket = ticket_with_transcript()
    email = email_row(ticket)  # pending, never enqueued

    worker = start_worker(beat=True, SWEEP_EVERY_SECONDS=1, TRANSCRIPT_SWEEP_AFTER_SECONDS=1)

    [got] = smtp.wait_for(1, timeout=60)
    assert got.message["Message-ID"] == message_id(email)
    wait_for_state(email, TranscriptEmail.State.SENT, worker)
    marker(smtp)
    assert len(smtp.with_header("Message-ID", message_id(email))) == 1


def test_beat_ends_expired_blocks_and_records_it_on_the_ticket(start_worker):
    """A block that expired a moment ago is closed by the real worker's beat sweep (every second here),
    with the end on the block and on its ticket. It stopped counting at its expiry already."""
    from datetime import timedelta

    from django.utils import timezone

    from blocking import selectors as block_selectors
    from blocking.models import Block
    from blocking.services import block_targets, visitor_target

    chat = start_chat()
    [block] = block_targets(targets=[visitor_target(chat.visitor_id)], reason="Abuse", by=None,
                            ticket_id=chat.ticket_id, now=timezone.now() - timedelta(hours=24, seconds=1))
    assert block_selectors.block_for(visitor_id=chat.visitor_id) is None, "expired: no longer counts"
    worker = start_worker(beat=True, BLOCK_SWEEP_EVERY_SECONDS=1)
    deadline = time.monotonic() + 60
    while Block.objects.filter(pk=block.pk, ended_at__isnull=True).exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the block was not ended by the sweep:\n{worker.tail()}")
        time.sleep(0.1)
    assert chat.ticket.timeline.filter(kind=TicketEvent.Kind.UNBLOCKED).exists()
