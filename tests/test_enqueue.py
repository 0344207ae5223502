"""helpdesk.tasks.enqueue_on_commit: after commit, never inside the transaction, and never holding the
request that asked while the broker is slow or away."""

import threading

import pytest
from django.db import transaction

from helpdesk.tasks import enqueue_on_commit

pytestmark = pytest.mark.django_db(transaction=True)


class SlowBroker:
    """A task whose publish waits until the test lets it go, as a publish to a Redis that does not
    answer waits on its timeouts."""

    name = "tests.slow"

    def __init__(self):
        self.release = threading.Event()
        self.published = threading.Event()

    def apply_async(self, args, kwargs, **options):
        self.release.wait(10)
        self.published.set()

    def apply(self, args=(), kwargs=None, **options):
        self.published.set()


def test_the_request_does_not_wait_on_the_broker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    task = SlowBroker()
    with transaction.atomic():
        enqueue_on_commit(task, 1)
        assert not task.published.is_set()
    # Committed: the publish is under way on another thread, and this one went on.
    assert not task.published.is_set()
    task.release.set()
    assert task.published.wait(5)


def test_nothing_is_enqueued_for_a_rollback(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    task = SlowBroker()
    task.release.set()
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            enqueue_on_commit(task, 1)
            raise RuntimeError("rolled back")
    marker = SlowBroker()  # enqueued after it: once the marker is out, the first would have been too
    marker.release.set()
    enqueue_on_commit(marker, 2)
    assert marker.published.wait(5)
    assert not task.published.is_set()


def test_a_broker_that_refuses_is_logged_not_raised(settings, caplog):
    settings.CELERY_TASK_ALWAYS_EAGER = False

    class Refusing(SlowBroker):
        def apply_async(self, args, kwargs, **options):
            self.published.set()
            raise ConnectionRefusedError("no broker")

    task = Refusing()
    with transaction.atomic():
        enqueue_on_commit(task, 1)
    assert task.published.wait(5)
    # The failure is the publisher thread's: logged there, with what to expect.
    for _ in range(50):
        if "its sweep will do it later" in caplog.text:
            break
        threading.Event().wait(0.05)
    assert "could not enqueue tests.slow; its sweep will do it later" in caplog.text
