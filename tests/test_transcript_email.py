"""The transcript email (issue #15), service by service: what it says, that it goes out once however
often it is sent (twice in a row, two threads at once on PostgreSQL), retries and giving up, the signed
attachment links, the sweep and the in-process sweeps of the embedded default. Mail goes through a
real SMTP server on loopback (tests/smtp.py). The real worker is tests/test_worker.py."""

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from helpdesk import sweeps
from tests.smtp import free_port, smtp_fixture, smtp_server_fixture, use_smtp  # noqa: F401 (fixtures)
from tickets import links, services
from tickets.mail import DeliveryDeferred, message_id, pending_emails_due, transcript_email_deliver
from tickets.models import TicketEvent, TranscriptEmail, TranscriptLine
from tickets.services import Line
from tickets.tasks import transcript_email_send, transcript_email_sweep

T0 = datetime(2026, 12, 1, 23, 58, 10, tzinfo=UTC)
TO = "sam@example.com"
BASE = "https://help.example.com"
LINK_RE = re.compile(re.escape(BASE) + r"/files/([^/\s]+)/\?t=([^\s\"<&]+)")


@pytest.fixture(autouse=True)
def _mail_settings(settings):
    settings.HELPDESK_NAME = "Acme Help"
    settings.DEFAULT_FROM_EMAIL = "Acme Help <help@acme.example>"
    settings.HELPDESK_REPLY_TO = "support@acme.example"
    settings.HELPDESK_BASE_URL = BASE
    settings.TRANSCRIPT_EMAIL_MAX_ATTEMPTS = 7


def ticket_with_transcript(to: str = TO):
    ticket = services.ticket_open(subject="My kettle", requester_name="Sam Visitor", requester_email=to,
                                  department=None, language="en")
    lines = [
        Line(at=T0, kind="visitor", author_name="Sam Visitor", text="Hello, my kettle <b>never</b> came",
             html="<p>Hello, my kettle &lt;b&gt;never&lt;/b&gt; came</p>"),
        Line(at=T0 + timedelta(seconds=40), kind="system", text="Alex Agent joined the chat."),
        Line(at=T0 + timedelta(minutes=1), kind="agent", author_name="Alex Agent", text="Sorry! **Order number?**",
             html="<p>Sorry! <strong>Order number?</strong></p>"),
        Line(at=T0 + timedelta(minutes=3), kind="visitor", author_name="Sam Visitor", text="Here is the receipt",
             html="<p>Here is the receipt</p>", attachment_ref="att-7f3a", attachment_name="receipt.pdf",
             attachment_size=12_345, attachment_type="application/pdf"),
        Line(at=T0 + timedelta(minutes=4), kind="system", text="Sam Visitor ended the chat."),
    ]
    services.transcript_store(ticket_id=ticket.pk, lines=lines)
    return ticket


def email_row(ticket, to: str = TO, **fields) -> TranscriptEmail:
    """A pending email as transcript_email_request makes it, without enqueueing the task."""
    return TranscriptEmail.objects.create(ticket=ticket, to=to, reason=TranscriptEmail.Reason.AUTOMATIC, **fields)


def kinds(ticket) -> list[str]:
    return list(ticket.timeline.order_by("at", "pk").values_list("kind", flat=True))


def failures(ticket) -> list[str]:
    return list(ticket.timeline.filter(kind=TicketEvent.Kind.EMAIL_FAILED).order_by("at", "pk")
                .values_list("detail", flat=True))


def marker(inbox, text: str = "marker"):
    """A message sent after the one under test and awaited: whatever came before it has arrived."""
    mail.send_mail(text, text, "test@example.com", ["marker@example.com"])
    inbox.wait_for(1, what=lambda r: r.subject == text)


