"""The fault drills (shared DESIGN.md, "Tests"): two daphne processes, a Redis of their own, a
visitor and an agent in one chat, and one fault at a time. Each drill counts on the receiving side
and asserts 0 lost, 0 duplicated, 0 out of order, a bounded recovery, and that what each client
applied equals a fresh read from seq 0. Each prints one summary line (``-s`` shows it).

Drill 0 runs the same clients with nothing broken, so that what the others count is read against a
baseline (there, every event must come live). The CI defaults are the counts the drills were asked
for: sockets cut after every 7th of 1,000 and of 300 messages, ~10 messages a second per side around
a 3 s Redis outage, 20 a second around a killed daphne, five rounds of terminated database sessions
a second apart, 2,000 messages past a slow reader. ``FAULTS_SCALE`` (a factor, default 1) scales the
counts and sending periods for longer local soaks, e.g. ``FAULTS_SCALE=10``; ``FAULTS_VERBOSE=1``
prints each drill's flows and clients, not only its line. The package takes ~2 minutes on two quiet
cores, ~4 on two busy ones.
"""

import asyncio
import os
from collections import Counter

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from .client import Client, Hub, now
from .ledger import Drill, p99, settle_and_verify

pytestmark = pytest.mark.django_db(transaction=True)

SCALE = float(os.environ.get("FAULTS_SCALE", "1"))
VERBOSE = bool(os.environ.get("FAULTS_VERBOSE"))  # print every drill's flows and clients, not only its line
RATE = 10  # messages a second per side in the paced drills


def scaled(n: float) -> int:
    return max(1, round(n * SCALE))


async def open_chat(hub: Hub, drill: Drill, cookie: str, *, visitor_urls: list[str], agent_urls: list[str],
                    receipts: bool = True) -> tuple[Client, Client]:
    """A visitor starts a chat, an agent accepts it and watches it; both have seqs 1 (the first
    message) and 2 (the "joined" note)."""
    visitor = Client(hub, "visitor", visitor_urls, name="visitor", receipts=receipts)
    agent = Client(hub, "agent", agent_urls, name="agent", cookie=cookie)
    drill.clients += [visitor, agent]
    await visitor.start()
    drill.chat = await visitor.start_chat("Sam", "sam@example.com", "Hello, I have a question", "start-v")
    await agent.start()
    await agent.accept(drill.chat)
    await hub.until(lambda: visitor.level(drill.chat) >= 2 and agent.level(drill.chat) >= 2, 15, "chat set up")
    return visitor, agent


async def send_paced(client: Client, tag: str, seconds: float, chat: str, rate: float = RATE) -> None:
    """Queue ``rate`` messages a second for ``seconds`` (the outbox sends them one at a time)."""
    for i in range(max(1, round(seconds * rate))):
        client.enqueue(f"{tag}{i}", f"{client.name} message {i}", chat=chat)
        await asyncio.sleep(1 / rate)  # pacing the sender, not waiting for a result


async def stop_all(drill: Drill) -> None:
    await asyncio.gather(*(c.stop() for c in drill.clients), return_exceptions=True)


def finish(drill: Drill, recovery_bound: float = 5, ack_bound: float | None = None) -> None:
    drill.check(recovery_bound, ack_bound)
    print("\n" + (drill.report() if VERBOSE else drill.summary()), flush=True)
    assert not drill.problems, drill.report()


# --- 0. No fault ------------------------------------------------------------------------------------


