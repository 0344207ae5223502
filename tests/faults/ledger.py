"""Counting a drill on the receiving side, and checking each client's state against a fresh read.

A *flow* is the messages one client sent (those whose client_id starts with the drill's tag) as one
other client applied them, live or by resume:

- sent: messages the sender queued; acked: those it has an ack for; refused: answered with a final error;
- received: distinct client_ids the receiver applied; lost: sent but never applied;
- duplicated: a client_id applied with two different seqs (stored twice), a seq applied twice, or a
  client_id applied with another seq than the sender's ack said;
- out of order: applied messages of the sender, taken in seq order, whose send order goes back.

*Recovery* is the longest a message took to reach its receiver once both the fault had ended and
the message was acked: for a message acked during the fault, from the fault's end; for one acked
after it, from its ack. The backlog of a sender's outbox is not counted, what the fault delayed is.
"""

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .client import CLOSE_FELL_BEHIND, Client, Hub, Outgoing, now, rebuild


@dataclass
class FlowCount:
    label: str
    sent: int
    acked: int
    refused: list[Outgoing]
    received: int
    lost: list[str]
    duplicated: int
    out_of_order: int
    last_received: float | None
    via: Counter
    arrivals: list[tuple[float, float]]  # (acked, first applied by the receiver) of each message received

    def line(self) -> str:
        refused = f" refused={[(i.client_id, i.refused.get('code')) for i in self.refused][:3]}" if self.refused else ""
        lost = f" lost={self.lost[:5]}{'…' if len(self.lost) > 5 else ''}" if self.lost else ""
        return (f"{self.label}: sent={self.sent} acked={self.acked} received={self.received} lost={len(self.lost)} "
                f"duplicated={self.duplicated} out_of_order={self.out_of_order} via={dict(self.via)}{refused}{lost}")


def count_flow(label: str, sender: Client, receiver: Client, chat: str, tag: str) -> FlowCount:
    items = [i for i in sender.items if i.client_id.startswith(tag)]
    order = {i.client_id: i.index for i in items}
    acked_seq = {i.client_id: i.seq for i in items if i.seq is not None}
    applied = [e for e in receiver.applied_messages(chat) if e.client_id in order]
    seqs: dict[str, list[int]] = defaultdict(list)
    per_seq: Counter = Counter()
    for event in applied:
        seqs[event.client_id].append(event.seq)
        per_seq[event.seq] += 1
    duplicated = (sum(len(set(s)) - 1 for s in seqs.values()) + sum(n - 1 for n in per_seq.values())
                  + sum(1 for cid, s in seqs.items() if cid in acked_seq and acked_seq[cid] not in s))
    first_applied: dict[str, float] = {}
    for event in applied:
        first_applied.setdefault(event.client_id, event.at)
    arrivals = [(i.acked, first_applied[i.client_id]) for i in items
                if i.acked is not None and i.client_id in first_applied]
    out_of_order, highest = 0, -1
    seen = set()
    for event in sorted(applied, key=lambda e: e.seq):
        if event.seq in seen:
            continue
        seen.add(event.seq)
        index = order[event.client_id]
        if index < highest:
            out_of_order += 1
        highest = max(highest, index)
    return FlowCount(
        label=label, sent=len(items), acked=sum(1 for i in items if i.acked), refused=[i for i in items if i.refused],
        received=len(seqs), lost=[i.client_id for i in items if i.client_id not in seqs and not i.refused],
        duplicated=duplicated,
        out_of_order=out_of_order, last_received=max((e.at for e in applied), default=None),
        via=Counter(e.via for e in applied), arrivals=arrivals,
    )


def p99(values: list[float]) -> float:
    if not values:
        return 0.0
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[98]


