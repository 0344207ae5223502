"""The transcript email: what it says (``transcript_email_message``) and sending it once
(``transcript_email_deliver``, which the task ``tickets.tasks.transcript_email_send`` wraps).

Exactly once: the row of the email (``TranscriptEmail``) is locked while it is sent and marked sent in
the same transaction, so a task that runs twice, at once or later, finds it sent and does nothing.
The one window left is a crash after the mail server accepted the email and before the commit: the
next try sends it again, with the same Message-ID, which receivers use to drop the copy.

A try that fails is counted on the row (``attempts``, ``last_error`` in words a person can act on) and
raised as ``DeliveryDeferred`` for the task to retry with backoff; after
``TRANSCRIPT_EMAIL_MAX_ATTEMPTS`` tries, or at once when the mail server refuses the recipient or the
message for good (SMTP 5xx), the row is marked failed. The ticket's timeline says when the email went
out, the first failure, and the end of trying (docs/email.md).
"""

import logging
import smtplib
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.html import escape, linebreaks

from . import links
from .models import Ticket, TicketEvent, TranscriptEmail, TranscriptLine
from .services import event_record
from .signals import transcript_email_changed

log = logging.getLogger(__name__)


class DeliveryDeferred(Exception):
    """This try failed in a way another may not (the mail server said "later", or could not be reached):
    the row counts it and the task tries again with backoff."""


# --- What the email says -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One transcript line as the email shows it."""

    kind: str  # visitor, agent, system
    author: str
    time: str  # "14:03"
    day: str  # the date, on the first entry of each day; "" otherwise
    text: str
    html: str
    file_name: str = ""
    file_size: str = ""
    file_url: str = ""


def _language(ticket: Ticket) -> str:
    try:
        return translation.get_supported_language_variant(ticket.language or settings.LANGUAGE_CODE)
    except LookupError:
        return settings.LANGUAGE_CODE


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}".replace(".0 ", " ")
        n /= 1024
    return ""  # not reached


def _entries(ticket: Ticket, recipient: str) -> list[Entry]:
    entries, last_day = [], None
    for line in TranscriptLine.objects.filter(ticket=ticket).order_by("position").iterator():
        at = line.at.astimezone(UTC)
        day = formats.date_format(at, "l j F Y")
        text = line.text or ""
        html = line.html or (linebreaks(escape(text)) if text else "")
        file = {}
        if line.attachment_ref:
            if text == line.attachment_name:  # a file sent alone: its text is its name, which the link says
                text = html = ""
            file = {"file_name": line.attachment_name or "file", "file_size": _size(line.attachment_size),
                    "file_url": links.attachment_link_url(line.attachment_ref, recipient)}
        author = line.author_name or ("" if line.kind == TranscriptLine.Kind.SYSTEM else line.get_kind_display())
        entries.append(Entry(kind=line.kind, author=author, time=at.strftime("%H:%M"),
                             day=day if day != last_day else "", text=text, html=html, **file))
        last_day = day
    return entries


def message_id(email: TranscriptEmail) -> str:
    """The same for every try of one email (receivers drop a copy with a Message-ID they have), and
    not guessable from the row's number: keyed with the SECRET_KEY."""
    mark = salted_hmac("tickets.mail.message-id", str(email.pk)).hexdigest()[:16]
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "helpdesk.invalid"
    return f"<transcript-{email.pk}.{mark}@{domain}>"


def subject_of(ticket: Ticket) -> str:
    return f"Your chat with {settings.HELPDESK_NAME} — {ticket.ref}"


def transcript_email_message(email: TranscriptEmail, *, connection=None) -> mail.EmailMultiAlternatives:
    """The email for this row: a plain-text part and an HTML part (self-contained: inline styles, no
    images, no scripts), from DEFAULT_FROM_EMAIL with Reply-To HELPDESK_REPLY_TO."""
    ticket = email.ticket
    with translation.override(_language(ticket)):
        entries = _entries(ticket, email.to)
        context = {
            "ticket": ticket,
            "ref": ticket.ref,
            "helpdesk": settings.HELPDESK_NAME,
            "subject": subject_of(ticket),
            "entries": entries,
            "has_files": any(e.file_url for e in entries),
            "link_days": settings.TRANSCRIPT_LINK_MAX_AGE_DAYS,
            "to": email.to,
            "reply_to": settings.HELPDESK_REPLY_TO,
            "requested_at": formats.date_format(email.requested_at.astimezone(UTC), "j F Y, H:i"),
        }
        text = render_to_string("tickets/email/transcript.txt", context)
        html = render_to_string("tickets/email/transcript.html", context)
    message = mail.EmailMultiAlternatives(
        subject=context["subject"], body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[email.to],
        reply_to=[settings.HELPDESK_REPLY_TO], connection=connection,
        headers={"Message-ID": message_id(email), "Auto-Submitted": "auto-generated",
                 "X-Auto-Response-Suppress": "All", "X-Helpdesk-Ticket": ticket.ref},
    )
    message.attach_alternative(html, "text/html")
    return message


# --- Sending it once -----------------------------------------------------------------------------------


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