def test_no_fault_every_event_arrives_live(fleet, agent_cookie):
    """The baseline the drills are read against: with nothing broken, both sides sending ~20 messages
    a second, every message reaches every other socket live, on its own process and across processes
    (a second console of the agent, which only watches, is on the agent's process). The timers are
    off, so a message that came only by resume came because its live event never did."""

    async def drill_run():
        hub = Hub()
        drill = Drill("0-no-fault-baseline", hub)
        try:
            visitor, agent = await open_chat(hub, drill, agent_cookie, visitor_urls=fleet.urls(0),
                                             agent_urls=fleet.urls(1), receipts=False)
            watcher = Client(hub, "agent", fleet.urls(1), name="agent-watching-console", cookie=agent_cookie)
            drill.clients.append(watcher)
            await watcher.start()
            await watcher.follow(drill.chat)
            for client in drill.clients:
                client.resync_seconds = 0
            await hub.until(lambda: all(c.settled(drill.chat) for c in drill.clients), 15, "every socket settled")
            drill.mark_start()
            drill.flow("visitor->agent", visitor, agent, "v-")
            drill.flow("agent->visitor", agent, visitor, "a-")
            drill.flow("visitor->watcher", visitor, watcher, "v-")
            drill.flow("agent->watcher", agent, watcher, "a-")
            period = 5 * SCALE
            await asyncio.gather(send_paced(visitor, "v-", period, drill.chat, rate=20),
                                 send_paced(agent, "a-", period, drill.chat, rate=20))
            drill.fault_end = now()  # no fault: recovery is the tail of the flow
            await hub.until(drill.everything_received, 30, "every message received")
            for label, _, receiver, tag in drill.flows:
                missed = drill.missed_live(receiver, tag)
                if missed:
                    drill.problems.append(f"{label}: {len(missed)} of {scaled(period * 20)} never came live "
                                          f"(seq, client_id): {missed[:8]}")
            drill.notes["missed_live"] = sum(len(drill.missed_live(r, t)) for _, _, r, t in drill.flows)
            for client in drill.clients:
                client.resync_seconds = 2
            await settle_and_verify(drill, urls={"agent": fleet[1].url, "visitor": fleet[0].url}, cookie=agent_cookie)
        except AssertionError as exc:
            drill.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            await stop_all(drill)
        finish(drill, ack_bound=3)

    asyncio.run(drill_run())


# --- 1. Sockets cut ---------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["visitor", "agent"])
def test_socket_cut_after_every_7th_message(fleet, agent_cookie, side):
    """The sender's socket is aborted (no close handshake) right after every 7th message it sends:
    1,000 from the visitor, then 300 from the agent the other way. Each cut message is resent from
    the outbox after the reconnect; the other side gets each exactly once, in order."""
    total = scaled(1000 if side == "visitor" else 300)

    async def drill_run():
        hub = Hub()
        drill = Drill(f"1-{side}-cut-every-7th", hub)
        try:
            visitor, agent = await open_chat(hub, drill, agent_cookie, visitor_urls=fleet.urls(0),
                                             agent_urls=fleet.urls(1))
            sender, receiver = (visitor, agent) if side == "visitor" else (agent, visitor)
            drill.flow(f"{side}->{receiver.name}", sender, receiver, "d-")
            drill.mark_start()
            sender.cut_after_every(7)
            for i in range(total):
                sender.enqueue(f"d-{i}", f"{side} message {i}", chat=drill.chat)
            await hub.until(lambda: sender.outbox_empty, 150 * SCALE, f"{side} outbox drained")
            sender.cut_after_every(0)
            drill.fault_end = sender.cuts[-1] if sender.cuts else now()
            drill.notes["cuts"] = len(sender.cuts)
            drill.notes["reconnects"] = len(sender.connections) - 1
            await settle_and_verify(drill, urls={"agent": fleet[1].url, "visitor": fleet[0].url}, cookie=agent_cookie)
        except AssertionError as exc:
            drill.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            await stop_all(drill)
        finish(drill)

    asyncio.run(drill_run())


# --- 2. Redis killed --------------------------------------------------------------------------------


def test_redis_killed_and_restarted(fleet, agent_cookie):
    """Both sides send ~10 messages a second; Redis is SIGKILLed and started again 3 s later, empty.
    Messages are stored and acked throughout; what live delivery dropped comes by resume."""

    async def drill_run():
        hub = Hub()
        drill = Drill("2-redis-killed-3s", hub)
        try:
            visitor, agent = await open_chat(hub, drill, agent_cookie, visitor_urls=fleet.urls(0),
                                             agent_urls=fleet.urls(1))
            drill.flow("visitor->agent", visitor, agent, "v-")
            drill.flow("agent->visitor", agent, visitor, "a-")
            drill.mark_start()
            period = 8 * SCALE
            senders = [asyncio.create_task(send_paced(visitor, "v-", period, drill.chat)),
                       asyncio.create_task(send_paced(agent, "a-", period, drill.chat))]
            await asyncio.sleep(2 * SCALE)  # into the flow
            fleet.redis.kill()
            killed = now()
            await asyncio.sleep(3)  # the outage
            await asyncio.to_thread(fleet.redis.start)
            drill.fault_end = now()
            drill.notes["outage"] = f"{drill.fault_end - killed:.1f}s"
            await asyncio.gather(*senders)
            await settle_and_verify(drill, urls={"agent": fleet[1].url, "visitor": fleet[0].url}, cookie=agent_cookie)
        except AssertionError as exc:
            drill.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            await stop_all(drill)
            if not fleet.redis.alive:
                fleet.redis.start()
        finish(drill, ack_bound=3)

    asyncio.run(drill_run())