# --- What it says -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_email_holds_the_whole_transcript_in_both_parts(smtp):
    ticket = ticket_with_transcript()
    email = email_row(ticket)

    assert transcript_email_deliver(email.pk) == "sent"

    [got] = smtp.wait_for(1)
    assert got.subject == f"Your chat with Acme Help — {ticket.ref}"
    assert re.fullmatch(r"HD-\d{6}", ticket.ref)
    assert got.rcpt_tos == (TO,) and got.message["To"] == TO
    assert got.message["From"] == "Acme Help <help@acme.example>"
    assert got.message["Reply-To"] == "support@acme.example"
    assert got.message["Message-ID"] == message_id(email)
    assert got.message["Auto-Submitted"] == "auto-generated"

    text, html = got.part("text/plain"), got.part("text/html")
    # Every entry, in order, with its time (UTC, said so) and author; the day where it changes.
    expected = ["1 December 2026", "[23:58] Sam Visitor:", "Hello, my kettle <b>never</b> came",
                "[23:58] * Alex Agent joined the chat.", "[23:59] Alex Agent:", "Sorry! **Order number?**",
                "2 December 2026", "[00:01] Sam Visitor:", "Here is the receipt", "File: receipt.pdf (12.1 KB)",
                "[00:02] * Sam Visitor ended the chat."]
    positions = [text.index(part) for part in expected]
    assert positions == sorted(positions), text
    assert "All times are UTC." in text and ticket.ref in text

    # The HTML part: the stored sanitised HTML, in order, as bubbles; self-contained and inert.
    expected = ["1 December 2026", "Sam Visitor", "<p>Hello, my kettle &lt;b&gt;never&lt;/b&gt; came</p>",
                "Alex Agent joined the chat.", "Alex Agent", "<p>Sorry! <strong>Order number?</strong></p>",
                "2 December 2026", "<p>Here is the receipt</p>", "receipt.pdf", "Sam Visitor ended the chat."]
    positions = [html.index(part) for part in expected]
    assert positions == sorted(positions), html
    assert "All times are UTC." in html
    assert "#fff1b8" in html and "#ececec" in html  # agent yellow, visitor grey
    for active in ("<script", "<img", "src=", "<link", "<style", "@import", "javascript:"):
        assert active not in html.lower(), active
    assert set(re.findall(r'href="([a-z]+):', html)) <= {"https", "mailto"}

    # The file: one signed link in each part, for this recipient and this file only.
    for part in (text, html):
        [(ref, token)] = LINK_RE.findall(part)
        assert ref == "att-7f3a"
        assert links.attachment_link_check(unquote(token), "att-7f3a") == TO
        with pytest.raises(links.LinkInvalid):
            links.attachment_link_check(unquote(token), "att-other")
    assert "made for sam@example.com only" in text

    email.refresh_from_db()
    assert (email.state, email.attempts) == (TranscriptEmail.State.SENT, 1)
    assert email.sent_at is not None
    assert ticket.timeline.filter(kind=TicketEvent.Kind.EMAIL_SENT).get().detail == f"to {TO}"


@pytest.mark.django_db
def test_a_transcript_without_files_says_nothing_of_links(smtp):
    ticket = services.ticket_open(subject="Hi", requester_name="Kim", requester_email=TO, department=None)
    services.transcript_store(ticket_id=ticket.pk, lines=[Line(at=T0, kind="visitor", author_name="Kim", text="Hi")])
    transcript_email_deliver(email_row(ticket).pk)
    [got] = smtp.wait_for(1)
    assert "/files/" not in got.part("text/plain") and "/files/" not in got.part("text/html")
    assert "<p>Hi</p>" in got.part("text/html")  # a line without stored HTML: its text, escaped


