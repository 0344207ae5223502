"""The Celery app. Tasks live in each app's tasks.py; with no REDIS_URL they run in-process."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _say_what_production_should_hear(**kwargs):
    """The worker sends the transcript emails: it says so when they would only be printed."""
    from helpdesk import checks

    checks.log_at_start()
