"""Celery tasks of chat: thin wrappers over its services."""

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="chat.chats_end_gone_visitors", acks_late=True)
def chats_end_gone_visitors() -> int:
    """Beat, every minute: end the chats whose visitor has been gone longer than the admin's setting
    (chat settings, "visitor gone"); each ends in a transaction of its own, checked again under the
    chat's lock, so a sweep that runs twice ends nothing twice. Returns how many ended."""
    from . import presence

    ended = presence.chats_end_gone_visitors()
    if ended:
        log.info("ended %s chat(s) whose visitor had gone", ended)
    return ended
