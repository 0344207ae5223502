"""Celery tasks of tickets: thin wrappers over services (being written: see tickets/mail.py)."""

from celery import shared_task


@shared_task(name="tickets.transcript_email_send")
def transcript_email_send(email_id: int) -> None:
    from .mail import transcript_email_deliver

    transcript_email_deliver(email_id)
