"""Fresh servers for the benchmark: a database made anew on the local PostgreSQL server, daphne in its
own process, and that process's CPU time and memory read from /proc.

The product runs as production would (``DEBUG=0``, a ``SECRET_KEY``, ``DATABASE_URL`` to its own
database, ``REDIS_URL`` with its own ``CHANNEL_PREFIX``); the floor gets the same environment with
its own database and prefix, and takes its pool and layer settings from the product's settings
module.

For the faults test the bench also starts a Redis server of its own (``RedisServer``: nothing
persisted, so a restart comes back empty, as a cache that crashed does) and a product daphne on it
that it can SIGKILL and start again on the same port (``FaultRig``).
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
from psycopg import sql

from .clients import BenchError, require_loopback

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

# Variables of the calling shell that would change what is measured; the bench sets its own.
_OWN_VARIABLES = {
    "DATABASE_URL", "REDIS_URL", "CHANNEL_PREFIX", "DJANGO_SETTINGS_MODULE", "SQLITE_PATH", "DEBUG", "SECRET_KEY",
    "ALLOWED_HOSTS", "CHAT_EMBED_ORIGINS", "CSRF_TRUSTED_ORIGINS", "TRUSTED_PROXIES", "LOG_LEVEL", "DEMO_SITE",
    "SERVE_STATIC", "PYTHONPATH",
}


class ProcProbe:
    """CPU seconds (user + system, all threads) and resident memory of one process."""

    def __init__(self, pid: int):
        self.pid = pid

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # After "pid (comm)": state is field 3, utime 14 and stime 15 (proc(5)), so indices 11 and 12 here.
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_KB


class PgProbe:
    """CPU time of the PostgreSQL backends serving one database, from /proc (the database server runs
    on this machine). ``snapshot()`` maps backend pid to CPU seconds; ``between(a, b)`` is the CPU
    used from one snapshot to the next (a backend that exited in between is not counted)."""

    def __init__(self, server_url: str, database: str):
        self.server_url, self.database = server_url, database

    def snapshot(self) -> dict[int, float]:
        with psycopg.connect(f"{self.server_url}/postgres", autocommit=True) as conn:
            pids = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])]
        out = {}
        for pid in pids:
            try:
                out[pid] = ProcProbe(pid).cpu_seconds()
            except OSError:
                continue
        return out

    @staticmethod
    def between(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def recreate_database(server_url: str, name: str) -> None:
    require_loopback(server_url)
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(server_url: str, name: str) -> None:
    require_loopback(server_url)
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def server_version(server_url: str) -> str:
    with psycopg.connect(f"{server_url}/postgres") as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


class Server:
    """One server under test. ``kind`` is ``product`` or ``floor``."""

    def __init__(self, kind: str, *, postgres: str, redis: str, database: str, workdir: Path,
                 agents: int = 0, agent_password: str = "", name: str | None = None, settings: dict | None = None):
        assert kind in ("product", "floor")
        require_loopback(postgres)
        require_loopback(redis)
        self.kind = kind
        self.postgres, self.redis, self.database = postgres, redis, database
        self.workdir = workdir
        self.log = workdir / f"{name or kind}-daphne.log"
        self.agents, self.agent_password = agents, agent_password
        self.settings = settings or {}  # more environment variables (product settings)
        # Drawn once: a restarted process (faults test) must read the sessions signed before it.
        self.secret_key = "bench-" + secrets.token_urlsafe(40)
        self.channel_prefix = f"bench-{kind}-{secrets.token_hex(4)}"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.probe: ProcProbe | None = None
        self.db_probe = PgProbe(postgres, database)

    @property
    def credentials(self) -> list[tuple[str, str]]:
        return [(f"bench-agent-{i}", self.agent_password) for i in range(self.agents)]

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in _OWN_VARIABLES}
        env.update(
            DEBUG="0", SECRET_KEY=self.secret_key, ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=f"{self.postgres}/{self.database}", REDIS_URL=self.redis,
            CHANNEL_PREFIX=self.channel_prefix, LOG_LEVEL="WARNING", DEMO_SITE="0",
            PYTHONUNBUFFERED="1",
            DJANGO_SETTINGS_MODULE="helpdesk.settings" if self.kind == "product" else "bench.floor.settings",
            BENCH_AGENTS=str(self.agents), BENCH_AGENT_PASSWORD=self.agent_password,
        )
        env.update(self.settings)
        return env

    def prepare(self) -> None:
        """A fresh database, migrated; the product also gets its agent logins."""
        recreate_database(self.postgres, self.database)
        command = ["-m", "bench.setup_product"] if self.kind == "product" else ["-m", "django", "migrate", "--noinput"]
        result = subprocess.run([sys.executable, *command], cwd=ROOT, env=self.env(), capture_output=True, text=True)
        if result.returncode != 0:
            output = result.stdout[-2000:] + result.stderr[-3000:]
            raise BenchError(f"preparing the {self.kind} database failed:\n{output}")

    def start(self) -> None:
        """Start daphne (again, after ``kill``: on the same port) and wait until it answers."""
        app = "helpdesk.asgi:application" if self.kind == "product" else "bench.floor.asgi:application"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), app],
                cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT,
            )
        self.probe = ProcProbe(self.process.pid)
        ready = f"{self.url}/healthz" if self.kind == "product" else f"{self.url}/"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(ready, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"{self.kind} daphne did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, every socket dropped without a close frame, work under way gone."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text()[-chars:]
        except OSError:
            return ""


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """``redis-server`` on a loopback port of its own, persisting nothing."""

    def __init__(self, workdir: Path):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = workdir / "faults-redis.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> None:
        """Start it (again, after ``kill``: on the same port) and wait until it answers PING."""
        if not os.access(REDIS_SERVER, os.X_OK):
            raise BenchError(f"the faults test needs redis-server (not found at {REDIS_SERVER})")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise BenchError(f"redis-server did not start on port {self.port}:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.02)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: every connection reset, every subscription and key gone."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class FaultRig:
    """What the faults test may break: the Redis of its server, and its daphne process."""

    def __init__(self, redis: RedisServer, server: Server):
        self.redis, self.server = redis, server

    def kill_redis(self) -> None:
        self.redis.kill()

    def start_redis(self) -> None:
        self.redis.start()

    def kill_server(self) -> None:
        self.server.kill()

    def start_server(self) -> None:
        self.server.start()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
