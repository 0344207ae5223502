"""Shared fixtures. Services run for real: PostgreSQL (when DATABASE_URL is set, always in CI), the
in-memory and the Redis channel layers, Chromium. A test that needs a missing service skips with the
reason on a developer's machine and fails in CI (CI=true)."""

import os
import socket
import uuid
from urllib.parse import urlparse

import pytest
from channels.layers import channel_layers
from django.conf import settings as django_settings

IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("REDIS_URL", "")


def require(condition: bool, reason: str) -> None:
    """Skip the test on a developer machine, fail it in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI must provide it)")
    pytest.skip(reason)


def _answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname, parsed.port or 6379), 1).close()
        return True
    except OSError:
        return False


def pytest_sessionstart(session):
    if IN_CI and django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise pytest.UsageError("CI runs the suite on PostgreSQL: set DATABASE_URL to a postgres:// URL.")


def redis_layer_settings() -> dict:
    require(bool(REDIS_URL) and _answers(REDIS_URL), f"Redis is not reachable at REDIS_URL={REDIS_URL or '(unset)'}")
    return {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # A prefix per test keeps tests apart on the shared Redis server.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"test-{uuid.uuid4().hex[:10]}"},
        }
    }


MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def _memory_layer_by_default(settings):
    """Each test starts with a fresh in-memory layer unless it asks for Redis."""
    settings.CHANNEL_LAYERS = MEMORY_LAYER
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def layer(request, settings, _memory_layer_by_default):
    """Run the test once on the in-memory layer and once on the Redis pub/sub layer."""
    if request.param == "redis":
        settings.CHANNEL_LAYERS = redis_layer_settings()
        channel_layers.backends.clear()
    return request.param


@pytest.fixture
def redis_layer(settings, _memory_layer_by_default):
    settings.CHANNEL_LAYERS = redis_layer_settings()
    channel_layers.backends.clear()
    return "redis"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """What a process keeps for a few seconds (the typing preview setting, label suggestions) is not
    carried from one test's database into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _rate_limits_in_memory(settings):
    """Rate limits (chat/limits.py) count in this process's memory, from zero in each test, with their
    defaults unless the test sets RATE_LIMITS; ``limits_on_redis`` counts them in Redis instead."""
    from chat import limits

    settings.RATE_LIMIT_REDIS_URL = ""
    limits.reset()
    yield
    limits.reset()


@pytest.fixture
def limits_on_redis(settings, _rate_limits_in_memory):
    """The rate limits count in the Redis at REDIS_URL, under a prefix of this test's own."""
    from chat import limits

    require(bool(REDIS_URL) and _answers(REDIS_URL), f"Redis is not reachable at REDIS_URL={REDIS_URL or '(unset)'}")
    settings.RATE_LIMIT_REDIS_URL = REDIS_URL
    settings.RATE_LIMIT_PREFIX = f"test-{uuid.uuid4().hex[:10]}:limits:"
    limits.reset()
    return "redis"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limits_store(request):
    """Run the test once with the limits counted in memory and once in Redis."""
    if request.param == "redis":
        request.getfixturevalue("limits_on_redis")
    return request.param


@pytest.fixture(scope="session", autouse=True)
def _close_pool_before_test_database_teardown(django_db_setup, django_db_blocker):
    """The psycopg pool, shared by every thread that ran a consumer's database call, keeps
    connections to the test database open; PostgreSQL will not drop a database in use. Close the
    pool and end what is left of its sessions before the test database is dropped."""
    yield
    from django.db import connections

    for connection in connections.all():
        if connection.vendor != "postgresql":
            continue
        name = connection.settings_dict["NAME"]
        if connection.pool is not None:
            connection.close_pool()
        with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
