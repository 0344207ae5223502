"""The tests, each run the same way against the product and the floor through their Driver (faults:
the product only).

- idle: ``idle_sockets`` visitor sockets on a fresh server: KB of RSS per socket, server CPU while idle.
- steady: ``steady_chats`` chats, ``steady_rate`` messages/s each from a random phase: p50/p95/p99 from
  the visitor's send to the agent's receipt, server CPU µs per message.
- drafts: steady, while each visitor types ``keystrokes``/s, sent as at most ``typing_rate`` drafts/s.
- max: ``max_chats`` chats with one message in flight each (closed loop): messages/s held, its p99.
- flood: ``flood_chats`` × ``flood_messages`` sent back to back: live, recovered by resume, lost, duplicated.
- reconnect: visitors cut every ``reconnect_every`` messages: lost and duplicated after resume.
- transcript (bench/transcript.py, the product only, not through this module): ``transcript_chats``
  chats ended at ``transcript_rate``/s, to the email accepted by an SMTP server through a real worker.
- faults: ``faults_chats`` chats and ``faults_agents`` consoles, every visitor and console sending
  ``faults_rate`` messages/s, while the Redis
  the server uses is SIGKILLed and started again ``faults_redis_down`` s later, then the daphne process
  is SIGKILLed and started again on its port: lost, duplicated and out of order as the receiving
  clients applied them, and the time from each fault's end until what was sent during it arrived.

Latency is measured in this one process: from the visitor queueing a message (sent at once when its
outbox has nothing in flight) to the agent applying it. CPU is the daphne process's user + system
time from /proc over the measured stretch (all its threads). After each test an auditing agent reads
every chat from the start and the ledger compares what was stored with what the receivers applied
(see ledger.py).
"""

import asyncio
import math
import string
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields

from .clients import BenchError, Conn, Driver
from .ledger import Ledger, now, percentile

MESSAGE = "Hello, I ordered a blue kettle last week and it has not arrived yet. Order {k}, can you check?"
LETTERS = string.ascii_lowercase + "     "
TESTS = ("idle", "steady", "drafts", "max", "flood", "reconnect", "faults", "transcript")


@dataclass
class Sizes:
    agents: int = 10
    idle_sockets: int = 1000
    idle_seconds: float = 10.0
    steady_chats: int = 200
    steady_seconds: float = 30.0
    steady_rate: float = 1.0  # messages a second per chat
    keystrokes: float = 10.0  # drafts: keystrokes a second per visitor
    typing_rate: float = 2.0  # drafts: at most this many typing frames a second per visitor (the widget)
    max_chats: int = 50
    max_seconds: float = 15.0
    flood_chats: int = 50
    flood_messages: int = 100
    reconnect_visitors: int = 100
    reconnect_messages: int = 20
    reconnect_every: int = 10
    reconnect_interval: float = 0.5  # seconds between one visitor's messages
    faults_chats: int = 100
    faults_agents: int = 25  # agent consoles (sockets; on the ``agents`` logins), each with its share of the chats
    faults_rate: float = 1.0  # messages a second from each visitor and from each console (to its chats in turn)
    faults_receipts: float = 0.5  # visitors' receipts, coalesced over this many seconds as the widget does (0: none)
    faults_before: float = 5.0  # seconds of load before Redis is killed
    faults_redis_down: float = 3.0  # seconds between killing Redis and starting it again
    faults_between: float = 12.0  # seconds from Redis being back to killing daphne
    faults_after: float = 10.0  # seconds of load after daphne is back
    transcript_chats: int = 50  # transcript (bench/transcript.py): chats ended, one after the other
    transcript_rate: float = 2.0  # chats ended a second
    transcript_messages: int = 10  # messages in each chat before it ends
    warmup_messages: int = 2  # steady, drafts, max: sent one at a time by each chat before measuring
    settle_seconds: float = 2.0  # quiet time before a measured stretch
    drain_seconds: float = 120.0  # how long to wait for a backlog and stragglers once sending stops

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


PRESETS = {
    "full": Sizes(),
    "smoke": Sizes(agents=2, idle_sockets=20, idle_seconds=1, steady_chats=4, steady_seconds=2, max_chats=3,
                   max_seconds=2, flood_chats=3, flood_messages=20, reconnect_visitors=4, reconnect_interval=0.05,
                   faults_chats=4, faults_agents=2, faults_before=1, faults_between=4, faults_after=4,
                   transcript_chats=3, transcript_rate=5, transcript_messages=3,
                   warmup_messages=1, settle_seconds=0.3, drain_seconds=20),
}


