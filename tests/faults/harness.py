"""What the drills break, started on loopback: a Redis server of their own (so that it can be
SIGKILLed and started again on the same port) and two daphne processes of the app on it and on the
test database."""

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.live_server import LiveHelpdesk, free_port, server_env

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def redis_server_installed() -> bool:
    return os.access(REDIS_SERVER, os.X_OK)


class RedisServer:
    """``redis-server`` on a fixed loopback port, with nothing persisted: a restart is empty, as
    after a crash of a cache that keeps no data."""

    def __init__(self, log: Path):
        self.port = free_port("127.0.0.1")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no"],
                stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"redis-server did not start on port {self.port}:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: every connection is reset and every subscription forgotten, at once."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Fleet:
    """Two daphne processes of the app sharing the test database and ``redis``."""

    def __init__(self, db: dict, redis: RedisServer, logs: Path, extra: dict | None = None,
                 daphne_args: tuple[str, ...] = ()):
        self.redis = redis
        env = server_env(db, redis_url=redis.url, channel_prefix=f"faults-{uuid.uuid4().hex[:8]}", extra=extra)
        self.servers = [LiveHelpdesk(env, logs / f"daphne-{i}.log", daphne_args) for i in range(2)]

    def __getitem__(self, index: int) -> LiveHelpdesk:
        return self.servers[index]

    def urls(self, *indexes: int) -> list[str]:
        return [self.servers[i].url for i in indexes]

    def ensure(self) -> None:
        """Everything up, whatever the previous drill left: Redis first (daphne's health check
        needs it), then each daphne that is not running."""
        if not self.redis.alive or not self.redis.answers():
            self.redis.kill()
            self.redis.start()
        for server in self.servers:
            if not server.alive:
                server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def log_tail(self, index: int, chars: int = 3000) -> str:
        return self.servers[index].log.read_text(errors="replace")[-chars:]
