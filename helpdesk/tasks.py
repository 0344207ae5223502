"""Enqueueing Celery tasks: always after the current transaction commits, and never at the cost of
the request that asked.

A task enqueued inside a transaction could run before the commit (and find nothing) or after a rollback
(and act on what never was). ``enqueue_on_commit`` defers the send to ``transaction.on_commit``. If the
broker cannot take it, that is logged and the request goes on: every task has a beat sweep that finds
what was left undone in the database (DESIGN.md, "tasks.py").

Nor does the request wait on the broker: the message is published from a small pool of threads, so a
Redis that is restarting or slow to answer (kombu retries a publish, and waits up to its connection
timeout each time) never holds End Chat; a publish lost with its process is the sweep's to redo.

On the embedded default (``CELERY_TASK_ALWAYS_EAGER``) the task runs in-process after the commit, on a
thread of its own (``TASKS_EAGER_IN_THREAD``, on by default) so that a slow mail server does not hold
the request; tests turn the thread off to see the task's effect when the call returns.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from django.conf import settings
from django.db import close_old_connections, transaction

log = logging.getLogger(__name__)

_publishers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="task-publish")


def _send(task, args, kwargs) -> None:
    try:
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            _publishers.submit(_publish, task, args, kwargs)
        elif getattr(settings, "TASKS_EAGER_IN_THREAD", True):
            threading.Thread(target=_run_eager, args=(task, args, kwargs), daemon=True,
                             name=f"task {task.name}").start()
        else:
            task.apply(args=args, kwargs=kwargs)
    except Exception:
        log.exception("could not enqueue %s; its sweep will do it later", task.name)


def _publish(task, args, kwargs) -> None:
    try:
        # The queue is named at each send, from the one setting (CELERY_QUEUE) the worker reads too.
        task.apply_async(args, kwargs, queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    except Exception:
        log.exception("could not enqueue %s; its sweep will do it later", task.name)


def _run_eager(task, args, kwargs) -> None:
    try:
        task.apply(args=args, kwargs=kwargs)
    except Exception:
        log.exception("task %s failed; its sweep will try again", task.name)
    finally:
        close_old_connections()


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Send ``task`` (a Celery task object) with these arguments once the transaction commits; at once
    when there is none."""
    transaction.on_commit(partial(_send, task, args, kwargs))
