"""Fresh servers for the benchmark: a database made anew on the local PostgreSQL server, daphne in its
own process, and that process's CPU time and memory read from /proc.

The product runs as production would (``DEBUG=0``, a ``SECRET_KEY``, ``DATABASE_URL`` to its own
database, ``REDIS_URL`` with its own ``CHANNEL_PREFIX``); the floor gets the same environment with
its own database and prefix, and takes its pool and layer settings from the product's settings
module.
"""

import os
import secrets
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
                 agents: int = 0, agent_password: str = ""):
        assert kind in ("product", "floor")
        require_loopback(postgres)
        require_loopback(redis)
        self.kind = kind
        self.postgres, self.redis, self.database = postgres, redis, database
        self.workdir = workdir
        self.log = workdir / f"{kind}-daphne.log"
        self.agents, self.agent_password = agents, agent_password
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
            DEBUG="0", SECRET_KEY="bench-" + secrets.token_urlsafe(40), ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=f"{self.postgres}/{self.database}", REDIS_URL=self.redis,
            CHANNEL_PREFIX=f"bench-{self.kind}-{secrets.token_hex(4)}", LOG_LEVEL="WARNING", DEMO_SITE="0",
            PYTHONUNBUFFERED="1",
            DJANGO_SETTINGS_MODULE="helpdesk.settings" if self.kind == "product" else "bench.floor.settings",
            BENCH_AGENTS=str(self.agents), BENCH_AGENT_PASSWORD=self.agent_password,
        )
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