@dataclass
class Drill:
    """What one drill did, counted; ``summary`` is its one line."""

    name: str
    hub: Hub
    chat: str | None = None
    clients: list[Client] = field(default_factory=list)
    flows: list[tuple[str, Client, Client, str]] = field(default_factory=list)  # label, sender, receiver, tag
    fault_end: float | None = None
    notes: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    starts: dict = field(default_factory=dict)  # client name -> (state, log index) when the drill began
    may_fall_behind: dict = field(default_factory=dict)  # client name -> how many first sockets do not read

    def flow(self, label: str, sender: Client, receiver: Client, tag: str) -> None:
        self.flows.append((label, sender, receiver, tag))

    def counts(self) -> list[FlowCount]:
        return [count_flow(label, s, r, self.chat, tag) for label, s, r, tag in self.flows]

    def everything_received(self) -> bool:
        """Every drill message answered (acked or refused) and applied by its receiver; cheap, as
        waits check it often."""
        for _, sender, receiver, tag in self.flows:
            applied = receiver.applied_ids.get(self.chat, set())
            for item in sender.items:
                if item.refused or not item.client_id.startswith(tag):
                    continue
                if item.acked is None or item.client_id not in applied:
                    return False
        return True

    def mark_start(self) -> None:
        """Each client's state now: the state check replays what it applies from here on."""
        for client in self.clients:
            self.starts[client.name] = (rebuild(client.states.get(self.chat) or {"chat": None, "messages": {}},
                                                client.role, []), len(client.log))

    def missed_live(self, receiver: Client, tag: str) -> list[tuple[int, str]]:
        """(seq, client_id) of the messages with ``tag`` that ``receiver`` got only by a resume: their one
        frame came inside a resume answer, within its range (a live frame that came too makes two)."""
        return [(e.seq, e.client_id) for e in receiver.applied_messages(self.chat)
                if (e.client_id or "").startswith(tag) and e.via == "resume"
                and receiver.message_frames[self.chat, e.seq] == 1]

    def ack_latencies(self) -> list[float]:
        """Send to ack of every drill message (from its first send, retries included)."""
        senders = {(id(s), tag): s for _, s, _, tag in self.flows}
        return [i.latency for (_, tag), s in senders.items() for i in s.items
                if i.client_id.startswith(tag) and i.latency is not None]

    def recovery(self, counts: list[FlowCount]) -> float | None:
        if self.fault_end is None:
            return None
        delays = [received - max(self.fault_end, acked) for c in counts for acked, received in c.arrivals]
        return max([0.0, *delays])

    def summary(self) -> str:
        counts = self.counts()
        recovery = self.recovery(counts)
        acks = self.ack_latencies()
        notes = (f" ack_p99={p99(acks) * 1000:.0f}ms ack_max={max(acks, default=0) * 1000:.0f}ms"
                 + "".join(f" {k}={v}" for k, v in self.notes.items()))
        state = "ok" if not any(p.startswith("state") for p in self.problems) else "DIFFERS"
        return (f"[drill {self.name}] sent={sum(c.sent for c in counts)} received={sum(c.received for c in counts)} "
                f"lost={sum(len(c.lost) for c in counts)} duplicated={sum(c.duplicated for c in counts)} "
                f"out_of_order={sum(c.out_of_order for c in counts)} refused={sum(len(c.refused) for c in counts)} "
                f"recovery={'n/a' if recovery is None else f'{recovery:.2f}s'} state={state}{notes}")

    def report(self) -> str:
        lines = [self.summary(), *("  " + c.line() for c in self.counts()),
                 *("  " + c.describe() for c in self.clients)]
        if self.fault_end is not None:
            lines += [f"  {c.name} sockets (s after the fault's end): {c.timeline(self.fault_end)}"
                      for c in self.clients if len(c.connections) <= 6]
        lines += ["  PROBLEM " + p for p in self.problems]
        return "\n".join(lines)

    def check(self, recovery_bound: float, ack_bound: float | None = None) -> None:
        """The drill's verdict, into ``problems``: nothing lost, duplicated, out of order, refused or
        unacked; recovery within ``recovery_bound``; every ack within ``ack_bound`` (if given)."""
        counts = self.counts()
        acks = self.ack_latencies()
        if ack_bound is not None and acks and max(acks) > ack_bound:
            slow = sum(1 for a in acks if a > ack_bound)
            self.problems.append(f"{slow} acks took over {ack_bound:g} s (max {max(acks):.2f} s)")
        for c in counts:
            if c.lost:
                self.problems.append(f"{c.label}: {len(c.lost)} lost, e.g. {c.lost[:5]}")
            if c.duplicated:
                self.problems.append(f"{c.label}: {c.duplicated} duplicated")
            if c.out_of_order:
                self.problems.append(f"{c.label}: {c.out_of_order} out of order")
            if c.refused:
                self.problems.append(f"{c.label}: {len(c.refused)} refused, e.g. {c.refused[0].refused}")
            if c.acked + len(c.refused) < c.sent:
                self.problems.append(f"{c.label}: {c.sent - c.acked - len(c.refused)} never acked")
        for client in self.clients:
            allowed = self.may_fall_behind.get(client.name, 0)  # its first sockets do not read
            fell = [c.number for c in client.connections if c.close_code == CLOSE_FELL_BEHIND and c.number > allowed]
            if fell:
                self.problems.append(f"{client.name} was closed with 4408 on sockets {fell}, reading all the time")
            if client.client_errors:
                self.problems.append(f"{client.name} could not handle {len(client.client_errors)} frames, "
                                     f"e.g. {client.client_errors[0]}")
        recovery = self.recovery(counts)
        if recovery is not None and recovery > recovery_bound:
            self.problems.append(f"recovery {recovery:.2f} s > {recovery_bound:g} s")


