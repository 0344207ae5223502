"""Celery tasks of tickets: thin wrappers over tickets/mail.py.

``transcript_email_send`` may run any number of times for one email, at once or later: the service
locks the email's row and sends it only while it is pending. A try that fails on the mail server or
the connection is retried with exponential backoff (1, 2, 4 … s, random up to that, at most
TRANSCRIPT_RETRY_BACKOFF_MAX); the row counts the tries and gives up after
TRANSCRIPT_EMAIL_MAX_ATTEMPTS. ``transcript_email_sweep`` (beat, every minute) sends again what is
still pending after TRANSCRIPT_SWEEP_AFTER_SECONDS: a worker that was down, a lost broker message.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from helpdesk.tasks import enqueue_on_commit

from .mail import DeliveryDeferred, pending_emails_due, transcript_email_deliver

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="tickets.transcript_email_send",
    autoretry_for=(DeliveryDeferred, DatabaseError),
    retry_backoff=True,
    retry_backoff_max=settings.TRANSCRIPT_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    # The row counts the tries and stops at TRANSCRIPT_EMAIL_MAX_ATTEMPTS; Celery's count is the bound
    # behind it (a try that never reached the row, on a database error, is not counted there).
    max_retries=max(settings.TRANSCRIPT_EMAIL_MAX_ATTEMPTS - 1, 0),
    acks_late=True,
)
def transcript_email_send(self, email_id: int) -> str:
    try:
        return transcript_email_deliver(email_id)
    except DeliveryDeferred as exc:
        if self.request.is_eager:
            # In-process (the embedded default): no broker to wait on, and an immediate retry would
            # hammer the mail server; the in-process sweep tries again after its delay.
            log.warning("transcript email %s not sent yet (%s); the sweep will try again", email_id, exc)
            return "deferred"
        raise


@shared_task(name="tickets.transcript_email_sweep", acks_late=True)
def transcript_email_sweep() -> int:
    """Enqueue again every transcript email left pending; returns how many."""
    due = pending_emails_due()
    for email_id in due:
        enqueue_on_commit(transcript_email_send, email_id)
    if due:
        log.info("transcript email sweep: %s pending email(s) enqueued again", len(due))
    return len(due)
