"""Beat in-process, for the embedded default: the sweeps of ``CELERY_BEAT_SCHEDULE`` run on threads of
the serving process, since there is no worker and no beat there.

``start_if_embedded()`` (helpdesk/asgi.py calls it as the ASGI app is built) starts them once per
process, and only where they belong: tasks run in-process (``CELERY_TASK_ALWAYS_EAGER``) and this
process serves (daphne, ``manage.py runserver``) — not pytest, not ``migrate``, ``shell`` or any other
command, not next to a real Celery worker. ``IN_PROCESS_SWEEPS=1`` starts them wherever the ASGI app is
built, ``0`` never.

Each schedule entry gets a thread of its own, which runs the task's function synchronously when it is
due (the first time one period after start, as beat does), on a database connection of its own that
it closes after each run, and logs and survives whatever the task raises.
"""

import logging
import os
import sys
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

_started: "Sweeps | None" = None
_lock = threading.Lock()


def period_seconds(schedule) -> float:
    """Seconds between runs of a beat entry's ``schedule``: a number, a timedelta, or a Celery
    schedule with ``run_every`` (crontab entries are not supported here)."""
    if isinstance(schedule, int | float):
        return float(schedule)
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    run_every = getattr(schedule, "run_every", None)
    if isinstance(run_every, timedelta):
        return run_every.total_seconds()
    raise ValueError(f"in-process sweeps run on a period in seconds, not on {schedule!r}")


class Sweep(threading.Thread):
    """One beat entry, run every ``period`` seconds until stopped."""

    def __init__(self, name: str, function, period: float, args=(), kwargs=None, stopping=None):
        super().__init__(name=f"sweep {name}", daemon=True)
        self.entry, self.function, self.period = name, function, max(period, 0.01)
        self.args, self.kwargs = tuple(args), dict(kwargs or {})
        self.stopping = stopping or threading.Event()
        self.runs = 0
        self.failures = 0

    def run(self) -> None:
        due = time.monotonic() + self.period
        while not self.stopping.wait(max(0.0, due - time.monotonic())):
            try:
                self.function(*self.args, **self.kwargs)
            except Exception:
                self.failures += 1
                log.exception("in-process sweep %s failed; it runs again in %.0f s", self.entry, self.period)
            finally:
                self.runs += 1
                connections.close_all()  # this thread's connections: the next run takes a fresh one
            due = max(due + self.period, time.monotonic())


class Sweeps:
    """The threads of every entry of ``schedule`` (CELERY_BEAT_SCHEDULE's shape)."""

    def __init__(self, schedule: dict, app=None):
        if app is None:
            from helpdesk.celery import app
        app.loader.import_default_modules()  # every app's tasks.py, as a worker imports them
        self.stopping = threading.Event()
        self.threads = []
        for name, entry in schedule.items():
            task = app.tasks[entry["task"]]
            self.threads.append(Sweep(name, task.run, period_seconds(entry["schedule"]), entry.get("args", ()),
                                      entry.get("kwargs"), self.stopping))

    def start(self) -> "Sweeps":
        for thread in self.threads:
            thread.start()
        log.info("in-process sweeps: %s", ", ".join(f"{t.entry} every {t.period:g} s" for t in self.threads))
        return self

    def stop(self, timeout: float = 10) -> None:
        self.stopping.set()
        for thread in self.threads:
            if thread.is_alive():
                thread.join(timeout)


def serving() -> bool:
    """Whether this process is a server: daphne (its script or ``python -m daphne``) or runserver."""
    argv = sys.argv or [""]
    if os.path.basename(argv[0]) == "daphne" or argv[0].endswith(os.path.join("daphne", "__main__.py")):
        return True
    return argv[1:2] == ["runserver"]  # manage.py runserver, django-admin runserver (daphne's, in-app)


def wanted() -> bool:
    choice = str(getattr(settings, "IN_PROCESS_SWEEPS", "auto")).strip().lower()
    if choice in {"1", "true", "yes", "on"}:
        return True
    if choice in {"0", "false", "no", "off"}:
        return False
    return bool(settings.CELERY_TASK_ALWAYS_EAGER) and serving()


def start_if_embedded() -> "Sweeps | None":
    """Start the in-process sweeps once in this process, if it wants them (see the module's doc)."""
    global _started
    if not wanted():
        return None
    with _lock:
        if _started is None:
            _started = Sweeps(getattr(settings, "CELERY_BEAT_SCHEDULE", {})).start()
    return _started
