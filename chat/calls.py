"""How consumers run services and selectors: on Channels' database thread, retried once when the
database connection died (after the pool has dropped its dead idle connections), and, for services,
with the broadcasts they commit sent from the event loop in the same unit as the write, which a
socket's cancellation cannot split. A message's HTML is made before its service runs, off that
thread (``rendered``): every socket's database work waits behind whatever runs there.

Retrying is safe because every service the sockets call is idempotent: message sends and chat starts
by ``client_id``, receipts, page views, accept and end by what they find (DESIGN.md).
"""

import asyncio
import functools
import logging

from channels.db import database_sync_to_async
from django.db import InterfaceError, OperationalError, connection

from . import events, rendering, services
from .errors import ChatError, InvalidInput

log = logging.getLogger(__name__)

# Errors of a lost or unusable connection (terminated backend, server restart, network). psycopg's
# deadlock and serialisation failures are OperationalErrors too; one retry suits them as well.
CONNECTION_ERRORS = (OperationalError, InterfaceError)

# Writes whose broadcast is still going out after their socket went away; kept so that they are not
# garbage-collected half way.
_unfinished: set[asyncio.Task] = set()


def _retried_once(func):
    @functools.wraps(func)
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CONNECTION_ERRORS:
            if connection.in_atomic_block:  # a caller's transaction is lost; not ours to replay
                raise
            log.warning("database call %s failed; retrying once on a fresh connection", func.__name__,
                        exc_info=True)
            connection.close()  # the pool discards a broken connection as it takes it back
            _drop_dead_idle_connections()
            return func(*args, **kwargs)

    return run


def _drop_dead_idle_connections() -> None:
    """What killed one connection (a database restart, terminated backends) often killed its idle
    siblings in the pool too: test them all now, without waiting, so that the retry gets a live one.
    (The pool's own check on every checkout costs a round trip per message and backs off for
    seconds on the shared database thread after a failure.)"""
    pool = getattr(connection, "pool", None)
    if pool is not None:
        try:
            pool.check()
        except Exception:
            log.warning("could not check the connection pool", exc_info=True)


def db(func):
    """``func`` as a coroutine on Channels' database thread, retried once on a lost connection."""
    return database_sync_to_async(_retried_once(func))


async def _write_and_broadcast(func, sender: str | None, kwargs: dict):
    with events.collecting(sender=sender) as broadcasts:
        result = await db(func)(**kwargs)
    await events.send_collected(broadcasts)
    return result


async def service(func, /, *, sender: str | None, **kwargs):
    """Run a service; the broadcasts it committed go out from the event loop before this returns.
    If the caller is cancelled (its socket closed), the write and its broadcast still finish."""
    task = asyncio.ensure_future(_write_and_broadcast(func, sender, kwargs))
    _unfinished.add(task)
    task.add_done_callback(_finished)
    return await asyncio.shield(task)


async def rendered(actor: "services.Actor", text: str) -> rendering.Rendered | None:
    """The HTML of a message's text, made ahead for ``message_post`` or ``chat_start`` (which store it,
    or refuse the text with the reason it carries): in place when that is cheap, else on the rendering
    threads, never on the database thread. None when the service will refuse the text itself (empty or
    too long); it then says so, in its own order of checks."""
    try:
        text = services.check_message_text(text)
    except ChatError:
        return None
    format = services.message_format(actor)
    return rendering.render_in_place(format, text) or await rendering.render_async(format, text)


async def preview(actor: "services.Actor", text: str) -> str:
    """The HTML ``text`` would have as this actor's message, made as ``rendered`` makes it; "" for an
    empty text. Raises ``InvalidInput`` for a text the service would refuse (too long, past the
    formatting limits), with the same reason."""
    if not text.strip():
        return ""
    services.check_message_text(text)
    found = await rendered(actor, text)
    if found.refusal:
        raise InvalidInput(found.refusal)
    return found.html


def _finished(task: asyncio.Task) -> None:
    _unfinished.discard(task)
    if not task.cancelled() and task.exception() is not None:
        # Retrieved here, so that a write whose socket had gone does not warn at garbage collection;
        # a caller still waiting gets the exception as well.
        log.debug("service call failed: %r", task.exception())
