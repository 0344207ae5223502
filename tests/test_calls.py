"""A dead database connection never reaches a client: the pool checks a connection as it hands it out,
and a call whose connection died under it is retried once, on a fresh one (chat/calls.py)."""

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, connection

from chat import calls

from .conftest import require

pytestmark = [pytest.mark.django_db(transaction=True)]


def _on_postgresql():
    require(connection.vendor == "postgresql", "terminating backends needs PostgreSQL (DATABASE_URL=postgres://…)")


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate(pid: int) -> bool:
    """As an operator's pg_terminate_backend would, from another session."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        return cursor.fetchone()[0]


async def test_a_connection_killed_in_the_pool_is_not_handed_out():
    _on_postgresql()
    pooled = await calls.db(_backend_pid)()  # back in the pool, idle, when the call returns
    assert await sync_to_async(_terminate, thread_sensitive=False)(pooled)
    tries = []

    def counted():
        tries.append(_backend_pid())
        return tries[-1]

    assert await calls.db(counted)() != pooled
    assert len(tries) == 1, "the pool's check caught it: the call itself did not need its retry"


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
