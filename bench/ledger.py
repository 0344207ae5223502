"""What was sent, what the receiving clients applied, and what the server says it stored.

Every message is sent by one side of a chat (``visitor`` or ``agent``) and received by the other.
A receiving client *applies* a message when it takes a seq it did not have: live, or in the answer
to one of its own resumes (``via``). A seq it already had is dropped and counted as ``redelivered``
(the protocol allows it; it is not a fault). After a test an auditing agent reads every chat from
seq 0 on a fresh socket: that is what was ``stored``.

The accounting every test uses:

- ``sent``: distinct client_ids sent (a resend after a cut or a retry counts once);
- ``live``: of those, how many the receiving side first applied from a live frame;
- ``recovered``: shown but not first applied live: applied in a receiver's own resume, or seen only
  by the auditing agent's read (what a console gets back when it opens the chat);
- ``lost``: sent but shown to no receiver, neither live nor on resume nor to the auditor. This covers
  a message stored but never shown and a message the server acknowledged (or was sent) but did not
  store;
- ``duplicated``: one client_id applied or stored under more than one seq, i.e. the same message
  twice on screen after the client dropped the seqs it already had.

The faults test counts on the receiving side only, before the auditor's read (``flow``): what the
clients applied themselves. There ``duplicated`` also counts a seq applied twice and a seq other than
the one the sender's ack named, and ``out_of_order`` counts, per chat and direction, the applied
messages that, taken in seq order (as a client shows them), go back in the sender's order of sending.
"""

import asyncio
import math
import time
from collections import Counter, defaultdict

now = time.perf_counter


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of unsorted ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[rank]


class Ledger:
    def __init__(self):
        self.sent: dict[str, tuple[str, float]] = {}  # client_id -> (chat, time it was first queued)
        self.sender: dict[str, str] = {}  # client_id -> visitor or agent
        self.order: dict[str, int] = {}  # client_id -> its place among its chat's messages from that side
        self._next: Counter = Counter()
        self.acked: set[str] = set()
        self.acked_at: dict[str, float] = {}  # client_id -> when its first ack came
        self.ack_seqs: dict[str, set[int]] = defaultdict(set)
        self.refused: dict[str, str] = {}
        self.first_live: dict[str, float] = {}  # client_id -> when the receiving side first applied it
        self.first_via: dict[str, str] = {}
        self.applications: dict[str, list[tuple[int, float, str]]] = defaultdict(list)  # (seq, at, via)
        self.stored_seqs: dict[str, set[int]] = defaultdict(set)
        self.redelivered = 0
        self._waiters: dict[str, asyncio.Future] = {}

    # --- events from the clients -----------------------------------------------------------------

    def on_send(self, client_id: str, chat: str, *, sender: str = "visitor") -> None:
        if client_id not in self.sent:
            self.sent[client_id] = (chat, now())
            self.sender[client_id] = sender
            self.order[client_id] = self._next[chat, sender]
            self._next[chat, sender] += 1

    def on_ack(self, client_id: str, seq: int | None = None) -> None:
        if client_id in self.sent:
            self.acked.add(client_id)
            self.acked_at.setdefault(client_id, now())
            if seq is not None:
                self.ack_seqs[client_id].add(seq)

    def on_refused(self, client_id: str, code: str) -> None:
        if client_id in self.sent:
            self.refused[client_id] = code

    def on_applied(self, client_id: str, seq: int, at: float, *, role: str, via: str) -> None:
        """A receiving client took this message's seq (it did not have it)."""
        if client_id not in self.sent or self.sender[client_id] == role:
            return  # the chat's first message, a system note, or the sender's own message in a resume
        self.applications[client_id].append((seq, at, via))
        if client_id not in self.first_live:
            self.first_live[client_id] = at
            self.first_via[client_id] = via
            waiter = self._waiters.pop(client_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(at)

    def on_live(self, client_id: str, seq: int, at: float) -> None:
        self.on_applied(client_id, seq, at, role="agent", via="live")

    def on_redelivered(self, client_id: str) -> None:
        if client_id in self.sent:
            self.redelivered += 1

    def on_stored(self, client_id: str, seq: int) -> None:
        if client_id in self.sent:
            self.stored_seqs[client_id].add(seq)

    def waiter(self, client_id: str) -> asyncio.Future:
        """A future completed when the receiving side first applies this message (closed loops)."""
        future = asyncio.get_running_loop().create_future()
        self._waiters[client_id] = future
        return future

    # --- figures -----------------------------------------------------------------------------------

    def all_live(self) -> bool:
        """Every message sent (and not refused) has been applied by its receiver."""
        return len(self.first_live) + len(set(self.refused) - set(self.first_live)) >= len(self.sent)

    def sent_between(self, start: float, end: float) -> int:
        """Messages first sent within [start, end]."""
        return sum(1 for _, at in self.sent.values() if start <= at <= end)

    def latencies_ms(self, sent_from: float | None = None, sent_until: float | None = None) -> list[float]:
        """Send to the receiver's first application, for messages first sent in the given window."""
        out = []
        for client_id, at in self.first_live.items():
            sent_at = self.sent[client_id][1]
            if sent_from is not None and sent_at < sent_from:
                continue
            if sent_until is not None and sent_at > sent_until:
                continue
            out.append((at - sent_at) * 1000)
        return out

    def accounting(self) -> dict:
        applied = set(self.first_live)
        live = {cid for cid, via in self.first_via.items() if via == "live"}
        stored = {cid for cid, seqs in self.stored_seqs.items() if seqs}
        shown = applied | stored
        duplicated = sum(len({s for s, _, _ in self.applications[cid]} | self.stored_seqs[cid]) - 1 for cid in shown)
        return {
            "sent": len(self.sent),
            "acked": len(self.acked),
            "stored": len(stored),
            "live": len(live),
            "recovered": len(shown - live),
            "delivered": len(shown),
            "lost": len(set(self.sent) - shown),
            "duplicated": duplicated,
            "redelivered": self.redelivered,
        }

    def flow(self, client_ids) -> dict:
        """The receiving side's own count for these messages (the faults test; see the docstring)."""
        client_ids = [cid for cid in client_ids if cid in self.sent]
        received = [cid for cid in client_ids if self.applications[cid]]
        duplicated = 0
        for cid in received:
            seqs = [s for s, _, _ in self.applications[cid]]
            duplicated += len(set(seqs)) - 1 + len(seqs) - len(set(seqs))
            if self.ack_seqs[cid] and not self.ack_seqs[cid] & set(seqs):
                duplicated += 1
        lanes: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)  # (chat, sender) -> (seq, order)
        for cid in received:
            for seq in {s for s, _, _ in self.applications[cid]}:
                lanes[self.sent[cid][0], self.sender[cid]].append((seq, self.order[cid]))
        out_of_order = 0
        for lane in lanes.values():
            highest = -1
            for _, order in sorted(lane):
                if order < highest:
                    out_of_order += 1
                highest = max(highest, order)
        via = Counter(self.first_via[cid] for cid in received)
        return {
            "sent": len(client_ids),
            "acked": sum(1 for cid in client_ids if cid in self.acked),
            "refused": sum(1 for cid in client_ids if cid in self.refused),
            "received": len(received),
            "lost": len(client_ids) - len(received),
            "duplicated": duplicated,
            "out_of_order": out_of_order,
            "received_live": via["live"],
            "received_by_resume": via["resume"],
        }

    def last_applied(self, client_ids) -> float | None:
        """When the last of these messages was first applied by its receiver (None if one never was)."""
        times = [self.first_live.get(cid) for cid in client_ids]
        if not times or any(t is None for t in times):
            return None
        return max(times)