# --- Once ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_delivering_twice_sends_once(smtp):
    ticket = ticket_with_transcript()
    email = email_row(ticket)

    assert transcript_email_deliver(email.pk) == "sent"
    assert transcript_email_deliver(email.pk) == "already sent"
    assert transcript_email_send.apply(args=[email.pk]).get() == "already sent"
    marker(smtp)

    assert len(smtp.with_header("Message-ID", message_id(email))) == 1
    assert kinds(ticket).count(TicketEvent.Kind.EMAIL_SENT) == 1


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_once(smtp):
    """Two tasks for one email at the same moment: the first holds the row's lock while the mail
    server takes the message; the second waits on that lock (seen in pg_stat_activity), then finds
    the email sent."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite ignores select_for_update); CI runs on PostgreSQL")
    ticket = ticket_with_transcript()
    email = email_row(ticket)
    gate = smtp.hold()
    results, errors = [], []

    def deliver():
        try:
            results.append(transcript_email_deliver(email.pk))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    smtp.wait_for_data_commands(1)  # one sender is in the middle of sending, holding the row
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0] >= 1:
                break
            assert time.monotonic() < deadline, "the second sender never waited for the row's lock"
            time.sleep(0.02)
    gate.set()
    for thread in threads:
        thread.join(30)

    assert not errors, errors
    assert sorted(results) == ["already sent", "sent"]
    marker(smtp)
    assert len(smtp.with_header("Message-ID", message_id(email))) == 1
    assert smtp.data_commands == 2  # the transcript once, the marker once
    assert kinds(ticket).count(TicketEvent.Kind.EMAIL_SENT) == 1


# --- Failures -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_server_that_says_later_twice_gets_it_the_third_time(smtp):
    ticket = ticket_with_transcript()
    email = email_row(ticket)
    smtp.refuse_data("451 4.3.0 Try again later", "451 4.3.0 Try again later")

    for attempt in (1, 2):
        with pytest.raises(DeliveryDeferred):
            transcript_email_deliver(email.pk)
        email.refresh_from_db()
        assert (email.state, email.attempts) == (TranscriptEmail.State.PENDING, attempt)
        assert email.last_error == "SMTP refused: 451 4.3.0 Try again later"
    assert transcript_email_deliver(email.pk) == "sent"

    smtp.wait_for(1)
    email.refresh_from_db()
    assert (email.state, email.attempts) == (TranscriptEmail.State.SENT, 3)
    # The first failure is on the timeline, not every retry.
    assert failures(ticket) == [f"Could not send to {TO} yet, trying again: SMTP refused: 451 4.3.0 Try again later"]
    assert kinds(ticket)[-2:] == [TicketEvent.Kind.EMAIL_FAILED, TicketEvent.Kind.EMAIL_SENT]


@pytest.mark.django_db
def test_a_recipient_refused_for_good_fails_at_once(smtp):
    ticket = ticket_with_transcript(to="nobody@example.com")
    email = email_row(ticket, to="nobody@example.com")
    smtp.refuse_recipient("nobody@example.com", "550 5.1.1 <nobody@example.com>: no such user")

    assert transcript_email_deliver(email.pk) == "failed"

    email.refresh_from_db()
    assert (email.state, email.attempts) == (TranscriptEmail.State.FAILED, 1)
    reason = "the mail server refused the recipient: 550 5.1.1 <nobody@example.com>: no such user"
    assert email.last_error == reason
    assert failures(ticket) == [f"Not sent to nobody@example.com: {reason}"]
    assert transcript_email_deliver(email.pk) == "already failed"


@pytest.mark.django_db
def test_no_mail_server_is_retried_then_given_up(settings):
    use_smtp(settings, None, port=free_port())  # nothing listens there
    settings.TRANSCRIPT_EMAIL_MAX_ATTEMPTS = 3
    ticket = ticket_with_transcript()
    email = email_row(ticket)

    for _ in range(2):
        with pytest.raises(DeliveryDeferred, match="could not connect to the mail server"):
            transcript_email_deliver(email.pk)
    assert transcript_email_deliver(email.pk) == "failed"

    email.refresh_from_db()
    assert (email.state, email.attempts) == (TranscriptEmail.State.FAILED, 3)
    assert email.last_error.startswith(f"could not connect to the mail server (127.0.0.1:{settings.EMAIL_PORT})")
    first, last = failures(ticket)
    assert first.startswith(f"Could not send to {TO} yet, trying again: could not connect to the mail server")
    assert last.startswith(f"Not sent to {TO}: gave up after 3 attempts: could not connect to the mail server")


@pytest.mark.django_db
def test_in_process_a_failed_try_waits_for_the_sweep(settings):
    """Eager (the embedded default): no immediate retry storm; the row says what happened."""
    use_smtp(settings, None, port=free_port())
    email = email_row(ticket_with_transcript())
    assert transcript_email_send.apply(args=[email.pk]).get() == "deferred"
    email.refresh_from_db()
    assert (email.state, email.attempts) == (TranscriptEmail.State.PENDING, 1)


# --- The request, in-process --------------------------------------------------------------------------


@pytest.mark.django_db
def test_asking_for_the_transcript_sends_it_after_commit(smtp, django_capture_on_commit_callbacks):
    ticket = ticket_with_transcript()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        email = services.transcript_email_request(ticket_id=ticket.pk, reason=TranscriptEmail.Reason.VISITOR)
        assert smtp.data_commands == 0  # nothing before the commit
    # The enqueue; running it (in-process in tests) added the news that the email went out.
    assert [getattr(c, "func", c).__name__ for c in callbacks] == ["_send", "<lambda>"]
    [got] = smtp.wait_for(1)
    assert got.message["Message-ID"] == message_id(email)
    assert kinds(ticket)[-2:] == [TicketEvent.Kind.EMAIL_REQUESTED, TicketEvent.Kind.EMAIL_SENT]


# --- Links --------------------------------------------------------------------------------------------


def test_a_link_opens_its_file_for_its_recipient_until_it_expires(settings):
    settings.TRANSCRIPT_LINK_MAX_AGE_DAYS = 30
    now = time.time()
    token = links.attachment_link_token("att-1", "Sam@Example.com", at=now)

    assert links.attachment_link_check(token, "att-1", now=now) == "sam@example.com"
    assert links.attachment_link_check(token, "att-1", now=now + 29 * 86400) == "sam@example.com"
    with pytest.raises(links.LinkExpired):
        links.attachment_link_check(token, "att-1", now=now + 31 * 86400)
    made_long_ago = links.attachment_link_token("att-1", TO, at=now - 31 * 86400)
    with pytest.raises(links.LinkExpired):
        links.attachment_link_check(made_long_ago, "att-1")  # the real clock
    settings.TRANSCRIPT_LINK_MAX_AGE_DAYS = 1
    with pytest.raises(links.LinkExpired):
        links.attachment_link_check(token, "att-1", now=now + 2 * 86400)
    assert links.attachment_link_check(token, "att-1", now=now + 2 * 86400, max_age=3 * 86400)


def test_a_link_for_another_file_or_changed_is_refused():
    token = links.attachment_link_token("att-1", TO)
    with pytest.raises(links.LinkInvalid):
        links.attachment_link_check(token, "att-2")
    value, _, signature = token.rpartition(":")
    for bad in (value + ":" + signature[:-1] + ("A" if signature[-1] != "A" else "B"),
                token.replace(token[1], "x" if token[1] != "x" else "y", 1), "", "att-1", "a:b:c"):
        with pytest.raises(links.LinkInvalid):
            links.attachment_link_check(bad, "att-1")
    # Another salt's signature over the same payload (a session cookie, a password-reset token) is no link.
    from django.core import signing

    other = signing.dumps({"a": "att-1", "to": TO}, compress=True)
    with pytest.raises(links.LinkInvalid):
        links.attachment_link_check(other, "att-1")


def test_the_link_is_the_helpdesk_address_the_ref_and_the_token(settings):
    settings.HELPDESK_BASE_URL = "https://help.example.com"
    url = links.attachment_link_url("att/1 x", TO)
    assert url.startswith("https://help.example.com/files/att%2F1%20x/?t=")
    token = unquote(url.split("?t=", 1)[1])
    assert links.attachment_link_check(token, "att/1 x") == TO


# --- The sweep ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sweep_picks_what_has_been_pending_too_long(settings):
    settings.TRANSCRIPT_SWEEP_AFTER_SECONDS = 120
    ticket = ticket_with_transcript()
    now = timezone.now()
    fresh = email_row(ticket, requested_at=now - timedelta(seconds=60))
    stale = email_row(ticket, requested_at=now - timedelta(seconds=150))
    stale_tried = email_row(ticket, requested_at=now - timedelta(seconds=150), attempts=1)  # due at 240 s
    tried_long_ago = email_row(ticket, requested_at=now - timedelta(seconds=500), attempts=2)  # due at 480 s
    email_row(ticket, requested_at=now - timedelta(hours=1), state=TranscriptEmail.State.SENT)
    email_row(ticket, requested_at=now - timedelta(hours=1), state=TranscriptEmail.State.FAILED)

    assert pending_emails_due(now) == [tried_long_ago.pk, stale.pk]
    assert fresh.pk not in pending_emails_due(now + timedelta(seconds=59))
    assert stale_tried.pk in pending_emails_due(now + timedelta(seconds=91))


@pytest.mark.django_db
def test_the_sweep_task_sends_a_forgotten_email(smtp, settings, django_capture_on_commit_callbacks):
    settings.TRANSCRIPT_SWEEP_AFTER_SECONDS = 120
    ticket = ticket_with_transcript()
    forgotten = email_row(ticket, requested_at=timezone.now() - timedelta(minutes=5))

    with django_capture_on_commit_callbacks(execute=True):  # the test's transaction stands for none
        assert transcript_email_sweep() == 1  # eager in the tests: sent in this call

    [got] = smtp.wait_for(1)
    assert got.message["Message-ID"] == message_id(forgotten)
    assert transcript_email_sweep() == 0


# --- In-process sweeps (the embedded default) ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_in_process_sweeps_run_the_beat_schedule_on_their_own_threads(smtp, settings):
    settings.TRANSCRIPT_SWEEP_AFTER_SECONDS = 0
    settings.TASKS_EAGER_IN_THREAD = False
    ticket = ticket_with_transcript()
    email = email_row(ticket)
    running = sweeps.Sweeps({"mail": {"task": "tickets.transcript_email_sweep", "schedule": 0.2}}).start()
    try:
        [got] = smtp.wait_for(1)
    finally:
        running.stop()
    assert got.message["Message-ID"] == message_id(email)
    assert TranscriptEmail.objects.get(pk=email.pk).state == TranscriptEmail.State.SENT


def test_a_sweep_that_fails_is_logged_and_runs_again(caplog):
    calls = []
    ran_twice = threading.Event()

    def flaky():
        calls.append(time.monotonic())
        if len(calls) >= 2:
            ran_twice.set()
        if len(calls) == 1:
            raise RuntimeError("database gone")

    stopping = threading.Event()
    sweep = sweeps.Sweep("flaky", flaky, 0.05, stopping=stopping)
    sweep.start()
    try:
        assert ran_twice.wait(10)
    finally:
        stopping.set()
        sweep.join(5)
    assert sweep.failures == 1 and sweep.runs >= 2
    assert "in-process sweep flaky failed" in caplog.text and "database gone" in caplog.text


@pytest.mark.parametrize(("argv", "serving"), [
    (["/app/.venv/bin/daphne", "-b", "0.0.0.0", "helpdesk.asgi:application"], True),
    (["/usr/lib/python3.11/site-packages/daphne/__main__.py", "helpdesk.asgi:application"], True),
    (["manage.py", "runserver"], True),
    (["manage.py", "migrate"], False),
    (["manage.py", "shell"], False),
    (["/app/.venv/bin/celery", "-A", "helpdesk", "worker"], False),
    (["/app/.venv/bin/pytest"], False),
])
def test_sweeps_start_only_in_a_serving_process(monkeypatch, settings, argv, serving):
    monkeypatch.setattr("sys.argv", argv)
    assert sweeps.serving() is serving
    settings.IN_PROCESS_SWEEPS = "auto"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert sweeps.wanted() is serving
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a real worker and beat do it
    assert sweeps.wanted() is False
    settings.IN_PROCESS_SWEEPS = "0"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert sweeps.wanted() is False


def test_the_beat_schedule_names_registered_tasks_at_their_periods(settings):
    """The sweeps that send what is due run every minute; the one that closes expired blocks every five
    (blocks stop counting at their expiry without it)."""
    from helpdesk.celery import app

    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    periods = {entry["task"]: sweeps.period_seconds(entry["schedule"]) for entry in schedule.values()}
    assert periods == {"tickets.transcript_email_sweep": 60, "chat.chats_end_gone_visitors": 60,
                       "blocking.blocks_expire_sweep": 300}
    assert all(task in app.tasks for task in periods)


@pytest.mark.django_db
def test_lines_are_emailed_in_position_order_whatever_their_times(smtp):
    """The record's order is its positions (a chat's seqs), not the clock of each line."""
    ticket = services.ticket_open(subject="Hi", requester_name="Kim", requester_email=TO, department=None)
    services.transcript_store(ticket_id=ticket.pk, lines=[
        Line(at=T0 + timedelta(seconds=5), kind="visitor", author_name="Kim", text="first"),
        Line(at=T0, kind="agent", author_name="Alex", text="second"),
    ])
    assert list(TranscriptLine.objects.filter(ticket=ticket).values_list("text", flat=True)) == ["first", "second"]
    transcript_email_deliver(email_row(ticket).pk)
    text = smtp.wait_for(1)[0].part("text/plain")
    assert text.index("first") < text.index("second")


@pytest.mark.django_db
def test_the_gone_visitor_sweep_task_runs_the_chat_service():
    from chat.tasks import chats_end_gone_visitors

    assert chats_end_gone_visitors.apply().get() == 0  # no chat at all: nothing to end, no error


SEED_EMBEDDED = """
from django.core.management import call_command
from django.utils import timezone
from tickets import services
from tickets.models import TranscriptEmail
call_command("migrate", verbosity=0)
ticket = services.ticket_open(subject="x", requester_name="Sam", requester_email="sam@example.com", department=None)
services.transcript_store(ticket_id=ticket.pk, lines=[
    services.Line(at=timezone.now(), kind="visitor", author_name="Sam", text="Hello from the embedded default")])
