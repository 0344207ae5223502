"""Races on purpose: the same call from several threads, released at the same instant."""

import threading

import pytest
from django.db import connection


def needs_concurrent_writers() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")


def run_at_once(times: int, call) -> list:
    """``call()`` in ``times`` threads at once; their results. Each thread closes its connection."""
    barrier = threading.Barrier(times)
    results = []

    def run():
        barrier.wait()
        try:
            results.append(call())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