# --- 3. Sockets opened while Redis is down ----------------------------------------------------------


def test_sockets_opened_during_redis_outage(fleet, agent_cookie):
    """A second widget of the visitor and a second console of the agent connect while Redis is down:
    they are accepted, told ``live: degraded``, get what is said meanwhile by resume, and once Redis is
    back get ``live: ok`` and live events again, on the same sockets."""

    async def drill_run():
        hub = Hub()
        drill = Drill("3-sockets-opened-during-outage", hub)
        try:
            visitor, agent = await open_chat(hub, drill, agent_cookie, visitor_urls=fleet.urls(0),
                                             agent_urls=fleet.urls(1))
            fleet.redis.kill()
            killed = now()
            visitor2 = Client(hub, "visitor", fleet.urls(1), name="visitor-2nd-widget", token=visitor.token)
            agent2 = Client(hub, "agent", fleet.urls(0), name="agent-2nd-console", cookie=agent_cookie)
            late = [visitor2, agent2]
            drill.clients += late
            for client in late:
                try:
                    await client.start(timeout=15)
                except AssertionError as exc:
                    drill.problems.append(f"{client.name} not accepted during the outage: {exc}; "
                                          f"{client.describe()}; connect failures {client.connect_failures[:3]}")
            for client in late:
                if client.connections and client.connections[0].welcome is not None:
                    live = client.connections[0].live_at_welcome
                    if live != "degraded":
                        drill.problems.append(f"{client.name}: welcome during the outage says live={live!r}")
            if not drill.problems:
                await agent2.follow(drill.chat)
                await hub.until(lambda: all(c.settled(drill.chat) for c in late), 15, "late sockets resumed")
            drill.mark_start()
            drill.flow("visitor->agent-2nd", visitor, agent2, "v-")
            drill.flow("agent->visitor-2nd", agent, visitor2, "a-")
            drill.flow("visitor->agent", visitor, agent, "v-")
            drill.flow("agent->visitor", agent, visitor, "a-")
            await asyncio.gather(send_paced(visitor, "v-", 1, drill.chat), send_paced(agent, "a-", 1, drill.chat))
            try:
                await hub.until(drill.everything_received, 20, "messages of the outage received by resume")
            except AssertionError as exc:
                drill.problems.append(str(exc))
            during = {c.name: dict(Counter(e.via for e in c.applied_messages(drill.chat)
                                           if e.client_id and e.client_id[:2] in ("v-", "a-"))) for c in late}
            await asyncio.to_thread(fleet.redis.start)
            drill.fault_end = now()
            drill.notes["outage"] = f"{drill.fault_end - killed:.1f}s"
            try:
                await hub.until(lambda: all(c.live == "ok" for c in drill.clients), 20, "live: ok on every socket")
            except AssertionError as exc:
                drill.problems.append(f"{exc}: {[(c.name, c.live) for c in drill.clients]}")
            # Live again: no timer resync from now on, and none in flight, so that what the sockets get
            # now can only have come live.
            for client in drill.clients:
                client.resync_seconds = 0
            await hub.until(lambda: all(c.settled(drill.chat) for c in drill.clients), 15, "every socket settled")
            sockets_before = {c.name: len(c.connections) for c in drill.clients}
            drill.flow("visitor->agent-2nd after", visitor, agent2, "w-")
            drill.flow("agent->visitor-2nd after", agent, visitor2, "b-")
            drill.flow("visitor->agent after", visitor, agent, "w-")
            drill.flow("agent->visitor after", agent, visitor, "b-")
            await asyncio.gather(send_paced(visitor, "w-", 1, drill.chat), send_paced(agent, "b-", 1, drill.chat))
            try:
                await hub.until(drill.everything_received, 15, "messages after the outage received")
            except AssertionError as exc:
                drill.problems.append(str(exc))
            for label, _, receiver, tag in drill.flows:
                if tag in ("w-", "b-"):
                    missed = drill.missed_live(receiver, tag)
                    if missed:
                        holes = [(round(t - drill.fault_end, 2), level, above)
                                 for t, level, above in receiver.cursors[drill.chat].holes if t > drill.fault_end]
                        acked = {i.client_id: i.acked for c in drill.clients for i in c.items}
                        by_resume = [(e.kind, e.seq, e.client_id,
                                      f"acked {acked[e.client_id] - drill.fault_end:.2f}"
                                      if e.client_id in acked else "", f"applied {e.at - drill.fault_end:.2f}")
                                     for e in receiver.log
                                     if e.at > drill.fault_end and e.via == "resume" and e.seq is not None]
                        drill.problems.append(
                            f"{label}: after Redis returned, {len(missed)} not live: {missed}; holes seen "
                            f"(s after the restart, level, seq above) {holes}; applied by resume {by_resume[:6]}; "
                            f"live states {[(round(t - drill.fault_end, 2), st) for t, _, st in receiver.live_log]}")
            for client in drill.clients:
                if len(client.connections) != sockets_before[client.name]:
                    drill.problems.append(f"{client.name} reconnected after Redis returned")
            drill.notes["during_outage_via"] = during
            for client in drill.clients:
                client.resync_seconds = 2
            await settle_and_verify(drill, urls={"agent": fleet[1].url, "visitor": fleet[0].url}, cookie=agent_cookie)
        except AssertionError as exc:
            drill.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            await stop_all(drill)
            if not fleet.redis.alive:
                fleet.redis.start()
        finish(drill, ack_bound=3)

    asyncio.run(drill_run())


