"""Settings, read from the environment in this one place.

With no environment set the app runs on the *embedded default*: a SQLite file, the in-memory channel
layer, Celery tasks run in-process and email printed to the console. That is one process and is meant
for trying the product and developing it. Setting ``DATABASE_URL`` and ``REDIS_URL`` switches to the real
services (PostgreSQL, the channels-redis pub/sub layer, a Redis Celery broker) that any number of daphne
processes can share.
"""

import hashlib
import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
# The embedded default is neither of them: one process on this machine, for trying and developing.
embedded_default = not DATABASE_URL and not REDIS_URL

# DEBUG only on the embedded default: as soon as a real database or Redis is named it is off unless
# DEBUG=1 says otherwise (a developer's choice, which the app repeats at start: helpdesk/checks.py).
DEBUG = env_bool("DEBUG", embedded_default)

# With DEBUG off, a key that Django's own deploy check calls weak (security.W009: under 50 characters,
# under 5 distinct ones, or startproject's "django-insecure-" prefix) is refused, not just warned of.
make_a_key = "`python3 -c 'import secrets; print(secrets.token_urlsafe(50))'`"


def secret_key_weakness(key: str) -> str | None:
    """Why ``key`` is too weak to sign sessions and password-reset links, or None."""
    if key.startswith("django-insecure-"):
        return "it starts with 'django-insecure-', the mark of the keys startproject writes"
    if len(key) < 50:
        return f"it is shorter than 50 characters (length {len(key)})"
    if len(set(key)) < 5:
        return f"it has fewer than 5 distinct characters ({len(set(key))})"
    return None


SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off the helpdesk refuses to start without a secret key: "
            f"set SECRET_KEY to a long random string (for example the output of {make_a_key})."
        )
    SECRET_KEY = "insecure-embedded-default-only-for-development"
elif not DEBUG and (weakness := secret_key_weakness(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak: {weakness}. With DEBUG off the helpdesk refuses to start with a weak "
        f"secret key: set SECRET_KEY to a long random string (for example the output of {make_a_key})."
    )

# Embedded default: the local names of this machine.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "helpdesk",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "tickets",
    "blocking",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "helpdesk.security.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "chat.limits.LoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
ASGI_APPLICATION = "helpdesk.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------------------
# Embedded default: a SQLite file next to manage.py. DATABASE_URL (postgres://…) selects PostgreSQL,
# with psycopg's connection pool: opening a connection per message capped the server at a fifth of
# its throughput (see shared DESIGN.md), and Django advises the backend pool over persistent
# connections under ASGI.
if DATABASE_URL:
    # No CONN_HEALTH_CHECKS: with it the pool checks each connection it hands out (a round trip per
    # message), and after a failed check psycopg_pool sleeps with backoff (1 s, 2 s, …) on the one
    # database thread every socket shares: terminated backends stalled a whole process for 10 s.
    # A call that meets a dead connection is retried instead, after the pool has dropped every dead
    # idle connection at once (chat/calls.py).
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": int(os.environ.get("DATABASE_POOL_MIN", "2")),
            "max_size": int(os.environ.get("DATABASE_POOL_MAX", "20")),
            "timeout": 10,
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # A file, not memory, so that a test server in another process sees the test data.
            "TEST": {"NAME": str(BASE_DIR / "test-db.sqlite3")},
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer and Celery -------------------------------------------------------------------
# Embedded default: the in-memory layer (one process only) and Celery tasks run eagerly in-process.
# REDIS_URL selects the channels-redis pub/sub layer (measured: half the CPU per message of the core
# Redis layer and no loss in a flood) and Redis as the Celery broker.


def deployment_prefix() -> str:
    """The channel prefix when CHANNEL_PREFIX is not set: one per database. Redis pub/sub ignores the
    database number of REDIS_URL, so two deployments on one Redis server would hear each other's
    groups (``chat-8``) under one fixed prefix; every process of one deployment shares its database,
    and so its prefix. Host, port and name only: a new password does not split a deployment."""
    db = DATABASES["default"]
    where = f"{db.get('HOST') or ''}:{db.get('PORT') or ''}/{db.get('NAME')}"
    return "hd-" + hashlib.sha256(where.encode()).hexdigest()[:12] + "-"
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("CHANNEL_PREFIX") or deployment_prefix()},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = "UTC"
# With acks_late a worker takes one message at a time beyond what it runs: a worker that dies leaves
# at most that one to be delivered again (and every task is idempotent).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The queue tasks are sent to and the worker reads (helpdesk/tasks.py names it at each send).
# Deployments sharing one Redis database need a queue each.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")

