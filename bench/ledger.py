"""What was sent, what the agents saw live, and what the server says it stored.

The accounting every test uses:

- ``sent``: distinct client_ids the visitors sent (a resend after a cut counts once);
- ``live``: of those, how many an agent got on its live socket;
- ``recovered``: stored (seen by an auditing agent that resumes each chat from the start) but not
  seen live: what a console gets back on resume;
- ``lost``: sent but shown to no agent, neither live nor on resume. This covers a message stored but
  never shown and a message the server acknowledged (or was sent) but did not store;
- ``duplicated``: one client_id stored or shown under more than one seq (row id on the floor), i.e.
  the same message twice in the console after the client dropped the seqs it already had.

A seq that arrives twice live (the protocol allows it; clients drop it) is counted as ``redelivered``,
which is not a fault.
"""

import asyncio
import math
import time
from collections import defaultdict

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
        self.sent: dict[str, tuple[str, float]] = {}  # client_id -> (chat, time of the first send)
        self.acked: set[str] = set()
        self.first_live: dict[str, float] = {}  # client_id -> time an agent first got it live
        self.live_seqs: dict[str, set[int]] = defaultdict(set)
        self.stored_seqs: dict[str, set[int]] = defaultdict(set)
        self.redelivered = 0
        self._waiters: dict[str, asyncio.Future] = {}

    # --- events from the clients -----------------------------------------------------------------

    def on_send(self, client_id: str, chat: str) -> None:
        if client_id not in self.sent:
            self.sent[client_id] = (chat, now())

    def on_ack(self, client_id: str) -> None:
        if client_id in self.sent:
            self.acked.add(client_id)

    def on_live(self, client_id: str, seq: int, at: float) -> None:
        if client_id not in self.sent:  # the chat's first message, a system note: not ours to count
            return
        seqs = self.live_seqs[client_id]
        if seq in seqs:
            self.redelivered += 1
            return
        seqs.add(seq)
        if client_id not in self.first_live:
            self.first_live[client_id] = at
            waiter = self._waiters.pop(client_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(at)

    def on_stored(self, client_id: str, seq: int) -> None:
        if client_id in self.sent:
            self.stored_seqs[client_id].add(seq)

    def waiter(self, client_id: str) -> asyncio.Future:
        """A future completed when an agent first gets this message live (closed-loop sending)."""
        future = asyncio.get_running_loop().create_future()
        self._waiters[client_id] = future
        return future

    # --- figures -----------------------------------------------------------------------------------

    def all_live(self) -> bool:
        return len(self.first_live) == len(self.sent)

    def sent_between(self, start: float, end: float) -> int:
        """Messages first sent within [start, end]."""
        return sum(1 for _, at in self.sent.values() if start <= at <= end)

    def latencies_ms(self, sent_from: float | None = None, sent_until: float | None = None) -> list[float]:
        """Visitor send to first agent receipt, for messages first sent in the given window."""
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
        live = set(self.first_live)
        stored = {cid for cid, seqs in self.stored_seqs.items() if seqs}
        shown = live | stored
        duplicated = sum(len(self.live_seqs[cid] | self.stored_seqs[cid]) - 1 for cid in shown)
        return {
            "sent": len(self.sent),
            "acked": len(self.acked),
            "stored": len(stored),
            "live": len(live),
            "recovered": len(stored - live),
            "delivered": len(shown),
            "lost": len(set(self.sent) - shown),
            "duplicated": duplicated,
            "redelivered": self.redelivered,
        }