# --- 4. A daphne process killed -----------------------------------------------------------------------


def test_visitor_process_killed(fleet, agent_cookie):
    """The daphne process of the visitor is SIGKILLed while both sides send; the visitor moves to the
    other process, the agent stays on its own."""

    async def drill_run():
        hub = Hub()
        drill = Drill("4-visitor-daphne-killed", hub)
        try:
            visitor, agent = await open_chat(hub, drill, agent_cookie, visitor_urls=fleet.urls(0, 1),
                                             agent_urls=fleet.urls(1))
            drill.flow("visitor->agent", visitor, agent, "v-")
            drill.flow("agent->visitor", agent, visitor, "a-")
            drill.mark_start()
            period = 5 * SCALE
            senders = [asyncio.create_task(send_paced(visitor, "v-", period, drill.chat, rate=20)),
                       asyncio.create_task(send_paced(agent, "a-", period, drill.chat, rate=20))]
            await asyncio.sleep(2 * SCALE)
            fleet[0].kill()
            drill.fault_end = now()
            await asyncio.gather(*senders)
            if visitor.connections[-1].url != fleet[1].url:
                drill.problems.append(f"the visitor is on {visitor.connections[-1].url}, not on {fleet[1].url}")
            if len(agent.connections) != 1:
                drill.problems.append(f"the agent reconnected ({len(agent.connections)} sockets)")
            drill.notes["visitor_reconnects"] = len(visitor.connections) - 1
            await settle_and_verify(drill, urls={"agent": fleet[1].url, "visitor": fleet[1].url}, cookie=agent_cookie)
        except AssertionError as exc:
            drill.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            await stop_all(drill)
            if not fleet[0].alive:
                await asyncio.to_thread(fleet[0].start)
        finish(drill, ack_bound=5)

    asyncio.run(drill_run())


# --- 5. The app's database connections terminated -----------------------------------------------------


@pytest.fixture
def terminator():
    """How to end every session of the app on the test database but the asking one; afterwards this
    process's own pooled connections, ended too, are thrown away."""
    settings = connection.settings_dict
    dsn = {"host": settings["HOST"] or "127.0.0.1", "port": settings["PORT"] or 5432, "user": settings["USER"],
           "password": settings["PASSWORD"] or None, "dbname": settings["NAME"]}
    yield dsn
    connection.close()
    if connection.pool is not None:
        connection.close_pool()