def describe_failure(exc: BaseException) -> tuple[str, bool]:
    """What went wrong, in words an admin can act on, and whether it is for good (not worth retrying)."""
    where = f"{getattr(settings, 'EMAIL_HOST', '') or 'localhost'}:{getattr(settings, 'EMAIL_PORT', 25)}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        code, text = replies[0] if replies else (0, b"")
        return f"the mail server refused the recipient: {_reply(code, text)}", all(c >= 500 for c, _ in replies)
    if isinstance(exc, smtplib.SMTPConnectError):
        return f"could not connect to the mail server ({where}): {_reply(exc.smtp_code, exc.smtp_error)}", False
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the mail server refused the helpdesk's login: {_reply(exc.smtp_code, exc.smtp_error)}", False
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return (f"the mail server refused the sender {exc.sender}: {_reply(exc.smtp_code, exc.smtp_error)}",
                False)
    if isinstance(exc, smtplib.SMTPResponseException):
        # The message itself (DATA): 4xx is "try later", 5xx is "never" (too big, refused as spam, …).
        permanent = isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500
        return f"SMTP refused: {_reply(exc.smtp_code, exc.smtp_error)}", permanent
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the mail server closed the connection", False
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"the mail server did not answer in time ({where})", False
    if isinstance(exc, smtplib.SMTPException):
        return f"SMTP error: {exc}", False
    if isinstance(exc, OSError):
        return f"could not connect to the mail server ({where}): {exc.strerror or exc}", False
    return f"unexpected error: {type(exc).__name__}: {exc}", False


def _send(message: mail.EmailMultiAlternatives) -> None:
    connection = mail.get_connection(fail_silently=False)
    message.connection = connection
    connection.open()
    try:
        connection.send_messages([message])
    finally:
        try:
            connection.close()
        except Exception:  # the QUIT of a connection that broke; the send's outcome is what counts
            log.debug("closing the SMTP connection failed", exc_info=True)


def transcript_email_deliver(email_id: int) -> str:
    """Send TranscriptEmail ``email_id`` unless it has been sent or given up on. Returns what happened:
    ``sent``, ``failed`` (given up now), ``already sent``, ``already failed`` or ``missing``. Raises
    ``DeliveryDeferred`` when this try failed and another may succeed."""
    deferred = None
    with transaction.atomic():
        email = TranscriptEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None:
            log.warning("transcript email %s: no such row (deleted?)", email_id)
            return "missing"
        if email.state != TranscriptEmail.State.PENDING:
            return f"already {email.state}"
        email.ticket = Ticket.objects.get(pk=email.ticket_id)
        email.attempts += 1
        # Whatever this try ends in (sent, failed, deferred) is news, once committed.
        transaction.on_commit(lambda: transcript_email_changed.send(TranscriptEmail, ticket_id=email.ticket_id,
                                                                    email_id=email.pk), robust=True)
        try:
            # A savepoint: a database error while rendering leaves the row's transaction usable.
            with transaction.atomic():
                _send(transcript_email_message(email))
        except Exception as exc:
            reason, permanent = describe_failure(exc)
            email.last_error = reason[:2000]
            log.warning("transcript email %s to %s, try %s: %s", email.pk, email.to, email.attempts, reason,
                        exc_info=not isinstance(exc, smtplib.SMTPException | OSError))
            if permanent or email.attempts >= settings.TRANSCRIPT_EMAIL_MAX_ATTEMPTS:
                email.state = TranscriptEmail.State.FAILED
                why = reason if permanent else f"gave up after {email.attempts} attempts: {reason}"
                event_record(email.ticket_id, TicketEvent.Kind.EMAIL_FAILED, f"Not sent to {email.to}: {why}")
                email.save(update_fields=["attempts", "last_error", "state"])
                return "failed"
            if email.attempts == 1:  # the first failure; then only the outcome, not every retry
                event_record(email.ticket_id, TicketEvent.Kind.EMAIL_FAILED,
                             f"Could not send to {email.to} yet, trying again: {reason}")
            email.save(update_fields=["attempts", "last_error"])
            deferred = reason
        else:
            email.state, email.sent_at = TranscriptEmail.State.SENT, timezone.now()
            email.save(update_fields=["attempts", "state", "sent_at"])
            event_record(email.ticket_id, TicketEvent.Kind.EMAIL_SENT, f"to {email.to}")
            return "sent"
    raise DeliveryDeferred(deferred)


def pending_emails_due(now: datetime | None = None, *, limit: int = 500) -> list[int]:
    """Emails still pending TRANSCRIPT_SWEEP_AFTER_SECONDS after they were asked for, doubled for every
    try already made (so a mail server that is down for hours is not hammered by the sweep)."""
    now = now or timezone.now()
    after = settings.TRANSCRIPT_SWEEP_AFTER_SECONDS
    rows = (TranscriptEmail.objects.filter(state=TranscriptEmail.State.PENDING,
                                           requested_at__lte=now - timedelta(seconds=after))
            .order_by("requested_at", "pk").values_list("pk", "requested_at", "attempts")[:limit])
    return [pk for pk, requested_at, attempts in rows
            if (now - requested_at).total_seconds() >= after * 2 ** min(attempts, 8)]