class Context:
    """What a test needs: the driver, the sizes, the server's /proc probe (None for a server the
    bench did not start), a random source, an optional profiler, and every socket it opened (closed
    after the test, whatever happened)."""

    def __init__(self, driver: Driver, sizes: Sizes, probe, rng, profiler=None, nonce: str = "b", db_probe=None,
                 faults=None):
        self.driver, self.sizes, self.probe, self.rng, self.profiler = driver, sizes, probe, rng, profiler
        self.db_probe = db_probe
        self.faults = faults  # what the faults test breaks (servers.FaultRig), when the bench started the server
        self.auditor = None
        self.nonce = nonce
        self.conns: list[Conn] = []
        self.typing_sent = 0

    def track(self, conn: Conn) -> Conn:
        self.conns.append(conn)
        return conn

    async def close_all(self) -> None:
        conns, self.conns = self.conns, []
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)


class Window:
    """A measured stretch: wall time, the server's CPU time, the load generator's own CPU share."""

    def __init__(self, ctx: Context, name: str):
        self.ctx, self.name = ctx, name
        self.t0 = now()
        self.cpu0 = ctx.probe.cpu_seconds() if ctx.probe else None
        self.own0 = time.process_time()
        self.db0 = ctx.db_probe.snapshot() if ctx.db_probe else None
        if ctx.profiler:
            ctx.profiler.start(f"{ctx.driver.kind}-{name}")

    def stop(self) -> dict:
        seconds = now() - self.t0
        if self.ctx.profiler:
            self.ctx.profiler.stop()
        cpu = self.ctx.probe.cpu_seconds() - self.cpu0 if self.ctx.probe else None
        db = self.ctx.db_probe.between(self.db0, self.ctx.db_probe.snapshot()) if self.ctx.db_probe else None
        return {"seconds": seconds, "server_cpu_s": cpu, "db_cpu_s": db,
                "loadgen_cpu_pct": 100 * (time.process_time() - self.own0) / seconds}


async def sleep_until(at: float) -> None:
    delay = at - now()
    if delay > 0:
        await asyncio.sleep(delay)


# --- Shared steps -----------------------------------------------------------------------------------


async def open_agents(ctx: Context) -> list:
    agents = await asyncio.gather(*(ctx.driver.new_agent(i) for i in range(ctx.sizes.agents)))
    return [ctx.track(a) for a in agents]


async def open_chats(ctx: Context, agents: list, count: int, test: str) -> list:
    """``count`` chats, the i-th taken by agent i mod the agents (20 being opened at a time)."""
    gate = asyncio.Semaphore(20)

    async def one(i: int):
        async with gate:
            visitor = await ctx.driver.open_chat(f"{ctx.nonce}-{test}-{i}", agents[i % len(agents)])
            return ctx.track(visitor)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def drain(ctx: Context, senders: list, seconds: float, quiet: float = 3) -> None:
    """Wait, within ``seconds``, first until every message sent has been acknowledged (the server
    stored and published it; a saturated server may still be working through a backlog), then until
    every one has reached its receiver. Each phase ends early when nothing has moved for a while."""
    ledger = ctx.driver.ledger
    deadline = now() + seconds
    await _wait_for(lambda: not any(c.outbox for c in senders), lambda: len(ledger.acked), deadline, quiet=10)
    await _wait_for(ledger.all_live, lambda: len(ledger.first_live), deadline, quiet=quiet)


async def _wait_for(done, progress, deadline: float, quiet: float) -> None:
    last, moved = -1, now()
    while now() < deadline and not done():
        if progress() != last:
            last, moved = progress(), now()
        elif now() - moved > quiet:
            return
        await asyncio.sleep(0.02)


async def audit(ctx: Context, visitors: list) -> dict:
    """Resume every chat from the start on a fresh agent socket: what the server says it stored."""
    auditor = ctx.auditor = ctx.track(await ctx.driver.new_agent(0, audit=True))
    gate = asyncio.Semaphore(10)

    async def one(chat: str) -> None:
        async with gate:
            await auditor.audit(chat)

    await asyncio.gather(*(one(v.chat) for v in visitors))
    return ctx.driver.ledger.accounting()


