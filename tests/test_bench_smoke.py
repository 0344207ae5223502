"""A smoke run of the benchmark (bench/): a few chats for a few seconds on both servers, the product
and the floor, started fresh on this machine's PostgreSQL and Redis, then the faults test on the
product (a Redis of its own killed and started again, then daphne). It proves the harness works and
loses nothing; it does not judge speed."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[1]
TESTS = ("steady", "drafts", "max", "flood", "reconnect")


def _postgres_server() -> str:
    """The PostgreSQL server of DATABASE_URL (the bench makes its own databases there), else local."""
    if os.environ.get("BENCH_POSTGRES"):
        return os.environ["BENCH_POSTGRES"]
    url = urlparse(os.environ.get("DATABASE_URL", ""))
    if url.scheme.startswith("postgres") and url.hostname:
        return f"{url.scheme}://{url.netloc}"
    return "postgres://postgres@127.0.0.1:5432"


POSTGRES = _postgres_server()
REDIS = os.environ.get("BENCH_REDIS") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def _answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname, parsed.port or default_port), 1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    require(_answers(POSTGRES, 5432), f"PostgreSQL is not reachable at {POSTGRES} (the bench needs it)")
    require(_answers(REDIS, 6379), f"Redis is not reachable at {REDIS} (the bench needs it)")
    require(shutil.which("redis-server") or os.access("/usr/bin/redis-server", os.X_OK),
            "redis-server is not installed (the faults test starts one of its own)")
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    env = {**os.environ, "BENCH_POSTGRES": POSTGRES, "BENCH_REDIS": REDIS}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--preset", "smoke", "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=260,
    )
    assert out.exists(), f"the bench wrote no results:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run, json.loads(out.read_text())


@pytest.mark.redis
@pytest.mark.parametrize("server", ["product", "floor"])
def test_smoke_run_loses_nothing(smoke_run, server):
    run, results = smoke_run
    tests = results["servers"][server]
    assert "error" not in tests, tests.get("error")
    for name in TESTS:
        result = tests[name]
        assert "error" not in result, f"{server} {name}: {result['error']}\n{run.stdout[-2000:]}"
        assert result["sent"] > 0, f"{server} {name} sent nothing"
        assert result["lost"] == 0, f"{server} {name}: {result}"
        assert result["duplicated"] == 0, f"{server} {name}: {result}"
        assert result["delivered"] == result["sent"], f"{server} {name}: {result}"
        assert result["stored"] == result["sent"], f"{server} {name}: {result}"
    assert tests["reconnect"]["cuts"] > 0
    assert tests["drafts"]["typing_received"] > 0
    idle = tests["idle"]
    assert "error" not in idle, idle["error"]
    assert idle["sockets"] > 0 and idle["new_visitor_after_mass_close"]


@pytest.mark.redis
def test_smoke_faults_lose_nothing_on_the_product(smoke_run):
    """Across a Redis kill and a daphne kill, as the receiving clients counted it: nothing lost,
    duplicated or out of order, both faults recovered from, and each client's state equal to a fresh
    read from seq 0. The floor is not put through it."""
    run, results = smoke_run
    faults = results["servers"]["product"]["faults"]
    assert "error" not in faults, f"{faults['error']}\n{run.stdout[-2000:]}"
    for fault in ("redis", "daphne"):
        assert faults[f"{fault}_sent"] > 0 and faults[f"{fault}_sent_during"] > 0, faults
        for key in ("lost", "duplicated", "out_of_order"):
            assert faults[f"{fault}_{key}"] == 0, f"{fault} {key}: {faults}"
        assert faults[f"{fault}_recovery_s"] is not None, faults
    assert faults["state_differences"] == 0, faults["state_examples"]
    assert faults["stored"] == faults["sent"] == faults["acked"], faults
    assert faults["clients"].get("live_degraded", 0) > 0, "no client was told live delivery was degraded"
    assert faults["clients"]["connections"] > faults["chats"], "no client reconnected after daphne was killed"
    assert "not_run" in results["servers"]["floor"]["faults"]


@pytest.mark.redis
def test_smoke_run_prints_the_table(smoke_run):
    run, _ = smoke_run
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert "| test | figure | product | floor | product ÷ floor |" in run.stdout


@pytest.mark.redis
def test_smoke_transcript_emails_arrive_once(smoke_run):
    """End Chat to the transcript email accepted by SMTP, through a real worker: every email arrives,
    once. The floor sends no email."""
    run, results = smoke_run
    transcript = results["servers"]["product"]["transcript"]
    assert "error" not in transcript, f"{transcript['error']}\n{run.stdout[-2000:]}"
    assert transcript["chats"] > 0 and transcript["delivered"] == transcript["chats"], transcript
    assert transcript["lost"] == 0 and transcript["duplicated"] == 0, transcript
    assert transcript["p99_s"] is not None and transcript["from"] == "chat_end commit", transcript
    assert "not_run" in results["servers"]["floor"]["transcript"]
