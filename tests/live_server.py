"""The app under daphne in its own process, on the test database: for browser tests and for tests
of several processes sharing one Redis."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[1]


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def server_env(db: dict, *, embed_origins: str = "*", channel_prefix: str | None = None,
               redis_url: str | None = None, extra: dict | None = None) -> dict:
    """The environment of a daphne serving the app on the test database (``db``: its settings),
    on the Redis at ``redis_url`` (default: REDIS_URL), with ``extra`` settings on top."""
    # The product's own settings module, not the test run's (tests/settings.py).
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SQLITE_PATH", "DJANGO_SETTINGS_MODULE"}}
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        env["DATABASE_URL"] = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        env["SQLITE_PATH"] = str(db["NAME"])
    redis_url = redis_url or REDIS_URL
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["CHANNEL_PREFIX"] = channel_prefix or f"live-{uuid.uuid4().hex[:8]}"
        # Tasks these servers enqueue (transcript emails) go to a queue of their own, which no other
        # run's worker reads; a test that needs them delivered starts a worker on it (tests/worker.py).
        env["CELERY_QUEUE"] = f"live-{uuid.uuid4().hex[:8]}"
    # The test process's key: a session it makes (force_login) is then good on the servers too.
    env.update(DEBUG="0", SECRET_KEY=settings.SECRET_KEY, ALLOWED_HOSTS="127.0.0.1,localhost",
               CHAT_EMBED_ORIGINS=embed_origins, SERVE_STATIC="1", DEMO_SITE="1", PYTHONUNBUFFERED="1",
               # Clients resync by seq this often: a lost live event shows within seconds in a test.
               CHAT_RESYNC_SECONDS="2")
    env.update(extra or {})
    return env


class LiveHelpdesk:
    """daphne serving the app on a fixed port; ``restart()`` drops every socket, as a deploy would."""

    def __init__(self, env: dict, log: Path, args: tuple[str, ...] = ()):
        self.port = free_port("127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port}"
        self.env, self.log, self.args = env, log, args  # args: daphne's own options
        self.process = None

    def start(self) -> None:
        daphne = Path(sys.executable).with_name("daphne")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(daphne), "-b", "127.0.0.1", "-p", str(self.port), *self.args, "helpdesk.asgi:application"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"daphne did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill: no socket is closed cleanly, nothing is flushed."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()
