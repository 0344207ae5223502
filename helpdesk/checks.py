"""What production should hear at start: system checks (``manage.py check``, ``migrate``, ``check
--deploy``), also logged by every daphne process and Celery worker as it starts, since those run no
checks of their own.

helpdesk.W001  DEBUG is on although DATABASE_URL or REDIS_URL is set (a developer's explicit DEBUG=1).
helpdesk.W002  DEBUG is off and EMAIL_HOST is not set: emails would only be printed to the log.
helpdesk.W003  DEBUG is off and HELPDESK_BASE_URL points at this machine: links in emails would too.
"""

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

TAG = "helpdesk"
log = logging.getLogger("helpdesk.checks")


def production_warnings() -> list[checks.Warning]:
    warnings = []
    services = [name for name in ("DATABASE_URL", "REDIS_URL") if getattr(settings, name, "")]
    if settings.DEBUG and services:
        warnings.append(checks.Warning(
            f"DEBUG is on although {' and '.join(services)} {'is' if len(services) == 1 else 'are'} set: "
            "error pages show settings and code to anyone, and Django keeps every query in memory.",
            hint="This is for development only. In production leave DEBUG unset (or DEBUG=0).",
            id="helpdesk.W001",
        ))
    if not settings.DEBUG and settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend":
        warnings.append(checks.Warning(
            "EMAIL_HOST is not set: password-reset links and chat transcripts would only be printed to "
            "the server log, never sent.",
            hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS) to "
                 "your SMTP server.",
            id="helpdesk.W002",
        ))
    if not settings.DEBUG and urlsplit(settings.HELPDESK_BASE_URL).hostname in _THIS_MACHINE:
        warnings.append(checks.Warning(
            f"HELPDESK_BASE_URL is {settings.HELPDESK_BASE_URL}: the links in transcript emails would "
            "point at the recipient's own computer.",
            hint="Set HELPDESK_BASE_URL to the address people reach the helpdesk at, e.g. https://help.example.com.",
            id="helpdesk.W003",
        ))
    return warnings


_THIS_MACHINE = {"127.0.0.1", "localhost", "::1", "0.0.0.0", None}


@checks.register(TAG)
def check_production(app_configs, **kwargs):
    return production_warnings()


def log_at_start() -> None:
    for warning in production_warnings():
        log.warning("%s %s (%s)", warning.msg, warning.hint, warning.id)