async def terminate_app_sessions(dsn: dict) -> int:
    async with await psycopg.AsyncConnection.connect(**dsn, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [dsn["dbname"]],
        )
        return sum(1 for (ended,) in await cursor.fetchall() if ended)


def test_database_connections_terminated(fleet, agent_cookie, terminator):
    """Every PostgreSQL session of the app is terminated five times, a second apart, while both sides
    send ~10 messages a second. Nothing committed is lost; what was not committed is retried."""

    async def drill_run():
        hub = Hub()
        drill = Drill("5-db-connections-terminated", hub)
        try:
            visitor, agent = await open_chat(hub, drill, agent_cookie, visitor_urls=fleet.urls(0),
                                             agent_urls=fleet.urls(1))
            drill.flow("visitor->agent", visitor, agent, "v-")
            drill.flow("agent->visitor", agent, visitor, "a-")
            drill.mark_start()
            rounds = scaled(5)
            senders = [asyncio.create_task(send_paced(visitor, "v-", rounds + 2, drill.chat)),
                       asyncio.create_task(send_paced(agent, "a-", rounds + 2, drill.chat))]
            ended = []
            await asyncio.sleep(1)
            for _ in range(rounds):
                ended.append(await terminate_app_sessions(terminator))
                drill.fault_end = now()
                await asyncio.sleep(1)  # pacing the fault
            drill.notes["sessions_ended"] = ended
            await asyncio.gather(*senders)
            await settle_and_verify(drill, urls={"agent": fleet[1].url, "visitor": fleet[0].url}, cookie=agent_cookie)
        except AssertionError as exc:
            drill.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            await stop_all(drill)
        retries = sum((c.retries for c in drill.clients), Counter())
        drill.notes["retried"] = dict(retries)
        finish(drill, ack_bound=3)

    asyncio.run(drill_run())


# --- 5b. Files through a Redis kill and terminated database connections ---------------------------------


