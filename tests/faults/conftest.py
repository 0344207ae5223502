"""Fixtures of the fault drills: one Redis and two daphne processes for the whole package (started
once: a drill that breaks them restores them in its ``finally``, and ``fleet`` checks before each
drill that everything is up), and an agent login per drill (the database is emptied between drills)."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from tests.conftest import require

from .harness import REDIS_SERVER, Fleet, RedisServer, redis_server_installed

# The drills run the product's own settings (the slow reader's cap and grace among them), but for
# those server_env sets for every live-server test (CHAT_RESYNC_SECONDS=2).
SERVER_SETTINGS: dict = {}


@pytest.fixture(scope="package")
def _fleet(django_db_setup, tmp_path_factory):
    from django.db import connection

    require(connection.vendor == "postgresql", "the fault drills need PostgreSQL (DATABASE_URL=postgres://…)")
    require(redis_server_installed(), f"the fault drills start their own Redis: {REDIS_SERVER} is not installed")
    logs = tmp_path_factory.mktemp("faults")
    redis = RedisServer(logs / "redis.log")
    redis.start()
    fleet = Fleet(connection.settings_dict, redis, logs, extra=SERVER_SETTINGS)
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