async def warm_up(ctx: Context, visitors: list, test: str) -> None:
    """Each chat sends ``warmup_messages``, one at a time, before the measured stretch, so that first
    uses (connections, caches, code paths) are not what the test measures. They are accounted for
    like every other message but are outside the measured window."""
    ledger = ctx.driver.ledger

    async def one(visitor) -> None:
        for k in range(ctx.sizes.warmup_messages):
            client_id = f"{test}-warm-{visitor.name}-{k}"
            received = ledger.waiter(client_id)
            await visitor.send_message(client_id, MESSAGE.format(k=k))
            try:
                await asyncio.wait_for(received, 10)
            except TimeoutError:
                pass

    await asyncio.gather(*(one(v) for v in visitors))
    await drain(ctx, visitors, ctx.sizes.drain_seconds)


def latency_figures(latencies: list[float]) -> dict:
    return {"p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99), "samples": len(latencies)}


def per_message_us(window: dict, messages: int, key: str = "server_cpu_s") -> float | None:
    if window[key] is None or not messages:
        return None
    return window[key] * 1e6 / messages


def cpu_figures(window: dict, messages: int) -> dict:
    """Server (daphne) and database (its PostgreSQL backends) CPU per message."""
    return {"cpu_us_per_msg": per_message_us(window, messages),
            "db_cpu_us_per_msg": per_message_us(window, messages, "db_cpu_s")}


# --- The tests ----------------------------------------------------------------------------------------


async def measure_idle(ctx: Context) -> dict:
    """Open sockets on a fresh server and leave them idle: memory per socket and idle CPU. Then close
    them all at once (more than 100 on the Redis layer, see DESIGN.md) and check the server still
    takes a new visitor."""
    s, driver = ctx.sizes, ctx.driver
    for i in range(10):  # warm the server up first, so that its first-use costs are not counted
        ctx.track(await driver.open_idle(f"{ctx.nonce}-warm-{i}"))
    await asyncio.sleep(1)
    rss0 = ctx.probe.rss_kb() if ctx.probe else None
    gate = asyncio.Semaphore(50)
    idle: list = []

    async def one(i: int) -> None:
        async with gate:
            idle.append(await driver.open_idle(f"{ctx.nonce}-idle-{i}"))

    try:
        await asyncio.gather(*(one(i) for i in range(s.idle_sockets)))
    finally:
        for visitor in idle:
            ctx.track(visitor)
    await asyncio.sleep(max(s.settle_seconds, 1))
    rss1 = ctx.probe.rss_kb() if ctx.probe else None
    window = Window(ctx, "idle")
    await asyncio.sleep(s.idle_seconds)
    w = window.stop()
    await asyncio.gather(*(v.close() for v in idle), return_exceptions=True)
    await asyncio.sleep(1)
    try:
        ctx.track(await driver.open_idle(f"{ctx.nonce}-after-idle"))
        survived = True
    except BenchError:
        survived = False
    return {
        "sockets": len(idle),
        "kb_per_socket": (rss1 - rss0) / len(idle) if ctx.probe else None,
        "rss_before_mb": rss0 / 1024 if ctx.probe else None,
        "rss_after_mb": rss1 / 1024 if ctx.probe else None,
        "idle_cpu_pct": 100 * w["server_cpu_s"] / w["seconds"] if ctx.probe else None,
        "new_visitor_after_mass_close": survived,
        "loadgen_cpu_pct": w["loadgen_cpu_pct"],
    }


async def _sender(ctx: Context, visitor, test: str, start: float, end: float) -> None:
    """Messages at ``steady_rate`` a second from a random phase; a sent message clears the draft."""
    rate = ctx.sizes.steady_rate
    phase = ctx.rng.random() / rate
    k = 0
    while (at := start + phase + k / rate) < end:
        await sleep_until(at)
        visitor.draft = visitor.draft_sent = ""
        await visitor.send_message(f"{test}-{visitor.name}-{k}", MESSAGE.format(k=k))
        k += 1


async def _typist(ctx: Context, visitor, start: float, end: float) -> None:
    """Keystrokes at ``keystrokes`` a second, sent as the widget sends them: at most ``typing_rate``
    typing frames a second, each with the latest text."""
    step, gap = 1 / ctx.sizes.keystrokes, 1 / ctx.sizes.typing_rate
    at = start + ctx.rng.random() * step
    while at < end:
        await sleep_until(at)
        visitor.draft += ctx.rng.choice(LETTERS)
        if now() >= visitor.next_typing and visitor.draft != visitor.draft_sent:
            visitor.draft_sent, visitor.next_typing = visitor.draft, now() + gap
            ctx.typing_sent += 1
            await visitor.send_typing(visitor.draft)
        at += step


async def measure_steady(ctx: Context, *, drafts: bool = False) -> dict:
    s, driver = ctx.sizes, ctx.driver
    name = "drafts" if drafts else "steady"
    driver.ledger = ledger = Ledger()
    agents = await open_agents(ctx)
    visitors = await open_chats(ctx, agents, s.steady_chats, name)
    await warm_up(ctx, visitors, name)
    await asyncio.sleep(s.settle_seconds)
    typing_received = driver.typing_received
    window = Window(ctx, name)
    start = window.t0 + 0.01
    end = start + s.steady_seconds
    tasks = [_sender(ctx, v, name, start, end) for v in visitors]
    if drafts:
        tasks += [_typist(ctx, v, start, end) for v in visitors]
    await asyncio.gather(*tasks)
    await drain(ctx, visitors, s.drain_seconds)
    w = window.stop()
    accounting = await audit(ctx, visitors)
    sent = ledger.sent_between(start, end)
    # Did the server keep up? Messages that reached an agent during the stretch, against those offered.
    kept_up = sum(1 for at in ledger.first_live.values() if start <= at <= end + 1) / max(sent, 1)
    result = {
        "chats": len(visitors), "seconds": s.steady_seconds, "rate": sent / s.steady_seconds,
        **latency_figures(ledger.latencies_ms(sent_from=start)),
        **cpu_figures(w, sent),
        "delivered_in_time_pct": 100 * kept_up, "saturated": kept_up < 0.95,
        "loadgen_cpu_pct": w["loadgen_cpu_pct"],
        **accounting,
    }
    if drafts:
        result["typing_sent"] = ctx.typing_sent
        result["typing_received"] = driver.typing_received - typing_received
    return result


async def measure_max(ctx: Context) -> dict:
    """Closed loop: each chat sends its next message when an agent got the last one (5 s at most)."""
    s, driver = ctx.sizes, ctx.driver
    driver.ledger = ledger = Ledger()
    agents = await open_agents(ctx)
    visitors = await open_chats(ctx, agents, s.max_chats, "max")
    await warm_up(ctx, visitors, "max")
    await asyncio.sleep(s.settle_seconds)
    window = Window(ctx, "max")
    end = window.t0 + s.max_seconds

    async def loop(visitor) -> None:
        k = 0
        while now() < end:
            client_id = f"max-{visitor.name}-{k}"
            received = ledger.waiter(client_id)
            await visitor.send_message(client_id, MESSAGE.format(k=k))
            try:
                await asyncio.wait_for(received, 5)
            except TimeoutError:
                pass  # not live: the audit tells whether it was stored
            k += 1

    await asyncio.gather(*(loop(v) for v in visitors))
    w = window.stop()
    await drain(ctx, visitors, s.drain_seconds)
    accounting = await audit(ctx, visitors)
    held = sum(1 for at in ledger.first_live.values() if window.t0 <= at <= end)
    return {
        "chats": len(visitors), "seconds": s.max_seconds, "rate": held / s.max_seconds,
        **latency_figures(ledger.latencies_ms(sent_from=window.t0, sent_until=end)),
        **cpu_figures(w, ledger.sent_between(window.t0, end)),
        "loadgen_cpu_pct": w["loadgen_cpu_pct"],
        **accounting,
    }


async def measure_flood(ctx: Context) -> dict:
    """Every visitor sends all its messages back to back, without waiting for anything."""
    s, driver = ctx.sizes, ctx.driver
    driver.ledger = Ledger()
    agents = await open_agents(ctx)
    visitors = await open_chats(ctx, agents, s.flood_chats, "flood")
    await asyncio.sleep(s.settle_seconds)
    window = Window(ctx, "flood")

    async def burst(visitor) -> None:
        for k in range(s.flood_messages):
            await visitor.send_message(f"flood-{visitor.name}-{k}", MESSAGE.format(k=k))

    await asyncio.gather(*(burst(v) for v in visitors))
    await drain(ctx, visitors, s.drain_seconds)
    w = window.stop()
    accounting = await audit(ctx, visitors)
    return {
        "chats": len(visitors), "messages_each": s.flood_messages, "seconds": w["seconds"],
        "rate": accounting["live"] / w["seconds"], **latency_figures(driver.ledger.latencies_ms()),
        **cpu_figures(w, accounting["sent"]), "loadgen_cpu_pct": w["loadgen_cpu_pct"],
        **accounting,
    }


async def measure_reconnect(ctx: Context) -> dict:
    """Each visitor's socket is cut (no close handshake) right after every ``reconnect_every``-th
    message, often before its ack; it reconnects (the product's client by itself, after its backoff),
    resumes (the product's from its level, the floor's from its last row id) and resends its outbox."""
    s, driver = ctx.sizes, ctx.driver
    driver.ledger = Ledger()
    agents = await open_agents(ctx)
    visitors = await open_chats(ctx, agents, s.reconnect_visitors, "reconnect")
    await asyncio.sleep(s.settle_seconds)
    window = Window(ctx, "reconnect")
    cuts = 0

    async def run(visitor) -> None:
        nonlocal cuts
        await asyncio.sleep(ctx.rng.random() * s.reconnect_interval)
        for k in range(s.reconnect_messages):
            await visitor.send_message(f"reconnect-{visitor.name}-{k}", MESSAGE.format(k=k))
            if (k + 1) % s.reconnect_every == 0:
                if ctx.rng.random() < 0.5:  # sometimes the frame reaches the server before the cut
                    await asyncio.sleep(ctx.rng.random() * 0.02)
                visitor.cut()
                cuts += 1
                await visitor.reconnect()
            else:
                await asyncio.sleep(s.reconnect_interval)

    await asyncio.gather(*(run(v) for v in visitors))
    await drain(ctx, visitors, s.drain_seconds)
    w = window.stop()
    accounting = await audit(ctx, visitors)
    return {
        "visitors": len(visitors), "messages_each": s.reconnect_messages, "cuts": cuts,
        "unacked": sum(len(v.outbox) for v in visitors), "loadgen_cpu_pct": w["loadgen_cpu_pct"], **accounting,
    }


async def measure_faults(ctx: Context) -> dict:
    """Steady load both ways (every visitor and every agent console sends ``faults_rate`` messages a
    second, a console to its chats in turn; visitors send receipts as the widget does), while (1) the
    Redis the server uses is SIGKILLed and started again, empty, ``faults_redis_down`` s later, and
    (2) the daphne process is SIGKILLed and started again on the same port. The clients find out by
    themselves (closes, ``live`` frames, holes) and do what the protocol asks; nothing here tells them.

    Counted on the receiving side, from what each client applied (live or in its own resumes), before
    the auditor's read. The two stretches meet halfway between Redis being back and daphne being
    killed; each message counts for the stretch it was sent in. A fault's recovery is the time from
    its end (Redis answering again; the new daphne answering ``/healthz``) until the last message sent
    during it was applied on the other side. Once the load stops, visitors stop sending receipts (a
    ping proves the last is handled) and every client resyncs once, as its timer would, so that the
    last seqs are in; then the clients stop and a fresh socket reads every chat from seq 0: each
    client's level must equal that read's, and each message must be held under the one seq it was
    stored with (``state_differences``)."""
    s, driver, rig = ctx.sizes, ctx.driver, ctx.faults
    if rig is None or driver.kind != "product":
        raise BenchError("the faults test needs a product server and a Redis that the bench started itself")
    driver.ledger = ledger = Ledger()
    agents = [ctx.track(a) for a in await asyncio.gather(*(driver.new_agent(i) for i in range(s.faults_agents)))]
    visitors = await open_chats(ctx, agents, s.faults_chats, "faults")
    agent_of = {v.chat: agents[i % len(agents)] for i, v in enumerate(visitors)}
    chats_of = {id(a): [v.chat for v in visitors if agent_of[v.chat] is a] for a in agents}
    for visitor in visitors:
        visitor.receipts = s.faults_receipts
    await asyncio.sleep(s.settle_seconds)
    marks: dict[str, float] = {}
    stop_at = math.inf
    start = now()

    async def paced(send) -> None:
        k, at = 0, start + ctx.rng.random() / s.faults_rate
        while at < stop_at:
            await sleep_until(at)
            if now() >= stop_at:
                return
            await send(k)
            k, at = k + 1, at + 1 / s.faults_rate

    async def break_things() -> None:
        nonlocal stop_at
        await sleep_until(start + s.faults_before)
        marks["redis_kill"] = now()
        await asyncio.to_thread(rig.kill_redis)
        await sleep_until(marks["redis_kill"] + s.faults_redis_down)
        await asyncio.to_thread(rig.start_redis)
        marks["redis_back"] = now()
        await sleep_until(marks["redis_back"] + s.faults_between)
        marks["daphne_kill"] = now()
        await asyncio.to_thread(rig.kill_server)
        await asyncio.to_thread(rig.start_server)
        marks["daphne_back"] = now()
        await sleep_until(marks["daphne_back"] + s.faults_after)
        stop_at = now()

    def console(agent):
        chats = chats_of[id(agent)]
        return lambda k: agent.send_to(chats[k % len(chats)], f"faults-a-{agent.name}-{k}")

    senders = [paced(lambda k, v=v: v.send_message(f"faults-v-{v.name}-{k}", MESSAGE.format(k=k))) for v in visitors]
    senders += [paced(console(a)) for a in agents if chats_of[id(a)]]
    await asyncio.gather(break_things(), *senders)
    await drain(ctx, [*visitors, *agents], s.drain_seconds, quiet=15)
    clients = [*visitors, *agents]
    holding = [c.describe() for c in clients if c.outbox][:5]
    for visitor in visitors:
        visitor.receipts = 0.0
    settled = True
    try:
        await asyncio.gather(*(v.ping() for v in visitors))
    except BenchError:
        settled = False
    settled = all(await asyncio.gather(*(c.resync() for c in clients))) and settled
    await asyncio.gather(*(c.close() for c in clients))  # what they hold is what they applied themselves

    boundary = (marks["redis_back"] + marks["daphne_kill"]) / 2
    ids = {"redis": [cid for cid, (_, at) in ledger.sent.items() if at < boundary],
           "daphne": [cid for cid, (_, at) in ledger.sent.items() if at >= boundary]}
    windows = {"redis": (marks["redis_kill"], marks["redis_back"]),
               "daphne": (marks["daphne_kill"], marks["daphne_back"])}
    result: dict = {"chats": len(visitors), "rate_each_side": s.faults_rate, "seconds": stop_at - start,
                    "redis_down_s": marks["redis_back"] - marks["redis_kill"],
                    "daphne_restart_s": marks["daphne_back"] - marks["daphne_kill"]}
    for fault, fault_ids in ids.items():
        flow = ledger.flow(fault_ids)
        began, ended = windows[fault]
        during = [cid for cid in fault_ids if began <= ledger.sent[cid][1] <= ended]
        last = ledger.last_applied(during)
        result.update({f"{fault}_{k}": v for k, v in flow.items()})
        result[f"{fault}_sent_during"] = len(during)
        result[f"{fault}_recovery_s"] = None if last is None else max(0.0, last - ended)
        # Where that time went: the slowest of them, from being queued to its ack, and to its receiver.
        slowest = sorted(during, key=lambda cid: ledger.first_live.get(cid, math.inf))[-3:]
        result[f"{fault}_slowest"] = [
            {"client_id": cid, "queued_s": round(ledger.sent[cid][1] - ended, 2),
             "acked_s": round(ledger.acked_at[cid] - ended, 2) if cid in ledger.acked_at else None,
             "applied_s": round(ledger.first_live[cid] - ended, 2) if cid in ledger.first_live else None,
             "via": ledger.first_via.get(cid)} for cid in slowest]
    # What the recoveries wait on: the server telling each client live delivery is back, and each
    # client's reconnect (the widget's backoff) once the new daphne answers.
    live_ok = [min((at for at, state in c.live_at if state == "ok" and at >= marks["redis_back"]), default=None)
               for c in clients]
    reconnected = [min((at for at in c.connected_at if at >= marks["daphne_kill"]), default=None) for c in clients]
    result["redis_last_live_ok_s"] = (None if None in live_ok or not live_ok
                                      else max(live_ok) - marks["redis_back"])
    result["daphne_last_reconnect_s"] = (None if None in reconnected or not reconnected
                                         else max(reconnected) - marks["daphne_back"])
    for side in ("visitor", "agent"):  # queued to acked, every message of that side
        waits = [(ledger.acked_at[cid] - at) * 1000 for cid, (_, at) in ledger.sent.items()
                 if ledger.sender[cid] == side and cid in ledger.acked_at]
        result[f"{side}_ack_p50_ms"], result[f"{side}_ack_p99_ms"] = percentile(waits, 50), percentile(waits, 99)
        before = [(ledger.acked_at[cid] - at) * 1000 for cid, (_, at) in ledger.sent.items()
                  if ledger.sender[cid] == side and cid in ledger.acked_at and at < marks["redis_kill"]]
        result[f"{side}_ack_p99_ms_before_faults"] = percentile(before, 99)
    overall = ledger.flow(list(ledger.sent))
    result.update({k: overall[k] for k in ("lost", "duplicated", "out_of_order", "received_by_resume")})

    accounting = await audit(ctx, visitors)
    fresh = ctx.auditor.cursors
    differences: list[str] = []
    for visitor in visitors:
        level = fresh[visitor.chat].level
        for client in (visitor, agent_of[visitor.chat]):
            cursor = client.cursors.get(visitor.chat)
            if cursor is None or cursor.level != level or cursor.above:
                differences.append(f"{client.name} {visitor.chat}: level {cursor and cursor.level} "
                                   f"(above {sorted(cursor.above)[:3] if cursor else []}), fresh read {level}")
    for cid in ledger.sent:
        stored, applied = ledger.stored_seqs[cid], {seq for seq, _, _ in ledger.applications[cid]}
        if applied != stored or (ledger.ack_seqs[cid] and ledger.ack_seqs[cid] != stored):
            differences.append(f"{cid}: stored {sorted(stored)}, applied {sorted(applied)}, "
                               f"acked {sorted(ledger.ack_seqs[cid])}")
    stats = sum((c.summary() for c in clients), Counter())
    result.update({
        "sent": accounting["sent"], "acked": accounting["acked"], "stored": accounting["stored"],
        "delivered": accounting["delivered"], "state_differences": len(differences),
        "state_examples": differences[:5], "unacked": sum(len(c.outbox) for c in clients), "holding": holding,
        "settled_before_the_read": settled,
        "clients": dict(sorted(stats.items())),
    })
    return result


RUNNERS = {
    "idle": measure_idle,
    "steady": measure_steady,
    "drafts": lambda ctx: measure_steady(ctx, drafts=True),
    "max": measure_max,
    "flood": measure_flood,
    "reconnect": measure_reconnect,
    "faults": measure_faults,
}


async def run_tests(driver: Driver, sizes: Sizes, tests: list[str], *, probe, rng, profiler=None,
                    nonce: str = "b", alive=lambda: True, log=print, db_probe=None, faults=None) -> dict:
    """Every test in ``tests`` on one server, in order (idle first: it wants a fresh server). A test
    that fails or overruns is recorded with its error and the next one runs."""
    results: dict = {"sizes": asdict(sizes)}
    if any(t != "idle" for t in tests):
        await driver.login_agents(sizes.agents)
    for test in tests:
        budget_left = driver.budget.seconds_left()
        if budget_left < 20:
            results[test] = {"error": "skipped: the run's time bound was reached"}
            continue
        ctx = Context(driver, sizes, probe, rng, profiler, nonce, db_probe, faults)
        log(f"  {driver.kind}: {test} …")
        started = now()
        errors_before = len(driver.errors)
        try:
            results[test] = await asyncio.wait_for(RUNNERS[test](ctx), timeout=min(300, budget_left))
        except TimeoutError:
            results[test] = {"error": "timed out"}
        except BenchError as exc:
            results[test] = {"error": str(exc)}
        finally:
            await ctx.close_all()
        results[test]["server_errors"] = len(driver.errors) - errors_before
        if driver.errors[errors_before:]:
            results[test]["first_server_error"] = driver.errors[errors_before]
        results[test]["wall_seconds"] = now() - started
        if not alive():
            results[test]["error"] = results[test].get("error") or "the server process died"
            break
        log(f"  {driver.kind}: {test} done in {now() - started:.0f} s: {_brief(results[test])}")
        await asyncio.sleep(sizes.settle_seconds)
    return results


def _brief(result: dict) -> str:
    keys = ("error", "p99_ms", "rate", "cpu_us_per_msg", "kb_per_socket", "sent", "live", "recovered", "lost",
            "duplicated", "out_of_order", "redis_recovery_s", "daphne_recovery_s", "state_differences")
    parts = []
    for key in keys:
        value = result.get(key)
        if value is not None:
            parts.append(f"{key}={value:.1f}" if isinstance(value, float) else f"{key}={value}")
    return ", ".join(parts)