def small_png(i: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (i * 37 % 256, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def test_files_through_redis_killed_and_database_connections_terminated(fleet, agent_cookie, terminator):
    """The visitor uploads files over HTTP (on one process) while text flows both ways and the agent
    watches on the other; Redis is killed for 3 s, then every database session is terminated twice.
    Every file is stored once, takes its seq, and reaches the agent (live or by resume): a file is a
    message like any other."""

    async def upload_paced(visitor, chat, seconds: float, url: str) -> None:
        for i in range(max(1, round(seconds * 3))):
            await visitor.upload(chat, f"f-{i}", f"shot {i}.png", small_png(i), url)
            await asyncio.sleep(1 / 3)  # pacing the sender, not waiting for a result

    async def drill_run():
        hub = Hub()
        drill = Drill("5b-files-redis-and-database", hub)
        try:
            visitor, agent = await open_chat(hub, drill, agent_cookie, visitor_urls=fleet.urls(0),
                                             agent_urls=fleet.urls(1))
            drill.flow("files visitor->agent", visitor, agent, "f-")
            drill.flow("visitor->agent", visitor, agent, "v-")
            drill.flow("agent->visitor", agent, visitor, "a-")
            drill.mark_start()
            period = 8 * SCALE
            senders = [asyncio.create_task(upload_paced(visitor, drill.chat, period, fleet[0].url)),
                       asyncio.create_task(send_paced(visitor, "v-", period, drill.chat, rate=3)),
                       asyncio.create_task(send_paced(agent, "a-", period, drill.chat, rate=3))]
            await asyncio.sleep(1.5)
            fleet.redis.kill()
            await asyncio.sleep(3)  # the outage
            await asyncio.to_thread(fleet.redis.start)
            ended = []
            for _ in range(2):
                await asyncio.sleep(1)  # pacing the fault
                ended.append(await terminate_app_sessions(terminator))
            drill.fault_end = now()
            drill.notes["sessions_ended"] = ended
            await asyncio.gather(*senders)
            await settle_and_verify(drill, urls={"agent": fleet[1].url, "visitor": fleet[0].url}, cookie=agent_cookie)
            files = [i for i in visitor.items if i.client_id.startswith("f-")]
            assert files and all(i.acked for i in files), [i.refused for i in files if not i.acked]
            drill.notes["upload_max"] = f"{max(i.latency for i in files):.2f}s"
            drill.notes["uploads_sent_at"] = [round(i.first_sent - files[0].first_sent, 1) for i in files]
        except AssertionError as exc:
            drill.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            await stop_all(drill)
            if not fleet.redis.alive:
                fleet.redis.start()
        retries = sum((c.retries for c in drill.clients), Counter())
        drill.notes["retried"] = dict(retries)
        finish(drill, ack_bound=6)

    asyncio.run(drill_run())


# --- 6. A slow reader -----------------------------------------------------------------------------------


def kernel_send_buffer_max() -> int:
    try:
        return int(open("/proc/sys/net/ipv4/tcp_wmem").read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 * 1024 * 1024


def test_slow_reader(fleet, agent_cookie):
    """A second console of the agent watches the chat and stops reading (a small receive buffer, a
    queue of one frame) while 2,000 messages pass. The others' acks stay quick; the server closes the
    slow socket with 4408; once it reads again it reconnects, resumes, and has everything."""
    total = scaled(2000)

    async def drill_run():
        hub = Hub()
        drill = Drill("6-slow-reader", hub)
        slow = None
        try:
            visitor, agent = await open_chat(hub, drill, agent_cookie, visitor_urls=fleet.urls(0),
                                             agent_urls=fleet.urls(1), receipts=False)
            slow = Client(hub, "agent", fleet.urls(0), name="agent-slow-console", cookie=agent_cookie,
                          max_queue=1, rcvbuf=4096)
            drill.clients.append(slow)
            drill.may_fall_behind[slow.name] = 1
            await slow.start()
            await slow.follow(drill.chat)
            await hub.until(lambda: slow.settled(drill.chat), 15, "slow console watching")
            drill.mark_start()
            slow.pause_reading()
            drill.flow("visitor->agent", visitor, agent, "v-")
            drill.flow("agent->visitor", agent, visitor, "a-")
            drill.flow("visitor->slow", visitor, slow, "v-")
            drill.flow("agent->slow", agent, slow, "a-")
            # Long enough that what the slow socket is sent fills the kernel's buffers (the server's send
            # buffer grows up to tcp_wmem's maximum while the peer does not read) and twice the cap.
            cap = getattr(settings, "CHAT_SOCKET_MAX_QUEUED_BYTES", 1024 * 1024) or 1024 * 1024
            padding = "x" * min(4500, max(100, (kernel_send_buffer_max() + 2 * cap) // total))
            drill.notes["text_chars"] = len(padding)
            visitor_share = total * 3 // 4
            for i in range(visitor_share):
                visitor.enqueue(f"v-{i}", f"visitor message {i}{padding}", chat=drill.chat)
            for i in range(total - visitor_share):
                agent.enqueue(f"a-{i}", f"agent message {i}{padding}", chat=drill.chat)
            normal = [visitor, agent]
            await hub.until(lambda: all(c.outbox_empty for c in normal), 60 * SCALE + 30, "2,000 messages acked")
            latencies = [i.latency for c in normal for i in c.items if i.client_id[:2] in ("v-", "a-") and i.latency]
            drill.notes["ack_p99"] = f"{p99(latencies) * 1000:.0f}ms"
            drill.notes["ack_max"] = f"{max(latencies) * 1000:.0f}ms"
            if p99(latencies) >= 1.0:
                drill.problems.append(f"ack p99 {p99(latencies):.3f} s >= 1 s while a socket does not read")
            drill.notes["slow_tcp_before_reading"] = slow.socket_tcp_state()
            drill.fault_end = now()
            slow.resume_reading()
            first = slow.connections[0]
            try:
                await hub.until(lambda: first.closed is not None, 20, "the slow socket closed")
            except AssertionError as exc:
                drill.problems.append(f"{exc}: the server kept it open ({first.frames} frames read)")
            drill.notes["slow_close"] = first.close_code
            drill.notes["slow_frames_before_close"] = first.frames
            if first.closed is not None and first.close_code != 4408:
                drill.problems.append(f"the slow socket was closed with {first.close_code} "
                                      f"({first.close_reason!r}), not 4408")
            await settle_and_verify(drill, urls={"agent": fleet[1].url, "visitor": fleet[0].url}, cookie=agent_cookie)
        except AssertionError as exc:
            drill.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            if slow is not None:
                slow.resume_reading()
            await stop_all(drill)
        finish(drill)

    asyncio.run(drill_run())