# Beat: sweeps that re-drive what a lost task or a stopped worker left undone, found in the database.
# `celery -A helpdesk worker --beat` runs them; on the embedded default each daphne process runs them
# itself on a thread (helpdesk/sweeps.py; IN_PROCESS_SWEEPS: auto, 1 or 0). A sweep message that
# waited longer than its period is dropped: the next one does the same work.
SWEEP_EVERY_SECONDS = float(os.environ.get("SWEEP_EVERY_SECONDS", "60"))
# Blocks stop counting at their expiry whatever the sweep does; it records the ends and tidies the lists.
BLOCK_SWEEP_EVERY_SECONDS = float(os.environ.get("BLOCK_SWEEP_EVERY_SECONDS", "300"))
CELERY_BEAT_SCHEDULE = {
    "transcript-email-sweep": {"task": "tickets.transcript_email_sweep", "schedule": SWEEP_EVERY_SECONDS,
                               "options": {"expires": SWEEP_EVERY_SECONDS}},
    "chats-end-gone-visitors": {"task": "chat.chats_end_gone_visitors", "schedule": SWEEP_EVERY_SECONDS,
                                "options": {"expires": SWEEP_EVERY_SECONDS}},
    "blocks-expire": {"task": "blocking.blocks_expire_sweep", "schedule": BLOCK_SWEEP_EVERY_SECONDS,
                      "options": {"expires": BLOCK_SWEEP_EVERY_SECONDS}},
}
IN_PROCESS_SWEEPS = os.environ.get("IN_PROCESS_SWEEPS", "auto")

# --- Rate limits (chat/limits.py) ---------------------------------------------------------------
# Counted in Redis across processes when REDIS_URL is set, in process memory on the embedded default;
# under the deployment's prefix, like its channel groups. The limits themselves are the admin's (Django
# admin, "Rate limits"); RATE_LIMITS ({"message.visitor": (20, 10)}) changes their defaults.
RATE_LIMIT_REDIS_URL = REDIS_URL
RATE_LIMIT_PREFIX = (os.environ.get("CHANNEL_PREFIX") or deployment_prefix()) + "limits:"
RATE_LIMITS: dict = {}

# --- Email --------------------------------------------------------------------------------------
# Embedded default: printed to the console. EMAIL_HOST selects SMTP. With DEBUG off and no EMAIL_HOST,
# password-reset links and transcripts would only reach the log: helpdesk/checks.py says so at start.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    # Seconds to connect and for each SMTP reply: a mail server that hangs costs a try, not a worker.
    EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "30"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "helpdesk@localhost")

