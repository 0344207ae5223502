"""Services of visitor presence: is the visitor online, away (the page in a background tab) or gone?

Across processes, in the database: each open widget socket counts itself in ``Visitor.sockets_open``
(and in ``sockets_hidden`` while its page is in a background tab) and writes ``last_seen_at`` at hello
and every ``HEARTBEAT_SECONDS`` after. A visitor is away when every open socket's page is hidden, and
gone when no socket is open or none has written for ``GONE_SECONDS`` (a process that died). A
chat whose visitor has been gone for the admin's ``visitor_gone_minutes`` ends by itself
(``chats_end_gone_visitors``, run every minute by the beat sweep).

A change of state is told to the agents of the visitor's open chat (``presence`` frames).
"""

from datetime import datetime, timedelta

from django.db.models import Case, F, PositiveIntegerField, Q, Value, When
from django.db.models.functions import Least
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
    return AWAY if visitor.sockets_hidden >= visitor.sockets_open else ONLINE


def _open_chat(visitor_id: int) -> Chat | None:
    return (Chat.objects.filter(visitor_id=visitor_id).exclude(status=Chat.Status.ENDED)
            .only("pk", "public_id", "visitor_id").first())


_COUNT = PositiveIntegerField()
_PRESENCE_FIELDS = ("sockets_open", "sockets_hidden", "last_seen_at")


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


def _less(field: str) -> Case:
    return Case(When(**{f"{field}__gt": 0}, then=F(field) - 1), default=Value(0), output_field=_COUNT)


def visitor_arrived(*, visitor_id: int) -> str:
    """A widget socket said hello (on a page in front: a socket says when its page is hidden). Counts
    left high by a process that died (nothing seen for GONE_SECONDS) start again."""
    stale = _stale(timezone.now())
    return _change(visitor_id,
                   sockets_open=Case(When(stale, then=Value(1)), default=F("sockets_open") + 1, output_field=_COUNT),
                   sockets_hidden=Case(When(stale, then=Value(0)), default=F("sockets_hidden"), output_field=_COUNT))


def visitors_seen(*, visitor_ids: list[int]) -> None:
    """The heartbeat of a process's open widget sockets (chat/heartbeat.py): one UPDATE for all their
    visitors, nothing read. A visitor the count lost (a process restarted) is counted again."""
    Visitor.objects.filter(pk__in=visitor_ids).update(
        last_seen_at=timezone.now(),
        sockets_open=Case(When(sockets_open=0, then=Value(1)), default=F("sockets_open"), output_field=_COUNT))


def visitor_hidden(*, visitor_id: int, hidden: bool) -> str:
    """One socket's page went to a background tab (``hidden``) or came back; the consumer calls this
    only when that socket's own state changed."""
    if hidden:
        return _change(visitor_id, sockets_hidden=Least(F("sockets_hidden") + 1, F("sockets_open"),
                                                        output_field=_COUNT))
    return _change(visitor_id, sockets_hidden=_less("sockets_hidden"))


def visitor_left(*, visitor_id: int, hidden: bool) -> str:
    """A widget socket closed (``hidden``: its page was in a background tab)."""
    update = {"sockets_open": _less("sockets_open")}
    if hidden:
        update["sockets_hidden"] = _less("sockets_hidden")
    return _change(visitor_id, **update)


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
