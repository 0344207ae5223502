"""Fixtures of the fault drills: one Redis and two daphne processes for the whole package (started
once: a drill that breaks them restores them in its ``finally``, and ``fleet`` checks before each
drill that everything is up), and an agent login per drill (the database is emptied between drills)."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.test import Client

from tests.conftest import require

from .harness import REDIS_SERVER, Fleet, RedisServer, redis_server_installed

# The drills run the product's own settings (the slow reader's cap among them), but for those
# server_env sets for every live-server test (CHAT_RESYNC_SECONDS=2), the rate limits (lifted, below),
# and two waits that bound how long a reader may stop reading: the slow-reader drill stops reading
# while 2,000 messages pass, which takes
# ~25 s on two quiet cores and over a minute on busy ones. Past the cap the server closes with 4408
# and drops the connection CHAT_SOCKET_CLOSE_GRACE_SECONDS later (product: 30 s); daphne drops one that
# answers no ping for --ping-timeout (daphne: 30 s after a ping sent every 20 s). Either way the
# reader would see a reset instead of the 4408 it is to see once it reads again.
SERVER_SETTINGS = {"CHAT_SOCKET_CLOSE_GRACE_SECONDS": "150"}
DAPHNE_ARGS = ("--ping-timeout", "150")


@pytest.fixture(scope="package")
def _fleet(django_db_setup, tmp_path_factory):
    from django.db import connection

    require(connection.vendor == "postgresql", "the fault drills need PostgreSQL (DATABASE_URL=postgres://…)")
    require(redis_server_installed(), f"the fault drills start their own Redis: {REDIS_SERVER} is not installed")
    logs = tmp_path_factory.mktemp("faults")
    redis = RedisServer(logs / "redis.log")
    redis.start()
    fleet = Fleet(connection.settings_dict, redis, logs, extra=SERVER_SETTINGS, daphne_args=DAPHNE_ARGS)
    try:
        fleet.ensure()
        yield fleet
    finally:
        fleet.stop()
        redis.stop()


@pytest.fixture
def fleet(_fleet):
    """The package's Redis and daphne processes, all running."""
    _fleet.ensure()
    return _fleet


@pytest.fixture
def agent_cookie(django_user_model) -> str:
    """The session cookie of a logged-in agent (the "Agents" group), good on every daphne: sessions
    live in the database."""
    user = django_user_model.objects.create_user("alex", password="pw", first_name="Alex", last_name="Agent")
    user.groups.add(Group.objects.get(name="Agents"))
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.fixture(autouse=True)
def _rate_limits_lifted(transactional_db):
    """Every rate limit of chat/limits.py but the login ones at 0 (no limit), the way an admin sets
    them (a row per rule; the servers read the rows again within seconds). The drills send as fast as
    the protocol lets a client send (one message in flight), a thousand in a row, and resume at every
    hole: no person types like that, and a ``rate_limited`` answer would make a drill measure the limit
    instead of the fault. tests/test_limits.py tests the limits."""
    try:
        rate_limit = apps.get_model("chat", "RateLimit")
        from chat.limits import RULES
    except (LookupError, ImportError):  # a server without rate limits
        return
    for rule in RULES:
        if rule.action != "login":
            rate_limit.objects.update_or_create(name=rule.name, defaults={"limit": 0})
