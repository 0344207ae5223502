"""A real Celery worker in its own process (``celery -A helpdesk worker``), on the test database and
the Redis broker, on a queue of its own: other test runs on the same Redis neither take its tasks nor
give it theirs. The test process sends to that queue (``CELERY_TASK_DEFAULT_QUEUE``, which
helpdesk/tasks.py names at each send)."""

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL
from tests.live_server import ROOT, server_env


def worker_env(db: dict, queue: str, extra: dict | None = None) -> dict:
    """The product's settings on the test database (``db``: its settings dict), the test's SECRET_KEY
    (links it signs can be checked here), Redis as the broker, ``queue`` as the queue."""
    return server_env(db, redis_url=REDIS_URL, extra={"CELERY_QUEUE": queue, "LOG_LEVEL": "INFO", **(extra or {})})


class CeleryWorker:
    def __init__(self, env: dict, log: Path, *, beat: bool = False, workdir: Path | None = None):
        self.env, self.log, self.beat = env, log, beat
        self.queue = env["CELERY_QUEUE"]
        self.workdir = workdir or log.parent
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "CeleryWorker":
        celery = Path(sys.executable).with_name("celery")
        args = [str(celery), "-A", "helpdesk", "worker", "--pool=solo", "--loglevel=INFO",
                "-n", f"{self.queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        if self.beat:
            args += ["--beat", "--schedule", str(self.workdir / f"beat-{self.queue}")]
        start = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while " ready." not in self.log.read_text(errors="replace")[start:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the Celery worker did not start:\n{self.tail()}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # warm shutdown: the task under way finishes, held messages go back
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def new_queue() -> str:
    return f"test-mail-{uuid.uuid4().hex[:10]}"


def queue_length(queue: str) -> int:
    return redis.Redis.from_url(REDIS_URL).llen(queue)


def forget_queue(queue: str) -> None:
    """Delete what kombu keeps in Redis for ``queue``."""
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
