"""The transcript test (product only): End Chat to the transcript email accepted by an SMTP server.

On the product's benchmark database, with a real Celery worker started as ``make worker`` starts it
(``celery -A helpdesk worker --beat``: prefork, one process per core) on the bench's Redis (a queue of
its own) and an SMTP server on loopback in this process (aiosmtpd), ``bench.transcript_driver`` makes
``transcript_chats`` chats and ends them at ``transcript_rate`` a second through
``chat.services.chat_end``, the service an agent's End Chat frame calls. Latency runs from the moment
that transaction commits to the moment the SMTP server accepts the email (its reply to DATA), both read
from ``time.time()`` on this machine. Not included: the websocket frame before the service, which the
other tests measure.

Every email is matched by its Message-ID: *lost* = never accepted within ``drain_seconds``;
*duplicated* = accepted more than once.
"""

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from email.parser import BytesHeaderParser
from pathlib import Path

from .clients import BenchError
from .ledger import percentile
from .servers import ROOT, _free_port

TARGET_P99_S = 30.0


class MailSink:
    """An SMTP server on loopback that notes when it accepted each Message-ID."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.port = _free_port()
        self.accepted: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        headers = BytesHeaderParser().parsebytes(envelope.content)
        with self.lock:
            self.accepted.setdefault(str(headers.get("Message-ID", "")), []).append(time.time())
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def count(self, ids: set[str]) -> int:
        with self.lock:
            return sum(1 for i in ids if i in self.accepted)


def _env(base: dict, *, queue: str, smtp_port: int) -> dict:
    env = dict(base)
    env.update(CELERY_QUEUE=queue, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port), EMAIL_TIMEOUT="10",
               DEFAULT_FROM_EMAIL="helpdesk@bench.example", HELPDESK_BASE_URL="http://127.0.0.1:8000",
               LOG_LEVEL="WARNING")
    return env


def run_transcript(sizes, *, product_env: dict, redis_url: str, workdir: Path, log=print) -> dict:
    """``product_env``: the product server's environment (its DATABASE_URL, REDIS_URL, SECRET_KEY …)."""
    import redis

    queue = f"bench-mail-{secrets.token_hex(4)}"
    sink = MailSink()
    sink.start()
    env = _env(product_env, queue=queue, smtp_port=sink.port)
    worker_log = workdir / "transcript-worker.log"
    celery = Path(sys.executable).with_name("celery")
    worker = None
    try:
        with worker_log.open("ab") as out:
            worker = subprocess.Popen(
                [str(celery), "-A", "helpdesk", "worker", "--beat", "--loglevel=info", "-n", f"{queue}@%h",
                 "--schedule", str(workdir / "transcript-beat-schedule")],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while " ready." not in worker_log.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the Celery worker did not start:\n{worker_log.read_text()[-3000:]}")
            time.sleep(0.1)
        log(f"  product: transcript: worker ready, {sizes.transcript_chats} chats ending at "
            f"{sizes.transcript_rate:g}/s")
        driver = subprocess.run(
            [sys.executable, "-m", "bench.transcript_driver", "--chats", str(sizes.transcript_chats),
             "--rate", str(sizes.transcript_rate), "--messages", str(sizes.transcript_messages)],
            cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=120 + sizes.transcript_chats * (1 + 1 / sizes.transcript_rate))
        if driver.returncode != 0:
            raise BenchError(f"the transcript driver failed:\n{driver.stdout[-1500:]}\n{driver.stderr[-3000:]}")
        ended = [json.loads(line) for line in driver.stdout.splitlines() if line.startswith('{"email"')]
        ids = {e["message_id"] for e in ended}
        deadline = time.monotonic() + sizes.drain_seconds
        while sink.count(ids) < len(ids) and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
        with sink.lock:
            accepted = {k: list(v) for k, v in sink.accepted.items()}
        latencies = [accepted[e["message_id"]][0] - e["committed"] for e in ended if e["message_id"] in accepted]
        sources = sorted({e["from"] for e in ended})
        result = {
            "chats": len(ended), "sent": len(ended), "delivered": len(latencies),
            "lost": len(ended) - len(latencies),
            "duplicated": sum(len(accepted[i]) - 1 for i in ids if i in accepted),
            "p50_s": percentile(latencies, 50), "p99_s": percentile(latencies, 99),
            "max_s": max(latencies) if latencies else None,
            "from": "chat_end commit" if sources == ["chat_end"] else "transcript email request commit "
                    "(chat_end did not ask for the email)",
            "rate": sizes.transcript_rate, "worker": "celery -A helpdesk worker --beat (prefork, "
            f"{os.cpu_count()} processes)", "queue": queue,
        }
        if result["lost"]:
            result["error"] = (f"{result['lost']} of {len(ended)} transcript emails were not accepted within "
                               f"{sizes.drain_seconds:g} s (worker log: {worker_log})")
        return result
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        sink.stop()
        try:
            redis.Redis.from_url(redis_url).delete(queue, f"_kombu.binding.{queue}",
                                                   f"_kombu.binding_permanent.{queue}")
        except Exception:  # cleaning up only
            pass