async def fresh_read(hub: Hub, role: str, url: str, chat: str, *, cookie=None, token=None, timeout: float = 20):
    """The chat as a new socket reads it from seq 0 (agent: ``chat.watch``; visitor: ``hello`` with
    the token, then ``resume``): its state and level."""
    fresh = Client(hub, role, [url], name=f"fresh-{role}", cookie=cookie, token=token, resync_seconds=0)
    try:
        await fresh.start()
        await fresh.follow(chat)
        await hub.until(lambda: fresh.settled(chat), timeout, f"fresh {role} read of {chat}")
        return fresh.states[chat], fresh.level(chat), fresh
    finally:
        await fresh.stop()


def state_differences(mine: dict, fresh: dict) -> list[str]:
    out = []
    if mine["chat"] != fresh["chat"]:
        out.append(f"chat {mine['chat']} != fresh {fresh['chat']}")
    missing = sorted(set(fresh["messages"]) - set(mine["messages"]))
    extra = sorted(set(mine["messages"]) - set(fresh["messages"]))
    if missing:
        out.append(f"{len(missing)} messages missing, seqs {missing[:8]}")
    if extra:
        out.append(f"{len(extra)} messages not in the fresh read, seqs {extra[:8]}")
    differ = [s for s in fresh["messages"] if s in mine["messages"] and mine["messages"][s] != fresh["messages"][s]]
    if differ:
        s = differ[0]
        out.append(f"{len(differ)} messages differ, e.g. seq {s}: {mine['messages'][s]} "
                   f"!= fresh {fresh['messages'][s]}")
    return out


async def settle_and_verify(drill: Drill, *, urls: dict[str, str], cookie: str, timeout: float = 30) -> None:
    """After the senders stop: every outbox drained, every visitor's receipts handled, every flow
    received, then each client's state (its start plus what it applied since) against a fresh read
    from 0, and its level against the fresh level. ``urls``: where each role reads fresh."""
    hub, chat = drill.hub, drill.chat
    await hub.until(lambda: all(c.outbox_empty for c in drill.clients), timeout, "every outbox drained")
    for client in drill.clients:
        if client.role == "visitor" and client.receipts:
            client.receipts = False
            await hub.until(lambda c=client: c.ready, timeout, f"{client.name} connected")
            await client.ping()  # its receipts are handled: a socket's frames are handled in order
    try:
        await hub.until(drill.everything_received, timeout, "every message received")
    except AssertionError as exc:
        drill.problems.append(str(exc))
    visitor = next(c for c in drill.clients if c.role == "visitor")
    fresh = {
        "agent": await fresh_read(hub, "agent", urls["agent"], chat, cookie=cookie),
        "visitor": await fresh_read(hub, "visitor", urls["visitor"], chat, token=visitor.token),
    }
    for role, (_, _, reader) in fresh.items():
        fell = [c.number for c in reader.connections if c.close_code == CLOSE_FELL_BEHIND]
        if fell:
            drill.problems.append(f"the fresh {role} read, which reads all the time, was closed {len(fell)} times "
                                  f"with 4408 (sockets {reader.timeline(reader.connections[0].opened)})")
    for client in drill.clients:
        state, level, _ = fresh[client.role]
        try:
            await hub.until(lambda c=client, lv=level: c.settled(chat, lv), timeout, f"{client.name} level {level}")
        except AssertionError as exc:
            drill.problems.append(f"state: {exc} (level {client.cursors[chat].level}, "
                                  f"above {sorted(client.cursors[chat].above)[:5]})")
            continue
        start, index = drill.starts.get(client.name, ({"chat": None, "messages": {}}, 0))
        mine = rebuild(start, client.role, [e for e in client.log[index:] if e.chat == chat])
        if mine != client.states[chat]:
            drill.problems.append(f"state of {client.name}: the replayed log differs from the state it keeps")
        for difference in state_differences(mine, state):
            drill.problems.append(f"state of {client.name}: {difference}")
        if client.level(chat) != level:
            drill.problems.append(f"state of {client.name}: level {client.level(chat)} != fresh {level}")


__all__ = ["Drill", "FlowCount", "count_flow", "fresh_read", "now", "p99", "settle_and_verify"]