# --- Transcript email (tickets/mail.py, tickets/tasks.py, docs/email.md) ----------------------------
# The helpdesk's name in the subject ("Your chat with Helpdesk — HD-000042"), the address replies go
# to, and the address people reach the helpdesk at: attachment links in the email start with it.
HELPDESK_NAME = os.environ.get("HELPDESK_NAME", "Helpdesk")
HELPDESK_REPLY_TO = os.environ.get("HELPDESK_REPLY_TO", "") or DEFAULT_FROM_EMAIL
HELPDESK_BASE_URL = os.environ.get("HELPDESK_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Attachment links in a transcript are signed for its recipient and expire after this many days.
TRANSCRIPT_LINK_MAX_AGE_DAYS = int(os.environ.get("TRANSCRIPT_LINK_MAX_AGE_DAYS", "30"))
# Tries per email, the first included; between tries the task waits 1, 2, 4 … s (random up to that,
# never more than TRANSCRIPT_RETRY_BACKOFF_MAX). A refusal for good (SMTP 5xx) is not retried.
TRANSCRIPT_EMAIL_MAX_ATTEMPTS = int(os.environ.get("TRANSCRIPT_EMAIL_MAX_ATTEMPTS", "7"))
TRANSCRIPT_RETRY_BACKOFF_MAX = int(os.environ.get("TRANSCRIPT_RETRY_BACKOFF_MAX", "300"))
# The sweep sends again an email still pending this long after it was asked for (doubled per try
# already made): a worker that was down or a lost broker message loses no email.
TRANSCRIPT_SWEEP_AFTER_SECONDS = float(os.environ.get("TRANSCRIPT_SWEEP_AFTER_SECONDS", "120"))

# --- Auth, i18n, static ---------------------------------------------------------------------------
# Failed logins are throttled per username and per address before any password is checked (chat/limits.py).
AUTHENTICATION_BACKENDS = ["chat.limits.LoginThrottleBackend", "django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Files sent in chats: Django's default storage, a directory here; a deployment may name another
# backend in STORAGES["default"] (django-storages). Never served directly: only through /files/<ref>/.
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The largest request body daphne takes on any path but the uploads' (helpdesk/upload_guard.py).
HTTP_MAX_BODY_BYTES = int(os.environ.get("HTTP_MAX_BODY_BYTES", str(4 * 1024 * 1024)))

STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = os.environ.get("STATIC_ROOT", str(BASE_DIR / "staticfiles"))
# Embedded default: daphne serves static files itself. Behind a web server that serves STATIC_ROOT,
# set SERVE_STATIC=0.
SERVE_STATIC = env_bool("SERVE_STATIC", True)

# --- Proxies and origins --------------------------------------------------------------------------
# X-Forwarded-For is believed only when the connection comes from one of these addresses.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
# Origins of websites allowed to embed the widget (iframe frame-ancestors) and to open the visitor
# websocket directly. "*" allows any site. The helpdesk's own hosts (ALLOWED_HOSTS) are always allowed
# to open websockets, since the widget iframe is served from here.
CHAT_EMBED_ORIGINS = env_list("CHAT_EMBED_ORIGINS", ["*"])

# Live delivery is at-most-once: connected clients also ask for missed events this often (0: never).
CHAT_RESYNC_SECONDS = int(os.environ.get("CHAT_RESYNC_SECONDS", "20"))

# A socket that stops reading: at most this many bytes wait unsent for it (1 MiB; 0: no cap). A frame
# that would go past it is dropped and the socket closed with 4408 ("fell behind": reconnect and
# resume); the peer then has CHAT_SOCKET_CLOSE_GRACE_SECONDS (30) to read up to the close frame and
# answer it before the connection is dropped. See helpdesk/backpressure.py.
CHAT_SOCKET_MAX_QUEUED_BYTES = int(os.environ.get("CHAT_SOCKET_MAX_QUEUED_BYTES", str(1024 * 1024)))
CHAT_SOCKET_CLOSE_GRACE_SECONDS = float(os.environ.get("CHAT_SOCKET_CLOSE_GRACE_SECONDS", "30"))

# The demo website at /demo/ with the widget embedded. On by default in the embedded mode.
DEMO_SITE = env_bool("DEMO_SITE", not DATABASE_URL)

SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

# --- HTTPS ------------------------------------------------------------------------------------------
# HTTPS=1 says browsers reach the helpdesk over https only (daphne's own TLS, or a TLS proxy in front):
# session and CSRF cookies are then never sent over plain http, and browsers are told to come back
# over https only (HSTS) for SECURE_HSTS_SECONDS, a year by default, the helpdesk's subdomains
# included, and with consent to the browsers' preload list (both as `check --deploy` asks: a helpdesk
# has a host of its own, help.example.com; at an apex domain turn both off). The CSP and every other
# header are on regardless: helpdesk/security.py.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600) if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)


def proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """``X-Forwarded-Proto: https`` (the header a TLS proxy sets, and its value for https) as Django's
    SECURE_PROXY_SSL_HEADER takes it: ``("HTTP_X_FORWARDED_PROTO", "https")``."""
    if not value.strip():
        return None
    name, sep, expected = (part.strip() for part in value.partition(":"))
    if not sep or not expected or not re.fullmatch(r"[A-Za-z0-9-]+", name):
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER={value!r} is not of the form `Header-Name: value`, "
            "e.g. `X-Forwarded-Proto: https`."
        )
    return "HTTP_" + name.upper().replace("-", "_"), expected


# Behind a TLS proxy: the header the proxy sets on requests that came over https. Only when every
# request comes through that proxy and it sets or overwrites the header: anyone who can reach daphne
# directly can send it.
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))
# A plain-http request is redirected to https. By default only where the app can tell https from
# http, that is, behind a proxy that says so (otherwise every request through a TLS proxy would look
# like http and be redirected for ever); /healthz is left alone for load balancers' plain checks.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS and SECURE_PROXY_SSL_HEADER is not None)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"quiet_outage": {"()": "chat.live.QuietOutage"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "channels_redis.pubsub": {"filters": ["quiet_outage"]},
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}
