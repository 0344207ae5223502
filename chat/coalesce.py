"""Ephemeral events (drafts, typing) are coalesced per socket: the latest value wins and at most one
goes out per interval. A burst of keystrokes therefore costs a few channel-layer sends, and a real
message never waits behind drafts.

A value that comes after a quiet interval (the widget's usual pace) is sent at once, inline; only
values that come faster wait for a single trailing send of the latest one.
"""

import asyncio
from collections.abc import Awaitable, Callable

_NOTHING = object()


class LatestOnly:
    def __init__(self, send: Callable[[object], Awaitable[None]], interval: float):
        self._send = send
        self._interval = interval
        self._pending = _NOTHING
        self._last_sent = float("-inf")
        self._task: asyncio.Task | None = None

    async def push(self, value) -> None:
        self._pending = value
        if self._task is not None:  # a trailing send is due: it will take the latest value
            return
        wait = self._last_sent + self._interval - asyncio.get_running_loop().time()
        if wait <= 0:
            await self._send_pending()
        else:
            self._task = asyncio.create_task(self._trail(wait))

    def drop(self) -> None:
        """Forget a value not yet sent (its message was just sent for real)."""
        self._pending = _NOTHING

    def cancel(self) -> None:
        self._pending = _NOTHING
        if self._task is not None:
            self._task.cancel()

    async def _send_pending(self) -> None:
        if self._pending is _NOTHING:
            return
        value, self._pending = self._pending, _NOTHING
        self._last_sent = asyncio.get_running_loop().time()
        await self._send(value)

    async def _trail(self, wait: float) -> None:
        try:
            await asyncio.sleep(wait)
            await self._send_pending()
        finally:
            self._task = None