TranscriptEmail.objects.create(ticket=ticket, to="sam@example.com", reason="auto")  # pending, never enqueued
"""


def test_daphne_on_the_embedded_default_runs_the_sweeps_itself(tmp_path):
    """No worker, no beat: the daphne process finds the pending email on its own and sends it (to the
    console, where the embedded default prints email). A command (the seeding one here) starts nothing."""
    import os
    import subprocess
    import sys

    from tests.live_server import ROOT, LiveHelpdesk

    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "SQLITE_PATH", "IN_PROCESS_SWEEPS"}}
    env.update(SQLITE_PATH=str(tmp_path / "db.sqlite3"), SWEEP_EVERY_SECONDS="0.3", TRANSCRIPT_SWEEP_AFTER_SECONDS="0",
               PYTHONUNBUFFERED="1", LOG_LEVEL="INFO", DJANGO_SETTINGS_MODULE="helpdesk.settings")
    seeded = subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + SEED_EMBEDDED], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    assert "in-process sweeps" not in seeded.stdout + seeded.stderr
    server = LiveHelpdesk(env, tmp_path / "daphne.log")
    server.start()
    try:
        deadline = time.monotonic() + 30
        while "Hello from the embedded default" not in server.log.read_text(errors="replace"):
            assert time.monotonic() < deadline, server.log.read_text(errors="replace")[-3000:]
            time.sleep(0.1)
    finally:
        server.stop()
    log = server.log.read_text(errors="replace")
    assert "in-process sweeps: transcript-email-sweep every 0.3 s, chats-end-gone-visitors every 0.3 s" in log
    assert log.count("Hello from the embedded default") == 2  # the plain part and the HTML part, once
