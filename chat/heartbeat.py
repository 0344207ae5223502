"""The heartbeat of this process's widget sockets: one write for all of them.

Each open widget socket must say "still here" every ``presence.HEARTBEAT_SECONDS`` (chat/presence.py).
A task per socket would cost memory per idle socket, and sockets that connected together (a deploy, a
reconnect storm) would all beat in the same moment, each a trip to the database thread every socket's
messages share. Instead the sockets of one event loop register their visitor here, and one task
writes ``last_seen_at`` for all of them in a single UPDATE (``presence.visitors_seen``) every
HEARTBEAT_SECONDS while any is registered.
"""

import asyncio
import logging
from collections import Counter

from . import presence
from .calls import db
from .live import per_loop

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self):
        self.visitors: Counter[int] = Counter()  # visitor id -> sockets of this process
        self._task: asyncio.Task | None = None

    def register(self, visitor_id: int) -> None:
        self.visitors[visitor_id] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._beat(), name="visitor-heartbeat")

    def unregister(self, visitor_id: int) -> None:
        self.visitors[visitor_id] -= 1
        if self.visitors[visitor_id] <= 0:
            del self.visitors[visitor_id]

    async def _beat(self) -> None:
        while self.visitors:
            await asyncio.sleep(presence.HEARTBEAT_SECONDS)
            ids = list(self.visitors)
            if not ids:
                break
            try:
                await db(presence.visitors_seen)(visitor_ids=ids)
            except Exception:  # the database away: the next beat tries again, well within GONE_SECONDS
                log.warning("could not record that %s visitors are still here", len(ids), exc_info=True)


# This event loop's heartbeat (one per process under daphne; one per test's loop in tests).
heartbeat = per_loop(Heartbeat)
