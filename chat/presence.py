"""Services of visitor presence: is the visitor online, away (the page in a background tab) or gone?

Across processes, in the database: each open widget socket counts itself in ``Visitor.sockets_open``
and writes ``last_seen_at`` at hello and every ``HEARTBEAT_SECONDS`` after. A visitor is gone when no
socket is open or none has written for ``GONE_SECONDS`` (a process that died without saying so). A
chat whose visitor has been gone for the admin's ``visitor_gone_minutes`` ends by itself
(``chats_end_gone_visitors``, run every minute by the beat sweep).

A change of state is told to the agents of the visitor's open chat (``presence`` frames).
"""

from datetime import datetime, timedelta

from django.db.models import BooleanField, Case, F, PositiveIntegerField, Q, Value, When
from django.utils import timezone

from . import events
from .models import Chat, ChatSettings, Visitor

HEARTBEAT_SECONDS = 30
GONE_SECONDS = 75  # two heartbeats and some: one late write is not a departure

ONLINE, AWAY, GONE = "online", "away", "gone"


def state_of(visitor: Visitor, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if (not visitor.sockets_open or visitor.last_seen_at is None
            or visitor.last_seen_at < now - timedelta(seconds=GONE_SECONDS)):
        return GONE
    return AWAY if visitor.tab_hidden else ONLINE


def _open_chat(visitor_id: int) -> Chat | None:
    return (Chat.objects.filter(visitor_id=visitor_id).exclude(status=Chat.Status.ENDED)
            .only("pk", "public_id", "visitor_id").first())


_COUNT = PositiveIntegerField()
_PRESENCE_FIELDS = ("sockets_open", "last_seen_at", "tab_hidden")


def _read(visitor_id: int) -> Visitor:
    return Visitor.objects.only(*_PRESENCE_FIELDS).get(pk=visitor_id)


def _change(visitor_id: int, **update) -> str:
    """One UPDATE of the visitor's presence, in a statement of its own, and the chat's agents told if
    the state changed. No transaction holds the visitor's row while another table is read: a socket
    closing while the database is being emptied (a test's flush) or another row locked in the other
    order can then never deadlock with it. Two tabs changing it at once may each tell the agents; a
    state told twice is harmless."""
    now = timezone.now()
    before = state_of(_read(visitor_id), now)
    Visitor.objects.filter(pk=visitor_id).update(last_seen_at=now, **update)
    visitor = _read(visitor_id)
    after = state_of(visitor, now)
    if after != before:
        chat = _open_chat(visitor_id)
        if chat is not None:
            events.publish_presence(chat, after, visitor.last_seen_at)
    return after


def _stale(now: datetime) -> Q:
    return Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - timedelta(seconds=GONE_SECONDS))


def visitor_arrived(*, visitor_id: int) -> str:
    """A widget socket said hello. A count left high by a process that died (nothing seen for
    GONE_SECONDS) is started again, and so is "hidden", which a tab closed in the background left."""
    stale = _stale(timezone.now())
    return _change(visitor_id, sockets_open=Case(When(stale, then=Value(1)), default=F("sockets_open") + 1,
                                                 output_field=_COUNT),
                   tab_hidden=Case(When(stale, then=Value(False)), default=F("tab_hidden"),
                                   output_field=BooleanField()))


def visitor_seen(*, visitor_id: int, hidden: bool | None = None) -> str:
    """A heartbeat of an open socket, or the widget saying its page went to the background
    (``hidden``) or came back. A heartbeat from a socket the count lost (its process restarted) counts
    it again."""
    update = {"sockets_open": Case(When(sockets_open=0, then=Value(1)), default=F("sockets_open"),
                                   output_field=_COUNT)}
    if hidden is not None:
        update["tab_hidden"] = hidden
    return _change(visitor_id, **update)


def visitor_left(*, visitor_id: int) -> str:
    """A widget socket closed."""
    return _change(visitor_id, sockets_open=Case(When(sockets_open__gt=0, then=F("sockets_open") - 1),
                                                 default=Value(0), output_field=_COUNT))


def gone_minutes() -> int:
    row = ChatSettings.objects.filter(pk=1).only("visitor_gone_minutes").first()
    return row.visitor_gone_minutes if row else ChatSettings._meta.get_field("visitor_gone_minutes").default


def chats_end_gone_visitors(*, now: datetime | None = None) -> int:
    """End every open chat whose visitor has been gone for the admin's ``visitor_gone_minutes``: no
    widget socket open and none seen since. Returns how many ended. Each ends in its own transaction
    (``services.chat_end_gone``), which checks again under the lock."""
    from .services import chat_end_gone  # services use this module's state_of

    now = now or timezone.now()
    cutoff = now - timedelta(minutes=gone_minutes())
    candidates = (Chat.objects.exclude(status=Chat.Status.ENDED)
                  .filter(visitor__last_seen_at__lt=cutoff).values_list("public_id", flat=True))
    # A visitor never seen (a chat made before presence was kept) counts from the chat's start.
    never_seen = (Chat.objects.exclude(status=Chat.Status.ENDED)
                  .filter(visitor__last_seen_at__isnull=True, started_at__lt=cutoff)
                  .values_list("public_id", flat=True))
    ended = 0
    for public_id in [*candidates, *never_seen]:
        if chat_end_gone(chat_public_id=public_id, cutoff=cutoff, now=now):
            ended += 1
    return ended
