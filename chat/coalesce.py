"""Ephemeral events (drafts, typing) are coalesced per socket: the latest value wins and at most one
goes out per interval. A burst of keystrokes therefore costs a few channel-layer sends, and a real
message never waits behind drafts."""

import asyncio
from collections.abc import Awaitable, Callable

_NOTHING = object()


class LatestOnly:
    def __init__(self, send: Callable[[object], Awaitable[None]], interval: float):
        self._send = send
        self._interval = interval
        self._pending = _NOTHING
        self._task: asyncio.Task | None = None

    def push(self, value) -> None:
        self._pending = value
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    def drop(self) -> None:
        """Forget a value not yet sent (its message was just sent for real)."""
        self._pending = _NOTHING

    def cancel(self) -> None:
        self._pending = _NOTHING
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        try:
            while self._pending is not _NOTHING:
                value, self._pending = self._pending, _NOTHING
                await self._send(value)
                await asyncio.sleep(self._interval)
        finally:
            self._task = None
