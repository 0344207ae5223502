"""Whether live delivery works in this process, and telling this process's sockets when it changes.

The channel layer (Redis) carries live events between processes. When it is down, sockets are still
served from the database (sends are stored and acknowledged, resumes answer), but live events from
other sockets do not arrive. Sockets are then told ``live: degraded`` and resync on a short timer;
when the layer is back they join their groups again and are told ``live: ok``, upon which they resync
once (docs/protocol.md).

The state is per event loop (the layer's connections are), found out two ways: a layer call that
fails on a connection error reports it at once, and a probe sends a message round the layer every
few seconds while any socket is open, which also notices an outage that no send has met yet and
sees the layer come back. Nothing here is shared with other processes: each finds out for itself.
"""

import asyncio
import logging
import weakref

log = logging.getLogger(__name__)

PROBE_EVERY_SECONDS = 2.0
PROBE_WHILE_DOWN_SECONDS = 0.5
PROBE_TIMEOUT_SECONDS = 1.5

OK = "ok"
DEGRADED = "degraded"


class Link:
    def __init__(self):
        self.up = True
        self.sockets: weakref.WeakSet = weakref.WeakSet()  # consumers with relink() and live_changed()
        self._probe: asyncio.Task | None = None
        self._back = asyncio.Event()
        self._back.set()

    @property
    def state(self) -> str:
        return OK if self.up else DEGRADED

    def register(self, socket) -> None:
        from . import events

        self.sockets.add(socket)
        if self._probe is None and events.layer_can_fail():
            self._probe = asyncio.get_running_loop().create_task(self._run_probe(), name="live-probe")

    def unregister(self, socket) -> None:
        self.sockets.discard(socket)

    async def wait_up(self) -> None:
        await self._back.wait()

    def report_failure(self) -> None:
        """A layer call failed on a connection error: degraded until the probe gets through."""
        if not self.up:
            return
        log.warning("live delivery degraded: the channel layer is unreachable")
        self.up = False
        self._back.clear()
        for socket in list(self.sockets):
            socket.live_changed(DEGRADED)
        if self._probe is None and self.sockets:
            self._probe = asyncio.get_running_loop().create_task(self._run_probe(), name="live-probe")

    async def _recovered(self) -> None:
        log.warning("live delivery restored")
        self.up = True
        self._back.set()
        for socket in list(self.sockets):
            try:
                await socket.relink()
            except Exception:
                log.exception("a socket could not join its groups again")
            socket.live_changed(OK)

    async def _run_probe(self) -> None:
        """Round trips through the layer while sockets are open; stops when the last one closes."""
        probe = _Probe()
        try:
            while self.sockets:
                through = await probe.round_trip()
                if through and not self.up:
                    await self._recovered()
                elif not through and self.up:
                    self.report_failure()
                await asyncio.sleep(PROBE_EVERY_SECONDS if self.up else PROBE_WHILE_DOWN_SECONDS)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("live probe stopped")
        finally:
            probe.close()
            self._probe = None


class _Probe:
    """A channel of its own that a reader task listens on; a round trip sends a numbered message to it
    and waits for the reader to see that number."""

    def __init__(self):
        self.channel: str | None = None
        self.reader: asyncio.Task | None = None
        self.count = 0
        self.seen = 0
        self.arrived = asyncio.Event()

    async def round_trip(self) -> bool:
        from . import events

        if self.channel is None:
            # Only once Redis takes a publish: a subscription that fails leaves its name behind.
            try:
                await asyncio.wait_for(events.send_to_channel("live-probe.nobody", {"type": "live.probe"}),
                                       PROBE_TIMEOUT_SECONDS)
            except Exception:
                return False
            self.channel = await events.new_channel("live-probe.")
            if self.channel is None:
                return False
            self.reader = asyncio.get_running_loop().create_task(self._read(self.channel))
        self.count += 1
        self.arrived.clear()
        try:
            await asyncio.wait_for(events.send_to_channel(self.channel, {"type": "live.probe", "n": self.count}),
                                   PROBE_TIMEOUT_SECONDS)
            await asyncio.wait_for(self._seen(self.count), PROBE_TIMEOUT_SECONDS)
            return True
        except Exception:
            return False

    async def _seen(self, n: int) -> None:
        while self.seen < n:
            self.arrived.clear()
            await self.arrived.wait()

    async def _read(self, channel: str) -> None:
        from . import events

        while True:
            message = await events.receive(channel)
            self.seen = max(self.seen, int(message.get("n", 0)))
            self.arrived.set()

    def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()


class QuietOutage(logging.Filter):
    """channels-redis logs a traceback every second while Redis is away; this module says it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        from redis.exceptions import ConnectionError as RedisConnectionError

        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, (RedisConnectionError, ConnectionError, OSError))


def per_loop(factory):
    """A getter of one ``factory()`` object per running event loop (daphne runs one loop; each test has
    its own): state that lives with the loop's connections and tasks."""
    objects: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get():
        loop = asyncio.get_running_loop()
        found = objects.get(loop)
        if found is None:
            found = objects[loop] = factory()
        return found

    return get


link = per_loop(Link)
link.__doc__ = "This event loop's link."
