"""A dead database connection never reaches a client: a call whose connection died, in the pool or
under it, is retried once on a live one, after the pool dropped its dead idle connections
(chat/calls.py)."""

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, connection

from chat import calls

from .conftest import require

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_dead_connection_left_for_the_flush():
    """These tests terminate pooled backends. The test database's flush after each one takes a pooled
    connection on this thread: let it not be one of the dead ones (which test order decides)."""
    yield
    connection.close()
    if getattr(connection, "pool", None) is not None:
        connection.pool.check()


def _on_postgresql():
    require(connection.vendor == "postgresql", "terminating backends needs PostgreSQL (DATABASE_URL=postgres://…)")


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate(pid: int) -> bool:
    """As an operator's pg_terminate_backend would, from a session of its own (not the pool's)."""
    import psycopg

    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                         password=db["PASSWORD"] or None, dbname=db["NAME"], autocommit=True) as admin:
        return admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]


async def test_connections_killed_in_the_pool_never_reach_the_caller():
    """Every idle connection terminated (a database restart, an operator): the call meets a dead one,
    the pool drops all dead idle ones at once, and the retry runs on a live one."""
    _on_postgresql()
    pooled = {await calls.db(_backend_pid)() for _ in range(3)}  # back in the pool, idle, after each call
    for pid in pooled:
        assert await sync_to_async(_terminate, thread_sensitive=False)(pid)
    tries = []

    def counted():
        tries.append(_backend_pid())
        return tries[-1]

    assert await calls.db(counted)() not in pooled
    assert len(tries) <= 2, "one retry at most"


async def test_a_call_whose_connection_dies_under_it_is_retried_once():
    _on_postgresql()
    tries = []

    def dies_the_first_time():
        tries.append(_backend_pid())
        if len(tries) == 1:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return "stored"

    assert await calls.db(dies_the_first_time)() == "stored"
    assert len(tries) == 2 and tries[0] != tries[1], "retried once, on another connection"


async def test_a_connection_that_keeps_dying_gives_up_after_one_retry():
    _on_postgresql()
    tries = []

    def always_dies():
        tries.append(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with pytest.raises(OperationalError):
        await calls.db(always_dies)()
    assert len(tries) == 2
