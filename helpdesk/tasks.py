"""Enqueueing Celery tasks: always after the current transaction commits.

A task enqueued inside a transaction could run before the commit (and find nothing) or after a rollback
(and act on what never was). ``enqueue_on_commit`` defers the send to ``transaction.on_commit``; on the
embedded default (``CELERY_TASK_ALWAYS_EAGER``) the task then runs in-process, still after the commit.
"""

from functools import partial

from django.db import transaction


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Send ``task`` (a Celery task object) with these arguments once the transaction commits; at once
    when there is none."""
    transaction.on_commit(partial(task.delay, *args, **kwargs))
