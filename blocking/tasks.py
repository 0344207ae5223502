"""Celery task of blocking: the beat sweep that closes expired blocks (a thin wrapper over
``services.blocks_expire``). Blocks stop counting at their expiry without it; the sweep records the
end on the block and its ticket. The embedded default runs it in-process (helpdesk/sweeps.py)."""

from celery import shared_task

from .services import blocks_expire


@shared_task(name="blocking.blocks_expire_sweep", acks_late=True)
def blocks_expire_sweep() -> int:
    return blocks_expire()
